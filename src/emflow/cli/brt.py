"""``emflow brt``: reconstruct one tilt series with batchruntomo (or the preview backend)."""

from __future__ import annotations

from pathlib import Path

import click

from emflow.brt import run_brt
from emflow.brt.run import RECON_CHOICES


@click.command()
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--adoc", "adoc_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Directive file (BASENAME.adoc, rendered or your own).")
@click.option("--workdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Processing folder (created); outputs and brt_run.log go here.")
@click.option("--cpus", type=int, default=1, show_default=True, help="CPUs for batchruntomo (-cpus N) or the preview backend's worker processes.")
@click.option("--gpus", type=int, default=0, show_default=True, help="1 to run on the GPU (-gpus 1).")
@click.option("--recon", type=click.Choice(RECON_CHOICES), default="auto", show_default=True,
              help="imod: batchruntomo (must be on PATH); preview: ASTRA FBP without fiducial alignment; "
                   "auto: imod when found, else preview (logged loudly).")
@click.option("--tilt-axis-deg", type=float, default=None,
              help="Preview only: tilt-axis angle from the y axis, degrees [default: acquisition metadata, else 0].")
@click.option("--row", "row_pairs", multiple=True, metavar="COLUMN=VALUE",
              help="A samplesheet row's value (tilt_axis_deg, recon; others ignored): replaces the option.")
@click.option("--row-source", default="samplesheet", show_default=True, help="Where --row values came from (recorded).")
def brt(stack: Path, adoc_path: Path, workdir: Path, cpus: int, gpus: int, recon: str,
        tilt_axis_deg: float | None, row_pairs: tuple[str, ...], row_source: str) -> None:
    """Run batchruntomo -di BASENAME.adoc -cpus N [-gpus 1] on STACK in WORKDIR.

    The stack is linked (or copied) into WORKDIR, never modified; WORKDIR gets a copy of the
    .adoc whose setupset.datasetDirectory is WORKDIR. Output is streamed to WORKDIR/brt_run.log
    and to stderr. Success needs exit status 0, no ABORT line, and valid BASENAME_ali.mrc,
    BASENAME_rec.mrc and BASENAME_full_rec.mrc; otherwise one line quoting the ABORT line or
    naming the missing file, exit 1. The output folder is printed on stdout.

    Example: emflow brt tilt.mrc --adoc tilt.adoc --workdir work --cpus 8 --gpus 1
    """
    from emflow.parameters import value_source
    from emflow.records import add_record_extra
    from emflow.samplesheet import parse_row_pairs

    row = parse_row_pairs(row_pairs)
    tilt_axis_deg = row.get("tilt_axis_deg", tilt_axis_deg)
    recon = row.get("recon", recon)
    result = run_brt(stack, adoc_path, workdir, recon=recon, cpus=cpus, gpus=gpus, tilt_axis_deg=tilt_axis_deg,
                     tilt_axis_source=value_source("tilt_axis_deg", tilt_axis_deg, row, row_source))
    add_record_extra(backend=result.backend, parameters={
        **({"tilt_axis_deg": result.tilt_axis.to_json()} if result.tilt_axis is not None else {}),
        "recon": {"value": recon, "source": value_source("recon", recon, row, row_source)},
    })
    click.echo(f"{result.backend}: {result.outputs.folder}")
