"""``emflow spatialomics``, ``spatialomics-file`` and ``spatialomics-manifest``: slide sessions
to thumbnails, key images and OME-Zarr (SPEC §7), with their assets manifest (SPEC §8)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from emflow.errors import EmflowInputError
from emflow.spatialomics import (
    collect_entries,
    process_file,
    process_session,
    record_path,
    write_session_manifest,
)

log = logging.getLogger(__name__)
GROUP_NAMES = ("HQ_Images", "Pre_ROI_Selection")
CALLBACK_HELP = "POST assets.json here with Authorization: Bearer $EMFLOW_TOKEN (3 tries)."


def _callback_token(callback_url: str | None) -> str | None:
    """Check the URL and read $EMFLOW_TOKEN before any work, so a bad setup fails at once."""
    if not callback_url:
        return None
    from emflow.manifest.callback import check_url, get_token

    check_url(callback_url)
    return get_token()


@click.command("spatialomics")
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: OUT/<group>/<stem>/ per file, OUT/assets.json, OUT/report.html.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Files processed in parallel (one process each).")
@click.option("--callback-url", default=None, help=CALLBACK_HELP)
@click.pass_context
def spatialomics(ctx: click.Context, session: Path, outdir: Path, workers: int,
                 callback_url: str | None) -> None:
    """Process a spatialomics SESSION folder (HQ_Images/*.czi, Pre_ROI_Selection/*.png).

    Per file: OUT/<group>/<stem>/thumb_<stem>.jpg (fit 300 x 300), keyimg_<stem>.jpg (fit
    1024 x 1024), <stem>.ome.zarr (NGFF 0.4, 2 x 2 mean pyramid down to <= 512 px) and
    <stem>.asset.json (its manifest entry); a CZI with several scenes gives one image set per
    scene, named <stem>_s<N>. Other folders and files are ignored (listed on stderr). A file
    that cannot be read is an error entry in OUT/assets.json; the others still finish (exit 1).

    \b
    Examples:
      emflow spatialomics lab/pi/project/session1 --outdir out --workers 2
    """
    from emflow.manifest.portal import every_file_succeeded

    token = _callback_token(callback_url)
    results = process_session(session, outdir, workers=workers)
    entries = [r.to_manifest_entry() for r in results]
    assets = write_session_manifest(outdir, entries, callback_url=callback_url, token=token, log=log.info)
    if not every_file_succeeded(assets):
        ctx.exit(1)


@click.command("spatialomics-file")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--group", required=True, type=click.Choice(GROUP_NAMES),
              help="The file's group folder (asset paths are <group>/<stem>/...).")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="This file's output folder, published as OUT/<group>/<stem>/.")
def spatialomics_file(file: Path, group: str, outdir: Path) -> None:
    """Process one slide FILE into OUTDIR (one Nextflow task per file).

    Writes the outputs of `emflow spatialomics` for one file, including OUTDIR/<stem>.asset.json:
    the file's SPEC §8 ``files[]`` entry (asset paths relative to OUT, primaryFilePath
    <group>/<file name>). An unreadable file is recorded with status "error" and exits 0, so the
    manifest task reports it; a missing file exits 2. Prints {"status", "record"} as JSON.

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


@click.command("spatialomics-manifest")
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--session", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The session folder: files without a record become error entries.")
@click.option("--callback-url", default=None, help=CALLBACK_HELP)
def spatialomics_manifest(out: Path, session: Path | None, callback_url: str | None) -> None:
    """Write OUT/assets.json and OUT/report.html from the published OUT/<group>/<stem>/<stem>.asset.json
    records (the last task of the Nextflow spatialomics workflow). Exit 0 even when some files
    failed: their failures are in the manifest.

    \b
    Examples:
      emflow spatialomics-manifest out --session lab/pi/project/session1
    """
    token = _callback_token(callback_url)
    entries = collect_entries(out, session)
    write_session_manifest(out, entries, callback_url=callback_url, token=token, log=log.info)
