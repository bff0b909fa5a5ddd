"""MRC volume -> ``B.ome.zarr`` + ``B_shader.json`` (issue 11): the pyramid pass with
``ng_format="zarr"``, whose OME-Zarr levels `emflow.omezarr.volume` writes."""

from __future__ import annotations

import os

from emflow.pyramid.make import make_pyramid
from emflow.pyramid.shader import write_shader_json


def write_zarr(volume_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, chunk: int = 64,
               workers: int = 1, mad: float = 5.0, shader_json: str | os.PathLike[str] | None = None,
               overwrite: bool = False, force: bool = False) -> dict:
    """Write an MRC volume as OME-Zarr plus its shader parameters JSON, in one pass.

    The pass is `emflow.pyramid.make_pyramid` with ``ng_format="zarr"`` (the same checked slab
    reader and histogram as the precomputed pyramid); the shader parameters are its statistics
    shifted back to native values.

    Parameters
    ----------
    volume_path : the MRC volume (3D; int8, uint8, int16, uint16, float32; float16 -> float32);
        a tilt series is refused unless ``force``
    out_path : the ``.ome.zarr`` folder to create
    chunk, workers : chunk edge (a power of two) and chunk-writing threads
    mad : MAD multiple of the shader ``range``
    shader_json : where the shader parameters go (default `shader_json_path(out_path)`,
        ``B.ome.zarr`` -> ``B_shader.json`` beside it)
    overwrite : replace an existing ``out_path``

    Returns
    -------
    The shader parameters dict (see `emflow.pyramid.shader`).
    """
    result = make_pyramid(volume_path, out_path, mad=mad, chunk=chunk, workers=workers, overwrite=overwrite,
                          force=force, ng_format="zarr", zarr_out=out_path)
    return write_shader_json(out_path, result.stats, volume_path, mad, shader_json)[1]
