"""Sex chromosomes as plink2 (2.00a3.5) sees them: chromosome codes and sample sex.

- Chromosome codes (``chrom_kinds``): ``X``/``23`` is chrX, ``Y``/``24`` chrY, ``XY``/``25`` the
  pseudo-autosomal region (treated like an autosome), ``MT``/``M``/``26`` mitochondria (haploid); an optional
  ``chr`` prefix is ignored. Everything else is an autosome here.
- Sample sex (``sex_codes``): .fam column 5, ``1`` male, ``2`` female, anything else unknown. plink2 treats
  unknown-sex samples as "non-male" (diploid on chrX, ignored on chrY) but leaves them out of the chrX HWE test.

The chrX Hardy-Weinberg test is in :mod:`genoml_search.data.hwe`.
"""
from __future__ import annotations

import numpy as np

AUTOSOME, X, Y, XY, MT = "A", "X", "Y", "XY", "MT"
_CODES = {"23": X, "X": X, "24": Y, "Y": Y, "25": XY, "XY": XY, "26": MT, "M": MT, "MT": MT}

MALE, FEMALE, UNKNOWN = 1, 2, 0


def chrom_kinds(chrom) -> np.ndarray:
    """Per variant: ``"A"`` (autosome), ``"X"``, ``"Y"``, ``"XY"`` or ``"MT"`` (plink2's codes 23-26 or names)."""
    names = np.char.upper(np.char.strip(np.asarray(chrom).astype(str)))
    names = np.where(np.char.startswith(names, "CHR"), np.char.replace(names, "CHR", "", count=1), names)
    out = np.full(names.shape, AUTOSOME, dtype="<U2")
    for code, kind in _CODES.items():
        out[names == code] = kind
    return out


def sex_codes(sex) -> np.ndarray:
    """Per sample: 1 male, 2 female, 0 unknown (from the .fam sex column; ``None`` means all unknown)."""
    values = np.asarray(sex).astype(str)
    values = np.char.strip(values)
    out = np.zeros(values.shape, dtype=np.int8)
    out[values == "1"] = MALE
    out[values == "2"] = FEMALE
    return out
