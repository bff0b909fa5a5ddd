"""IMOD ``binvol -binning 2`` (``-antialias 0``): plain 2x2x2 mean in float32 (SPEC §5.3).

bin_pair(sections) -> float32     one output section from 1 or 2 input sections
binned_shape(shape) -> shape      trailing odd column/row/section dropped; nz = 1 stays 1
"""

from __future__ import annotations

import numpy as np

from emflow.frames.newstack import imod_values

F32 = np.float32


def binned_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Output ``(nz, ny, nx)``: halves, rounded down; a single section is binned in x and y only."""
    nz, ny, nx = shape
    return (1 if nz == 1 else nz // 2, ny // 2, nx // 2)


def bin_pair(sections: np.ndarray) -> np.ndarray:
    """Bin ``(k, ny, nx)`` sections (k = 2, or 1 for a 1-section volume) into one float32 section.

    IMOD adds ``v / denom`` (denom = 8, or 4 for one section) into the output pixel section by
    section, x outer, y inner, in float32; the same order is kept here.
    """
    k, ny, nx = sections.shape
    if k not in (1, 2):
        raise ValueError(f"bin_pair takes 1 or 2 sections, got {k}")
    denom = F32(F32(4.0) / F32(1.0 / k))
    out = np.zeros((ny // 2, nx // 2), dtype=F32)
    for z in range(k):
        values = imod_values(sections[z])[: ny // 2 * 2, : nx // 2 * 2]
        for dx in (0, 1):
            for dy in (0, 1):
                out += values[dy::2, dx::2] / denom
    return out
