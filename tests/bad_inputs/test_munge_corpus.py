"""The bad-input corpus for `munge`: every case must exit 2 with one line on stderr naming the file and what to
do, no traceback, and leave a previous dataset at ``--out`` byte-identical with no temporaries beside it.

Each case derives its malformed input from the valid cohort of ``conftest.py`` (so no binary fixtures are kept).
"""
from __future__ import annotations

import codecs
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from tests.bad_inputs.conftest import N_SAMPLES, Cohort, leftovers, phenotype_values, tree_digest, write_cohort


@dataclass
class Case:
    """One malformed input: ``build(cohort, work)`` writes it under ``work`` and returns munge arguments."""

    name: str
    build: Callable[[Cohort, Path], list[str]]
    expect: list[str]
    names_file: str | None = None  # a file name that the message must contain
    out: str = "dataset"  # what --out is: "dataset" (a previous good dataset), or set by build via OUT marker
    extra: dict = field(default_factory=dict)


def _pheno_text(rows: list[str], header: str = "ID,PHENO") -> str:
    return header + "\n" + "\n".join(rows) + "\n"


def _pheno_rows(values=None, ids=None) -> list[str]:
    values = phenotype_values() if values is None else values
    ids = ids or [f"s{i}" for i in range(1, N_SAMPLES + 1)]
    return [f"{i},{v}" for i, v in zip(ids, values)]


def bfile_with(edit: Callable[[Path], None]) -> Callable[[Cohort, Path], list[str]]:
    """A case whose .bed/.bim/.fam copy is edited by ``edit(prefix)``."""

    def build(cohort: Cohort, work: Path) -> list[str]:
        prefix = cohort.copy_bfile(work / "cohort")
        edit(prefix)
        return ["--bfile", str(prefix), "--pheno", str(cohort.pheno)]

    return build


def pheno_with(content: str | bytes, *extra: str, filename: str = "bad_pheno.csv") -> Callable[[Cohort, Path], list[str]]:
    """A case with this phenotype file content."""

    def build(cohort: Cohort, work: Path) -> list[str]:
        path = work / filename
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return ["--bfile", str(cohort.prefix), "--pheno", str(path), *extra]

    return build


def covar_with(content: str, *extra: str) -> Callable[[Cohort, Path], list[str]]:
    def build(cohort: Cohort, work: Path) -> list[str]:
        path = work / "bad_covar.csv"
        path.write_text(content)
        return ["--bfile", str(cohort.prefix), "--pheno", str(cohort.pheno), "--covar", str(path), *extra]

    return build


def with_file(option: str, content: str, *extra: str, filename: str = "list.txt") -> Callable[[Cohort, Path], list[str]]:
    def build(cohort: Cohort, work: Path) -> list[str]:
        path = work / filename
        path.write_text(content)
        return ["--bfile", str(cohort.prefix), "--pheno", str(cohort.pheno), option, str(path), *extra]

    return build


