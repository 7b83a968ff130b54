"""Public functions that are more than a re-export: :func:`munge` returns the written :class:`Dataset`."""
from __future__ import annotations

from genoml_search.data.dataset import Dataset
from genoml_search.data.munge import MungeOptions, munge as munge_to_directory


def munge(options: MungeOptions) -> Dataset:
    """Write the Dataset directory ``options.out`` (as `genoml-search munge`) and return it, opened."""
    munge_to_directory(options)
    return Dataset.open(options.out)
