"""``emflow info FILE...``: an MRC header summary, like IMOD's ``header``."""

from __future__ import annotations

import json
import click

from emflow.errors import EmflowInputError
from emflow.mrc import read_info
from emflow.tilt_angles import find_tilt_angles


def describe(path: str) -> dict[str, object]:
    """Header facts and tilt angles of one file as a JSON-ready dict."""
    info = read_info(path)
    angles = find_tilt_angles(info)
    return {
        "path": str(info.path),
        "dims_xyz": [info.nx, info.ny, info.nz],
        "mode": info.mode,
        "mode_name": info.mode_name + (" (signed)" if info.signed_bytes else " (unsigned)" if info.mode == 0 else ""),
        "voxel_size_angstrom": list(info.voxel_size_angstrom),
        "origin_angstrom": list(info.origin_angstrom),
        "amin": info.amin,
        "amax": info.amax,
        "amean": info.amean,
        "extended_header": {"type": info.exttyp, "bytes": info.nsymbt},
        "labels": list(info.labels),
        "tilt_angles": None
        if angles is None
        else {
            "source": angles.source,
            "count": len(angles),
            "first_deg": float(angles.angles_deg[0]),
            "last_deg": float(angles.angles_deg[-1]),
            "path": str(angles.path) if angles.path else None,
        },
    }


def format_text(d: dict) -> str:
    """IMOD-``header``-like text for one file."""
    nx, ny, nz = d["dims_xyz"]
    vx, vy, vz = d["voxel_size_angstrom"]
    ox, oy, oz = d["origin_angstrom"]
    lines = [
        d["path"],
        f"  Number of columns, rows, sections .....  {nx} x {ny} x {nz}",
        f"  Map mode ..............................  {d['mode']}   ({d['mode_name']})",
        f"  Pixel spacing (Angstroms)..............  {vx:.6g} {vy:.6g} {vz:.6g}",
        f"  Origin on x,y,z .......................  {ox:.6g} {oy:.6g} {oz:.6g}",
        f"  Minimum density .......................  {d['amin']:.6g}",
        f"  Maximum density .......................  {d['amax']:.6g}",
        f"  Mean density ..........................  {d['amean']:.6g}",
    ]
    ext = d["extended_header"]
    if ext["bytes"]:
        lines.append(f"  Extended header .......................  {ext['bytes']} bytes, type {ext['type'] or '(none)'}")
    tilt = d["tilt_angles"]
    if tilt:
        lines.append(
            f"  Tilt angles ...........................  {tilt['count']} from {tilt['source']}"
            f" ({tilt['first_deg']:g} ... {tilt['last_deg']:g})"
        )
    else:
        lines.append("  Tilt angles ...........................  none found")
    return "\n".join(lines)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
@click.pass_context
def info(ctx: click.Context, files: tuple[str, ...], as_json: bool) -> None:
    """Show dims (x, y, z), mode, voxel size (Å), origin, header min/max/mean and tilt angles.

    Example: emflow info stack.mrc --json

    A file that is not a usable MRC gives one line on stderr; with several files the others
    are still shown and the exit code is 2.
    """
    results, failed = [], []
    for path in files:
        try:
            results.append(describe(path))
        except EmflowInputError as exc:
            if len(files) == 1:
                raise
            failed.append(exc)
            click.echo(f"emflow: {exc.one_line()}", err=True)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo("\n\n".join(format_text(d) for d in results))
    if failed:
        ctx.exit(2)
