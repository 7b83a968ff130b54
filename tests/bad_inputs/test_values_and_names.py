"""Class 4 of issue #17: values and names. Range checks on every numeric flag, contradicting flags, reserved
covariate names, user text printed literally (rich markup), passwords masked from the URL structure (real
PostgreSQL), internal errors turned into one-line errors, read-only commands that write nothing."""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from tests.bad_inputs.conftest import (RUN_FLAGS, STRANGE_STUDY, Cohort, FinishedRun, one_line_error,
                                       pg_study, psql, subprocess_cli, throwaway_pg_role, tree_digest)

# every numeric flag of every command, with values outside its range
RANGES = [
    ("munge", "--mind", "1.5"), ("munge", "--mind", "-0.1"), ("munge", "--geno", "2"), ("munge", "--maf", "0.6"),
    ("munge", "--hwe", "1.01"), ("munge", "--gwas-p", "0"), ("munge", "--max-covar-levels", "1"),
    ("munge", "--pcs", "-1"), ("munge", "--kinship-max-samples", "-5"), ("munge", "--mind", "nan"),
    ("run", "--n-trials", "0"), ("run", "--timeout", "0"), ("run", "--timeout", "-1"), ("run", "--timeout", "inf"),
    ("run", "--folds", "1"), ("run", "--repeats", "0"), ("run", "--seed", "-1"), ("run", "--holdout", "0"),
    ("run", "--holdout", "1"), ("run", "--workers", "0"), ("run", "--workers", "-1"), ("run", "--pcs", "-2"),
    ("run", "--relatedness-threshold", "0.9"), ("run", "--relatedness-threshold", "0"),
    ("report", "--max-features", "-1"), ("report", "--repeats", "0"), ("report", "--permutations", "0"),
    ("report", "--bootstrap", "0"),
    ("report", "--seed", "-3"), ("predict", "--min-overlap", "1.5"), ("predict", "--min-overlap", "-0.5"),
    ("simulate", "--n-train", "0"), ("simulate", "--n-snps", "0"), ("simulate", "--h2", "1.5"),
    ("simulate", "--n-classes", "1"), ("simulate", "--prevalence", "0"), ("simulate", "--missing-rate", "1"),
    ("simulate", "--n-chromosomes", "0"), ("simulate", "--n-causal", "-1"), ("simulate", "--seed", "-1"),
]
REQUIRED = {"munge": ["--out", "x"], "run": ["ds", "--out", "r"], "report": ["--out", "r"],
            "predict": ["--model", "m", "--out", "p.csv"], "simulate": ["--out", "s"]}


@pytest.mark.parametrize(("command", "flag", "value"), RANGES, ids=[f"{c}{f}={v}" for c, f, v in RANGES])
def test_numeric_flags_are_range_checked(command: str, flag: str, value: str, run_cli, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative outputs land here: nothing may be written
    monkeypatch.setenv("COLUMNS", "400")  # as subprocess_cli: click's usage box unwrapped
    result = run_cli(command, *REQUIRED[command], flag, value)
    assert result.code == 2, result.stderr
    assert f"Invalid value for '{flag}'" in result.stderr and "is not in" in result.stderr, result.stderr
    assert f"Try 'genoml-search {command} --help'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags", [
    ["--skip-prune", "--indep-pairwise", "50", "5", "0.5"],
    ["--no-qc", "--maf", "0.05"],
    ["--no-qc", "--hwe-controls-only"],
    ["--gwas-p", "0.01"],
    ["--like", "{dataset}", "--mind", "0.2"],
    ["--like", "{dataset}", "--skip-prune"],
])
def test_contradicting_munge_flags_are_refused(cohort: Cohort, run_cli, tmp_path: Path, flags: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # as subprocess_cli: click's usage box unwrapped
    flags = [f.format(dataset=cohort.dataset) for f in flags]
    result = run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", tmp_path / "ds", *flags)
    assert result.code == 2, result.stderr
    assert "Invalid value for" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("column", ["phenotype", "Phenotype", "IID", "Sample_ID"])
def test_covariate_with_a_reserved_name_is_refused(cohort: Cohort, run_cli, tmp_path: Path, column: str) -> None:
    covar = tmp_path / "covar.csv"
    covar.write_text(f"ID,AGE,{column}\n" + "".join(f"s{i},{40 + i},{i % 2}\n" for i in range(1, 61)))
    result = run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--covar", covar,
                     "--out", tmp_path / "ds")
    one_line_error(result, "reserved name", column, "covar.csv")


