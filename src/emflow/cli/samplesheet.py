"""``emflow samplesheet FOLDER [--output sheet.csv]``: a samplesheet for a folder of tilt series,
filled with the detected acquisition metadata, for users to edit; ``--check SHEET`` checks one."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the sheet here (atomically; paths in it stay relative to FOLDER) [default: stdout].")
@click.option("--check", "check_only", is_flag=True,
              help="FOLDER is a samplesheet: check it (every problem one line, exit 2) and print its series.")
@click.option("--no-files", is_flag=True, help="With --check: skip the checks that need the referenced files.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --check: write the checked rows here as JSON (what the pipeline builds its series from).")
def samplesheet(folder: Path, output: Path | None, check_only: bool, no_files: bool, json_out: Path | None) -> None:
    """Write a samplesheet (CSV) for the tilt series in FOLDER, one row per series.

    The tilt axis and pixel size columns hold what the acquisition metadata says (.mdoc,
    header labels, FEI extended header, header voxel size); an empty cell means "not found".
    Edit the sheet, then run it: emflow run sheet.csv --outdir out (or nextflow --input sheet.csv).
    Notes (left-out stacks, sources that disagree) go to stderr.

    Example: emflow samplesheet tilts/ --output tilts/samplesheet.csv
    """
    if check_only:
        from emflow.samplesheet import read_samplesheet

        rows = read_samplesheet(folder, check_files=not no_files)
        if json_out is not None:
            from emflow.atomic import write_json_atomic

            write_json_atomic(json_out, [row.to_json(folder.name) for row in rows])
        click.echo(f"{folder}: {len(rows)} series valid ({', '.join(r.id for r in rows)})")
        return
    from emflow.errors import EmflowInputError
    from emflow.samplesheet import sheet_for_folder

    if not folder.is_dir():
        raise EmflowInputError(folder, "is not a folder of tilt series")
    text, notes = sheet_for_folder(folder)
    for note in notes:
        click.echo(f"emflow: {note}", err=True)
    if output is None:
        click.echo(text, nl=False)
        return
    if output.resolve().parent != folder.resolve():
        raise EmflowInputError(output, f"must be written into {folder} (its paths are relative to that folder)")
    from emflow.atomic import write_text_atomic

    click.echo(str(write_text_atomic(output, text)))
