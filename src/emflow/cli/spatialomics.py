"""``emflow spatialomics`` and ``emflow spatialomics-file``: slide sessions to thumbnails, key
images and OME-Zarr (SPEC §7), with their assets-manifest entries (SPEC §8)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from emflow.errors import EmflowInputError
from emflow.spatialomics import process_file, process_session, write_assets_json
from emflow.spatialomics.results import record_path

log = logging.getLogger(__name__)
GROUP_NAMES = ("HQ_Images", "Pre_ROI_Selection")


@click.command("spatialomics")
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: OUT/<group>/<stem>/ per file and OUT/assets.json.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Files processed in parallel (one process each).")
@click.pass_context
def spatialomics(ctx: click.Context, session: Path, outdir: Path, workers: int) -> None:
    """Process a spatialomics SESSION folder (HQ_Images/*.czi, Pre_ROI_Selection/*.png).

    Per file: OUT/<group>/<stem>/thumb_<stem>.jpg (fit 300 x 300), keyimg_<stem>.jpg (fit
    1024 x 1024) and <stem>.ome.zarr (NGFF 0.4, 2 x 2 mean pyramid down to <= 512 px); a CZI
    with several scenes gives one set per scene, named <stem>_s<N>. Other folders and files
    are ignored (listed on stderr). A file that cannot be read is recorded as an error in
    OUT/assets.json and the others still finish (exit 1).

    \b
    Examples:
      emflow spatialomics lab/pi/project/session1 --outdir out --workers 2
    """
    results = process_session(session, outdir, workers=workers)
    write_assets_json(outdir / "assets.json", results)
    failed = [r for r in results if r.status != "success"]
    log.info("%d file(s) done, %d failed; wrote %s", len(results) - len(failed), len(failed),
             outdir / "assets.json")
    if failed or not results:
        ctx.exit(1)


@click.command("spatialomics-file")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--group", required=True, type=click.Choice(GROUP_NAMES),
              help="The file's group folder (asset paths are <group>/<stem>/...).")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="This file's output folder, published as OUT/<group>/<stem>/.")
def spatialomics_file(file: Path, group: str, outdir: Path) -> None:
    """Process one slide FILE (one Nextflow task per file) into OUTDIR.

    Writes the same outputs as `emflow spatialomics` for one file, including the record
    OUTDIR/<stem>.asset.json: the file's SPEC §8 ``files[]`` entry (asset paths relative to OUT, primaryFilePath
    <group>/<file name>). An unreadable file is recorded with status "error" and exits 0, so the
    manifest step reports it; a missing file exits 2.

    \b
    Examples:
      emflow spatialomics-file session/HQ_Images/slide_1.czi --group HQ_Images --outdir out/HQ_Images/slide_1
    """
    if not file.is_file():
        raise EmflowInputError(file, "file not found")
    result = process_file(file, group, outdir)
    target = record_path(outdir, file.stem)
    log.info("%s: %s; wrote %s", result.primary_file_path, result.status, target)
    click.echo(json.dumps({"status": result.status, "record": str(target)}))
