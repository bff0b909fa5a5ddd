"""``emflow manifest`` (assets.json + report.html from a published OUT) and ``emflow validate-assets``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--input-dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The run's input folder (series are discovered here, SPEC §1).")
@click.option("--status-dir", "status_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Extra folder of step status records (repeatable) [always read: OUTDIR/<series>/.emflow/].")
@click.option("--callback-url", default=None, help="POST assets.json here with Authorization: Bearer $EMFLOW_TOKEN.")
@click.option("--strict", is_flag=True, help="Exit 1 unless every series succeeded.")
@click.pass_context
def manifest(ctx: click.Context, outdir: Path, input_dir: Path, status_dirs: tuple[Path, ...],
             callback_url: str | None, strict: bool) -> None:
    """Write OUTDIR/assets.json and OUTDIR/report.html from published outputs and status records.

    The Nextflow pipeline's last task runs this; `emflow run` does the same itself. Prints the
    manifest status on stdout. Exit 0 when the manifest was written (whatever the series' status,
    unless --strict), 1 when the callback finally failed, 2 for bad arguments.

    Example: emflow manifest results --input-dir tilts --callback-url https://portal/api/assets
    """
    from emflow.manifest import write_manifest
    from emflow.manifest.callback import check_url, get_token
    from emflow.manifest.portal import every_file_succeeded

    token = None
    if callback_url:
        check_url(callback_url)
        token = get_token()
    assets = write_manifest(outdir, input_dir, status_dirs=status_dirs, callback_url=callback_url, token=token,
                            log=lambda text: click.echo(text, err=True))
    ok = sum(f["status"] == "success" for f in assets["files"])
    click.echo(f"{assets['status']}: {ok} of {len(assets['files'])} series succeeded")
    if strict and not every_file_succeeded(assets):
        ctx.exit(1)


@click.command("validate-assets")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate_assets(file: Path) -> None:
    """Check an assets.json against emflow's JSON Schema (SPEC §8). Exit 0 valid, 2 not.

    Example: emflow validate-assets out/assets.json
    """
    from emflow.manifest import validate_assets as validate

    assets = validate(file)
    failed = sum(f["status"] != "success" for f in assets["files"])
    click.echo(f"{file}: valid (status {assets['status']}, {len(assets['files'])} files, {failed} failed)")
