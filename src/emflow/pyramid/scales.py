"""The precomputed ``info``: scales, keys, chunk sizes, exactly as neuroglancer-scripts 1.1.0 makes them.

Public names
------------
resolution_nm(voxel_size_angstrom)          (x, y, z) nm through a float32 NIfTI pixdim in mm
pyramid_info(size_xyz, resolution_nm, data_type, chunk=64)
                                            the info dict (``fill_scales_for_dyadic_pyramid``)
info_bytes(info)                            the ``info`` file bytes (sorted keys, no spaces)
chunk_name(key, x0, x1, y0, y1, z0, z1)     ``KEY/x0-x1_y0-y1_z0-z1`` (the flat layout)
Scale                                       one level: key, size, chunk, factors (x, y, z)

The facility's chain went MRC -> NIfTI (SimpleITK: spacing Å x 1e-7 -> mm, stored as float32)
-> neuroglancer-scripts (``voxel_size_mm * 1000000``), so 3.36 nm appears as 3.3599999369471334.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# neuroglancer_scripts.utils.LENGTH_UNITS (key units, coarsest first)
LENGTH_UNITS = {"km": 1e-12, "m": 1e-9, "mm": 1e-6, "um": 1e-3, "nm": 1.0, "pm": 1e3}
NG_DATA_TYPES = ("uint8", "uint16", "uint32", "uint64", "float32")


def resolution_nm(voxel_size_angstrom: Sequence[float]) -> list[float]:
    """(x, y, z) resolution in nm as the MRC -> NIfTI -> precomputed chain computes it.

    ITK's MRC reader gives the spacing in Å; mrc2nifti multiplies by 1e-7 (mm) in float64; the
    NIfTI header stores float32; neuroglancer-scripts multiplies the float32 value by 1000000.
    A zero voxel size (no cell in the header) is 1 Å, as ITK reads it.
    """
    out = []
    for v in voxel_size_angstrom:
        spacing_mm = np.float32((float(v) if v > 0 else 1.0) * 1e-7)
        out.append(float(np.float64(spacing_mm) * 1000000))
    return out


def _ceil_div(a: int, b: int) -> int:
    return (a - 1) // b + 1


def _format_length(length_nm: float, unit: str) -> str:
    return format(length_nm * LENGTH_UNITS[unit], ".0f") + unit


def _key_unit(resolution: float) -> str:
    """The coarsest unit that keeps keys of successive scales distinct."""
    for unit, factor in LENGTH_UNITS.items():
        if round(resolution * factor) != 0 and _format_length(resolution, unit) != _format_length(resolution * 2, unit):
            return unit
    raise ValueError(f"cannot find a key unit for {resolution} nm")


def _chunk_sizes(level: int, delays: list[int], chunk_exponent: int) -> list[int]:
    max_delay = max(delays)
    aniso = [max(0, max_delay - d - level) for d in delays]
    excess = sum(aniso) - 3 * chunk_exponent
    if excess > 0:
        reduction = _ceil_div(excess, sum(1 for f in aniso if f != 0))
        aniso = [max(f - reduction, 0) for f in aniso]
    base = chunk_exponent - (sum(aniso) + 1) // 3
    return [2 ** (base + f) for f in aniso]


def pyramid_info(size_xyz: Sequence[int], resolution: Sequence[float], data_type: str, chunk: int = 64) -> dict[str, Any]:
    """The ``info`` of a dyadic pyramid (neuroglancer-scripts' ``fill_scales_for_dyadic_pyramid``).

    Parameters
    ----------
    size_xyz : full-resolution size (x, y, z) in voxels
    resolution : full-resolution voxel size (x, y, z) in nm (see `resolution_nm`)
    data_type : one of uint8, uint16, uint32, uint64, float32
    chunk : target chunk edge, a power of two; anisotropic axes get longer/shorter chunks so a
        chunk's extent is near-isotropic, axes with the finest voxels are halved first.
    """
    exponent = int(math.log2(chunk))
    if chunk != 2**exponent or chunk < 2:
        raise ValueError(f"chunk size {chunk} is not a power of two >= 2")
    if data_type not in NG_DATA_TYPES:
        raise ValueError(f"data type {data_type} is not a Neuroglancer data type")
    best = min(resolution)
    delays = [int(round(math.log2(r / best))) for r in resolution]
    unit = _key_unit(best)
    full = {"encoding": "raw", "size": [int(s) for s in size_xyz], "resolution": [float(r) for r in resolution],
            "voxel_offset": [0, 0, 0]}
    levels = max(math.ceil(math.log2(a / chunk)) - b for a, b in zip(full["size"], delays))
    scales = []
    for level in range(max(levels, 1)):
        factors = [2 ** max(0, level - d) for d in delays]
        scale = copy.deepcopy(full)
        scale["resolution"] = [r * f for r, f in zip(full["resolution"], factors)]
        scale["size"] = [_ceil_div(s, f) for s, f in zip(full["size"], factors)]
        scale["key"] = _format_length(min(scale["resolution"]), unit)
        scale["chunk_sizes"] = [_chunk_sizes(level, delays, exponent)]
        scales.append(scale)
    return {"type": "image", "num_channels": 1, "data_type": data_type, "scales": scales}


def info_bytes(info: dict[str, Any]) -> bytes:
    """The ``info`` file as neuroglancer-scripts writes it: sorted keys, no spaces, no newline."""
    return json.dumps(info, separators=(",", ":"), sort_keys=True).encode("utf-8")


def chunk_name(key: str, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> str:
    """Flat chunk file name ``KEY/x0-x1_y0-y1_z0-z1``."""
    return f"{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"


@dataclasses.dataclass(frozen=True)
class Scale:
    """One pyramid level: ``size``, ``chunk`` and ``factors`` (from the level below) in (x, y, z)."""

    key: str
    size: tuple[int, int, int]
    chunk: tuple[int, int, int]
    factors: tuple[int, int, int]


def scales_of(info: dict[str, Any]) -> list[Scale]:
    """The levels of an ``info``, with the downscaling factor of each from the one below."""
    out: list[Scale] = []
    for i, s in enumerate(info["scales"]):
        size = tuple(int(v) for v in s["size"])
        if i == 0:
            factors = (1, 1, 1)
        else:
            factors = tuple(1 if a == b else 2 for a, b in zip(out[-1].size, size))
        out.append(Scale(s["key"], size, tuple(int(v) for v in s["chunk_sizes"][0]), factors))  # type: ignore[arg-type]
    return out
