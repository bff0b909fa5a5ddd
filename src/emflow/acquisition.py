"""Acquisition metadata of a tilt series: tilt-axis angle and pixel size, each with its source.

IMOD's header scan (``setupset.scanHeader``; copytomocoms) takes the tilt-axis rotation and the
pixel size from the acquisition software's records; emflow reads the same places:

* SerialEM ``.mdoc`` beside the stack (``STACKNAME.mdoc`` or ``BASENAME.mdoc``): the title line
  ``[T = Tilt axis angle = 85.3, binning = 4 ...]`` and ``PixelSpacing`` (Å; the global one, else
  the first section's). A section's ``RotationAngle`` is the image rotation, not the tilt axis.
* The MRC labels: SerialEM writes the same ``Tilt axis angle = …`` title into the stack's header.
* FEI1/FEI2 (Thermo EPU/Tomo) extended header: ``Tilt axis angle`` (degrees) and ``Pixel size X``
  (metres), each only when its validity bit in ``Bitmask 1`` is set (bit 12 and bit 14 of the
  Thermo "MRC2014 extended header" layout, as mrcfile indexes it).
* Old FEI extended header (128-byte records of float32: …, index 10 tilt axis, index 11 pixel
  size in metres): there is no validity flag, so a 0 tilt axis is taken as "not recorded".
* The MRC header voxel size (Å) for the pixel size, unless 0 or 1 Å (unset).

Precedence of a value (SPEC-level rule of `emflow run` and the pipeline): explicit parameter >
samplesheet row > metadata (first source in the order above; the header voxel size comes first
for the pixel size, as IMOD uses it) > default. Every candidate is kept so that a disagreement
between sources (tilt axis > 1°, pixel size > 1 %) can be reported.

Public names
------------
Sourced                          a value and where it came from
Choice                           the chosen value, its source and the disagreements (to_json())
read_acquisition(stack)          -> Acquisition (tilt_axis_deg, pixel_size_nm candidate lists)
read_mdoc_acquisition(path)      candidates of one .mdoc
choose(candidates, ...)          -> Choice (first candidate wins)
resolve_tilt_axis(stack, explicit=None, row=None, row_source="samplesheet")
resolve_pixel_size(stack, explicit=None, row=None, row_source="samplesheet")
"""

from __future__ import annotations

import dataclasses
import math
import re
import struct
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError

TILT_AXIS_TOLERANCE_DEG = 1.0
PIXEL_SIZE_TOLERANCE = 0.01  # relative
DEFAULT_TILT_AXIS_DEG = 0.0  # along the image y axis

_TITLE = re.compile(r"^\[\s*T\s*=(?P<text>.*)\]\s*$")
_TITLE_AXIS = re.compile(r"Tilt\s*axis\s*angle\s*=\s*(?P<value>[-+0-9.eE]+)", re.IGNORECASE)
_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_]*)\s*=\s*(?P<value>.*)$")
_SECTION = re.compile(r"^\[\s*(ZValue|MontSection|FrameSet)\s*=")

# Thermo "MRC2014 extended header" Bitmask 1: bit of each field's validity.
FEI_TILT_AXIS_BIT = 1 << 12
FEI_PIXEL_SIZE_X_BIT = 1 << 14
OLD_FEI_RECORD_BYTES = 128
OLD_FEI_TILT_AXIS_INDEX = 10
OLD_FEI_PIXEL_SIZE_INDEX = 11


@dataclasses.dataclass(frozen=True)
class Sourced:
    """A value and where it came from (a file name, ``FEI1 extended header``, ``--tilt-axis-deg`` …)."""

    value: float
    source: str


@dataclasses.dataclass(frozen=True)
class Choice:
    """The value a series uses, its source, and every other source that disagrees with it."""

    value: float | None
    source: str
    conflicts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value, "source": self.source}
        if self.conflicts:
            data["conflicts"] = list(self.conflicts)
        return data

    def describe(self, name: str, unit: str) -> str:
        """``tilt axis 85.3° from TS_01.mrc.mdoc`` (for logs and the report)."""
        shown = "unset" if self.value is None else f"{self.value:g}{unit}"
        return f"{name} {shown} from {self.source}"


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """Metadata candidates found for a stack, best first."""

    tilt_axis_deg: tuple[Sourced, ...] = ()
    pixel_size_nm: tuple[Sourced, ...] = ()


