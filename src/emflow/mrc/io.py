"""MRC file access: checked headers, explicit slab reads, atomic streaming writes.

Reading uses explicit ``os.pread`` calls rather than a memory map so that streaming a
16 GiB volume does not show up as 16 GiB of resident file pages (SPEC §6).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import mrcfile
import numpy as np
from mrcfile.dtypes import HEADER_DTYPE
from mrcfile.utils import byte_order_from_machine_stamp

from emflow import __version__
from emflow.atomic import CloseOrAbort, PendingFile
from emflow.errors import EmflowInputError
from emflow.mrc.header import (
    IMOD_FLAG_SIGNED_BYTES,
    IMOD_STAMP,
    MAX_DIM,
    MODE_NAMES,
    SUPPORTED_MODES,
    MrcInfo,
    dtype_for_mode,
    mode0_is_signed,
)

HEADER_BYTES = 1024


def _byte_order(raw: bytes) -> str:
    """Byte order from the machine stamp, else guessed from which order gives a sane mode."""
    try:
        return byte_order_from_machine_stamp(raw[212:216])
    except ValueError:
        pass
    for order in ("<", ">"):
        mode = struct.unpack(order + "i", raw[12:16])[0]
        if mode in SUPPORTED_MODES:
            return order
    return "<"


def read_info(path: str | os.PathLike[str]) -> MrcInfo:
    """Read and check an MRC header against the file, the way IMOD would accept it.

    Parameters
    ----------
    path : path to an MRC file (``.mrc``, ``.st``, ``.map``, ``.rec`` ...)

    Returns
    -------
    MrcInfo

    Raises
    ------
    EmflowInputError
        ``"PATH: problem"`` for a missing/short file, a header that is not MRC, an unknown
        mode, nonsense dimensions or data shorter than the header promises.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw = fh.read(HEADER_BYTES)
    except FileNotFoundError as exc:
        raise EmflowInputError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise EmflowInputError(path, "is a directory, not an MRC file") from exc
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read: {exc.strerror}") from exc
    if len(raw) < HEADER_BYTES:
        raise EmflowInputError(path, f"not an MRC file: {size} bytes, shorter than the 1024-byte header")

    order = _byte_order(raw)
    header = np.frombuffer(raw, dtype=HEADER_DTYPE.newbyteorder(order), count=1)[0]
    has_map_id = bytes(header["map"]) == b"MAP "
    nx, ny, nz = (int(header[k]) for k in ("nx", "ny", "nz"))
    mode = int(header["mode"])
    not_mrc = "" if has_map_id else "not an MRC file (no 'MAP ' id and "
    if mode not in SUPPORTED_MODES:
        if not has_map_id and not (0 <= mode <= 16):
            raise EmflowInputError(path, f"{not_mrc}a nonsense mode {mode})")
        known = ", ".join(f"{m} {MODE_NAMES[m]}" for m in SUPPORTED_MODES)
        raise EmflowInputError(path, f"unsupported MRC mode {mode} (emflow reads {known})")
    if min(nx, ny, nz) < 1 or max(nx, ny, nz) > MAX_DIM:
        problem = f"nonsense dimensions {nx} x {ny} x {nz}"
        raise EmflowInputError(path, f"{not_mrc}{problem})" if not_mrc else problem)
    nsymbt = int(header["nsymbt"])
    if nsymbt < 0 or nsymbt > size:
        raise EmflowInputError(path, f"extended header size {nsymbt} bytes is impossible for a {size}-byte file")

    imod_stamp, imod_flags = struct.unpack(order + "ii", raw[152:160])
    amin, amax, amean = (float(header[k]) for k in ("dmin", "dmax", "dmean"))
    dtype = dtype_for_mode(mode, mode0_is_signed(imod_stamp, imod_flags, amin), order)
    data_offset = HEADER_BYTES + nsymbt
    needed = data_offset + nx * ny * nz * dtype.itemsize
    if size < needed:
        what = "truncated" if has_map_id else "not an MRC file or truncated"
        raise EmflowInputError(
            path,
            f"{what}: header says {nx} x {ny} x {nz} {MODE_NAMES[mode]} ({needed} bytes with header) "
            f"but the file has {size} bytes",
        )
    mx, my, mz = (int(header[k]) for k in ("mx", "my", "mz"))
    cella = header["cella"]
    cell = (float(cella["x"]), float(cella["y"]), float(cella["z"]))
    voxel = tuple(c / m if m > 0 else 0.0 for c, m in zip(cell, (mx, my, mz)))
    origin = header["origin"]
    nlabl = max(0, min(10, int(header["nlabl"])))
    labels = tuple(
        bytes(header["label"][i]).decode("latin-1").rstrip("\x00 ") for i in range(nlabl)
    )
    nint, nreal = struct.unpack(order + "hh", raw[128:132])
    exttyp = bytes(header["exttyp"]).decode("latin-1").strip("\x00 ")
    return MrcInfo(
        path=path,
        shape=(nz, ny, nx),
        mode=mode,
        dtype=dtype.newbyteorder("="),
        byte_order=order,
        voxel_size_angstrom=(float(voxel[0]), float(voxel[1]), float(voxel[2])),
        origin_angstrom=(float(origin["x"]), float(origin["y"]), float(origin["z"])),
        amin=amin,
        amax=amax,
        amean=amean,
        data_offset=data_offset,
        exttyp=exttyp if exttyp.isprintable() else "",
        nsymbt=nsymbt,
        nint=int(nint),
        nreal=int(nreal),
        has_map_id=has_map_id,
        labels=labels,
        space_group=int(header["ispg"]),
    )


