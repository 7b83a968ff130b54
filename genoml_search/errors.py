"""One exception hierarchy. The CLI turns a :class:`UserError` into one line on stderr and exit code 2."""
from __future__ import annotations

from pathlib import Path


class GenomlSearchError(Exception):
    """Base class of every error raised on purpose by genoml-search."""


class UserError(GenomlSearchError):
    """Bad input or a bad request from the user: reported as one line, exit code 2, no traceback.

    The message should name the file (and row, column or key) and say what to do.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        text = " ".join(str(message).split())  # always exactly one line
        super().__init__(f"{self.path}: {text}" if self.path else text)


class InputFileError(UserError):
    """A malformed or inconsistent input file (PLINK, phenotype, covariates, GWAS, TOML)."""


class StudyError(UserError):
    """A study that cannot be created or resumed as asked (wrong task, other dataset, bad storage)."""
