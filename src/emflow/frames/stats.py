"""Statistics pass of the movies (SPEC §4-5): everything the frame rendering needs, as JSON.

scan_sections(path, z0, z1) -> [[min, max, mean], ...]     one slab, IMOD arithmetic
tilt_stats(path, slab_size, workers) -> dict               float-3 maps + mrc2tif -C 0,255
header_stats(path) -> dict                                 mrc2tif -C 100,255 from header amin/amax
load_stats(path) / check_stats(stats, info)                read back and match to a volume

The dict is JSON-serialisable; float32 values are stored as exact doubles, so a Nextflow task
that reads the JSON renders the same bytes as the in-process path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from emflow.errors import EmflowInputError
from emflow.frames.newstack import float3_params, section_stats
from emflow.frames.pool import ordered_map, slab_ranges
from emflow.mrc import MrcInfo, open_volume, read_info, require_3d, require_finite

TILT_CONTRAST = (0, 255)
REC_CONTRAST = (100, 255)
STATS_VERSION = 1


def scan_sections(path: str | os.PathLike[str], z0: int, z1: int) -> list[list[float]]:
    """``[min, max, mean]`` of sections ``z0 .. z1-1`` (one read per section); NaN/Inf are errors."""
    out = []
    with open_volume(path) as volume:
        for z in range(z0, z1):
            section = volume.read_section(z)
            require_finite(path, section, z)
            out.append(list(section_stats(section)))
    return out


def _base(info: MrcInfo, kind: str, contrast: tuple[int, int]) -> dict[str, Any]:
    return {
        "version": STATS_VERSION,
        "kind": kind,
        "file": info.path.name,
        "shape": list(info.shape),
        "mode": info.mode,
        "contrast": list(contrast),
    }


def tilt_stats(path: str | os.PathLike[str], slab_size: int = 64, workers: int = 1) -> dict[str, Any]:
    """Statistics of an ``_ali`` stack: per-section float-3 scale/add and the output header range."""
    info = read_info(path)
    require_3d(info, 2, "the tilt movie")
    tasks = [(info.path, z0, z1) for z0, z1 in slab_ranges(info.nz, slab_size)]
    rows = [row for part in ordered_map(scan_sections, tasks, workers) for row in part]
    mins, maxs, means = (np.array(col, dtype=np.float32) for col in zip(*rows))
    params = float3_params(mins, maxs, means, info.mode)
    stats = _base(info, "tilt", TILT_CONTRAST)
    stats.update(
        amin=params.amin,
        amax=params.amax,
        scale=[float(v) for v in params.scale],
        add=[float(v) for v in params.add],
    )
    return stats


def header_stats(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Statistics of an ``ave_`` volume for the reconstruction movie: header amin/amax only."""
    info = read_info(path)
    stats = _base(info, "rec", REC_CONTRAST)
    stats.update(amin=info.amin, amax=info.amax, scale=None, add=None)
    return stats


def load_stats(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a statistics JSON written by `emflow section-stats`; one-line errors if malformed."""
    try:
        stats = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise EmflowInputError(path, f"cannot read statistics JSON: {exc}") from exc
    keys = {"version", "kind", "shape", "mode", "contrast", "amin", "amax", "scale", "add"}
    if not isinstance(stats, dict) or not keys <= set(stats) or stats["version"] != STATS_VERSION:
        raise EmflowInputError(path, "not an emflow section-stats file (missing keys or other version)")
    return stats


def check_stats(stats: dict[str, Any], info: MrcInfo) -> None:
    """Refuse statistics computed for another volume (dims or mode differ)."""
    if list(stats["shape"]) != list(info.shape) or stats["mode"] != info.mode:
        raise EmflowInputError(
            info.path,
            f"statistics are for a {tuple(stats['shape'])} mode-{stats['mode']} volume, "
            f"this file is {info.shape} mode {info.mode}",
        )
