"""IMOD ``mrc2tif -C lo,hi`` byte scaling (SPEC §4.2): header min/max, truncation, row flip.

contrast_params(amin, amax, lo, hi) -> (slope, offset)   float32, IMOD's rounding order
to_bytes(values, slope, offset) -> uint8                 one section, rows flipped
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def contrast_params(amin: float, amax: float, lo: int, hi: int) -> tuple[F32, F32]:
    """``(slope, offset)`` that map the header range and ``-C lo,hi`` to bytes.

    ``range = hi - lo + 1``; ``slope = f32(f32(255 / f32(amax - amin)) * f32(256 / range))``
    (``f32(256 / range)`` when amax = amin); ``offset = f32(-((lo / 255) * (amax - amin) + amin) * slope)``
    evaluated in double and rounded once.
    """
    amin32, amax32 = F32(amin), F32(amax)
    width = F32(amax32 - amin32)
    stretch = F32(256.0 / (hi - lo + 1))
    slope = stretch if width == 0 else F32(F32(F32(255.0) / width) * stretch)
    offset = F32(-((lo / 255.0) * (float(amax32) - float(amin32)) + float(amin32)) * float(slope))
    return slope, offset


def to_bytes(values: np.ndarray, slope: F32, offset: F32) -> np.ndarray:
    """``trunc(clamp(f32(f32(v * slope) + offset), 0, 255))`` of a ``(ny, nx)`` section, rows flipped.

    Image row 0 is MRC line ny-1, as mrc2tif writes it. ``values`` are what the MRC stores
    (integers or float32); the result is a fresh C-contiguous uint8 array.
    """
    out = np.multiply(np.asarray(values, dtype=F32), F32(slope), dtype=F32)
    out += F32(offset)
    np.clip(out, F32(0), F32(255), out=out)
    return np.ascontiguousarray(out[::-1].astype(np.uint8))
