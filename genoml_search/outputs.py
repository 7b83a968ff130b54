"""Who owns an output path: the one rule every writing command applies before it writes anything.

An output path (``munge --out``, ``run --out``, ``report --report-dir``, ``predict --out``) must be

* absent (or an empty directory), or
* an output of the **same kind** that genoml-search wrote: a directory holding our marker file
  ``.genoml-search.json`` (``{"kind": "dataset" | "run" | "report" | "model", "files": [...]}``), a directory
  of an older version recognised by its own files (see :func:`kind_of`), or, for ``predict``, a CSV whose
  header is one of the prediction layouts we write;

otherwise the command refuses with exit code 2. A directory that a command replaces as a whole (dataset,
report, model) must moreover hold nothing but what we wrote, so a user's file put inside is never deleted.
An output never equals or contains one of the command's inputs, and never lies inside a directory that
another command replaces as a whole (a dataset, model or report). Names read from a study are passed through
:func:`safe_name` before they become paths.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any, ContextManager

from genoml_search.errors import UserError
from genoml_search.fileio import atomic_directory, can_create_in, nearest_existing

MARKER = ".genoml-search.json"
# Files and directories an older version (before markers) wrote, by kind: how such outputs are recognised.
LEGACY_FILES = {
    "dataset": {"genotypes.npy", "samples.tsv", "variants.tsv", "manifest.json", "pca.npz", "pcs.tsv",
                "related_pairs.tsv", "related_to_training.tsv"},
    "model": {"model.skops", "model.json", "variants.tsv", "manifest.json", "pca.npz", "MODEL_CARD.md", "score.tsv",
              "score_covariates.tsv"},
    "report": {"report.html"},
    "simulation": {f"{part}{suffix}" for part in ("train", "validation") for suffix in (".bed", ".bim", ".fam")}
    | {"train_pheno.csv", "validation_pheno.csv", "train_covar.csv", "validation_covar.csv", "truth.json"},
}
# ``ID`` first; ``FID,IID`` follow it when the cohort had both (predict keeps them); then the scores.
PREDICTION_HEADERS = re.compile(r"^ID,(FID,IID,)?(phenotype,)?(probability|prediction|probability_[^,]+)(,|$)")
NAME_MAX = 255
# Room kept for the suffixes of temporaries (``NAME.tmp-PID-xxxxxxxx``) beside an output.
SUFFIX_ROOM = 40


class OutputKind(str, Enum):
    """What genoml-search writes: directories (dataset, run, report, model) and prediction CSVs."""

    DATASET = "dataset"
    RUN = "run"
    REPORT = "report"
    MODEL = "model"
    PREDICTIONS = "predictions"
    METRICS = "metrics"  # predict --pheno's metrics JSON
    SIMULATION = "simulation"  # simulate --out

    @property
    def replaced_whole(self) -> bool:
        """Whether a command replaces this output in one piece (so it may hold only our files)."""
        return self in (OutputKind.DATASET, OutputKind.REPORT, OutputKind.MODEL, OutputKind.SIMULATION)

    @property
    def label(self) -> str:
        """How messages name this kind."""
        return {"dataset": "a genoml-search dataset", "run": "a genoml-search run directory",
                "report": "a genoml-search report", "model": "a genoml-search model directory",
                "predictions": "a genoml-search predictions file",
                "metrics": "a genoml-search metrics file",
                "simulation": "a genoml-search simulation"}[self.value]


def marker_payload(kind: OutputKind, files: Iterable[str]) -> dict[str, object]:
    """The content of the marker file: the kind and the entries this tool wrote."""
    from genoml_search.versions import __version__

    return {"tool": "genoml-search", "tool_version": __version__, "kind": kind.value, "files": sorted(files)}


def output_directory(target: str | Path, kind: OutputKind) -> ContextManager[Path]:
    """:func:`~genoml_search.fileio.atomic_directory` leaving the marker of ``kind``: the directory is ours."""
    return atomic_directory(target, marker=lambda tmp: write_marker(tmp, kind))


def check_output_directory(target: str | Path, marker: str | None = None, flag: str = "--out",
                           inputs: Any = ()) -> Path:
    """Check, before any work, that ``target`` may be written as a dataset directory (absent, empty, or a
    dataset this tool wrote holding only its own files; never one of ``inputs`` or a directory containing
    them). ``marker`` is kept for callers of older versions."""
    return check_output(target, OutputKind.DATASET, inputs=inputs, flag=flag)


def write_marker(directory: Path, kind: OutputKind, files: Iterable[str] | None = None) -> None:
    """Write ``directory/.genoml-search.json`` (listing ``files``, default: what the directory holds now)."""
    directory = Path(directory)
    names = sorted(p.name for p in directory.iterdir() if p.name != MARKER) if files is None else files
    text = json.dumps(marker_payload(kind, names), indent=2) + "\n"
    (directory / MARKER).write_text(text, encoding="utf-8")


def read_marker(directory: Path) -> dict[str, object] | None:
    """The marker of ``directory`` (``None`` when absent or not ours)."""
    path = Path(directory) / MARKER
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("tool") != "genoml-search":
        return None
    return payload


def kind_of(path: Path) -> OutputKind | None:
    """The kind of output genoml-search wrote at ``path`` (``None``: not ours, or absent).

    Outputs of older versions carry no marker and are recognised by their own files: a dataset by a
    ``manifest.json`` naming genoml-search beside ``genotypes.npy`` or ``variants.tsv`` (and no
    ``model.json``), a model directory by ``model.json`` + ``model.skops``, a run directory by ``study.db``,
    ``metrics.json``, ``model/model.json`` or a ``validation_dataset/`` (munged before the run), a report by ``report.html``, a predictions file by its header.
    """
    path = Path(path)
    if path.is_file():
        return OutputKind.PREDICTIONS if _is_predictions_csv(path) else None
    if not path.is_dir():
        return None
    marker = read_marker(path)
    if marker is not None:
        try:
            return OutputKind(marker.get("kind"))
        except ValueError:
            return None
    names = {p.name for p in path.iterdir()}
    if {"model.json", "model.skops"} <= names:
        return OutputKind.MODEL
    if "manifest.json" in names and names & {"genotypes.npy", "variants.tsv"} and _manifest_is_ours(path):
        return OutputKind.DATASET
    if names & {"study.db", "metrics.json"} or (path / "model" / "model.json").is_file() or \
            kind_of(path / "validation_dataset") is OutputKind.DATASET:
        return OutputKind.RUN
    if "report.html" in names:
        return OutputKind.REPORT
    if {"truth.json", "train.bed"} <= names:
        return OutputKind.SIMULATION
    return None


def _manifest_is_ours(directory: Path) -> bool:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("tool") == "genoml-search"


def _is_predictions_csv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return False
    return bool(PREDICTION_HEADERS.match(header))


def foreign_entries(directory: Path, kind: OutputKind) -> list[str]:
    """Entries of an output directory that genoml-search did not write there (a user's files)."""
    directory = Path(directory)
    listed = (read_marker(directory) or {}).get("files")
    if isinstance(listed, list):
        ours = set(listed) | {MARKER}
    elif kind is OutputKind.REPORT:
        return sorted(p.name for p in directory.iterdir()
                      if p.name != "report.html" and p.suffix not in (".png", ".csv"))
    else:
        ours = LEGACY_FILES.get(kind.value, set()) | {MARKER}
    return sorted(p.name for p in directory.iterdir() if p.name not in ours)


def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path)))).resolve()


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_name_lengths(target: Path, flag: str) -> None:
    """Refuse a path whose components are too long for the file system (with room for our temporaries)."""
    for part in Path(target).parts:
        if len(os.fsencode(part)) > NAME_MAX - SUFFIX_ROOM:
            raise UserError(f"{flag}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; file names "
                            f"may have at most {NAME_MAX - SUFFIX_ROOM} here; choose a shorter {flag}")
    if len(os.fsencode(str(_resolved(target)))) > 4000:
        raise UserError(f"{flag}: the path is too long; choose a shorter {flag}")


