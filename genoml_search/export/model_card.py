"""``model/MODEL_CARD.md``: what the model is, what it was trained and validated on, and how far to trust it.

Written from the run's own records (``model.json``, the training ``manifest.json``, ``metrics.json``), so it
states only what the run measured: data, QC, the family and parameters, CV and validation with 95% intervals,
what the SNPs add over the covariates, samples related to training, intended use, versions.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genoml_search.fileio import atomic_file

MODEL_CARD = "MODEL_CARD.md"


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _data_lines(manifest: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    inputs, phenotype = manifest.get("inputs", {}), manifest.get("phenotype", {})
    cv = metrics.get("cv", {})
    lines = [f"- Genotypes: `{inputs.get('bfile') or inputs.get('pfile')}`; phenotype `{inputs.get('pheno')}`"
             f" (column {phenotype.get('column', '?')}, {phenotype.get('task', '?')}); covariates "
             f"`{inputs.get('covar')}`: {', '.join(manifest.get('covariates', {}).get('columns', [])) or 'none'}",
             f"- Training dataset: {manifest.get('n_samples')} samples x {manifest.get('n_variants')} variants "
             f"(content hash `{manifest.get('content_hash')}`); the search used {cv.get('n_samples')} of them"]
    if "n_cases" in cv:
        lines.append(f"- Cases/controls searched on: {cv['n_cases']}/{cv['n_controls']}")
    return lines


def _qc_lines(manifest: dict[str, Any]) -> list[str]:
    steps = [s for s in manifest.get("steps", []) if s.get("removed")]
    if not steps:
        return ["- No sample or variant was removed by QC."]
    return [f"- {s['step']}: {s['removed']} {s['unit']} removed ({s['reason']})" for s in steps]


def _validation_lines(metrics: dict[str, Any]) -> list[str]:
    validation = metrics.get("validation", {})
    where = {"cohort": "a separate cohort harmonized to the training variants",
             "holdout": "samples held out of the training dataset before the search"}.get(validation.get("source"), "?")
    lines = [f"Validation on {validation.get('n_samples')} samples: {where}; never seen by the search.", "",
             "| metric | value | 95% CI | method |", "|---|---|---|---|"]
    for name, interval in (validation.get("intervals") or {}).items():
        lines.append(f"| {name} | {interval['value']:.4f} | {interval['low']:.4f}-{interval['high']:.4f} | "
                     f"{interval['method']} |")
    increment, baseline = validation.get("snp_increment") or {}, validation.get("baseline_covariates") or {}
    if increment.get("difference") is not None:
        lines += ["", f"Covariates only ({baseline.get('model')}): {increment['metric']} "
                      f"{increment['covariates_only']:.4f}; with genotypes {increment['with_snps']:.4f}; the SNPs add "
                      f"{increment['difference']:+.4f} (95% CI {increment['low']:+.4f} to {increment['high']:+.4f}, "
                      f"{increment['method']})."]
    if "at_threshold" in validation:
        t = validation["at_threshold"]
        lines += ["", f"At probability >= {t['threshold']}: sensitivity {_fmt(t['sensitivity'], 3)}, specificity "
                      f"{_fmt(t['specificity'], 3)}, PPV {_fmt(t['ppv'], 3)}, NPV {_fmt(t['npv'], 3)} "
                      f"(cases/controls {validation.get('n_cases')}/{validation.get('n_controls')})."]
    return lines


def _related_lines(metrics: dict[str, Any]) -> list[str]:
    related = metrics.get("validation", {}).get("related_to_training") or {}
    if not related:
        return ["- Relatedness of the validation samples to the training samples was not recorded."]
    if not related.get("checked", True):
        return [f"- Relatedness to training was not checked: {related.get('reason')}."]
    n = related.get("n_related", 0)
    if not n:
        return [f"- None of the {related.get('n_samples')} validation samples is related to a training sample "
                f"(KING kinship > {related.get('threshold', 0):.4f})."]
    action = ("they were left out of the validation metrics" if related.get("dropped") else
              "they are scored, so the validation metrics are optimistic (partly memorization)")
    return [f"- **Warning:** {n} of {related.get('n_samples')} validation samples are related to a training sample "
            f"({related.get('n_duplicates', 0)} duplicates); {action}."]


def model_card(info: dict[str, Any], metrics: dict[str, Any], manifest: dict[str, Any],
               score_files: bool = False) -> str:
    """The card's Markdown text."""
    cv = metrics.get("cv", {})
    metric = metrics.get("metric", "?")
    folds = ", ".join(f"{v:.3f}" for v in cv.get("fold_scores", []))
    params = json.dumps(info.get("params", {}), default=str)
    parts = [
        f"# Model card: {info.get('family')} for {info.get('task')} ({metrics.get('study')})", "",
        "## Data", *_data_lines(manifest, metrics), "",
        "## Quality control", *_qc_lines(manifest), "",
        "## Model",
        f"- Family `{info.get('family')}`, parameters `{params}`, in-fold SNP filter p <= "
        f"{info.get('snp_p_threshold', 1.0):.3g}; {info.get('n_snps')} SNP columns + "
        f"{len(info.get('feature_names', [])) - int(info.get('n_snps', 0))} covariate columns{_mask_text(info)}",
        f"- Chosen as trial {cv.get('best_trial')} of study `{metrics.get('study')}` by mean {cv.get('n_folds')}-fold "
        f"CV {metric}: {_fmt(cv.get(metric))} (sd {_fmt(cv.get('std'))}; folds {folds})",
        "- Files: `model.skops` (the fitted pipeline; load with `genoml_search.load_model(run_dir)`), `model.json`, "
        "`variants.tsv` (training SNPs and counted alleles)"
        + ("; `score.tsv` + `score_covariates.tsv` (plink2 --score export of this linear model)" if score_files else ""),
        "", "## Validation", *_validation_lines(metrics), "",
        "## Related samples", *_related_lines(metrics), "",
        "## Intended use",
        "- Research use: ranking or stratifying people of the same ancestry and genotyping platform as the training "
        "cohort, with the same covariates. Not validated for clinical decisions.",
        "- Accuracy on other ancestries, arrays or imputation panels is unknown: score a labelled sample of the "
        "target population first (`genoml-search predict --pheno`).",
        "- New cohorts must be harmonized to `variants.tsv` (`predict` does this); absent SNPs are filled with "
        "training means, which lowers accuracy.", "",
        "## Versions",
        f"- genoml-search {info.get('tool_version', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in (info.get("libraries") or {}).items()), "",
    ]
    return "\n".join(parts)


def write_model_card(model_dir: Path, info: dict[str, Any], metrics: dict[str, Any],
                     score_files: bool = False) -> str:
    """Write ``MODEL_CARD.md`` into the model directory (atomically); return its name."""
    model_dir = Path(model_dir)
    manifest_path, info_path = model_dir / "manifest.json", model_dir / "model.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    saved = json.loads(info_path.read_text()) if info_path.is_file() else {}
    with atomic_file(model_dir / MODEL_CARD) as handle:
        handle.write(model_card({**saved, **info}, metrics, manifest, score_files))
    return MODEL_CARD


def _mask_text(info: dict[str, Any]) -> str:
    """The LD mask the model uses, when it is one of the dataset's pruning masks (search/ld_choice.py)."""
    mask = info.get("ld_mask") or {}
    if not mask.get("name") or mask["name"] == "none":
        return ""
    return f"; LD mask r2 {mask['name']}: uses {mask.get('n_snps')} of the SNP columns"
