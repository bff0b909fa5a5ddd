"""``emflow pyramid``, ``emflow minmax``, ``emflow mrc2nifti``: Neuroglancer outputs of a volume (SPEC §6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from emflow.atomic import write_bytes_atomic

log = logging.getLogger(__name__)


@click.command()
@click.argument("volume", type=click.Path(dir_okay=False))
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--minmax-json", type=click.Path(dir_okay=False), help="Also write the visual min/max JSON here.")
@click.option("--mad", type=float, default=5.0, show_default=True, help="MAD multiple for Min/Max.")
@click.option("--chunk", type=int, default=64, show_default=True, help="Target chunk edge (power of two).")
@click.option("--gzip", is_flag=True, help="Gzip the chunks (NAME.gz).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes (full resolution) and threads (other levels).")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty OUTDIR.")
@click.option("--force", is_flag=True, help="Accept a stack that looks like a tilt series.")
@click.option("--ng-format", type=click.Choice(["precomputed", "zarr", "both"]), default="precomputed", show_default=True,
              help="Precomputed at OUTDIR, OME-Zarr at --zarr-out, or both from the same pass.")
@click.option("--zarr-out", type=click.Path(file_okay=False), help="OME-Zarr folder (with --ng-format zarr/both).")
@click.option("--neuroglancer-json", type=click.Path(dir_okay=False),
              help="Also write the series' Neuroglancer state here (B_neuroglancer.json, beside the outputs; "
                   "needs --minmax-json; series B from its name).")
def pyramid(volume: str, outdir: str, minmax_json: str | None, mad: float, chunk: int, gzip: bool, workers: int,
            overwrite: bool, force: bool, ng_format: str, zarr_out: str | None, neuroglancer_json: str | None) -> None:
    """Write VOLUME.mrc as a Neuroglancer precomputed pyramid at OUTDIR (+ min/max JSON), in one pass.

    Data: int8 -> uint8 (v + 128), int16 -> uint16 (v + 32768), float16 -> float32. Resolution in
    nm from the MRC voxel size (Å / 10). Raw chunks, flat names KEY/x0-x1_y0-y1_z0-z1.

    With --ng-format zarr/both the OME-Zarr goes to --zarr-out (B.ome.zarr) and its Neuroglancer
    shader parameters beside it (B_shader.json), from the same pass.

    With --neuroglancer-json OUT/B/B_neuroglancer.json: the viewer state of the series (sources
    relative to the folder's URL, for `emflow view` or a public URL); the outputs must sit in
    that folder as neuro-B/, B.ome.zarr/, B_min_max.json.

    Example: emflow pyramid B_full_rec.mrc OUT/B/neuro-B --minmax-json OUT/B/B_min_max.json --workers 4
    """
    from emflow.pyramid import make_pyramid

    if neuroglancer_json is not None and minmax_json is None:
        raise click.UsageError("--neuroglancer-json needs --minmax-json (the contrast)")
    result = make_pyramid(volume, outdir, minmax_json=minmax_json, mad=mad, chunk=chunk, gzip=gzip, workers=workers,
                          overwrite=overwrite, force=force, ng_format=ng_format, zarr_out=zarr_out)
    if result.zarr_out is not None:
        from emflow.pyramid.shader import write_shader_json

        write_shader_json(result.zarr_out, result.stats, volume, mad)
    if neuroglancer_json is not None:
        from emflow.view.state import STATE_FILE, write_state

        path = Path(neuroglancer_json)
        write_state(path.parent, path.name.removesuffix(STATE_FILE.format(B="")), path)
    scales = ", ".join(s["key"] for s in result.info["scales"])
    log.info("%s: %d scales (%s), min/max %s", result.outdir or zarr_out, len(result.info["scales"]), scales,
             json.dumps(result.minmax))


@click.command()
@click.argument("volume", type=click.Path(dir_okay=False))
@click.option("--mad", type=float, default=5.0, show_default=True, help="MAD multiple for Min/Max.")
@click.option("--output-json", type=click.Path(dir_okay=False), help="Write the JSON here instead of stdout.")
def minmax(volume: str, mad: float, output_json: str | None) -> None:
    """Print the visual min/max JSON of VOLUME (MRC in the converted domain, or .nii/.nii.gz).

    Histogram (one bin per integer value; 1024 bins for float), median and MAD of it:
    Min = floor(median - MAD*mad), Max = ceil(median + MAD*mad), Floor/Limit = data range.

    Example: emflow minmax B_full_rec.mrc --mad 5 --output-json B_min_max.json
    """
    from emflow.pyramid import compute_minmax
    from emflow.pyramid.minmax import minmax_bytes

    result, _ = compute_minmax(volume, mad)
    if output_json:
        write_bytes_atomic(output_json, minmax_bytes(result))
    else:
        click.echo(minmax_bytes(result).decode())


@click.command()
@click.argument("mrc", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def mrc2nifti(mrc: str, out: str) -> None:
    """Write IN.mrc as OUT.nii[.gz] as tomojs-pytools' mrc2nifti does (types, affine in mm).

    Example: emflow mrc2nifti B_full_rec.mrc B.nii.gz
    """
    from emflow.pyramid.nifti import mrc2nifti as convert

    convert(mrc, out)