def _edit_bytes(suffix: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(prefix: Path) -> None:
        path = Path(str(prefix) + suffix)
        path.write_bytes(change(path.read_bytes()))

    return edit


def _lines(suffix: str, change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def edit(prefix: Path) -> None:
        path = Path(str(prefix) + suffix)
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")

    return edit


def _genotypes_case(genotypes_of: Callable[[], np.ndarray], *extra: str) -> Callable[[Cohort, Path], list[str]]:
    def build(cohort: Cohort, work: Path) -> list[str]:
        prefix = work / "cohort"
        write_cohort(prefix, genotypes=genotypes_of())
        return ["--bfile", str(prefix), "--pheno", str(cohort.pheno), *extra]

    return build


def _like_case(n_missing: int, snp_prefix: str = "rs", *extra: str) -> Callable[[Cohort, Path], list[str]]:
    def build(cohort: Cohort, work: Path) -> list[str]:
        prefix = work / "new"
        write_cohort(prefix, n_variants=40 - n_missing, seed=5, snp_prefix=snp_prefix)
        return ["--bfile", str(prefix), "--like", str(cohort.dataset), "--covar", str(cohort.covar), *extra]

    return build


def _all_missing() -> np.ndarray:
    return np.full((N_SAMPLES, 40), np.nan, dtype=np.float32)


def _monomorphic() -> np.ndarray:
    return np.zeros((N_SAMPLES, 40), dtype=np.float32)


def _bad_bfile_edit(prefix: Path) -> None:
    Path(str(prefix) + ".bim").unlink()


def _fid_mismatch(cohort: Cohort, work: Path) -> list[str]:
    path = work / "fid_pheno.txt"
    path.write_text("FID IID PHENO\n" + "".join(f"other{i} s{i} {v}\n" for i, v in
                                                 zip(range(1, N_SAMPLES + 1), phenotype_values())))
    return ["--bfile", str(cohort.prefix), "--pheno", str(path)]


def _pheno_dir(cohort: Cohort, work: Path) -> list[str]:
    (work / "pheno_dir").mkdir()
    return ["--bfile", str(cohort.prefix), "--pheno", str(work / "pheno_dir")]


def _like_not_dataset(cohort: Cohort, work: Path) -> list[str]:
    (work / "plain").mkdir()
    (work / "plain" / "notes.txt").write_text("not a dataset")
    return ["--bfile", str(cohort.prefix), "--like", str(work / "plain")]


GOOD = _pheno_rows()
CASES = [
    # PLINK file sets
    Case("bed_wrong_magic", bfile_with(_edit_bytes(".bed", lambda b: b"\x00\x00\x00" + b[3:])), ["magic"], ".bed"),
    Case("bed_truncated", bfile_with(_edit_bytes(".bed", lambda b: b[:-7])), ["truncated"], ".bed"),
    Case("bed_empty", bfile_with(_edit_bytes(".bed", lambda b: b"")), ["magic"], ".bed"),
    Case("bed_sample_major", bfile_with(_edit_bytes(".bed", lambda b: b[:2] + b"\x00" + b[3:])), ["sample-major"], ".bed"),
    Case("bim_extra_variant", bfile_with(_lines(".bim", lambda ls: ls + ["1 rs999 0 99999 A G"])),
         ["size", "41 variants"], ".bed"),
    Case("fam_missing_one_sample", bfile_with(_lines(".fam", lambda ls: ls[:-1])),
         ["more samples than the 59 of the .fam"], ".bed"),
    Case("fam_missing_four_samples", bfile_with(_lines(".fam", lambda ls: ls[:-4])), ["56 samples", "size"], ".bed"),
    Case("fam_duplicate_iid", bfile_with(_lines(".fam", lambda ls: ls[:-1] + [ls[0]])), ["duplicate sample ID", "'s1'"],
         ".fam"),
    Case("bim_duplicate_id", bfile_with(_lines(".bim", lambda ls: [ls[0], ls[0].replace("1000", "1500")] + ls[2:])),
         ["duplicate variant ID", "'rs1'"], ".bim"),
    Case("bim_five_columns", bfile_with(_lines(".bim", lambda ls: [" ".join(l.split()[:5]) for l in ls])),
         ["expected 6", "found 5"], ".bim"),
    Case("bim_text_position", bfile_with(_lines(".bim", lambda ls: ls[:3] + ["1 rs4 0 abc A G"] + ls[4:])),
         ["row 4", "not an integer"], ".bim"),
    Case("fam_ragged_row", bfile_with(_lines(".fam", lambda ls: ls[:5] + [ls[5] + " extra"] + ls[6:])),
         ["cannot parse"], ".fam"),
    Case("fam_not_utf8", bfile_with(_edit_bytes(".fam", lambda b: b"\xff\xfe\xfa" + b)), ["UTF-8"], ".fam"),
    Case("fam_empty", bfile_with(_edit_bytes(".fam", lambda b: b"")), ["empty"], ".fam"),
    Case("bim_missing_file", bfile_with(_bad_bfile_edit), ["not found", "--bfile"], ".bim"),
    # phenotype files
    Case("pheno_semicolons", pheno_with(_pheno_text([r.replace(",", ";") for r in GOOD], "ID;PHENO")),
         ["';'", "commas, tabs or spaces"], "bad_pheno.csv"),
    Case("pheno_mixed_delimiters", pheno_with(_pheno_text([r.replace(",", "\t") for r in GOOD])),
         ["row 2 has 1 fields", "header has 2"], "bad_pheno.csv"),
    Case("pheno_no_header", pheno_with("\n".join(GOOD) + "\n"), ["no sample ID column", "header"], "bad_pheno.csv"),
    Case("pheno_text_in_numeric", pheno_with(_pheno_text(GOOD[:3] + ["s4,abc"] + GOOD[4:])),
         ["column PHENO, row 5", "'s4'", "'abc' is not a number"], "bad_pheno.csv"),
    Case("pheno_inf", pheno_with(_pheno_text(GOOD[:6] + ["s7,inf"] + GOOD[7:]), "--task", "regression"),
         ["row 8", "infinite"], "bad_pheno.csv"),
    Case("pheno_single_class", pheno_with(_pheno_text(_pheno_rows(np.ones(N_SAMPLES, int)))),
         ["same phenotype", "at least two"], "bad_pheno.csv"),
    Case("pheno_text_labels", pheno_with(_pheno_text(_pheno_rows(["case", "control"] * 30))),
         ["text", "'case', 'control'", "0/1"], "bad_pheno.csv"),
    Case("pheno_binary_other_values", pheno_with(_pheno_text(_pheno_rows([1, 3] * 30)), "--task", "binary"),
         ["found values 1, 3", "0/1 or 1/2"], "bad_pheno.csv"),
    Case("pheno_binary_0_1_2", pheno_with(_pheno_text(_pheno_rows([0, 1, 2] * 20)), "--task", "binary"),
         ["found values 0, 1, 2", "-9"], "bad_pheno.csv"),
    Case("pheno_auto_ambiguous_0_1_2", pheno_with(_pheno_text(_pheno_rows([0, 1, 2] * 20))),
         ["ambiguous", "--task"], "bad_pheno.csv"),
    Case("pheno_ids_not_in_fam", pheno_with(_pheno_text(_pheno_rows(ids=[f"x{i}" for i in range(N_SAMPLES)]))),
         ["0 of the 60 phenotype IDs match", "'x0'", "'s1'"], "bad_pheno.csv"),
    Case("pheno_fid_mismatch", _fid_mismatch, ["FID differs"], "fid_pheno.txt"),
    Case("pheno_duplicate_ids", pheno_with(_pheno_text(GOOD + ["s3,1"])), ["row 62", "duplicate sample ID 's3'"],
         "bad_pheno.csv"),
    Case("pheno_name_missing", pheno_with(_pheno_text(GOOD), "--pheno-name", "FOO"), ["no column 'FOO'"],
         "bad_pheno.csv"),
    Case("pheno_all_missing", pheno_with(_pheno_text(_pheno_rows(["-9", "NA"] * 30))), ["no non-missing"],
         "bad_pheno.csv"),
    Case("pheno_latin1", pheno_with(_pheno_text(GOOD[:2] + ["s3\xe9,1"] + GOOD[3:]).encode("latin-1")),
         ["not UTF-8", "line 4"], "bad_pheno.csv"),
    Case("pheno_empty", pheno_with(""), ["empty"], "bad_pheno.csv"),
    Case("pheno_header_only", pheno_with("ID,PHENO\n"), ["no rows"], "bad_pheno.csv"),
    Case("pheno_is_directory", _pheno_dir, ["not found", "directory"], "pheno_dir"),
    Case("pheno_binary_file", pheno_with(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ["UTF-8"], "bad_pheno.csv"),
    # covariate files
    Case("covar_text_in_numeric", covar_with("ID,AGE\n" + "".join(f"s{i},{30 + i}\n" for i in range(1, 40)) +
                                             "s40,old\n"), ["column AGE, row 41", "'old' is not a number"],
         "bad_covar.csv"),
    Case("covar_too_many_levels", covar_with("ID,CENTRE\n" + "".join(f"s{i},c{i}\n" for i in range(1, 61)),
                                             "--max-covar-levels", "10"), ["60 levels", "--max-covar-levels"],
         "bad_covar.csv"),
    Case("covar_inf", covar_with("ID,AGE\n" + "".join(f"s{i},{'-inf' if i == 9 else 50}\n" for i in range(1, 61))),
         ["row 10", "infinite"], "bad_covar.csv"),
    Case("covar_nan_text", covar_with("ID,AGE\n" + "".join(f"s{i},{'1e999' if i == 2 else 50}\n" for i in range(1, 61))),
         ["row 3", "infinite"], "bad_covar.csv"),
    Case("covar_ids_not_in_fam", covar_with("ID,AGE\n" + "".join(f"p{i},50\n" for i in range(1, 61))),
         ["0 of the 60 covariate IDs match"], "bad_covar.csv"),
    Case("covar_no_header", covar_with("".join(f"s{i},50\n" for i in range(1, 61))), ["no sample ID column"],
         "bad_covar.csv"),
    Case("covar_only_ids", covar_with("ID\n" + "".join(f"s{i}\n" for i in range(1, 61))), ["no covariate columns"],
         "bad_covar.csv"),
    # GWAS and ID lists
    Case("gwas_no_p_column", with_file("--gwas", "SNP,BETA\nrs1,0.1\n", "--gwas-p", "0.05", filename="gwas.csv"),
         ["no p-value column", "name it P"], "gwas.csv"),
    Case("gwas_p_out_of_range", with_file("--gwas", "SNP,P\nrs1,0.1\nrs2,7\n", "--gwas-p", "0.05",
                                          filename="gwas.csv"), ["row 3", "not in [0, 1]"], "gwas.csv"),
    Case("gwas_no_common_snp", with_file("--gwas", "SNP,P\nx1,0.1\nx2,0.01\n", "--gwas-p", "0.05",
                                         filename="gwas.csv"), ["0 of the 2 GWAS SNP IDs", "'rs1'"], "gwas.csv"),
    Case("gwas_without_threshold", with_file("--gwas", "SNP,P\nrs1,0.1\n", filename="gwas.csv"), ["--gwas-p"]),
    Case("keep_no_match", with_file("--keep", "f1 nobody\nf2 nobody2\n"), ["no samples left after --keep"], "list.txt"),
    Case("extract_no_match", with_file("--extract", "rsX\nrsY\n"), ["no variants left after --extract"], "list.txt"),
    Case("remove_everyone", with_file("--remove", "".join(f"f{i} s{i}\n" for i in range(1, 61))),
         ["no samples left after --remove"], "list.txt"),
    # genotype content
    Case("all_missing_snps", _genotypes_case(_all_missing, "--no-qc"), ["no variants left", "40 with every call missing"], ".bed"),
    Case("empty_after_qc", _genotypes_case(_monomorphic), ["no variants left after QC", "--maf"], ".bed"),
    Case("mind_removes_everyone", _genotypes_case(_all_missing), ["no samples left after sample QC", "--mind"], ".bed"),
    # --like
    Case("like_no_common_snps", _like_case(0, "other"), ["no SNPs in common", "'rs1'", "'other1'"], "new.bim"),
    Case("like_missing_without_fill", _like_case(5), ["5 of", "missing", "--fill-missing", "'rs36'"], "new.bim"),
    Case("like_not_a_dataset", _like_not_dataset, ["not a genoml-search dataset"], "plain"),
    # options
    Case("indep_pairwise_bad", pheno_with(_pheno_text(GOOD), "--indep-pairwise", "50", "5", "2"), ["--indep-pairwise"]),
    Case("bfile_and_pfile", pheno_with(_pheno_text(GOOD), "--pfile", "x"), ["exactly one of --bfile"]),
    Case("no_pheno", lambda cohort, work: ["--bfile", str(cohort.prefix)], ["--pheno is required"]),
]


def _check_failure(result, case_name: str, expect: list[str], names_file: str | None) -> None:
    assert result.code == 2, f"{case_name}: exit {result.code}, stderr {result.stderr!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{case_name}: expected one line on stderr, got {result.stderr!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in result.stderr
    for fragment in expect:
        assert fragment in line, f"{case_name}: {fragment!r} not in {line!r}"
    if names_file:
        assert names_file in line, f"{case_name}: the message does not name {names_file}: {line!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_munge_input_keeps_previous_output(case: Case, cohort: Cohort, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "out" / "ds"
    shutil.copytree(cohort.dataset, out)
    before = tree_digest(out)
    args = case.build(cohort, tmp_path)
    result = run_cli("munge", "--out", str(out), *args)
    _check_failure(result, case.name, case.expect, case.names_file)
    assert tree_digest(out) == before, "the previous dataset changed"
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds"]
    assert not leftovers(tmp_path)


def test_corpus_has_at_least_30_cases() -> None:
    assert len(CASES) >= 30


# -- output directories -------------------------------------------------------------------------------------------


def _munge_args(cohort: Cohort) -> list[str]:
    return ["--bfile", str(cohort.prefix), "--pheno", str(cohort.pheno)]


def test_out_is_a_file(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    target = tmp_path / "ds"
    target.write_text("precious")
    result = run_cli("munge", "--out", str(target), *_munge_args(cohort))
    _check_failure(result, "out_is_file", ["not a directory"], "ds")
    assert target.read_text() == "precious"


def test_out_parent_is_a_file(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli("munge", "--out", str(tmp_path / "afile" / "ds"), *_munge_args(cohort))
    _check_failure(result, "out_parent_is_file", ["is not a directory", "--out"], "afile")


def test_out_non_dataset_directory_is_not_replaced(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    result = run_cli("munge", "--out", str(target), *_munge_args(cohort))
    _check_failure(result, "out_non_dataset", ["refusing to replace"], "results")
    assert (target / "thesis.tex").read_text() == "years of work"


def test_out_same_as_like(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    training = tmp_path / "training"
    shutil.copytree(cohort.dataset, training)
    before = tree_digest(training)
    result = run_cli("munge", "--out", str(training), "--bfile", str(cohort.prefix), "--like", str(training))
    _check_failure(result, "out_is_like", ["--out must differ from --like"], "training")
    assert tree_digest(training) == before


def test_out_unwritable_directory(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    """A directory nobody may write in: mode 0555, made immutable (chattr +i) too when running as root."""
    import subprocess

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        immutable = shutil.which("chattr") is not None and subprocess.run(
            ["chattr", "+i", str(locked)], capture_output=True).returncode == 0
        if not immutable:
            locked.chmod(0o755)
            pytest.skip("running as root without chattr +i: no directory is unwritable")
    try:
        result = run_cli("munge", "--out", str(locked / "ds"), *_munge_args(cohort))
        _check_failure(result, "out_unwritable", ["not writable", "--out"], "locked")
        assert list(locked.iterdir()) == []
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        locked.chmod(0o755)


# -- inputs that must WORK --------------------------------------------------------------------------------------


def _encoded(text: str, encoding: str) -> bytes:
    bom = {"utf-8-sig": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
    return bom + text.encode(encoding)


@pytest.mark.parametrize("variant", ["utf8_bom", "utf16le_bom", "utf16be_bom", "crlf", "tabs", "spaces_fid_iid",
                                     "plink_1_2_with_missing", "quoted"])
def test_accepted_phenotype_layouts(variant: str, cohort: Cohort, run_cli, tmp_path: Path) -> None:
    values = phenotype_values()
    text = _pheno_text(GOOD)
    if variant == "utf8_bom":
        data = _encoded(text, "utf-8-sig")
    elif variant in ("utf16le_bom", "utf16be_bom"):
        data = _encoded(text.replace("\n", "\r\n"), "utf-16-le" if variant == "utf16le_bom" else "utf-16-be")
    elif variant == "crlf":
        data = text.replace("\n", "\r\n").encode()
    elif variant == "tabs":
        data = text.replace(",", "\t").encode()
    elif variant == "spaces_fid_iid":
        data = ("#FID IID PHENO\n" + "".join(f"f{i + 1}  s{i + 1}   {v}\n" for i, v in enumerate(values))).encode()
    elif variant == "plink_1_2_with_missing":
        data = ("FID\tIID\tPHENO\n" + "".join(f"f{i + 1}\ts{i + 1}\t{-9 if i == 0 else v + 1}\n"
                                             for i, v in enumerate(values))).encode()
    else:
        data = ('"ID","PHENO"\n' + "".join(f'"s{i + 1}","{v}"\n' for i, v in enumerate(values))).encode()
    pheno = tmp_path / "pheno.txt"
    pheno.write_bytes(data)
    out = tmp_path / "ds"
    result = run_cli("munge", "--out", str(out), "--bfile", str(cohort.prefix), "--pheno", str(pheno),
                     "--covar", str(cohort.covar))
    assert result.code == 0, result.stderr
    from genoml_search.data.dataset import Dataset

    dataset = Dataset.open(out)
    expected = N_SAMPLES - (1 if variant == "plink_1_2_with_missing" else 0)
    assert dataset.manifest["n_samples"] == expected
    assert dataset.task == "binary"
    phenotype = dataset.samples.set_index("ID")["phenotype"]
    assert phenotype["s2"] == values[1] and phenotype["s4"] == values[3]


def test_bom_in_fam_and_covariates_work(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    prefix = cohort.copy_bfile(tmp_path / "c")
    fam = Path(str(prefix) + ".fam")
    fam.write_bytes(codecs.BOM_UTF8 + fam.read_bytes())
    covar = tmp_path / "covar.csv"
    covar.write_bytes(codecs.BOM_UTF8 + cohort.covar.read_bytes())
    result = run_cli("munge", "--out", str(tmp_path / "ds"), "--bfile", str(prefix), "--pheno", str(cohort.pheno),
                     "--covar", str(covar))
    assert result.code == 0, result.stderr
    from genoml_search.data.dataset import Dataset

    dataset = Dataset.open(tmp_path / "ds")
    assert dataset.samples["ID"].iloc[0] == "s1"
    assert dataset.covariate_names == ["AGE", "SEX=M"]
    assert any("SEX one-hot" in note and "reference 'F'" in note for note in dataset.manifest["notes"])


def test_verbose_3_shows_the_traceback(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    result = run_cli("-vvv", "munge", "--out", str(tmp_path / "ds"), "--bfile", str(tmp_path / "nothing"),
                     "--pheno", str(cohort.pheno))
    assert result.code == 2
    assert "Traceback" in result.stderr and "file not found" in result.stderr
