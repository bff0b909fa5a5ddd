"""MRC header facts as IMOD reads them (pure functions over the 1024-byte header).

Public names
------------
MrcInfo                 what a step needs to know about a file (dims, mode, dtype, voxel size ...)
MODE_DTYPES             MRC mode -> little-endian numpy dtype (mode 0 resolved separately)
SUPPORTED_MODES         0 byte, 1 int16, 2 float32, 6 uint16, 12 float16
mode0_is_signed(...)    IMOD's rule for the sign of mode-0 bytes
IMOD_STAMP              1146047817, the header word at byte 152 that IMOD writes
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

IMOD_STAMP = 1146047817
IMOD_FLAG_SIGNED_BYTES = 1
SUPPORTED_MODES = (0, 1, 2, 6, 12)
MODE_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<i2"),
    2: np.dtype("<f4"),
    6: np.dtype("<u2"),
    12: np.dtype("<f2"),
}
MODE_NAMES = {0: "byte", 1: "int16", 2: "float32", 6: "uint16", 12: "float16"}
# IMOD's own limit is far higher, but no real dimension reaches a million pixels, and a
# header claiming it is almost always garbage (a text file, a different format).
MAX_DIM = 1_000_000


def mode0_is_signed(imod_stamp: int, imod_flags: int, amin: float) -> bool:
    """Return True when mode-0 bytes are signed, by IMOD's rule.

    With the IMOD stamp present, bit 1 of ``imod_flags`` says signed; without it the bytes
    are signed when the header minimum is negative.
    """
    if imod_stamp == IMOD_STAMP:
        return bool(imod_flags & IMOD_FLAG_SIGNED_BYTES)
    return amin < 0


def dtype_for_mode(mode: int, signed_bytes: bool, byte_order: str = "<") -> np.dtype:
    """Numpy dtype of the stored data for ``mode`` (mode 0: int8 or uint8)."""
    if mode == 0:
        return np.dtype(np.int8 if signed_bytes else np.uint8)
    return MODE_DTYPES[mode].newbyteorder(byte_order)


@dataclasses.dataclass(frozen=True)
class MrcInfo:
    """What emflow knows about an MRC file after checking its header.

    Attributes
    ----------
    path : Path
    shape : tuple[int, int, int]
        ``(nz, ny, nx)`` in sections, lines, pixels.
    mode : int
        MRC mode (0, 1, 2, 6, 12).
    dtype : numpy.dtype
        Stored data type in native byte order (mode 0: int8 when signed, else uint8).
    byte_order : str
        ``"<"`` or ``">"``: the file's byte order.
    voxel_size_angstrom : tuple[float, float, float]
        ``(x, y, z)`` in Å: cell length / sampling (0 when the sampling is 0).
    origin_angstrom : tuple[float, float, float]
        ``(x, y, z)`` header origin.
    amin, amax, amean : float
        Header statistics (what IMOD uses for display scaling).
    data_offset : int
        Byte offset of the first voxel (1024 + extended header size).
    exttyp : str
        Extended header type (``SERI``, ``FEI1``, ...; empty when none).
    nsymbt : int
        Extended header size in bytes.
    nint, nreal : int
        SerialEM extended header sizes/flags (bytes 128-131).
    has_map_id : bool
        False for old-style headers without ``MAP `` (accepted, as IMOD does).
    labels : tuple[str, ...]
    """

    path: Path
    shape: tuple[int, int, int]
    mode: int
    dtype: np.dtype
    byte_order: str
    voxel_size_angstrom: tuple[float, float, float]
    origin_angstrom: tuple[float, float, float]
    amin: float
    amax: float
    amean: float
    data_offset: int
    exttyp: str
    nsymbt: int
    nint: int
    nreal: int
    has_map_id: bool
    labels: tuple[str, ...]
    space_group: int

    @property
    def nz(self) -> int:
        return self.shape[0]

    @property
    def ny(self) -> int:
        return self.shape[1]

    @property
    def nx(self) -> int:
        return self.shape[2]

    @property
    def section_bytes(self) -> int:
        return self.nx * self.ny * self.dtype.itemsize

    @property
    def data_bytes(self) -> int:
        return self.section_bytes * self.nz

    @property
    def signed_bytes(self) -> bool:
        return self.mode == 0 and self.dtype == np.int8

    @property
    def mode_name(self) -> str:
        return MODE_NAMES[self.mode]
