"""Independent references for the OME-Zarr tests: issue 11 rule 1 levels, SPEC §6 statistics.

Written from the issue and SPEC text, not from emflow's code: levels by reshape-and-mean in
float64 (exact for 8/16-bit integers, whose 8-voxel sums float32 also holds exactly), the
histogram with ``np.histogram`` and the weighted quantile as the SPEC states it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def reference_levels(volume: np.ndarray, chunk: int) -> list[np.ndarray]:
    """Level 0 = volume; level k+1 = 2x2x2 mean of level k (odd trailing element dropped),
    truncated to the stored dtype; until every axis fits one chunk."""
    levels = [volume]
    while any(n > chunk for n in levels[-1].shape):
        a = levels[-1]
        nz, ny, nx = (n // 2 for n in a.shape)
        blocks = a[: 2 * nz, : 2 * ny, : 2 * nx].astype(np.float64).reshape(nz, 2, ny, 2, nx, 2)
        mean = blocks.mean(axis=(1, 3, 5)).astype(np.float32)
        levels.append(mean.astype(volume.dtype))
    return levels


def weighted_quantile(centres: np.ndarray, counts: np.ndarray, q: float) -> float:
    """SPEC §6: interpolate the centres at positions (cumsum(w) - w/2) / sum(w), clamped."""
    keep = counts > 0
    m, w = centres[keep].astype(np.float64), counts[keep].astype(np.float64)
    order = np.argsort(m, kind="stable")
    m, w = m[order], w[order]
    positions = (np.cumsum(w) - w / 2) / w.sum()
    return float(np.interp(q, positions, m))


def reference_shader(volume: np.ndarray, mad_factor: float = 5.0) -> dict:
    """Issue 11 rule 2 from SPEC §6's histogram on the native values."""
    if volume.dtype.kind in "iu":
        info = np.iinfo(volume.dtype)
        centres = np.arange(info.min, info.max + 1, dtype=np.float64)
        counts = np.bincount((volume.astype(np.int64) - info.min).ravel(), minlength=len(centres))
    else:
        lo, hi = float(volume.min()), float(volume.max())
        step = (hi - lo) / 1024
        edges = np.arange(lo, hi + step, step)
        counts, edges = np.histogram(volume.astype(np.float64), bins=edges)
        centres = (edges[1:] + edges[:-1]) / 2
    median = weighted_quantile(centres, counts, 0.5)
    mad = weighted_quantile(np.abs(centres - median), counts, 0.5)
    used = centres[counts > 0]
    floor, limit = math.floor(used.min()), math.ceil(used.max())
    return {
        "shader": "Grayscale",
        "dimensions": "XYZ",
        "shaderParameters": {
            "window": [floor, limit],
            "range": [max(math.floor(median - mad_factor * mad), floor), min(math.ceil(median + mad_factor * mad), limit)],
        },
    }


def read_level_files(zarr_dir: Path, level: int) -> tuple[dict, dict]:
    """``(.zarray, .zattrs of the group)`` as JSON."""
    return (json.loads((zarr_dir / str(level) / ".zarray").read_text()),
            json.loads((zarr_dir / ".zattrs").read_text()))
