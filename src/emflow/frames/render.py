"""Frame rendering of one slab given the global statistics, and the ``.frames`` slab files.

render_slab(path, stats, z0, z1) -> uint8 (n, ny, nx)   newstack -float 3 (tilt) + mrc2tif -C
write_frames(path, z0, frames) / read_frames(path) -> (z0, frames)

A ``.frames`` file is a 40-byte header (``EMFLOWFR``, then z0, n, ny, nx as little-endian int64)
followed by the raw row-flipped bytes: what ffmpeg reads as ``-pix_fmt gray``.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from emflow.atomic import atomic_path
from emflow.errors import EmflowInputError
from emflow.frames.mrc2tif import contrast_params, to_bytes
from emflow.frames.newstack import apply_float3, imod_values, round_to_mode
from emflow.frames.stats import check_stats
from emflow.mrc import open_volume, require_finite

MAGIC = b"EMFLOWFR"
HEADER = struct.Struct("<8s4q")


def render_slab(path: str | os.PathLike[str], stats: dict[str, Any], z0: int, z1: int) -> np.ndarray:
    """Frames of sections ``z0 .. z1-1`` as ``(n, ny, nx)`` uint8, rows flipped as mrc2tif.

    ``stats`` comes from `emflow.frames.stats` (tilt: float-3 scale/add per section, then
    ``-C 0,255``; rec: the ``ave_`` values as stored, ``-C 100,255``).
    """
    with open_volume(path) as volume:
        check_stats(stats, volume.info)
        nz, ny, nx = volume.shape
        if not 0 <= z0 < z1 <= nz:
            raise EmflowInputError(path, f"section range {z0}-{z1 - 1} is outside 0-{nz - 1}")
        slope, offset = contrast_params(stats["amin"], stats["amax"], *stats["contrast"])
        frames = np.empty((z1 - z0, ny, nx), dtype=np.uint8)
        for z in range(z0, z1):
            section = volume.read_section(z)
            require_finite(path, section, z)
            if stats["scale"] is not None:
                mode = stats["mode"]
                values = apply_float3(imod_values(section), stats["scale"][z], stats["add"][z], mode)
                section = round_to_mode(values, mode)
            frames[z - z0] = to_bytes(imod_values(section) if section.dtype == np.int8 else section, slope, offset)
    return frames


def write_frames(path: str | os.PathLike[str], z0: int, frames: np.ndarray) -> Path:
    """Write a slab of frames atomically (see module docstring for the layout)."""
    n, ny, nx = frames.shape
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(HEADER.pack(MAGIC, z0, n, ny, nx))
        fh.write(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
    return Path(path)


def read_frames_header(path: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    """``(z0, n, ny, nx)`` of a ``.frames`` file; checks the size."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEADER.size)
        size = Path(path).stat().st_size
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read frames file: {exc.strerror}") from exc
    if len(raw) < HEADER.size or raw[:8] != MAGIC:
        raise EmflowInputError(path, "not an emflow .frames file")
    _, z0, n, ny, nx = HEADER.unpack(raw)
    if min(n, ny, nx) < 1 or z0 < 0 or size != HEADER.size + n * ny * nx:
        raise EmflowInputError(path, f"truncated or corrupt .frames file ({size} bytes)")
    return z0, n, ny, nx


def read_frames(path: str | os.PathLike[str]) -> tuple[int, np.ndarray]:
    """``(z0, frames)`` of a ``.frames`` file."""
    z0, n, ny, nx = read_frames_header(path)
    data = np.fromfile(path, dtype=np.uint8, offset=HEADER.size)
    return z0, data.reshape(n, ny, nx)
