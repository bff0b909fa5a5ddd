"""Neuroglancer shader parameters for an OME-Zarr volume (issue 11 rule 2).

Public API
----------
shader_params(median, mad, floor, limit, mad_factor=5.0)   the JSON dict, native values
shader_params_from_stats(stats, mad_factor=5.0, offset=0)  the same from `minmax.visual_stats`
native_offset(stored_dtype)                               128 for int8, 32768 for int16, else 0
shader_json_path(zarr_path)                               ``B.ome.zarr`` -> ``B_shader.json``
write_shader_json(zarr_path, stats, volume, mad_factor, path=None) -> (path, params)   ``B_shader.json``

The statistics follow SPEC §6 (histogram, weighted median and unscaled MAD, ``floor`` =
floor(first non-empty bin centre), ``limit`` = ceil(last non-empty bin centre)) computed on the
native values (int8 stays int8: no +128 shift). Unlike the precomputed min/max JSON, ``range`` is
clamped to the data and every number is an integer:

    {"shader": "Grayscale", "dimensions": "XYZ",
     "shaderParameters": {"window": [floor(min), ceil(max)],
                          "range": [floor(max(median - 5 MAD, min)), ceil(min(median + 5 MAD, max))]}}
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def shader_params(median: float, mad: float, floor: float, limit: float, mad_factor: float = 5.0) -> dict:
    """Shader parameters from a weighted median, MAD and the data's floor/limit (native values).

    Parameters
    ----------
    median, mad : weighted median and unscaled MAD of the histogram (SPEC §6)
    floor, limit : floor(first non-empty bin centre), ceil(last non-empty bin centre)
    mad_factor : the MAD multiple of the contrast range (5)

    Returns
    -------
    dict ready for JSON; ``window`` = [floor, limit], ``range`` = the MAD range clamped to it.
    """
    floor_i, limit_i = math.floor(floor), math.ceil(limit)
    low = max(math.floor(median - mad_factor * mad), floor_i)
    high = min(math.ceil(median + mad_factor * mad), limit_i)
    return {
        "shader": "Grayscale",
        "dimensions": "XYZ",
        "shaderParameters": {"window": [floor_i, limit_i], "range": [int(low), int(high)]},
    }


def shader_params_from_stats(stats: dict, mad_factor: float = 5.0, offset: float = 0.0) -> dict:
    """Shader parameters from a `visual_stats` dict (keys median, mad, floor, limit).

    ``offset`` is what the statistics' domain adds to the native values (128 when the histogram
    was taken on int8 converted to uint8 for the precomputed pyramid, 32768 for int16 to uint16,
    0 otherwise); it is subtracted so the parameters are in native values.
    """
    return shader_params(
        float(stats["median"]) - offset,
        float(stats["mad"]),
        float(stats["floor"]) - offset,
        float(stats["limit"]) - offset,
        mad_factor,
    )


def native_offset(stored_dtype: np.dtype | str) -> int:
    """What the precomputed conversion (SPEC §6) adds to native values: int8 128, int16 32768, else 0."""
    return {"int8": 128, "int16": 32768}.get(np.dtype(stored_dtype).name, 0)


def shader_json_path(zarr_path: str | os.PathLike[str]) -> Path:
    """``OUT/B/B.ome.zarr`` -> ``OUT/B/B_shader.json`` (beside the zarr folder)."""
    zarr_path = Path(zarr_path)
    stem = zarr_path.name.removesuffix(".ome.zarr").removesuffix(".zarr")
    return zarr_path.parent / f"{stem}_shader.json"


def write_shader_json(zarr_path: str | os.PathLike[str], stats: dict, volume: str | os.PathLike[str],
                      mad_factor: float = 5.0, path: str | os.PathLike[str] | None = None) -> tuple[Path, dict]:
    """Write the shader parameters from the pyramid pass' `visual_stats` of ``volume`` (the MRC
    the OME-Zarr was made from: its dtype says how far the stats are shifted) to ``path``
    (default ``B_shader.json`` beside ``zarr_path``); return the path and the parameters."""
    from emflow.atomic import write_json_atomic
    from emflow.mrc import read_info

    params = shader_params_from_stats(stats, mad_factor, native_offset(read_info(volume).dtype))
    return write_json_atomic(path or shader_json_path(zarr_path), params), params