def test_covariate_named_like_a_genetic_pc_is_renamed_with_a_note(cohort: Cohort, tmp_path: Path) -> None:
    covar = tmp_path / "covar.csv"
    covar.write_text("ID,AGE,PC1,pc2\n" + "".join(f"s{i},{40 + i},{i / 60},{-i / 60}\n" for i in range(1, 61)))
    result = subprocess_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--covar", covar,
                            "--out", tmp_path / "ds")
    assert result.code == 0, result.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["covariates"]["columns"] == ["AGE", "PC1_covariate", "pc2_covariate"]
    assert any("renamed" in note for note in manifest["notes"])


# -- user text printed literally --------------------------------------------------------------------------------------

def test_markup_in_study_names_and_paths_is_printed_literally(finished_run: FinishedRun) -> None:
    assert STRANGE_STUDY in finished_run.stdout, finished_run.stdout
    assert "run [final]" in finished_run.stdout
    status = subprocess_cli("status", finished_run.out)
    assert status.code == 0, status.stderr
    assert STRANGE_STUDY in status.stdout and "run [final]" in status.stdout


def test_markup_in_a_munge_output_path(cohort: Cohort, tmp_path: Path) -> None:
    out = tmp_path / "ds[/]x [final]"
    result = subprocess_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", out)
    assert result.code == 0, result.stderr
    assert "ds[/]x [final]" in result.stdout


def test_markup_in_sample_ids(cohort: Cohort, tmp_path: Path) -> None:
    from tests.bad_inputs.conftest import write_cohort

    prefix = tmp_path / "odd"
    write_cohort(prefix)
    fam = Path(f"{prefix}.fam")
    rows = [line.split() for line in fam.read_text().splitlines()]
    rows[0][1] = "[/]"
    rows[1][1] = "[final]"
    fam.write_text("".join(" ".join(r) + "\n" for r in rows))
    pheno = tmp_path / "pheno.csv"
    pheno.write_text("ID,PHENO\n" + "".join(f"{r[1]},{i % 2}\n" for i, r in enumerate(rows)))
    keep = tmp_path / "keep.txt"
    keep.write_text("[/]\nnobody\n")
    result = subprocess_cli("munge", "--bfile", prefix, "--pheno", pheno, "--out", tmp_path / "ds", "--remove", keep)
    assert result.code == 0, result.stderr
    assert "MarkupError" not in result.stderr


# -- passwords, from the URL structure, against the real PostgreSQL server ------------------------------------------

PASSWORDS = ["my secret pw", "p@ss@word", "colon:and/slash", "with%25percent"]


def _psql(sql: str) -> subprocess.CompletedProcess:
    return psql(sql, database="test")


@pytest.fixture(scope="module")
def pg_user():
    with throwaway_pg_role("masking", "SUPERUSER PASSWORD 'unused'") as role:
        yield role


def _no_secret(texts: list[str], password: str) -> None:
    from urllib.parse import quote

    for text in texts:
        for form in {password, quote(password, safe="")}:
            assert form not in text, (form, text[:2000])
        for part in password.replace("@", " ").replace(":", " ").replace("/", " ").split():
            if len(part) >= 4:
                assert part not in text, (part, text[:2000])


@pytest.mark.postgres
@pytest.mark.parametrize("password", PASSWORDS)
def test_status_masks_passwords_of_every_shape(pg_user: str, password: str) -> None:
    _psql(f"ALTER ROLE {pg_user} PASSWORD '{password}'")
    url = f"postgresql://{pg_user}:{password}@127.0.0.1:5432/test"
    name = f"masking-{uuid.uuid4().hex[:6]}"
    with pg_study(url, name):
        ok = subprocess_cli("status", "--storage", url, "--study", name)
        assert ok.code == 0, ok.stderr
        assert f"{pg_user}:***@127.0.0.1" in ok.stdout
        as_json = subprocess_cli("status", "--storage", url, "--study", name, "--format", "json")
        missing_db = subprocess_cli("status", "--storage", url.replace("/test", "/no_such_db_x"))
        assert missing_db.code == 2
        missing_study = subprocess_cli("status", "--storage", url, "--study", "no-such-study")
        assert missing_study.code == 2
        _no_secret([ok.stdout, ok.stderr, as_json.stdout, missing_db.stderr, missing_study.stderr], password)