def _number(text: str) -> float | None:
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def read_mdoc_acquisition(path: str | Path) -> Acquisition:
    """Tilt axis (first title line that has one) and pixel size (global ``PixelSpacing``, else the
    first section's; Å -> nm) of a SerialEM ``.mdoc``. Unreadable fields are left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read: {exc.strerror}") from exc
    axis: float | None = None
    global_spacing: float | None = None
    section_spacing: float | None = None
    in_section = False
    for raw in text.splitlines():
        line = raw.strip()
        title = _TITLE.match(line)
        if title:
            found = _TITLE_AXIS.search(title.group("text"))
            if found and axis is None:
                axis = _number(found.group("value"))
            continue
        if _SECTION.match(line):
            in_section = True
            continue
        pair = _KEY_VALUE.match(line)
        if pair and pair.group("key") == "PixelSpacing":
            value = _number(pair.group("value"))
            if value is None or value <= 0:
                continue
            if not in_section and global_spacing is None:
                global_spacing = value
            elif in_section and section_spacing is None:
                section_spacing = value
    spacing = global_spacing if global_spacing is not None else section_spacing
    name = path.name
    return Acquisition(
        tilt_axis_deg=(Sourced(axis, name),) if axis is not None else (),
        pixel_size_nm=(Sourced(spacing / 10.0, name),) if spacing is not None else (),
    )


def _label_axis(labels: tuple[str, ...], stack: Path) -> tuple[Sourced, ...]:
    for label in labels:
        found = _TITLE_AXIS.search(label)
        if found:
            value = _number(found.group("value"))
            if value is not None:
                return (Sourced(value, f"{stack.name} header label"),)
    return ()


def _fei_fields(info: Any) -> Acquisition:
    """FEI1/FEI2: the first section's record, fields whose validity bit is set."""
    from emflow.mrc.io import indexed_fei_header

    ext = indexed_fei_header(info)
    names = (ext.dtype.names or ()) if ext is not None else ()
    if ext is None or "Bitmask 1" not in names:
        return Acquisition()
    record = ext[0]
    bits = int(record["Bitmask 1"])
    where = f"{info.exttyp} extended header"
    axis: tuple[Sourced, ...] = ()
    pixel: tuple[Sourced, ...] = ()
    if bits & FEI_TILT_AXIS_BIT and "Tilt axis angle" in names:
        value = float(record["Tilt axis angle"])
        if math.isfinite(value):
            axis = (Sourced(value, where),)
    if bits & FEI_PIXEL_SIZE_X_BIT and "Pixel size X" in names:
        metres = float(record["Pixel size X"])
        if math.isfinite(metres) and metres > 0:
            pixel = (Sourced(metres * 1e9, where),)
    return Acquisition(axis, pixel)


def _old_fei_fields(info: Any) -> Acquisition:
    from emflow.mrc.io import read_extended_header

    if info.exttyp or info.nint != 0 or info.nsymbt < OLD_FEI_RECORD_BYTES or info.nsymbt % OLD_FEI_RECORD_BYTES:
        return Acquisition()
    first = read_extended_header(info)[:OLD_FEI_RECORD_BYTES]
    fields = struct.unpack(info.byte_order + "32f", first)
    axis, metres = fields[OLD_FEI_TILT_AXIS_INDEX], fields[OLD_FEI_PIXEL_SIZE_INDEX]
    where = "FEI extended header"
    return Acquisition(
        (Sourced(float(axis), where),) if math.isfinite(axis) and axis != 0 and abs(axis) <= 360 else (),
        (Sourced(float(metres) * 1e9, where),) if math.isfinite(metres) and 0 < metres < 1e-6 else (),
    )


