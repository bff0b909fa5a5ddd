"""Directive parameters and their validation (SPEC §2).

batchruntomo reads a directive line as: strip; skip blank and ``#`` lines; key = text before the
first ``=``; value = text between the first and a second ``=`` (the rest is silently dropped); an
inline ``#`` is part of the value. So a value must never hold ``=``, ``#``, a newline, quotes,
``$``, a backtick, ``;`` or a space. emflow's rule (simplest that satisfies it): values are ASCII
``[A-Za-z0-9._,+-]``, paths ``[A-Za-z0-9._/+-]``; anything else is refused before a file is written.

Public names
------------
AdocParams                      what `emflow adoc` renders (units in the names)
validate_params(params)         raise EmflowInputError naming the parameter and the value
check_key(key, subject)         key grammar ``(setupset|comparam|runtime)(.[A-Za-z0-9_]+){1,3}``
check_value(key, value, subject)  value/path grammar + the typed checks of known keys
format_number(x)                plain decimal text (``3.36``, ``10``), never an exponent
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from emflow.errors import EmflowInputError

KEY_RE = re.compile(r"(setupset|comparam|runtime)(\.[A-Za-z0-9_]+){1,3}")
VALUE_RE = re.compile(r"[A-Za-z0-9._,+-]*")
PATH_RE = re.compile(r"[A-Za-z0-9._/+-]*")

TEMPLATE_NAMES = ("default", "plastic", "cryo")

# Directives whose value is a file or folder path (IMOD type "File", and the setup paths).
PATH_KEYS = frozenset(
    {
        "setupset.datasetDirectory",
        "setupset.scopeTemplate",
        "setupset.systemTemplate",
        "setupset.userTemplate",
        "setupset.copyarg.distort",
        "setupset.copyarg.gradient",
        "setupset.copyarg.ctfnoise",
        "comparam.eraser.ccderaser.ModelFile",
        "runtime.SeedFinding.any.rawBoundaryModel",
        "runtime.PatchTracking.any.rawBoundaryModel",
    }
)

# Keys set by a dedicated option (SPEC §2); `--set` may not override them.
OPTION_KEYS = {
    "setupset.copyarg.name": "the stack's file name",
    "setupset.copyarg.stackext": "the stack's file name",
    "setupset.copyarg.pixel": "--pixel-size-nm",
    "setupset.copyarg.gold": "--bead-size-nm",
    "setupset.copyarg.montage": "--montage",
    "setupset.datasetDirectory": "--dataset-dir",
    "comparam.prenewst.newstack.BinByFactor": "--bin",
    "runtime.AlignedStack.any.binByFactor": "--bin",
    "comparam.track.beadtrack.LightBeads": "--light-beads",
    "comparam.tilt.tilt.THICKNESS": "--thickness",
    "setupset.scopeTemplate": "--scope-template",
    "setupset.systemTemplate": "--system-template",
    "setupset.userTemplate": "--user-template",
}

# Typed checks of the SPEC §2 keys (and a few booleans of the shipped templates), applied to
# rendered files and to users' files alike: kind, low, high (inclusive; None = open).
BOOL = ("bool", 0, 1)
TYPED_KEYS: dict[str, tuple[str, float | None, float | None]] = {
    "setupset.copyarg.pixel": ("float>0", None, None),
    "setupset.copyarg.gold": ("float>0", None, None),
    "setupset.copyarg.montage": BOOL,
    "setupset.copyarg.dual": BOOL,
    "setupset.copyarg.extract": BOOL,
    "setupset.scanHeader": BOOL,
    "comparam.prenewst.newstack.BinByFactor": ("int", 1, 16),
    "runtime.AlignedStack.any.binByFactor": ("int", 1, 16),
    "comparam.track.beadtrack.LightBeads": BOOL,
    "comparam.tilt.tilt.THICKNESS": ("int", 1, 10000),
    "runtime.Postprocess.any.doTrimvol": BOOL,
    "runtime.Cleanup.any.doCleanup": BOOL,
}


@dataclass
class AdocParams:
    """Parameters of a rendered directive file (SPEC §2 defaults).

    Attributes
    ----------
    pixel_size_nm : pixel size in nm; None = MRC header voxel size (Å) / 10
    bead_size_nm : gold bead diameter in nm
    bin_factor : binning of the aligned stack and reconstruction (1..16)
    light_beads : 1 when beads are lighter than the background
    thickness_px : reconstruction thickness in unbinned pixels (1..10000)
    montage : 1 for montaged tilt series
    dataset_dir : absolute processing folder written as ``setupset.datasetDirectory``
        (None = the output folder); ``emflow brt`` rewrites it to its own folder anyway
    scope_template, system_template, user_template : optional IMOD template files
    extra : further ``key -> value`` directives (``--set key=value``)
    template : ``default``, ``plastic``, ``cryo`` or the path of a Jinja2 template file
    """

    pixel_size_nm: float | None = None
    bead_size_nm: float = 10.0
    bin_factor: int = 4
    light_beads: int = 0
    thickness_px: int = 256
    montage: int = 0
    dataset_dir: str | None = None
    scope_template: Path | None = None
    system_template: Path | None = None
    user_template: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)
    template: str = "default"


def shown(value: object) -> str:
    """The value as the user should see it in a message: quoted, non-ASCII and newlines escaped."""
    return ascii(str(value))


def format_number(x: float) -> str:
    """Plain decimal text of a number, as IMOD reads it: ``3.36``, ``10``, ``0.5`` (6 decimals)."""
    text = f"{float(x):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def check_key(key: str, subject: str) -> str:
    """Return ``key`` if it is a directive name BRT accepts, else raise naming ``subject``."""
    if not (key.isascii() and KEY_RE.fullmatch(key)):
        raise EmflowInputError(
            subject,
            f"directive name {shown(key)} is not allowed: it must look like "
            "setupset|comparam|runtime followed by 1 to 3 '.name' parts of letters, digits or _",
        )
    return key


def check_value(key: str, value: str, subject: str) -> str:
    """Check one directive value: grammar (path grammar for PATH_KEYS), then typed ranges."""
    is_path = key in PATH_KEYS
    pattern, allowed = (PATH_RE, "letters, digits and ._/+-") if is_path else (VALUE_RE, "letters, digits and ._,+-")
    if not (value.isascii() and pattern.fullmatch(value)):
        raise EmflowInputError(
            subject,
            f"value {shown(value)} is not allowed: batchruntomo directive values may contain only "
            f"ASCII {allowed} (no spaces, '=', '#', quotes, '$', ';', backticks or newlines)",
        )
    if is_path and value and key == "setupset.datasetDirectory" and not value.startswith("/"):
        raise EmflowInputError(subject, f"value {shown(value)} must be an absolute path")
    if key in TYPED_KEYS and value != "":
        _check_typed(value, TYPED_KEYS[key], subject)
    return value


def _check_typed(value: str, spec: tuple[str, float | None, float | None], subject: str) -> None:
    kind, low, high = spec
    if kind == "float>0":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise EmflowInputError(subject, f"value {shown(value)} must be a number > 0")
        return
    if not re.fullmatch(r"[+-]?[0-9]+", value) or not (low <= int(value) <= high):  # type: ignore[operator]
        what = "0 or 1" if kind == "bool" else f"a whole number in {low:g}..{high:g}"
        raise EmflowInputError(subject, f"value {shown(value)} must be {what}")


def _check_range(subject: str, value: object, low: float, high: float, integer: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()  # type: ignore[arg-type]
    if not ok or not (math.isfinite(float(value)) and low <= float(value) <= high):  # type: ignore[arg-type]
        what = "0 or 1" if (low, high) == (0, 1) else (
            f"a whole number in {low:g}..{high:g}" if integer else "a number > 0"
        )
        raise EmflowInputError(subject, f"value {shown(value)} must be {what}")


def check_template_name(template: str) -> None:
    """A shipped template name, or the path of an existing template file."""
    if template in TEMPLATE_NAMES:
        return
    if not Path(template).is_file():
        raise EmflowInputError(
            "--template",
            f"{shown(template)} is neither a shipped template ({', '.join(TEMPLATE_NAMES)}) nor a file",
        )


def validate_params(params: AdocParams) -> None:
    """Check every parameter against SPEC §2 before anything is read or written.

    Raises
    ------
    EmflowInputError
        ``"--param: value 'x' ..."`` naming the parameter (as the CLI spells it) and the value.
    """
    if params.pixel_size_nm is not None:
        if not (isinstance(params.pixel_size_nm, (int, float)) and math.isfinite(params.pixel_size_nm)
                and params.pixel_size_nm > 0):
            raise EmflowInputError("--pixel-size-nm", f"value {shown(params.pixel_size_nm)} must be a number > 0")
        check_value("setupset.copyarg.pixel", format_number(params.pixel_size_nm), "--pixel-size-nm")
    if not (isinstance(params.bead_size_nm, (int, float)) and math.isfinite(params.bead_size_nm)
            and params.bead_size_nm > 0):
        raise EmflowInputError("--bead-size-nm", f"value {shown(params.bead_size_nm)} must be a number > 0")
    _check_range("--bin", params.bin_factor, 1, 16, integer=True)
    _check_range("--light-beads", params.light_beads, 0, 1, integer=True)
    _check_range("--thickness", params.thickness_px, 1, 10000, integer=True)
    _check_range("--montage", params.montage, 0, 1, integer=True)
    if params.dataset_dir is not None:
        check_value("setupset.datasetDirectory", str(params.dataset_dir), "--dataset-dir")
    for option, path in (
        ("--scope-template", params.scope_template),
        ("--system-template", params.system_template),
        ("--user-template", params.user_template),
    ):
        if path is not None:
            check_value("setupset.scopeTemplate", str(Path(path).resolve()), option)
            if not Path(path).is_file():
                raise EmflowInputError(option, f"template file {shown(path)} not found")
    for key, value in params.extra.items():
        subject = f"--set {shown(key)}"
        check_key(key, subject)
        check_value(key, value, subject)
        if key in OPTION_KEYS:
            raise EmflowInputError(subject, f"this directive is set by {OPTION_KEYS[key]}, not by --set")
    check_template_name(params.template)