@pytest.mark.postgres
def test_in_process_studies_leave_nothing_in_a_later_one_line_error(pg_user: str, run_cli) -> None:
    """The order that failed: the masking test above (its studies made and deleted in this process), then, in the
    same process, `status` on a database that does not exist (test_run_status_corpus.py), whose stderr gained
    "ResourceWarning: <psycopg.Connection> was deleted while still open" lines from the earlier test's engines.
    Every connection is now closed when done: the garbage collector finds none open, and the error is one line."""
    import gc
    import warnings

    password = PASSWORDS[0]
    _psql(f"ALTER ROLE {pg_user} PASSWORD '{password}'")
    url = f"postgresql://{pg_user}:{password}@127.0.0.1:5432/test"
    name = f"masking-{uuid.uuid4().hex[:6]}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pg_study(url, name):
            ok = run_cli("status", "--storage", url, "--study", name)  # in-process: study_status closes too
            assert ok.code == 0 and ok.stderr == "", ok.stderr
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    missing = run_cli("status", "--storage", url.replace("/test", f"/no_such_db_{uuid.uuid4().hex[:6]}"))
    assert password not in one_line_error(missing, "cannot open storage", "does not exist")


@pytest.mark.postgres
@pytest.mark.slow
def test_run_and_report_mask_a_password_with_spaces_and_at(pg_user: str, cohort: Cohort, tmp_path: Path) -> None:
    password = "my secret@pw"
    _psql(f"ALTER ROLE {pg_user} PASSWORD '{password}'")
    url = f"postgresql://{pg_user}:{password}@127.0.0.1:5432/test"
    name = f"masking-run-{uuid.uuid4().hex[:6]}"
    with pg_study(url, name, create=False):
        ran = subprocess_cli("-vv", "run", cohort.dataset, "--out", tmp_path / "run", "--storage", url, "--study",
                             name, *RUN_FLAGS)
        assert ran.code == 0, ran.stderr
        report = subprocess_cli("report", tmp_path / "run", "--storage", url, "--bootstrap", "20",
                                "--permutations", "1", "--max-features", "2")
        assert report.code == 0, report.stderr
        html = (tmp_path / "run" / "report" / "report.html").read_text()
        files = [p.read_text(errors="replace") for p in (tmp_path / "run").rglob("*") if p.is_file()
                 and p.suffix in (".json", ".txt", ".csv", ".html")]
        _no_secret([ran.stdout, ran.stderr, report.stdout, report.stderr, html, *files], password)
        assert f"{pg_user}:***@127.0.0.1" in html


def test_mask_url_unit_shapes() -> None:
    from genoml_search.search.storage import mask_text, mask_url

    assert mask_url("postgresql://u:my secret pw@host/db") == "postgresql://u:***@host/db"
    assert mask_url("postgresql://u:p@ss@host:5432/db") == "postgresql://u:***@host:5432/db"
    assert mask_url("mysql://root@host/db") == "mysql://root@host/db"
    assert mask_url("postgresql://host/db?password=abc&sslmode=require") == \
        "postgresql://host/db?password=***&sslmode=require"
    assert "p@ss" not in mask_text("driver said: bad password p@ss for u", "postgresql://u:p@ss@h/db")


# -- internal errors become one-line errors ---------------------------------------------------------------------------

def test_run_out_is_a_file(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    one_line_error(run_cli("run", cohort.dataset, "--out", tmp_path / "afile", *RUN_FLAGS),
                   "not a directory")


def test_predict_out_is_a_directory(finished_run: FinishedRun, run_cli, tmp_path: Path) -> None:
    cohort = finished_run.cohort
    one_line_error(run_cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar",
                           cohort.covar, "--out", tmp_path), "is a directory")


@pytest.mark.parametrize("command", ["munge", "run", "predict", "report"])
def test_unwritable_output_folder(finished_run: FinishedRun, run_cli, command: str) -> None:
    cohort = finished_run.cohort
    target = Path("/proc/genoml-search-out")  # not writable, even for root
    args = {"munge": ["munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", target],
            "run": ["run", cohort.dataset, "--out", target, *RUN_FLAGS],
            "predict": ["predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", cohort.covar,
                        "--out", target / "p.csv"],
            "report": ["report", finished_run.out, "--report-dir", target]}[command]
    one_line_error(run_cli(*args), "writable")


