"""`genoml-search report`: the HTML report of a run directory or of a study in a shared storage."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genoml_search.flags import COUNT, NON_NEGATIVE, SEED, in_range


def report(
    run_dir: Annotated[Optional[Path], typer.Argument(help="Run directory of `genoml-search run`.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Deprecated spelling of RUN_DIR.")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database URL (default: the run's study.db).")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study name (default: the run's).")] = None,
    report_dir: Annotated[Optional[Path], typer.Option(help="Where to write (default RUN_DIR/report).")] = None,
    max_features: Annotated[int, typer.Option(help="Features permuted for importance (top by model importance).",
                                              callback=NON_NEGATIVE)] = 50,
    permutations: Annotated[Optional[int], typer.Option(help="Permutations per feature (importance; default 5).",
                                                        callback=COUNT)] = None,
    repeats: Annotated[Optional[int], typer.Option(help="Deprecated spelling of --permutations.",
                                                   callback=COUNT)] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap replicates for confidence intervals.",
                                           callback=in_range(10, 1_000_000))] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of permutations and bootstrap.", callback=SEED)] = 0,
) -> None:
    """Write report.html (self-contained, opens offline) with PNG and CSV files beside it."""
    from genoml_search.deprecation import prefer
    from genoml_search.errors import UserError
    from genoml_search.progress import log_steps
    from genoml_search.report.build import ReportOptions, build_report
    from genoml_search.terminal import console, err_console

    run_dir = prefer(run_dir, out, "RUN_DIR", "--out RUN_DIR")
    permutations = prefer(permutations, repeats, "--permutations", "--repeats")
    if run_dir is None and storage is None:
        raise UserError("give RUN_DIR, or --storage URL with --study NAME")
    with log_steps(err_console, "report"):  # steps on a terminal only
        result = build_report(ReportOptions(run_dir=run_dir, storage=storage, study=study, report_dir=report_dir,
                                            max_features=max_features,
                                            n_repeats=5 if permutations is None else permutations,
                                            n_boot=bootstrap, seed=seed))
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"report: {result.html} ({len(result.files)} files)", markup=False)


def register(app: Any) -> None:
    """Add the `report` command to the CLI."""
    app.command(name="report")(report)