def _header_pixel(info: Any) -> tuple[Sourced, ...]:
    voxel = float(info.voxel_size_angstrom[0])
    if voxel <= 0 or abs(voxel - 1.0) < 1e-6 or not math.isfinite(voxel):
        return ()
    return (Sourced(voxel / 10.0, f"{info.path.name} header voxel size"),)


def mdoc_beside(stack: Path) -> Path | None:
    """``STACKNAME.mdoc`` (SerialEM's own name) or ``BASENAME.mdoc`` beside the stack."""
    for side in (stack.with_name(stack.name + ".mdoc"), stack.with_suffix(".mdoc")):
        if side.is_file():
            return side
    return None


def read_acquisition(stack: str | Path, mdoc: str | Path | None = None) -> Acquisition:
    """Every tilt-axis and pixel-size candidate of ``stack`` (checked header), best first.

    ``mdoc`` names the .mdoc explicitly (a samplesheet's tilt_angles column); else one beside
    the stack is used. Raises EmflowInputError for a stack that is not a readable MRC file.
    """
    from emflow.mrc import read_info

    stack = Path(stack)
    info = read_info(stack)
    side = Path(mdoc) if mdoc is not None else mdoc_beside(stack)
    parts = [read_mdoc_acquisition(side)] if side is not None else []
    parts.append(Acquisition(_label_axis(info.labels, stack), ()))
    fei = _fei_fields(info) if info.exttyp in ("FEI1", "FEI2") else _old_fei_fields(info)
    header = Acquisition((), _header_pixel(info))
    axis = tuple(s for part in parts + [fei] for s in part.tilt_axis_deg)
    pixel = tuple(s for part in [header] + parts + [fei] for s in part.pixel_size_nm)
    return Acquisition(axis, pixel)


def _differs(a: float, b: float, tolerance: float, relative: bool) -> bool:
    if relative:
        return abs(a - b) > tolerance * max(abs(a), abs(b))
    return abs(a - b) > tolerance


def choose(candidates: list[Sourced] | tuple[Sourced, ...], default: Sourced | None = None,
           tolerance: float = TILT_AXIS_TOLERANCE_DEG, relative: bool = False, unit: str = "") -> Choice:
    """The first candidate (else ``default``; else an unset Choice), with one line for every other
    candidate that differs from it by more than ``tolerance`` (absolute, or relative)."""
    ordered = list(candidates)
    if not ordered:
        return Choice(default.value, default.source) if default else Choice(None, "unset")
    chosen = ordered[0]
    conflicts = []
    for other in ordered[1:]:
        if _differs(chosen.value, other.value, tolerance, relative):
            conflicts.append(f"{other.source} says {other.value:g}{unit}, {chosen.source} says {chosen.value:g}{unit}")
    return Choice(chosen.value, chosen.source, tuple(dict.fromkeys(conflicts)))


def _given(explicit: Sourced | None, row: Sourced | None) -> list[Sourced]:
    return [s for s in (explicit, row) if s is not None]


def resolve_tilt_axis(stack: str | Path, explicit: Sourced | None = None, row: Sourced | None = None,
                      acquisition: Acquisition | None = None) -> Choice:
    """Tilt axis: explicit > row > metadata > default 0° (along y); conflicts over 1° listed."""
    found = acquisition if acquisition is not None else read_acquisition(stack)
    return choose(_given(explicit, row) + list(found.tilt_axis_deg), Sourced(DEFAULT_TILT_AXIS_DEG, "default"),
                  TILT_AXIS_TOLERANCE_DEG, unit="°")


def resolve_pixel_size(stack: str | Path, explicit: Sourced | None = None, row: Sourced | None = None,
                       acquisition: Acquisition | None = None) -> Choice:
    """Pixel size in nm: explicit > row > metadata; unset (None) when nothing gives one."""
    found = acquisition if acquisition is not None else read_acquisition(stack)
    return choose(_given(explicit, row) + list(found.pixel_size_nm), None, PIXEL_SIZE_TOLERANCE,
                  relative=True, unit=" nm")