def check_output(target: str | Path, kind: OutputKind, inputs: Iterable[Any] = (),
                 flag: str = "--out", protected: Iterable[str] = ()) -> Path:
    """Apply the ownership rule to ``target`` before anything is written; return it as a Path.

    ``inputs`` are the command's input files/directories (paths, or ``(flag, path)`` pairs that name them in
    messages; ``None`` entries are skipped): the output may not equal or contain one.
    ``protected`` names entries of a run directory that the command replaces: an input there is refused too.
    """
    target = Path(target)
    check_name_lengths(target, flag)
    resolved = _resolved(target)
    _check_inputs(target, resolved, kind, [i for i in inputs if i], flag, protected)
    _check_enclosing(target, resolved, flag)
    if kind in (OutputKind.PREDICTIONS, OutputKind.METRICS):
        _check_file_output(target, kind, flag)
    elif target.is_symlink() and not target.exists():
        raise UserError(f"is a broken symbolic link; choose another {flag}", target)
    elif target.exists():
        _check_directory_output(target, kind, flag)
    _check_creatable(target, flag)
    return target


def _check_inputs(target: Path, resolved: Path, kind: OutputKind, inputs: list[Any], flag: str,
                  protected: Iterable[str]) -> None:
    replaced = [resolved / name for name in protected]
    for item in inputs:
        label, path = item if isinstance(item, tuple) else (None, item)
        if not path:
            continue
        source = _resolved(path)
        named = f"{label} {path}" if label else str(path)
        if source == resolved:
            what = f"must differ from {label} (the input would be replaced)" if label else \
                f"is also an input ({path}); the output would replace it"
            raise UserError(f"{flag} {what}: choose another {flag}", target)
        if kind is OutputKind.RUN:
            hit = next((r for r in replaced if _is_within(source, r)), None)
            if hit is not None:
                raise UserError(f"the input {named} lies in {hit.name}, which this command replaces; move it out "
                                f"of {flag}", target)
        elif _is_within(source, resolved):
            raise UserError(f"{flag} contains the input {named}; the output would replace it: choose another {flag}",
                            target)


