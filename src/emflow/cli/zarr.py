"""``emflow zarr VOLUME.mrc OUT.ome.zarr``: OME-Zarr (NGFF 0.4) multiscale + shader parameters."""

from __future__ import annotations

import json

import click

from emflow.pyramid.shader import shader_json_path
from emflow.pyramid.zarr import write_zarr


@click.command()
@click.argument("volume", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--chunk", default=64, show_default=True, type=click.IntRange(min=1), help="Chunk edge in voxels (a power of two).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Chunk-writing threads.")
@click.option("--mad", default=5.0, show_default=True, type=click.FloatRange(min=0), help="MAD multiple of the shader range.")
@click.option("--shader-json", type=click.Path(dir_okay=False), default=None,
              help="Shader parameters JSON [default: B_shader.json beside B.ome.zarr].")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
@click.option("--force", is_flag=True, help="Accept a volume that looks like a tilt series.")
def zarr(volume: str, out: str, chunk: int, workers: int, mad: float, shader_json: str | None, overwrite: bool,
         force: bool) -> None:
    """Write VOLUME as an OME-Zarr multiscale image (zarr v2, NGFF 0.4) and its shader parameters.

    Levels halve by a 2x2x2 float32 mean (odd trailing voxel dropped, truncated back to the
    native data type) until every axis fits one chunk; chunks are blosc zstd level 5, shuffled.
    The shader parameters JSON (window and clamped median +- MAD range, native values) is printed
    on stdout and written beside OUT.

    Example: emflow zarr B_full_rec.mrc OUT/B/B.ome.zarr   (writes OUT/B/B_shader.json too)
    """
    params = write_zarr(volume, out, chunk=chunk, workers=workers, mad=mad, shader_json=shader_json,
                        overwrite=overwrite, force=force)
    click.echo(json.dumps(params))
    click.echo(f"wrote {out} and {shader_json or shader_json_path(out)}", err=True)
