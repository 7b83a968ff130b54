"""`genoml-search predict`: apply a saved model to a new cohort.

The cohort is harmonized to the training variants exactly as ``munge --like`` does (same SNPs in the same
order, allele swaps and strand flips recoded, ambiguous SNPs matched literally, absent SNPs left missing), so
the pipeline's own imputer fills absent SNPs with training allele dosages and missing covariate values with
training means. Too little SNP overlap, or absent covariate columns, are refused with a clear message.

Output columns: ``ID`` then ``probability`` (binary: probability of class 1), ``probability_<class>`` for
every class and ``prediction`` (multiclass: the most probable class), or ``prediction`` (regression).
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genoml_search.data.dataset import Dataset
from genoml_search.errors import UserError
from genoml_search.fileio import atomic_file, remove_stale_work_directories
from genoml_search.model_io import find_model_dir, load_model, read_model_variants
from genoml_search.outputs import OutputKind, check_output
from genoml_search.core.features import features_from_dataset
from genoml_search.core.scoring import prediction_frame

log = logging.getLogger(__name__)
WORK_PREFIX = ".genoml-predict-"  # the cohort is harmonized in OUT_PARENT/.genoml-predict-PID-*


@dataclass
class PredictOptions:
    """Everything `genoml-search predict` can be asked to do."""

    model: Path
    out: Path
    bfile: str | None = None
    pfile: str | None = None
    covar: str | None = None
    min_overlap: float = 0.9
    pheno: str | None = None  # a labelled cohort: also score it (metrics with CIs beside the predictions)
    metrics_out: Path | None = None  # where those go (default: OUT with suffix .metrics.json)
    tables: list[str] = field(default_factory=list)  # --table: feature tables of a model trained with munge --table
    id_column: str | None = None


@dataclass
class PredictSummary:
    """What predicting did: sample and SNP counts, harmonization figures, version warnings."""

    out: Path
    task: str
    n_samples: int
    n_training_snps: int
    harmonization: dict[str, int]
    samples_dropped: int
    columns: list[str]
    warnings: list[str] = field(default_factory=list)
    related_to_training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None  # with --pheno: the same shape as metrics.json's validation part
    metrics_path: Path | None = None
    table_notes: list[str] = field(default_factory=list)  # munge --table models: ignored columns, unseen levels

    @property
    def overlap(self) -> float:
        """Fraction of training SNPs found (and usable) in the cohort."""
        return self.harmonization.get("matched", 0) / max(1, self.n_training_snps)


def harmonize_cohort(model_dir: Path, work: Path, bfile: str | None, pfile: str | None,
                     covar: str | None, reference: str | None = None, pheno: str | None = None,
                     tables: list[str] | None = None, id_column: str | None = None) -> Dataset:
    """Munge the cohort ``--like`` the model's training variants into ``work/cohort`` and open it.

    ``reference`` is the training dataset the cohort's relatedness is checked against (if it still exists).
    """
    from genoml_search.data.munge import MungeOptions, munge

    target = work / "cohort"
    munge(MungeOptions(out=target, bfile=bfile, pfile=pfile, covar=covar, like=str(model_dir), fill_missing=True,
                       relatedness_reference=reference, pheno=pheno, tables=list(tables or []), id_column=id_column))
    return Dataset.open(target)


def check_overlap(counts: dict[str, int], n_training: int, min_overlap: float, source: str) -> None:
    """Refuse a cohort that has fewer than ``min_overlap`` of the training SNPs."""
    matched = counts.get("matched", 0)
    if matched < min_overlap * n_training:
        raise UserError(
            f"only {matched} of the model's {n_training} SNPs ({matched / max(1, n_training):.1%}) are usable in "
            f"this cohort ({counts.get('absent', 0)} absent, {counts.get('allele_mismatch', 0)} with other alleles), "
            f"below --min-overlap {min_overlap:g}; check that variant IDs use the training naming (e.g. rsIDs vs "
            "chr:pos), or lower --min-overlap to fill more SNPs from training frequencies",
            source,
        )


def model_features(info: dict[str, Any], features: Any) -> Any:
    """What the saved model reads of a cohort's features: the int8 genotypes (a ``Design``) for a path family's
    model, so predicting for a biobank-size cohort makes no float copy of its genotypes; else the float rows."""
    from genoml_search.search.objective import model_input
    from genoml_search.search.registry import family_names, get_family

    name = info.get("family")
    if name not in family_names() or features.genotypes is None:  # an ensemble, or a feature-table model
        return features.x
    family = get_family(name)
    if not family.fits_path:
        return features.x
    return model_input(features, family, np.arange(len(features.y)))


def predict(options: PredictOptions) -> PredictSummary:
    """Harmonize the cohort to the model's training variants, predict, and write the CSV atomically."""
    if not 0.0 <= options.min_overlap <= 1.0:
        raise UserError(f"--min-overlap {options.min_overlap} must be a fraction between 0 and 1")
    model_dir = find_model_dir(options.model)
    from genoml_search.data.table_munge import check_predict_inputs  # munge --table models

    check_predict_inputs(model_dir, options)
    out = Path(options.out)
    prefixes = [options.bfile and f"{options.bfile}{s}" for s in (".bed", ".bim", ".fam")]
    prefixes += [options.pfile and f"{options.pfile}{s}" for s in (".pgen", ".pvar", ".psam")]
    inputs = [model_dir, ("--covar", options.covar), ("--pheno", options.pheno), *prefixes,
              *(("--table", table) for table in options.tables)]
    check_output(out, OutputKind.PREDICTIONS, inputs=inputs)
    if options.pheno:
        metrics_out = options.metrics_out or out.with_name(out.stem + ".metrics.json")
        if Path(metrics_out).resolve() == out.resolve():
            raise UserError("--metrics must differ from --out", metrics_out)
        check_output(metrics_out, OutputKind.METRICS, inputs=inputs, flag="--metrics")
    model, info = load_model(model_dir)
    read_model_variants(model_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work_directories(out.parent, WORK_PREFIX)  # left by a predict killed with kill -9
    with tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=out.parent) as work:
        cohort = harmonize_cohort(model_dir, Path(work), options.bfile, options.pfile, options.covar,
                                  info.get("dataset_path"), options.pheno, options.tables, options.id_column)
        related = dict(cohort.manifest.get("related_to_training") or {})
        if related.get("checked") is False and not info.get("dataset_path"):
            related["reason"] = "the model does not record its training dataset (saved by an older version)"
        counts = {k: v for k, v in cohort.manifest.get("like", {}).items() if isinstance(v, int)}
        n_training = int(cohort.manifest["n_variants"])
        check_overlap(counts, n_training, options.min_overlap, options.bfile or options.pfile or "")
        features = features_from_dataset(cohort, int(info.get("n_pcs") or 0))
        expected = info.get("feature_names")
        if expected is not None and list(expected) != features.feature_names:
            raise UserError("the harmonized cohort's features do not match the model's; re-run `genoml-search run` "
                            "with this version", model_dir)
        x = model_features(info, features)
        frame = prediction_frame(model, info, features, x)
        labelled = None
        if options.pheno:  # #18: a labelled cohort is scored like the run's validation samples
            from genoml_search.evaluation.labelled import labelled_metrics
            from genoml_search.core.scoring import predict_scores

            labelled = labelled_metrics(info["task"], features.y, predict_scores(model, x, info["task"]))
            labelled["related_to_training"] = related
            frame.insert(1, "phenotype", features.y)
        dropped = sum(int(s["removed"]) for s in cohort.manifest.get("steps", [])
                      if s.get("unit") == "samples" and s.get("step") not in ("input", "final"))
    if dropped:
        log.warning("%d sample(s) of the cohort were left out (no covariate row)", dropped)
    metrics_path = None
    if labelled is not None:
        from genoml_search.fileio import write_json

        metrics_path = options.metrics_out or out.with_name(out.stem + ".metrics.json")
        write_json(metrics_path, labelled)
    from genoml_search.export.tables import family_ids, with_family_ids, write_csv

    frame = with_family_ids(frame, family_ids(options.bfile, options.pfile))  # #18: keep FID and IID
    with atomic_file(out) as handle:
        write_csv(frame, handle, full_precision=True)
    summary = PredictSummary(out, info["task"], len(frame), n_training, counts, dropped,
                             list(frame.columns), info.get("warnings", []), related, labelled, metrics_path)
    summary.table_notes = list((cohort.manifest.get("feature_table") or {}).get("notes", []))
    return summary
