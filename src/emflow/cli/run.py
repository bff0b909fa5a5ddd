"""``emflow run`` (every tilt series of a folder, end to end) and ``emflow demo`` (the bundled sample)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from emflow.errors import EmflowInputError

RECON_CHOICES = ("auto", "imod", "preview")
# The demo is a samplesheet (src/emflow/data/demo/samplesheet.csv): the preview backend on the
# 128 x 128 x 77 sample at bin 1 with a 128-pixel thickness (a 128^3 tomogram, a few seconds on 2
# cores; bin 2 saves little: the movies' 1024 x 1024 encoding dominates), and the tilt axis of the
# sample's acquisition log, "Tilt Axis Angle: 90.00" (IMOD's rotation from the y axis).
DEMO_SHEET = "samplesheet.csv"


def _explicit(ctx: click.Context) -> frozenset[str]:
    """Row fields whose option was given on the command line: they win over a samplesheet row."""
    from click.core import ParameterSource

    from emflow.parameters import OPTION_NAMES  # the row fields; each is also this command's option name

    return frozenset(field for field in OPTION_NAMES if ctx.get_parameter_source(field) == ParameterSource.COMMANDLINE)


def _adoc_params(**values: object) -> dict[str, object]:
    """AdocParams field values, validated before any work (EmflowInputError -> exit 2)."""
    from emflow.adoc import AdocParams, validate_params
    from emflow.cli.adoc import parse_set_pairs

    values["extra"] = parse_set_pairs(values.pop("set_pairs"))  # type: ignore[arg-type]
    validate_params(AdocParams(**values))  # type: ignore[arg-type]
    return {k: v for k, v in values.items() if v is not None}


def _callback_token(callback_url: str | None) -> str | None:
    if not callback_url:
        return None
    from emflow.manifest.callback import check_url, get_token

    check_url(callback_url)
    return get_token()


def available_cpus() -> int:
    """CPUs this process may use (the affinity mask, which containers and batch systems set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_recon(recon: str) -> None:
    """--recon imod without batchruntomo is a parameter error, found before any work."""
    import shutil

    if recon == "imod" and shutil.which("batchruntomo") is None:
        from emflow.brt.run import NOT_FOUND

        raise EmflowInputError("--recon imod", NOT_FOUND)


def _check_workers(workers: int) -> int:
    if workers < 1:
        raise EmflowInputError("--workers", f"{workers} is not a positive number")
    return workers


@click.command()
@click.argument("input_dir", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder (SPEC §9 layout).")
@click.option("--recon", type=click.Choice(RECON_CHOICES), default="auto", show_default=True,
              help="imod: batchruntomo; preview: emflow's alignment + ASTRA FBP; auto: imod when batchruntomo is on PATH.")
@click.option("--pixel-size-nm", type=float, default=None, help="Pixel size in nm [default: header voxel size in Å / 10].")
@click.option("--bead-size-nm", type=float, default=10.0, show_default=True, help="Gold bead diameter in nm.")
@click.option("--bin", "bin_factor", type=int, default=4, show_default=True, help="Binning of the aligned stack and tomogram (1..16).")
@click.option("--light-beads", type=int, default=0, show_default=True, help="1 if beads are lighter than background.")
@click.option("--thickness", "thickness_px", type=int, default=256, show_default=True, help="Tomogram thickness in unbinned pixels.")
@click.option("--montage", type=int, default=0, show_default=True, help="1 for montaged tilt series.")
@click.option("--scope-template", type=click.Path(dir_okay=False, path_type=Path), default=None, help="IMOD scope template.")
@click.option("--system-template", type=click.Path(dir_okay=False, path_type=Path), default=None, help="IMOD system template.")
@click.option("--user-template", type=click.Path(dir_okay=False, path_type=Path), default=None, help="IMOD user template.")
@click.option("--set", "set_pairs", multiple=True, metavar="KEY=VALUE", help="Extra directive (repeatable).")
@click.option("--template", default="default", show_default=True, help="Shipped adoc template or a Jinja2 template file.")
@click.option("--workers", type=int, default=1, show_default=True, help="Series processed in parallel (processes); the CPUs are shared out among the series that run.")
@click.option("--gpus", type=click.IntRange(0, 1), default=0, show_default=True, help="1 to let reconstruction use a GPU.")
@click.option("--tilt-axis-deg", type=float, default=None, help="Tilt axis angle for the preview backend [default: along y].")
@click.option("--resume", is_flag=True, help="Skip steps whose done records still match their inputs and outputs.")
@click.option("--callback-url", default=None, help="POST assets.json here with Authorization: Bearer $EMFLOW_TOKEN.")
@click.option("--ng-source", type=click.Choice(["full_rec", "rec"]), default="full_rec", show_default=True,
              help="Volume the Neuroglancer pyramid is made from.")
@click.option("--ng-format", type=click.Choice(["precomputed", "zarr", "both"]), default="precomputed", show_default=True,
              help="Neuroglancer volume: precomputed pyramid (neuro-B/), OME-Zarr (B.ome.zarr) or both.")
@click.option("--save-intermediates", is_flag=True, help="Keep brt/B_ali.mrc and brt/B_full_rec.mrc.")
@click.pass_context
def run(ctx: click.Context, input_dir: Path, outdir: Path, recon: str, workers: int, gpus: int,
        tilt_axis_deg: float | None, resume: bool, callback_url: str | None, ng_source: str, ng_format: str,
        save_intermediates: bool, **adoc_values: object) -> None:
    """Process every tilt series (*.mrc, *.st) in INPUT into OUTDIR.

    INPUT is a folder of tilt series, or a samplesheet (CSV/TSV: id, stack, and optional adoc,
    tilt_angles, pixel_size_nm, tilt_axis_deg, thickness, bin, recon per series; see `emflow
    samplesheet`). A row's values replace the run-wide defaults for its series; an option given
    here wins over every row. Tilt axis and pixel size otherwise come from the acquisition
    metadata (.mdoc, header, FEI extended header); every value's source is recorded and reported.

    Per series: adoc -> batchruntomo (or preview) -> tilt movie -> reconstruction movie ->
    Neuroglancer pyramid + visual min/max; then OUTDIR/assets.json, report.html and run_log.txt.
    A failing series never stops the others. Exit 0: all succeeded; 1: some failed (assets.json
    says which and why); 2: bad parameters, found before any work.

    Example: emflow run tilts/ --outdir out --pixel-size-nm 3.36 --workers 2
    """
    from emflow.runner.local import run_folder
    from emflow.runner.steps import RunOptions

    adoc = _adoc_params(**adoc_values)
    _check_recon(recon)
    token = _callback_token(callback_url)
    workers = _check_workers(workers)
    options = RunOptions(recon=recon, adoc=adoc, workers=workers, gpus=gpus, tilt_axis_deg=tilt_axis_deg,
                         cpus_per_series=max(1, available_cpus() // workers), resume=resume,
                         ng_source=ng_source, ng_format=ng_format, save_intermediates=save_intermediates,
                         explicit=_explicit(ctx))
    ctx.exit(run_folder(input_dir, outdir, options, callback_url=callback_url, token=token))


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--resume", is_flag=True, help="Skip steps already done in OUTDIR.")
def demo(outdir: Path, resume: bool) -> None:
    """Run the whole pipeline on the bundled sample tilt series into OUTDIR (under a minute).

    The sample is a 2x-binned copy of a real STEM-HAADF tilt series from NIST's etspy (128 x 128
    px, 77 tilts, 6.72 nm per pixel; see emflow/data/demo/NOTICE), given as a samplesheet
    (emflow/data/demo/samplesheet.csv): the preview backend (no IMOD needed) at bin 1 with a
    128-pixel thickness and the log's 90° tilt axis. Exit 0 when everything succeeded.

    Example: emflow demo out && xdg-open out/report.html
    """
    from emflow.data import demo_dir
    from emflow.runner.local import run_folder
    from emflow.runner.steps import RunOptions

    # one process per step: on a 128-pixel sample, process pools cost more than they save
    options = RunOptions(cpus_per_series=1, resume=resume)
    code = run_folder(demo_dir() / DEMO_SHEET, outdir, options)
    if code:
        click.get_current_context().exit(code)
