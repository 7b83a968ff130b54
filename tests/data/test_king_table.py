"""`munge --king-table`: kinship of a training cohort read from a plink2 --make-king-table file, through the CLI.

The table is written in plink2's format from our own KING estimator on the same SNPs (Debian's plink2 is not
needed), so the pairs stored from it must equal the pairs munge computes itself.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.kinship import king_kinship
from genoml_search.data.plink import MISSING
from tests.conftest import run_cli
from tests.data.test_kinship import simulate_families

HEADER = "#FID1\tIID1\tFID2\tIID2\tNSNP\tHETHET\tIBS0\tKINSHIP"
BASE = ["--no-qc", "--skip-prune", "--pcs", "0"]


def write_king_table(path: Path, genotypes: np.ndarray, ids: list[str], fids: list[str], fid: bool = True) -> None:
    """All pairs (i < j) in plink2 --make-king-table's layout, kinship from king_kinship."""
    kinship = king_kinship(genotypes)
    called = (genotypes != MISSING).astype(np.float64)
    het = (genotypes == 1).astype(np.float64)
    hom0, hom2 = (genotypes == 0).astype(np.float64), (genotypes == 2).astype(np.float64)
    nsnp, hethet, ibs0 = called @ called.T, het @ het.T, hom0 @ hom2.T + hom2 @ hom0.T
    i, j = np.triu_indices(len(ids), k=1)
    frame = pd.DataFrame({"FID1": np.asarray(fids)[i], "IID1": np.asarray(ids)[i], "FID2": np.asarray(fids)[j],
                          "IID2": np.asarray(ids)[j], "NSNP": nsnp[i, j].astype(int),
                          "HETHET": hethet[i, j].astype(int), "IBS0": ibs0[i, j].astype(int),
                          "KINSHIP": [f"{v:.6g}" for v in kinship[i, j]]})
    header = HEADER if fid else "#IID1\tIID2\tNSNP\tHETHET\tIBS0\tKINSHIP"
    if not fid:
        frame = frame.drop(columns=["FID1", "FID2"])
    path.write_text(header + "\n" + frame.to_csv(sep="\t", index=False, header=False))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A PLINK cohort of two families, a grandchild, a near-duplicate and unrelated samples, munged once with
    kinship computed here (the reference)."""
    from bed_reader import to_bed

    root = tmp_path_factory.mktemp("king_table")
    genotypes, index = simulate_families(n_snps=2500)
    ids = list(index)
    fids = [f"F{name[0]}" for name in ids]
    values = np.where(genotypes == MISSING, np.nan, genotypes).astype(np.float32)
    to_bed(root / "cohort.bed", values, properties={
        "fid": fids, "iid": ids, "sid": [f"s{i}" for i in range(genotypes.shape[1])],
        "chromosome": ["1"] * genotypes.shape[1], "bp_position": np.arange(genotypes.shape[1]) + 1,
        "allele_1": ["A"] * genotypes.shape[1], "allele_2": ["G"] * genotypes.shape[1]})
    pd.DataFrame({"ID": ids, "PHENO": np.arange(len(ids)) % 2}).to_csv(root / "pheno.csv", index=False)
    result = run_cli("munge", "--bfile", str(root / "cohort"), "--pheno", str(root / "pheno.csv"),
                     "--out", str(root / "computed"), *BASE)
    assert result.code == 0, result.stderr
    dataset_g = np.load(root / "computed" / "genotypes.npy")
    samples = pd.read_csv(root / "computed" / "samples.tsv", sep="\t", dtype={"ID": str})
    table = root / "king.kin0"
    # every pair of the cohort, plus a sample of another cohort (its pairs must be ignored and counted)
    write_king_table(table, dataset_g, list(samples["ID"]), [fids[ids.index(s)] for s in samples["ID"]])
    with open(table, "a") as handle:
        handle.write("Fx\tghost\tFf\tf0\t2500\t300\t10\t0.3\nFf\tf0\tFx\tghost\t2500\t300\t10\t0.2\n")
    return root, ids, fids, table


def _munge(root: Path, out: str, *extra: str):
    return run_cli("munge", "--bfile", str(root / "cohort"), "--pheno", str(root / "pheno.csv"),
                   "--out", str(root / out), *BASE, *extra)


def _pairs(path: Path) -> dict[frozenset, float]:
    pairs = pd.read_csv(path / "related_pairs.tsv", sep="\t", dtype={"id1": str, "id2": str})
    return {frozenset((a, b)): k for a, b, k in zip(pairs["id1"], pairs["id2"], pairs["kinship"])}


def test_king_table_gives_the_pairs_munge_computes_above_the_sample_limit(cohort):
    root, ids, _, table = cohort
    (root / "remove.txt").write_text("u19\n")
    result = _munge(root, "from_table", "--king-table", str(table), "--kinship-max-samples", "5",
                    "--remove", str(root / "remove.txt"))
    assert result.code == 0, result.stderr
    assert f"kinship (from {table.resolve()})" in " ".join(result.stdout.split())
    computed = json.loads((root / "computed" / "manifest.json").read_text())["relatedness"]
    read = json.loads((root / "from_table" / "manifest.json").read_text())["relatedness"]
    assert computed["source"]["kind"] == "computed" and read["computed"]
    expected, got = _pairs(root / "computed"), _pairs(root / "from_table")
    assert got.keys() == expected.keys() and len(got) >= 5  # families, grandchild, duplicate
    assert max(abs(got[k] - expected[k]) for k in got) < 1e-5
    for key in ("n_related_pairs", "n_duplicate_pairs", "n_pairs_by_degree", "n_related_samples"):
        assert read[key] == computed[key], key
    assert read["n_groups"] == computed["n_groups"] - 1  # u19 (unrelated, its own group) was removed
    source = read["source"]
    n = len(ids)
    assert source["kind"] == "king-table" and source["path"] == str(table.resolve())
    assert source["rows"] == n * (n - 1) // 2 + 2
    assert source["pairs_ignored_not_in_dataset"] == (n - 1) + 2  # u19's pairs and the other cohort's sample
    assert source["pairs_in_dataset"] == (n - 1) * (n - 2) // 2 and source["has_fid"]
    assert source["median_nsnp"] > 2000 and len(source["sha256"]) == 64


@pytest.mark.slow
def test_king_table_without_fids_and_with_another_fid(cohort, tmp_path):
    root, ids, fids, _ = cohort
    g = np.load(root / "computed" / "genotypes.npy")
    table = tmp_path / "iid_only.kin0"
    write_king_table(table, g, ids, fids, fid=False)
    result = _munge(root, "iid_only", "--king-table", str(table))
    assert result.code == 0, result.stderr
    assert _pairs(root / "iid_only").keys() == _pairs(root / "computed").keys()
    other = tmp_path / "other_fid.kin0"
    write_king_table(other, g, ids, ["X"] * len(ids))  # the .fam's FIDs differ: no pair is of these samples
    result = _munge(root, "other_fid", "--king-table", str(other))
    assert result.code == 0, result.stderr
    manifest = json.loads((root / "other_fid" / "manifest.json").read_text())["relatedness"]
    assert manifest["n_related_pairs"] == 0 and manifest["source"]["pairs_in_dataset"] == 0


MALFORMED = [
    ("", "row 1: no header"),
    ("FID IID PHENO\n", "row 1: column 2 is 'IID' where IID1 belongs"),
    ("#IID1\tIID2\tNSNP\n a b 10\n", "row 1: no KINSHIP column"),
    (HEADER + "\nF a F b 10 1 0 0.2\nF a F c 10 1 0 zero\n", "row 3: column KINSHIP is 'zero', not a number"),
    (HEADER + "\nF a F b 10 1 0 0.2\nF a F c 10 1 0\n", "row 3: column KINSHIP is missing"),
    (HEADER + "\nF a F b 10 1 0 0.2 9\n", "row 2: more columns than the header's 8"),
    (HEADER + "\nF a F b 10 1 0 0.2\nF a F b 10 1 0 0.2\nF a F c 10 1 0 0.2 1 1\n", "row 4: more columns"),
    (b"\x28\xb5\x2f\xfd rest", "zstd-compressed"),
]


@pytest.mark.parametrize("content, message", MALFORMED)
def test_a_malformed_king_table_names_the_row_and_column(tmp_path, content, message):
    from genoml_search.data.king_table import read_king_table
    from genoml_search.errors import InputFileError

    table = tmp_path / "bad.kin0"
    table.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputFileError, match=message.replace("(", r"\(")) as error:
        read_king_table(table, np.array(["a", "b", "c"]), None, 0.0442)
    assert str(error.value).startswith(str(table)) and "\n" not in str(error.value)


@pytest.mark.parametrize("case", [1, 3, 5])  # a bad header (checked before QC) and bad rows (read after it)
def test_a_malformed_king_table_is_a_one_line_error_and_writes_nothing(cohort, tmp_path, case):
    root = cohort[0]
    content, message = MALFORMED[case]
    table = tmp_path / "bad.kin0"
    table.write_text(content)
    result = _munge(root, f"bad_{case}", "--king-table", str(table))
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and str(table) in result.stderr
    assert message in result.stderr
    assert not (root / f"bad_{case}").exists()


def test_king_table_contradicts_no_kinship_and_like(cohort, tmp_path):
    root, _, _, table = cohort
    result = _munge(root, "clash", "--king-table", str(table), "--no-kinship")
    assert result.code == 2 and "contradicts --no-kinship" in result.stderr
    result = _munge(root, "missing", "--king-table", str(tmp_path / "absent.kin0"))
    assert result.code == 2 and "absent.kin0" in result.stderr and "Traceback" not in result.stderr