def read_extended_header(info: MrcInfo) -> bytes:
    """Return the raw extended header bytes (``nsymbt`` bytes after the main header)."""
    with open(info.path, "rb") as fh:
        fh.seek(HEADER_BYTES)
        return fh.read(info.nsymbt)


def indexed_fei_header(info: MrcInfo) -> np.ndarray | None:
    """FEI1/FEI2 extended header as mrcfile indexes it (one record per section), else None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(info.path, permissive=True, header_only=True) as mrc:
            ext = mrc.indexed_extended_header
    return None if ext is None or len(ext) == 0 else ext


def require_3d(info: MrcInfo, min_nz: int = 1, what: str = "this step") -> None:
    """Raise EmflowInputError when the file is a single image or has fewer than ``min_nz`` sections."""
    if info.nz < 2 and min_nz > 1 or info.nz < min_nz:
        kind = "a 2D image (nz = 1)" if info.nz == 1 else f"{info.nz} sections"
        raise EmflowInputError(info.path, f"is {kind}; {what} needs a 3D stack with nz >= {min_nz}")


def require_finite(path: str | os.PathLike[str], section: np.ndarray, z: int) -> None:
    """Raise EmflowInputError naming the section when it holds NaN or ±Inf."""
    if section.dtype.kind == "f" and not np.isfinite(section).all():
        bad = "NaN" if np.isnan(section).any() else "Inf"
        raise EmflowInputError(path, f"section {z} contains {bad} values")


class MrcVolume:
    """Read-only access to an MRC volume by sections, with explicit reads.

    ``read_slab(z0, z1)`` returns a fresh ``(z1 - z0, ny, nx)`` array in native byte order and
    the stored dtype (mode 0: int8 or uint8 by IMOD's sign rule).
    """

    def __init__(self, info: MrcInfo) -> None:
        self.info = info
        self._fd = os.open(info.path, os.O_RDONLY)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.info.shape

    def read_slab(self, z0: int, z1: int) -> np.ndarray:
        """Sections ``z0 .. z1-1`` as a ``(n, ny, nx)`` array."""
        nz, ny, nx = self.info.shape
        if not 0 <= z0 <= z1 <= nz:
            raise IndexError(f"slab {z0}:{z1} outside 0:{nz}")
        count = (z1 - z0) * self.info.section_bytes
        offset = self.info.data_offset + z0 * self.info.section_bytes
        buf = bytearray(count)
        view = memoryview(buf)
        done = 0
        while done < count:
            n = os.preadv(self._fd, [view[done:]], offset + done)
            if n <= 0:
                raise EmflowInputError(self.info.path, f"truncated while reading section {z0 + done // self.info.section_bytes}")
            done += n
        stored = self.info.dtype.newbyteorder(self.info.byte_order)
        arr = np.frombuffer(buf, dtype=stored).reshape(z1 - z0, ny, nx)
        return arr.astype(self.info.dtype, copy=False) if stored != self.info.dtype else arr

    def read_section(self, z: int) -> np.ndarray:
        """One section as a ``(ny, nx)`` array."""
        return self.read_slab(z, z + 1)[0]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> MrcVolume:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def open_volume(path: str | os.PathLike[str]) -> MrcVolume:
    """Check the header (see `read_info`) and open the file for slab reads."""
    return MrcVolume(read_info(path))


def iter_slabs(volume: MrcVolume, slab_size: int = 64, z0: int = 0, z1: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(z_start, slab)`` for consecutive slabs of at most ``slab_size`` sections."""
    z1 = volume.shape[0] if z1 is None else z1
    for start in range(z0, z1, max(1, slab_size)):
        yield start, volume.read_slab(start, min(start + slab_size, z1))


_MODE_FOR_DTYPE = {
    np.dtype(np.int8): 0,
    np.dtype(np.uint8): 0,
    np.dtype(np.int16): 1,
    np.dtype(np.float32): 2,
    np.dtype(np.uint16): 6,
    np.dtype(np.float16): 12,
}


def emflow_label(step: str) -> str:
    """A header label naming emflow, its version and the step (at most 80 characters).

    Undated, unlike IMOD's labels, so that the same input gives the same bytes on every run
    (the local runner and the Nextflow pipeline are compared byte for byte).
    """
    return f"emflow {__version__}: {step}"[:80]


class MrcWriter(CloseOrAbort):
    """Stream sections into a new MRC file, atomically.

    Parameters
    ----------
    path : target file; written under a temp name and renamed on `close` without error.
    shape : ``(nz, ny, nx)``
    dtype : int8, uint8, int16, uint16, float32 or float16 (mode 0/0/1/6/2/12).
    voxel_size_angstrom : ``(x, y, z)`` Å; the cell is voxel × dims.
    origin_angstrom : ``(x, y, z)``
    labels : header labels (at most 10, 80 characters each); an emflow label is added first.
    space_group : 0 for an image stack, 1 for a volume.

    Sections must be written in order with `write_slab`; `set_stats` sets amin/amax/amean
    before closing (SPEC: steps set them exactly; they are not rescanned here).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, int, int],
        dtype: np.dtype | type,
        voxel_size_angstrom: Sequence[float],
        origin_angstrom: Sequence[float] = (0.0, 0.0, 0.0),
        labels: Sequence[str] = (),
        step: str = "",
        space_group: int = 1,
    ) -> None:
        self.path = Path(path)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _MODE_FOR_DTYPE:
            raise ValueError(f"cannot write {self.dtype} to MRC")
        self.mode = _MODE_FOR_DTYPE[self.dtype]
        self.voxel = tuple(float(v) for v in voxel_size_angstrom)
        self.origin = tuple(float(v) for v in origin_angstrom)
        self.labels = ([emflow_label(step)] if step else []) + [str(s)[:80] for s in labels]
        self.space_group = space_group
        self.stats: tuple[float, float, float] | None = None
        self._written = 0
        self._pending = PendingFile(self.path)
        self._fh = open(self._pending.tmp, "wb")
        self._fh.write(b"\0" * HEADER_BYTES)

    def write_slab(self, slab: np.ndarray) -> None:
        """Append ``(n, ny, nx)`` (or one ``(ny, nx)``) sections, converted to the file's dtype."""
        slab = np.asarray(slab)
        if slab.ndim == 2:
            slab = slab[np.newaxis]
        if slab.shape[1:] != self.shape[1:]:
            raise ValueError(f"slab shape {slab.shape} does not match {self.shape}")
        self._fh.write(np.ascontiguousarray(slab, dtype=self.dtype.newbyteorder("<")).tobytes())
        self._written += slab.shape[0]

    def set_stats(self, amin: float, amax: float, amean: float) -> None:
        self.stats = (float(amin), float(amax), float(amean))

    def _header(self) -> bytes:
        nz, ny, nx = self.shape
        h = np.zeros((), dtype=HEADER_DTYPE.newbyteorder("<"))
        h["nx"], h["ny"], h["nz"] = nx, ny, nz
        h["mode"] = self.mode
        h["mx"], h["my"], h["mz"] = nx, ny, nz
        h["cella"] = (self.voxel[0] * nx, self.voxel[1] * ny, self.voxel[2] * nz)
        h["cellb"] = (90.0, 90.0, 90.0)
        h["mapc"], h["mapr"], h["maps"] = 1, 2, 3
        amin, amax, amean = self.stats if self.stats is not None else (0.0, 0.0, 0.0)
        h["dmin"], h["dmax"], h["dmean"] = amin, amax, amean
        h["ispg"] = self.space_group
        h["nversion"] = 20140
        h["origin"] = self.origin
        h["map"] = b"MAP "
        h["machst"] = np.frombuffer(b"\x44\x44\x00\x00", dtype="u1")
        h["rms"] = -1.0
        h["nlabl"] = len(self.labels[:10])
        for i, text in enumerate(self.labels[:10]):
            h["label"][i] = text.encode("ascii", "replace").ljust(80)[:80]
        raw = bytearray(h.tobytes())
        flags = IMOD_FLAG_SIGNED_BYTES if self.dtype == np.int8 else 0
        raw[152:160] = struct.pack("<ii", IMOD_STAMP, flags)
        return bytes(raw)

    def close(self) -> Path:
        """Write the header and rename the file into place."""
        if self._written != self.shape[0]:
            raise ValueError(f"{self.path}: wrote {self._written} of {self.shape[0]} sections")
        self._fh.seek(0)
        self._fh.write(self._header())
        self._fh.close()
        return self._pending.commit()

    def abort(self) -> None:
        """Drop the partial file."""
        if not self._fh.closed:
            self._fh.close()
        self._pending.discard()



def write_volume(
    path: str | os.PathLike[str],
    data: np.ndarray,
    voxel_size_angstrom: Sequence[float] = (1.0, 1.0, 1.0),
    origin_angstrom: Sequence[float] = (0.0, 0.0, 0.0),
    step: str = "",
    stats: tuple[float, float, float] | None = None,
    space_group: int = 1,
) -> Path:
    """Write a whole ``(nz, ny, nx)`` array atomically; stats default to a scan of the data."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[np.newaxis]
    with MrcWriter(path, data.shape, data.dtype, voxel_size_angstrom, origin_angstrom, step=step, space_group=space_group) as writer:
        writer.write_slab(data)
        if stats is None:
            stats = (float(data.min()), float(data.max()), float(data.mean(dtype=np.float64)))
        writer.set_stats(*stats)
    return Path(path)
