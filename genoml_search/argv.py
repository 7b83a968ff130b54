"""Command-line spellings that click cannot parse by itself, rewritten before parsing."""
from __future__ import annotations


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def expand_indep_pairwise(args: list[str]) -> list[str]:
    """PLINK 2's two-argument ``--indep-pairwise WINDOWkb R2`` (step 1) as the three-argument form.

    The step is optional in plink2 when the window is in kb; it is then 1.
    """
    out = list(args)
    for i, token in enumerate(out):
        if token != "--indep-pairwise":
            continue
        values = out[i + 1 : i + 4]
        if len(values) >= 2 and values[0].lower().endswith("kb") and _is_number(values[1]) and (
                len(values) == 2 or not _is_number(values[2])):
            out[i + 1 : i + 3] = [values[0], "1", values[1]]
            break
    return out
