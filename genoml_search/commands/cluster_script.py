"""`genoml-search cluster-script STUDY.toml`: print the batch job script of the study's ``[cluster]`` table."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from genoml_search.errors import InputFileError


def register(app: Any) -> None:
    """Add the ``cluster-script`` command to the typer ``app``."""

    @app.command("cluster-script")
    def cluster_script(
        config: Annotated[Path, typer.Argument(help="Study TOML with a [cluster] table of kind slurm, pbs or sge.")],
    ) -> None:
        """Print the job script that `run --config STUDY.toml` would submit for each batch job (submits nothing)."""
        from genoml_search.execute.jobqueue import BATCH_KINDS, job_script, read_cluster_table

        table = read_cluster_table(config)
        if table is None:
            raise InputFileError('no [cluster] table; add one with kind = "slurm", "pbs" or "sge"', config)
        if table["kind"] not in BATCH_KINDS:
            raise InputFileError(f"cluster.kind: {table['kind']!r} has no job script (only {', '.join(BATCH_KINDS)})",
                                 config)
        print(job_script(table))
