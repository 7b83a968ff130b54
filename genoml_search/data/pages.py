"""Memory-mapped genotype matrices: giving back the pages a process has read."""
from __future__ import annotations

import mmap
from typing import Any


def release_pages(genotypes: Any) -> None:
    """Drop this process's mapping of a memory-mapped genotype matrix's pages (they stay in the page cache).

    Converting the SNP matrix reads every page of the int8 map once; without this the pages count in the
    worker's RSS (1x the int8 matrix) for the rest of the trial although the solver never reads them again.
    Clean file pages re-fault from the page cache when read later (held-out scoring reads a few columns).
    Arrays that are not memory maps are left alone."""
    mapping = getattr(genotypes, "_mmap", None)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # a closed map or an unsupported platform: only memory is at stake
            pass
