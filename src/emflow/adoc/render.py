"""Render ``BASENAME.adoc`` from the shipped Jinja2 templates (SPEC §2).

Public names
------------
template_context(basename, stackext, pixel_size_nm, params) -> dict   values as text (pure)
render_adoc_text(context, template, extra) -> str        Jinja2 (StrictUndefined) + ``--set`` lines
render_directives(stack_path, outdir, params) -> dict[str, str]   what write_adoc would write, parsed
write_adoc(stack_path, outdir, params) -> Path           ``OUTDIR/BASENAME.adoc``, atomically

Every rendered text is read back with the strict BRT-style parser before it is written, so a
template can never produce a line batchruntomo would misread.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import jinja2

from emflow.adoc.params import TEMPLATE_NAMES, AdocParams, check_value, format_number, shown, validate_params
from emflow.adoc.parse import parse_adoc_text
from emflow.atomic import write_text_atomic
from emflow.errors import EmflowInputError
from emflow.names import series_name

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REQUIRED_KEYS = ("setupset.copyarg.name", "setupset.copyarg.stackext", "setupset.datasetDirectory")


def template_context(basename: str, stackext: str, pixel_size_nm: float, params: AdocParams,
                     dataset_dir: str) -> dict[str, str]:
    """Template variables, all as directive text (numbers in plain decimal notation)."""

    def path_text(path: Path | None) -> str:
        return str(Path(path).resolve()) if path is not None else ""

    return {
        "template_name": params.template if params.template in TEMPLATE_NAMES else Path(params.template).name,
        "name": basename,
        "stackext": stackext,
        "pixel": format_number(pixel_size_nm),
        "gold": format_number(params.bead_size_nm),
        "montage": str(int(params.montage)),
        "dataset_dir": dataset_dir,
        "bin": str(int(params.bin_factor)),
        "light_beads": str(int(params.light_beads)),
        "thickness": str(int(params.thickness_px)),
        "positioning_thickness": str(int(math.ceil(1.5 * int(params.thickness_px)))),
        "scope_template": path_text(params.scope_template),
        "system_template": path_text(params.system_template),
        "user_template": path_text(params.user_template),
    }


def _environment(template: str) -> tuple[jinja2.Environment, str]:
    """A Jinja2 environment (StrictUndefined, no autoescape) and the template's name in it."""
    search = [str(TEMPLATE_DIR)]
    if template in TEMPLATE_NAMES:
        name = f"{template}.adoc.j2"
    else:
        path = Path(template).resolve()
        search.insert(0, str(path.parent))
        name = path.name
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env, name


def render_adoc_text(context: dict[str, str], template: str = "default", extra: dict[str, str] | None = None) -> str:
    """Render ``template`` with ``context``; ``extra`` replaces a directive's value or is appended.

    Raises
    ------
    EmflowInputError
        ``--template`` when the template is broken or uses an unknown variable; the checks of
        parse_adoc_text when the result is not a file batchruntomo reads as written.
    """
    env, name = _environment(template)
    try:
        text = env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise EmflowInputError("--template", f"{shown(template)} cannot be rendered: {exc}") from exc
    directives = parse_adoc_text(text, f"template {template}")
    if extra:
        text = _apply_extra(text, directives, extra)
    return text


def _apply_extra(text: str, directives: dict[str, str], extra: dict[str, str]) -> str:
    """Set each ``extra`` directive: on its existing line when the template has it, else appended."""
    lines = text.splitlines()
    appended = []
    for key, value in extra.items():
        if key not in directives:
            appended.append(f"{key}={value}")
            continue
        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped.startswith("#") and stripped.partition("=")[0].strip() == key:
                lines[i] = f"{key}={value}"
    if appended:
        lines += ["", "# --- Extra directives (--set) ---", *appended]
    return "\n".join(lines) + "\n"


def _pixel_size_nm(stack_path: Path, params: AdocParams) -> float:
    """``params.pixel_size_nm``, else the acquisition metadata: header voxel size (Å / 10, unless
    0 or 1 Å), .mdoc, FEI header; none anywhere is an error."""
    from emflow.acquisition import Sourced, resolve_pixel_size

    given = Sourced(float(params.pixel_size_nm), "--pixel-size-nm") if params.pixel_size_nm is not None else None
    choice = resolve_pixel_size(stack_path, explicit=given)
    if choice.value is None:
        from emflow.mrc import read_info

        voxel_angstrom = float(read_info(stack_path).voxel_size_angstrom[0])
        raise EmflowInputError(
            stack_path,
            f"header voxel size is {voxel_angstrom:g} Å, which almost always means unset, and no .mdoc or FEI "
            "header gives one; give the pixel size with --pixel-size-nm",
        )
    return float(choice.value)


def _render(stack_path: Path, outdir: Path, params: AdocParams) -> tuple[str, str]:
    """(BASENAME, rendered text) after every check; nothing is written."""
    basename = series_name(stack_path)
    validate_params(params)
    stackext = stack_path.suffix[1:]
    dataset_dir = params.dataset_dir if params.dataset_dir is not None else str(Path(outdir).resolve())
    check_value("setupset.datasetDirectory", dataset_dir, "--dataset-dir" if params.dataset_dir else "--outdir")
    check_value("setupset.copyarg.stackext", stackext, os.fspath(stack_path))
    pixel_size_nm = _pixel_size_nm(stack_path, params)
    context = template_context(basename, stackext, pixel_size_nm, params, dataset_dir)
    text = render_adoc_text(context, params.template, params.extra)
    directives = parse_adoc_text(text, f"template {params.template}")
    for key in REQUIRED_KEYS:
        if not directives.get(key):
            raise EmflowInputError("--template", f"{shown(params.template)} does not set {key}")
    if directives["setupset.copyarg.name"] != basename:
        raise EmflowInputError("--template", f"{shown(params.template)} sets setupset.copyarg.name to "
                               f"{shown(directives['setupset.copyarg.name'])}, not {basename}")
    return basename, text


def render_directives(stack_path: str | os.PathLike[str], outdir: str | os.PathLike[str],
                      params: AdocParams) -> dict[str, str]:
    """The directives write_adoc would write, as ``key -> value`` (pure apart from the header read)."""
    _, text = _render(Path(stack_path), Path(outdir), params)
    return parse_adoc_text(text, "rendered directives")


def write_adoc(stack_path: str | os.PathLike[str], outdir: str | os.PathLike[str], params: AdocParams) -> Path:
    """Validate, render and atomically write ``OUTDIR/BASENAME.adoc``.

    Parameters
    ----------
    stack_path : the tilt series (``.mrc``/``.st``); its name gives BASENAME and stackext, its
        header the pixel size when ``params.pixel_size_nm`` is None
    outdir : folder to write into (created)
    params : AdocParams

    Returns
    -------
    Path of the written file.

    Raises
    ------
    EmflowInputError
        A bad series name, parameter, template or header; nothing is written then.
    """
    stack_path, outdir = Path(stack_path), Path(outdir)
    basename, text = _render(stack_path, outdir, params)
    target = write_text_atomic(outdir / f"{basename}.adoc", text)
    log.info("wrote %s", target)
    return target