@pytest.mark.parametrize("command", ["munge", "run", "predict", "report"])
def test_over_long_names(finished_run: FinishedRun, run_cli, tmp_path: Path, command: str) -> None:
    cohort = finished_run.cohort
    target = tmp_path / ("x" * 300)
    args = {"munge": ["munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", target],
            "run": ["run", cohort.dataset, "--out", target, *RUN_FLAGS],
            "predict": ["predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", cohort.covar,
                        "--out", target],
            "report": ["report", finished_run.out, "--report-dir", target]}[command]
    one_line_error(run_cli(*args), "long")


def test_over_long_study_name(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    one_line_error(run_cli("run", cohort.dataset, "--out", tmp_path / "r", "--study", "s" * 600, *RUN_FLAGS),
                   "--study")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("url", "fragment"), [
    ("postgresql://u:pw@127.0.0.1:abc/db", "port is not a number"),
    ("postgresql://u:pw@127.0.0.1:99999/db", "port 99999"),
    ("sqlite://", "names no SQLite file"),
    ("sqlite:///:memory:", "names no SQLite file"),
    ("not a url at all", "not a database URL"),
])
def test_malformed_storage_urls(url: str, run_cli, fragment: str) -> None:
    line = one_line_error(run_cli("status", "--storage", url), fragment)
    assert ":pw@" not in line


@pytest.mark.parametrize("tamper", ["n_snps", "task", "feature_names", "not_json", "variants_columns",
                                    "variants_rows"])
def test_tampered_model_files(finished_run: FinishedRun, run_cli, tmp_path: Path, tamper: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run.out, run)
    info_path, variants = run / "model" / "model.json", run / "model" / "variants.tsv"
    info = json.loads(info_path.read_text())
    if tamper == "not_json":
        info_path.write_text("{ nope")
    elif tamper in ("n_snps", "task", "feature_names"):
        info[tamper] = {"n_snps": "many", "task": "survival", "feature_names": 3}[tamper]
        info_path.write_text(json.dumps(info))
    elif tamper == "variants_columns":
        variants.write_text("\n".join(line.split("\t", 1)[-1] for line in variants.read_text().splitlines()))
    else:
        variants.write_text("\n".join(variants.read_text().splitlines()[:-3]) + "\n")
    cohort = finished_run.cohort
    result = run_cli("predict", "--model", run, "--bfile", cohort.prefix, "--covar", cohort.covar,
                     "--out", tmp_path / "p.csv")
    one_line_error(result, "model.json" if tamper in ("n_snps", "task", "feature_names", "not_json")
                   else "variants.tsv")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("damage", ["truncated", "foreign", "empty"])
def test_damaged_genotype_matrix(cohort: Cohort, run_cli, tmp_path: Path, damage: str) -> None:
    dataset = tmp_path / "ds"
    shutil.copytree(cohort.dataset, dataset)
    matrix = dataset / "genotypes.npy"
    if damage == "truncated":
        matrix.write_bytes(matrix.read_bytes()[:-500])
    elif damage == "foreign":
        np.save(matrix, np.zeros((7, 3)))
    else:
        matrix.write_bytes(b"")
    result = run_cli("run", dataset, "--out", tmp_path / "run", *RUN_FLAGS)
    one_line_error(result, "genotypes.npy", "munge")
    assert not (tmp_path / "run").exists()


# -- read-only commands write nothing ---------------------------------------------------------------------------------

def test_status_of_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    one_line_error(subprocess_cli("status", "--storage", f"sqlite:///{tmp_path}/missing/dir/study.db"),
                   "no study storage")
    assert list(tmp_path.iterdir()) == []


def test_status_of_a_database_without_studies_creates_no_tables(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    before = database.read_bytes()
    one_line_error(subprocess_cli("status", "--storage", f"sqlite:///{database}"), "no study storage")
    assert database.read_bytes() == before


def test_report_of_a_missing_storage_creates_nothing(tmp_path: Path) -> None:
    result = subprocess_cli("report", "--storage", f"sqlite:///{tmp_path}/nowhere/study.db", "--study", "x",
                            cwd=tmp_path)
    one_line_error(result, "no study storage")
    assert list(tmp_path.iterdir()) == []


def test_status_leaves_a_run_directory_untouched(finished_run: FinishedRun) -> None:
    before = tree_digest(finished_run.out)
    assert subprocess_cli("status", finished_run.out, "--format", "json").code == 0
    assert tree_digest(finished_run.out) == before
