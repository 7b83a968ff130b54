"""`genoml-search predict`: apply a run's saved model to a new cohort."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genoml_search.flags import FRACTION


def predict(
    model: Annotated[Path, typer.Option("--model", help="Run directory (or its model/ directory).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: ID and probabilities or predictions.")],
    bfile: Annotated[Optional[str], typer.Option(help="PLINK 1 prefix of the new cohort.")] = None,
    pfile: Annotated[Optional[str], typer.Option(help="PLINK 2 prefix of the new cohort (needs pgenlib).")] = None,
    covar: Annotated[Optional[str], typer.Option(help="Covariate file (required when the model has covariates).")] = None,
    min_overlap: Annotated[float, typer.Option(help="Least fraction of the model's SNPs the cohort must have.",
                                               callback=FRACTION)] = 0.9,
    pheno: Annotated[Optional[str], typer.Option(help="Phenotype file of a labelled cohort: also score it (metrics "
                                                 "with 95% CIs, the JSON shape of metrics.json's validation).")] = None,
    metrics: Annotated[Optional[Path], typer.Option("--metrics", help="With --pheno: where the metrics JSON goes "
                                                    "(default: OUT with suffix .metrics.json).")] = None,
    table: Annotated[Optional[list[str]], typer.Option("--table", help="Feature table(s) of the new samples (models "
                                                       "trained on munge --table data); repeatable.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Sample ID column of the --table files.")] = None,
) -> None:
    """Harmonize a cohort to the model's training SNPs and write its predictions (atomically)."""
    from genoml_search._predict import PredictOptions, predict as run_predict

    summary = run_predict(PredictOptions(model=model, out=out, bfile=bfile, pfile=pfile, covar=covar,
                                         min_overlap=min_overlap, pheno=pheno, metrics_out=metrics,
                                         tables=list(table or []), id_column=id_column))
    from genoml_search.terminal import console, err_console

    h = summary.harmonization
    console.print(f"{summary.n_samples} samples predicted ({summary.task}) -> {summary.out}", markup=False)
    for note in summary.table_notes:  # munge --table models: ignored columns, unseen categorical levels
        (err_console if note.startswith("warning") else console).print(note, markup=False, soft_wrap=True)
    if summary.n_training_snps:  # a table-only model has no SNPs to report
        console.print(f"SNPs: {h.get('matched', 0)} of {summary.n_training_snps} usable ({summary.overlap:.1%}); "
                      f"{h.get('allele_swapped', 0)} allele-swapped, {h.get('strand_flipped', 0)} strand-flipped, "
                      f"{h.get('ambiguous', 0)} strand-ambiguous (matched literally), "
                      f"{h.get('filled_from_training', 0)} filled from training frequencies", markup=False)
    if summary.samples_dropped:
        console.print(f"warning: {summary.samples_dropped} samples had no covariate row and were left out",
                      markup=False)
    from genoml_search.data.cohort_structure import warning_text

    text = warning_text(summary.related_to_training, "predicted",
                        "the model has seen them (or their relatives) in training")
    if text:
        err_console.print(f"warning: {text}", soft_wrap=True)
    if summary.metrics is not None:
        from genoml_search.evaluation.summary import labelled_lines

        for line in labelled_lines(summary.metrics, summary.metrics_path):
            console.print(line, markup=False, highlight=False)
    for note in summary.warnings:
        console.print(f"warning: {note}; predictions may differ slightly from the run's", markup=False)


def register(app: Any) -> None:
    """Add the `predict` command to the CLI."""
    app.command(name="predict")(predict)