def _check_enclosing(target: Path, resolved: Path, flag: str) -> None:
    """An output inside a dataset/model/report would be deleted when that directory is next replaced."""
    for parent in resolved.parents:
        kind = kind_of(parent) if parent.is_dir() else None
        if kind is not None and kind.replaced_whole:
            raise UserError(f"lies inside {parent}, which is {kind.label} (replaced as a whole when it is "
                            f"written again); choose a {flag} outside it", target)


def _check_file_output(target: Path, kind: OutputKind, flag: str) -> None:
    if target.is_dir():
        raise UserError(f"is a directory; {flag} takes the file to write, e.g. {target / 'predictions.csv'}",
                        target)
    recognised = _is_predictions_csv if kind is OutputKind.PREDICTIONS else _is_metrics_json
    if target.exists() and not recognised(target):
        raise UserError(f"exists and is not {kind.label}; refusing to replace it: choose another {flag} or "
                        "remove it", target)


def _is_metrics_json(path: Path) -> bool:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and "n_samples" in payload


def _check_directory_output(target: Path, kind: OutputKind, flag: str) -> None:
    if not target.is_dir():
        raise UserError(f"exists and is not a directory; choose another {flag}", target)
    if not any(target.iterdir()):
        return
    found = kind_of(target)
    if found is None:
        raise UserError(f"exists, is not empty and is not an output of genoml-search (no {MARKER}); refusing to "
                        f"replace it: choose another {flag} or remove it", target)
    if found is not kind:
        raise UserError(f"is {found.label}, not {kind.label}; choose another {flag}", target)
    if kind.replaced_whole:
        foreign = foreign_entries(target, kind)
        if foreign:
            raise UserError(f"holds files genoml-search did not write ({', '.join(foreign[:5])}); refusing to "
                            f"replace it: move them out or choose another {flag}", target)


def _check_creatable(target: Path, flag: str) -> None:
    ancestor = nearest_existing(target.parent)
    if not ancestor.is_dir():
        raise UserError(f"{ancestor} is not a directory; choose another {flag}", target)
    places = [ancestor] + ([target] if target.is_dir() else [])  # renamed in the parent, written inside
    for where in places:
        if not can_create_in(where):
            raise UserError(f"directory {where} is not writable; choose a writable {flag}", target)


def safe_name(name: str, limit: int = 100) -> str:
    """A study (or other recorded) name made safe as one path component: no separators, no ``..``."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(name)).strip("._") or "study"
    return cleaned[:limit]
