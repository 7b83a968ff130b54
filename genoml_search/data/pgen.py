"""Reading PLINK 2 file sets (.pgen/.pvar/.psam) with pgenlib, in the conventions of :mod:`.plink`.

The counted allele is ALT (as for the .bed reader, where it is the .bim's first allele); missing calls are
:data:`~genoml_search.data.plink.MISSING`. Only biallelic variants are supported. pgenlib is optional
(``pip install genoml-search[pgen]``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genoml_search.data.plink import FAM_COLUMNS, MISSING, PlinkData
from genoml_search.errors import InputFileError, UserError

PGEN_MISSING = -9
"""pgenlib's int8 code for a missing call."""


def read_pfile(prefix: str | Path, *, read_genotypes: bool = True) -> PlinkData:
    """Read ``PREFIX.pgen/.pvar/.psam`` into a :class:`PlinkData` (int8 ALT counts, samples x variants)."""
    prefix = str(prefix)
    for suffix in (".pgen", ".pvar", ".psam"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    pgen, pvar, psam = Path(prefix + ".pgen"), Path(prefix + ".pvar"), Path(prefix + ".psam")
    for path in (pgen, pvar, psam):
        if not path.is_file():
            raise InputFileError("file not found; --pfile takes the prefix of a .pgen/.pvar/.psam set", path)
    samples = read_psam(psam)
    variants = read_pvar(pvar)
    if not read_genotypes:
        return PlinkData(np.empty((len(samples), 0), dtype=np.int8), samples, variants)
    try:
        import pgenlib
    except ImportError:
        raise UserError("reading .pgen files needs pgenlib: pip install 'genoml-search[pgen]' "
                        "(or convert with plink2 --make-bed)", pgen) from None
    try:
        reader = pgenlib.PgenReader(bytes(str(pgen), "utf8"), raw_sample_ct=len(samples))
    except RuntimeError as error:
        raise InputFileError(f"cannot open with pgenlib ({error})", pgen) from None
    try:
        if reader.get_variant_ct() != len(variants):
            raise InputFileError(f"has {reader.get_variant_ct()} variants but {pvar.name} lists {len(variants)}", pgen)
        out = np.empty((len(samples), len(variants)), dtype=np.int8)
        if len(variants):
            reader.read_range(0, len(variants), out, allele_idx=1, sample_maj=True)
    finally:
        reader.close()
    out[out == PGEN_MISSING] = MISSING
    return PlinkData(out, samples, variants)


def read_psam(path: Path) -> pd.DataFrame:
    """Read a .psam (or .fam) into the .fam columns fid/iid/father/mother/sex/pheno (strings)."""
    with open(path) as handle:
        first = handle.readline()
    if not first.startswith("#"):
        from genoml_search.data.plink import read_fam

        return read_fam(path)
    table = pd.read_csv(path, sep=r"\s+", dtype=str)
    table.columns = [c.lstrip("#").upper() for c in table.columns]
    if "IID" not in table.columns:
        raise InputFileError("no IID column in the header line", path)
    out = pd.DataFrame({
        "fid": table["FID"] if "FID" in table.columns else table["IID"],
        "iid": table["IID"],
        "father": table.get("PAT", pd.Series(["0"] * len(table))),
        "mother": table.get("MAT", pd.Series(["0"] * len(table))),
        "sex": table.get("SEX", pd.Series(["0"] * len(table))),
    })
    phenos = [c for c in table.columns if c not in {"FID", "IID", "SID", "PAT", "MAT", "SEX"}]
    out["pheno"] = table[phenos[0]] if phenos else "-9"
    out = out[FAM_COLUMNS].fillna("0").reset_index(drop=True)
    duplicated = out["iid"][out["iid"].duplicated()]
    if len(duplicated):
        raise InputFileError(f"duplicate sample ID {duplicated.iloc[0]!r}; sample IDs (IID) must be unique", path)
    return out


def read_pvar(path: Path) -> pd.DataFrame:
    """Read a .pvar (or .bim) into chrom/id/cm/pos/counted_allele (ALT)/other_allele (REF)."""
    header = None
    skip = 0
    with open(path) as handle:
        for line in handle:
            if line.startswith("##"):
                skip += 1
                continue
            if line.startswith("#CHROM"):
                header = line.lstrip("#").split()
                skip += 1
            break
    if header is None:
        from genoml_search.data.plink import read_bim

        return read_bim(path)
    table = pd.read_csv(path, sep=r"\s+", dtype=str, skiprows=skip, header=None, names=header)
    missing = {"CHROM", "POS", "ID", "REF", "ALT"} - set(table.columns)
    if missing:
        raise InputFileError(f"header lacks {sorted(missing)}", path)
    if table["ALT"].str.contains(",").any():
        row = int(np.flatnonzero(table["ALT"].str.contains(",").to_numpy())[0])
        raise InputFileError(f"row {row + 1}: multiallelic variant {table['ID'].iloc[row]!r}; split it first "
                             "(plink2 --max-alleles 2 or bcftools norm -m-)", path)
    out = pd.DataFrame({
        "chrom": table["CHROM"],
        "id": table["ID"],
        "cm": table["CM"] if "CM" in table.columns else "0",
        "pos": pd.to_numeric(table["POS"]).astype(np.int64),
        "counted_allele": table["ALT"],
        "other_allele": table["REF"],
    })
    duplicated = out["id"][out["id"].duplicated()]
    if len(duplicated):
        raise InputFileError(f"duplicate variant ID {duplicated.iloc[0]!r}; give every variant a unique ID "
                             "(plink2 --set-all-var-ids) first", path)
    return out
