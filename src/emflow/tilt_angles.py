"""Tilt-angle discovery for a tilt series, first source found wins (SPEC §0).

Order: ``BASENAME.rawtlt`` / ``BASENAME.tlt`` beside the stack; SerialEM extended header
(``SERI``: int16 angle × 100 in the first 2 bytes of each section's ``nint``-byte record, when
``nreal & 1``); FEI1/FEI2 extended header (``Alpha tilt``, float64); old FEI extended header
(first float32 of each 128-byte record); SerialEM ``.mdoc`` (``TiltAngle = ``).

Public names
------------
TiltAngles                    ``source`` (str), ``angles_deg`` (float64 array), ``path``
find_tilt_angles(info)        -> TiltAngles | None
read_tlt_file(path)           one float per line (IMOD .rawtlt/.tlt)
read_mdoc_angles(path)        ``TiltAngle`` of every ``[ZValue = n]`` section, in z order
"""

from __future__ import annotations

import dataclasses
import math
import re
import struct
from pathlib import Path

import numpy as np

from emflow.errors import EmflowInputError
from emflow.mrc.header import MrcInfo
from emflow.mrc.io import indexed_fei_header, read_extended_header

# SerialEM's nreal flag bits and the bytes each adds to a section's record (IMOD's extheader).
_SERIALEM_FIELD_BYTES = {1: 2, 2: 6, 4: 4, 8: 2, 16: 2, 32: 4, 64: 2, 128: 4}
OLD_FEI_RECORD_BYTES = 128


@dataclasses.dataclass(frozen=True)
class TiltAngles:
    """Tilt angles of a stack in degrees, one per section, and where they came from."""

    source: str
    angles_deg: np.ndarray
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.angles_deg)


def read_tlt_file(path: str | Path) -> np.ndarray:
    """Angles in degrees from an IMOD ``.rawtlt``/``.tlt`` file (one float per line)."""
    path = Path(path)
    angles = []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = float(text.split()[0])
        except ValueError as exc:
            raise EmflowInputError(path, f"line {number} is not a tilt angle: {text[:40]!r}") from exc
        if not math.isfinite(value) or abs(value) > 90:
            raise EmflowInputError(path, f"line {number}: tilt angle {value} outside -90..90 degrees")
        angles.append(value)
    if not angles:
        raise EmflowInputError(path, "holds no tilt angles")
    return np.asarray(angles, dtype=np.float64)


_ZVALUE = re.compile(r"^\[\s*ZValue\s*=\s*(\d+)\s*\]")
_TILT = re.compile(r"^TiltAngle\s*=\s*(\S+)")


def read_mdoc_angles(path: str | Path) -> np.ndarray:
    """``TiltAngle`` of each ``[ZValue = n]`` section of a SerialEM ``.mdoc``, ordered by n."""
    path = Path(path)
    by_z: dict[int, float] = {}
    z: int | None = None
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip()
        match = _ZVALUE.match(line)
        if match:
            z = int(match.group(1))
            continue
        match = _TILT.match(line)
        if match and z is not None:
            try:
                by_z[z] = float(match.group(1))
            except ValueError as exc:
                raise EmflowInputError(path, f"section {z}: TiltAngle {match.group(1)!r} is not a number") from exc
    if not by_z:
        raise EmflowInputError(path, "holds no TiltAngle entries")
    return np.asarray([by_z[k] for k in sorted(by_z)], dtype=np.float64)


def _serialem_angles(info: MrcInfo) -> np.ndarray | None:
    is_seri = info.exttyp == "SERI"
    if not is_seri and info.exttyp not in ("", "AGAR"):
        return None
    if info.nint <= 0 or not info.nreal & 1:
        return None
    if not is_seri:
        # No type stamp (SerialEM before 2014): accept only when the flags explain the record size.
        expected = sum(b for bit, b in _SERIALEM_FIELD_BYTES.items() if info.nreal & bit)
        if info.nreal >= 256 or expected != info.nint:
            return None
    if info.nsymbt < info.nint * info.nz:
        return None
    ext = read_extended_header(info)
    return np.asarray(
        [struct.unpack_from(info.byte_order + "h", ext, z * info.nint)[0] / 100.0 for z in range(info.nz)],
        dtype=np.float64,
    )


def _fei_angles(info: MrcInfo) -> np.ndarray | None:
    if info.exttyp not in ("FEI1", "FEI2"):
        return None
    ext = indexed_fei_header(info)
    if ext is None or "Alpha tilt" not in (ext.dtype.names or ()):
        return None
    return np.asarray(ext["Alpha tilt"][: info.nz], dtype=np.float64)


def _old_fei_angles(info: MrcInfo) -> np.ndarray | None:
    if info.exttyp or info.nint != 0 or info.nsymbt % OLD_FEI_RECORD_BYTES:
        return None
    if info.nsymbt < OLD_FEI_RECORD_BYTES * info.nz:
        return None
    ext = read_extended_header(info)
    angles = np.asarray(
        [struct.unpack_from(info.byte_order + "f", ext, z * OLD_FEI_RECORD_BYTES)[0] for z in range(info.nz)],
        dtype=np.float64,
    )
    if not np.all(np.isfinite(angles)) or np.abs(angles).max() > 90 or info.nz > 1 and np.ptp(angles) == 0:
        return None
    return angles


def _beside(stack: Path, suffix: str) -> list[Path]:
    """Candidate side files: ``BASENAME<suffix>`` and ``STACKNAME<suffix>``."""
    return [stack.with_suffix(suffix), stack.with_name(stack.name + suffix)]


def find_tilt_angles(info: MrcInfo) -> TiltAngles | None:
    """Find the tilt angles of the stack described by ``info``, first source wins (SPEC §0).

    Returns None when no source holds angles.
    """
    stack = info.path
    for suffix, source in ((".rawtlt", "rawtlt"), (".tlt", "tlt")):
        side = stack.with_suffix(suffix)
        if side.is_file():
            return TiltAngles(source, read_tlt_file(side), side)
    for source, reader in (("SERI", _serialem_angles), ("FEI", _fei_angles), ("FEI-old", _old_fei_angles)):
        angles = reader(info)
        if angles is not None:
            name = info.exttyp if source == "FEI" else source
            return TiltAngles(name, angles, stack)
    for side in _beside(stack, ".mdoc"):
        if side.is_file():
            return TiltAngles("mdoc", read_mdoc_angles(side), side)
    return None
