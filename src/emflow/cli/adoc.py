"""``emflow adoc`` (render BASENAME.adoc) and ``emflow adoc-check`` (validate a user's file)."""

from __future__ import annotations

from pathlib import Path

import click

from emflow.adoc import TEMPLATE_NAMES, AdocParams, check_user_adoc, write_adoc
from emflow.adoc.params import shown
from emflow.errors import EmflowInputError


def parse_set_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``key=value`` strings -> dict (split at the first '='; the value is validated later)."""
    extra: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise EmflowInputError("--set", f"{shown(pair)} is not key=value")
        if key in extra:
            raise EmflowInputError(f"--set {shown(key)}", "given twice")
        extra[key] = value
    return extra


@click.command()
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for BASENAME.adoc (created).")
@click.option("--pixel-size-nm", type=float, default=None,
              help="Pixel size in nm [default: header voxel size in Å / 10; an unset header is an error].")
@click.option("--bead-size-nm", type=float, default=10.0, show_default=True, help="Gold bead diameter in nm.")
@click.option("--bin", "bin_factor", type=int, default=4, show_default=True,
              help="Binning of the aligned stack and tomogram (1..16).")
@click.option("--light-beads", type=int, default=0, show_default=True, help="1 if beads are lighter than background.")
@click.option("--thickness", "thickness_px", type=int, default=256, show_default=True,
              help="Tomogram thickness in unbinned pixels (1..10000).")
@click.option("--montage", type=int, default=0, show_default=True, help="1 for montaged tilt series.")
@click.option("--dataset-dir", default=None,
              help="Absolute processing folder (setupset.datasetDirectory) [default: OUTDIR, absolute].")
@click.option("--scope-template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="IMOD scope template (.adoc).")
@click.option("--system-template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="IMOD system template (.adoc).")
@click.option("--user-template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="IMOD user template (.adoc).")
@click.option("--set", "set_pairs", multiple=True, metavar="KEY=VALUE",
              help="Extra directive (repeatable); replaces the template's value or is appended.")
@click.option("--template", default="default", show_default=True,
              help=f"Shipped template ({'|'.join(TEMPLATE_NAMES)}) or a Jinja2 template file.")
@click.option("--row", "row_pairs", multiple=True, metavar="COLUMN=VALUE",
              help="A samplesheet row's value (pixel_size_nm, thickness, bin; others ignored): replaces the option.")
@click.option("--row-source", default="samplesheet", show_default=True, help="Where --row values came from (recorded).")
@click.pass_context
def adoc(ctx: click.Context, stack: Path, outdir: Path, pixel_size_nm: float | None, bead_size_nm: float,
         bin_factor: int, light_beads: int, thickness_px: int, montage: int, dataset_dir: str | None,
         scope_template: Path | None, system_template: Path | None, user_template: Path | None,
         set_pairs: tuple[str, ...], template: str, row_pairs: tuple[str, ...], row_source: str) -> None:
    """Write OUTDIR/BASENAME.adoc, the batchruntomo directive file for STACK.

    Values are checked before anything is written: directive values may hold only ASCII
    letters, digits and ._,+- (paths ._/+-), so no line can be read by batchruntomo
    differently from how it looks. The written path is printed on stdout.

    Examples:

        emflow adoc tilt.mrc --outdir work --pixel-size-nm 3.36 --thickness 160

        emflow adoc tilt.mrc --outdir work --template cryo --set runtime.Trimvol.any.thickness=0.8
    """
    from emflow.samplesheet import parse_row_pairs

    row = parse_row_pairs(row_pairs)
    pixel_size_nm = row.get("pixel_size_nm", pixel_size_nm)
    bin_factor = row.get("bin_factor", bin_factor)
    thickness_px = row.get("thickness_px", thickness_px)
    params = AdocParams(
        pixel_size_nm=pixel_size_nm,
        bead_size_nm=bead_size_nm,
        bin_factor=bin_factor,
        light_beads=light_beads,
        thickness_px=thickness_px,
        montage=montage,
        dataset_dir=dataset_dir,
        scope_template=scope_template,
        system_template=system_template,
        user_template=user_template,
        extra=parse_set_pairs(set_pairs),
        template=template,
    )
    written = write_adoc(stack, outdir, params)
    _record_parameters(ctx, stack, params, row, row_source)
    click.echo(str(written))


def _record_parameters(ctx: click.Context, stack: Path, params: AdocParams, row: dict[str, object],
                       row_source: str) -> None:
    """The values this series' .adoc got and where each came from, for `emflow record`."""
    from emflow.parameters import adoc_parameters, value_source
    from emflow.records import add_record_extra

    values = {field: getattr(params, field) for field in ("pixel_size_nm", "thickness_px", "bin_factor")}
    add_record_extra(parameters=adoc_parameters(
        stack, values, lambda field: value_source(field, values[field], row, row_source)))


@click.command("adoc-check")
@click.argument("adoc_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stack", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The tilt series the file is for: its name and extension must match.")
def adoc_check(adoc_file: Path, stack: Path | None) -> None:
    """Check a user's directive file line by line, as batchruntomo reads it.

    Refuses lines without '=', lines with a second '=', bad names or values and keys given
    twice (exit 2, naming the file and line). Prints the number of directives when it is fine.

    Example: emflow adoc-check tilt.adoc --stack tilt.mrc
    """
    directives = check_user_adoc(adoc_file, stack)
    click.echo(f"{adoc_file}: {len(directives)} directives, OK")
