"""Streamed OME-Zarr (NGFF 0.4, zarr v2) multiscale writer for 3D volumes (issue 11).

The MRC -> ``B.ome.zarr`` + ``B_shader.json`` pass that drives it is `emflow.pyramid.write_zarr`.

Public API
----------
level_shapes(shape_zyx, chunk)          (z, y, x) shape of every level
downsample_mean_trunc(block, dtype)     one 2x2x2 float32 mean step, cast back by truncation
multiscales_attrs(levels, voxel_nm, name)  the NGFF 0.4 ``.zattrs`` dict (emflow.omezarr.ngff)
ZarrPyramidWriter(path, shape_zyx, dtype, voxel_size_nm_zyx, chunk=64)
                                        ``.add_slab(z0, slab)`` in z order, ``.close()``; or
                                        ``.band_writer()`` for band jobs + ``.add_band(piece, row_done)``
ZarrBand(folder, chunks, dtype, downsample).write(band, z0, y0)
                                        level-0 chunks of one band (in a worker), its level-1 mean

Rules (issue 11, as the facility's ``zarr_build_multiscales`` did): level k+1 is the 2x2x2 mean
of level k computed in float32, an odd trailing element of any axis dropped, cast back to the
stored dtype by truncation (``astype``); levels are added until every axis fits one chunk. The
data type stays native (int8 stays int8). Chunks are blosc zstd level 5 with byte shuffle,
zarr v2 files with ``/`` as dimension separator, written directly (``.zarray`` + chunk files) so
memory stays bounded by one chunk-row of sections per level.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numcodecs import Blosc

from emflow.atomic import CloseOrAbort, atomic_dir
from emflow.errors import EmflowInputError
from emflow.omezarr.ngff import multiscales_metadata

COMPRESSOR = {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": Blosc.SHUFFLE, "blocksize": 0}
SUPPORTED_DTYPES = ("int8", "uint8", "int16", "uint16", "float32")
DOWNSAMPLE_Z_PAIRS = 4
DOWNSAMPLING = "2x2x2 mean in float32, odd trailing element dropped, cast to the stored dtype by truncation"


def level_shapes(shape_zyx: Sequence[int], chunk: int = 64) -> list[tuple[int, int, int]]:
    """Shapes of levels 0..L: halve (floor) every axis until all axes fit one chunk.

    A level whose halving would leave an axis empty is the last one (only for volumes one
    section thick along some axis but larger than a chunk along another).
    """
    shape = tuple(int(n) for n in shape_zyx)
    shapes = [shape]
    while any(n > chunk for n in shape) and all(n >= 2 for n in shape):
        shape = tuple(n // 2 for n in shape)
        shapes.append(shape)
    return shapes


def downsample_mean_trunc(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """2x2x2 mean of a (z, y, x) block in float32, odd trailing elements dropped, cast to dtype.

    The sum runs z pairs, then y pairs, then x pairs, then multiplies by 1/8 (exact in float32 for
    8- and 16-bit integers, so integer results do not depend on summation order).
    """
    nz, ny, nx = (n // 2 * 2 for n in block.shape)
    out = np.empty((nz // 2, ny // 2, nx // 2), dtype=dtype)
    # a few z pairs at a time: the float32 temporaries stay small whatever the slab height
    for z in range(0, nz, 2 * DOWNSAMPLE_Z_PAIRS):
        trimmed = block[z:min(z + 2 * DOWNSAMPLE_Z_PAIRS, nz), :ny, :nx]
        a = trimmed[0::2].astype(np.float32)
        a += trimmed[1::2]
        a = a[:, 0::2] + a[:, 1::2]
        a = a[:, :, 0::2] + a[:, :, 1::2]
        a *= np.float32(0.125)
        out[z // 2:z // 2 + a.shape[0]] = a.astype(dtype)
    return out


def zarray_meta(shape: Sequence[int], chunks: Sequence[int], dtype: np.dtype) -> dict:
    """The zarr v2 ``.zarray`` of one level (little-endian, C order, fill value 0)."""
    dtype = np.dtype(dtype).newbyteorder("<")
    return {
        "chunks": [int(c) for c in chunks],
        "compressor": dict(COMPRESSOR),
        "dimension_separator": "/",
        "dtype": dtype.str,
        "fill_value": 0.0 if dtype.kind == "f" else 0,
        "filters": None,
        "order": "C",
        "shape": [int(n) for n in shape],
        "zarr_format": 2,
    }


def multiscales_attrs(n_levels: int, voxel_size_nm_zyx: Sequence[float], name: str) -> dict:
    """NGFF 0.4 ``.zattrs``: axes z, y, x in nanometer, scale = voxel size x 2^level (no
    translation: the facility's ``zarr_build_multiscales`` wrote none)."""
    axes = [{"name": ax, "type": "space", "unit": "nanometer"} for ax in "zyx"]
    return {"multiscales": multiscales_metadata(n_levels, name, axes, voxel_size_nm_zyx,
                                                metadata={"description": DOWNSAMPLING})}


class _Level:
    """One level: buffers one chunk-row of sections, then compresses and writes its chunks."""

    def __init__(self, folder: Path, shape: tuple[int, int, int], chunks: tuple[int, int, int],
                 dtype: np.dtype, pool: ThreadPoolExecutor | None) -> None:
        self.folder, self.shape, self.chunks, self.dtype, self.pool = folder, shape, chunks, dtype, pool
        self.codec = make_codec()
        self.buffer: np.ndarray | None = None  # allocated when a chunk row must be assembled
        self.filled = 0   # sections in the buffer
        self.row = 0      # index of the chunk row the buffer holds
        self.received = 0
        self.pending: np.ndarray | None = None  # an unpaired trailing section for the next level
        folder.mkdir()
        (folder / ".zarray").write_text(json.dumps(zarray_meta(shape, chunks, dtype), indent=2) + "\n")

    def add(self, sections: np.ndarray) -> None:
        """Append sections (in z order) to this level, writing every chunk row that fills."""
        self.received += len(sections)
        if self.received > self.shape[0]:
            raise ValueError(f"level {self.folder.name}: more than {self.shape[0]} sections")
        done, depth = 0, self.chunks[0]
        while done < len(sections):
            if self.filled == 0 and len(sections) - done >= depth:
                self._write_row(sections[done:done + depth])  # a whole chunk row: no copy
                done += depth
                continue
            if self.buffer is None:
                self.buffer = np.zeros((depth, self.shape[1], self.shape[2]), dtype=np.dtype(self.dtype).newbyteorder("<"))
            take = min(depth - self.filled, len(sections) - done)
            self.buffer[self.filled:self.filled + take] = sections[done:done + take]
            self.filled += take
            done += take
            if self.filled == depth:
                self.flush()

    def flush(self) -> None:
        """Write the buffered chunk row (a partial last row is zero-padded, as zarr stores it)."""
        if self.filled == 0 or self.buffer is None:
            return
        self.buffer[self.filled:] = 0
        self._write_row(self.buffer)
        self.filled = 0

    def _write_row(self, rows: np.ndarray) -> None:
        """Compress and write the chunks of one chunk row (``chunks[0]`` sections), then advance."""
        tasks = chunk_tasks(rows, (self.row * self.chunks[0], 0), self.chunks)
        if self.pool is None:
            for index, block in tasks:
                write_chunk(self.folder, index, block, self.chunks, self.codec)
        else:
            futures = [self.pool.submit(write_chunk, self.folder, index, block, self.chunks, self.codec)
                       for index, block in tasks]
            for future in futures:
                future.result()
        self.row += 1


def make_codec() -> Blosc:
    """The chunk codec of every level (`COMPRESSOR`)."""
    return Blosc(cname=COMPRESSOR["cname"], clevel=COMPRESSOR["clevel"], shuffle=COMPRESSOR["shuffle"])


def chunk_tasks(part: np.ndarray, origin_zy: tuple[int, int], chunks: Sequence[int]
                ) -> list[tuple[tuple[int, int, int], np.ndarray]]:
    """``((iz, iy, ix), block)`` of every chunk a part covers: the part starts at chunk-aligned
    ``origin_zy`` (z, y) and spans all x; a part ending inside a chunk gives a partial block."""
    cz, cy, cx = chunks
    z0, y0 = origin_zy
    if z0 % cz or y0 % cy:
        raise ValueError(f"part at z={z0}, y={y0} is not aligned to chunks {tuple(chunks)}")
    return [((z0 // cz + i, y0 // cy + j, k), part[z:z + cz, y:y + cy, x:x + cx])
            for i, z in enumerate(range(0, part.shape[0], cz))
            for j, y in enumerate(range(0, part.shape[1], cy))
            for k, x in enumerate(range(0, part.shape[2], cx))]


def write_chunk(level_folder: str | os.PathLike[str], index_zyx: Sequence[int], block: np.ndarray,
                chunks: Sequence[int], codec: Blosc) -> None:
    """Compress one chunk (zero-padded to ``chunks`` at the volume's edges, as zarr stores it)
    and write it little-endian as ``LEVEL/iz/iy/ix``."""
    stored = block.dtype.newbyteorder("<")
    if block.shape != tuple(chunks):
        padded = np.zeros(chunks, dtype=stored)
        padded[:block.shape[0], :block.shape[1], :block.shape[2]] = block
        block = padded
    folder = Path(level_folder, str(index_zyx[0]), str(index_zyx[1]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(index_zyx[2])).write_bytes(codec.encode(np.ascontiguousarray(block, dtype=stored)))


@dataclasses.dataclass(frozen=True)
class ZarrBand:
    """What a full-resolution band job needs to write OME-Zarr level 0 itself (picklable; see
    `emflow.pyramid.level0`): the level's folder, chunk shape and stored dtype (``"<i2"``), and
    whether to return the band's level-1 mean (False when level 0 is the only level)."""

    folder: str
    chunks: tuple[int, int, int]
    dtype: str
    downsample: bool

    def write(self, band: np.ndarray, z0: int, y0: int) -> np.ndarray | None:
        """Write the level-0 chunks of a chunk-aligned band (all x; native values) and return its
        level-1 sections (None if not needed). Bands must split z and y at even offsets."""
        stored = np.dtype(self.dtype)
        native = band if band.dtype == stored else band.astype(stored)
        codec = make_codec()
        for index, block in chunk_tasks(native, (z0, y0), self.chunks):
            write_chunk(self.folder, index, block, self.chunks, codec)
        return downsample_mean_trunc(native, stored) if self.downsample else None


class ZarrPyramidWriter(CloseOrAbort):
    """Stream a (z, y, x) volume into an OME-Zarr multiscale image, slab by slab.

    Parameters
    ----------
    path : the ``.ome.zarr`` folder to create (written to a temp folder, renamed by `close`)
    shape_zyx : volume shape (nz, ny, nx)
    dtype : stored data type (int8, uint8, int16, uint16, float32; kept native)
    voxel_size_nm_zyx : voxel size in nm along z, y, x (level 0 scale)
    chunk : chunk edge (64); clipped to a level's size along short axes
    workers : threads that compress and write chunks
    overwrite : replace an existing ``path`` (otherwise an existing non-empty folder is an error)
    name : the multiscale's name (default: the folder name without ``.ome.zarr``)

    Slabs go to `add_slab` in z order (any number of sections each); memory holds one chunk row
    of sections per level plus one unpaired section per level. Or level 0 is written by band
    jobs (`band_writer`) and their level-1 sections come to `add_band`.
    """

    def __init__(self, path: str | os.PathLike[str], shape_zyx: Sequence[int], dtype: np.dtype | str,
                 voxel_size_nm_zyx: Sequence[float], chunk: int = 64, *, workers: int = 1,
                 overwrite: bool = False, name: str | None = None) -> None:
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        if self.dtype.name not in SUPPORTED_DTYPES:
            raise EmflowInputError(self.path, f"data type {self.dtype.name} is not supported for OME-Zarr")
        if chunk < 1:
            raise EmflowInputError("--chunk", f"must be a positive integer, got {chunk}")
        if self.path.exists() and not overwrite and (not self.path.is_dir() or any(self.path.iterdir())):
            raise EmflowInputError(self.path, "output exists and is not empty (use --overwrite)")
        self.shape = tuple(int(n) for n in shape_zyx)
        # MRC voxel sizes are float32: keep their shortest decimal form (1.052, not 1.0520000339)
        self.voxel_size_nm_zyx = tuple(float(str(np.float32(v))) for v in voxel_size_nm_zyx)
        self.name = name or self.path.name.removesuffix(".ome.zarr").removesuffix(".zarr")
        self.next_z = 0
        self.first_level = 0  # 1 once band jobs write level 0 (`band_writer`)
        self._row_parts: list[np.ndarray] = []
        self._stack = contextlib.ExitStack()
        self._pool = ThreadPoolExecutor(max(1, workers)) if workers > 1 else None
        if self._pool is not None:
            self._stack.callback(self._pool.shutdown)
        self.tmp = self._stack.enter_context(atomic_dir(self.path, overwrite=overwrite))
        try:
            (self.tmp / ".zgroup").write_text(json.dumps({"zarr_format": 2}) + "\n")
            self.levels = [
                _Level(self.tmp / str(k), s, tuple(min(chunk, n) for n in s), self.dtype, self._pool)
                for k, s in enumerate(level_shapes(self.shape, chunk))
            ]
        except BaseException:
            self.abort()
            raise

    def add_slab(self, z0: int, slab: np.ndarray) -> None:
        """Add sections ``z0 .. z0 + len(slab) - 1`` (native dtype, shape (n, ny, nx))."""
        if self.first_level:
            raise ValueError("level 0 is written by band jobs (band_writer)")
        if z0 != self.next_z:
            raise ValueError(f"slab starts at z={z0}, expected z={self.next_z}")
        if slab.shape[1:] != self.shape[1:] or z0 + len(slab) > self.shape[0]:
            raise ValueError(f"slab of shape {slab.shape} does not fit volume {self.shape} at z={z0}")
        self.next_z += len(slab)
        self._feed(0, np.asarray(slab, dtype=self.dtype))

    def band_writer(self) -> ZarrBand:
        """Hand level 0 to band jobs: the `ZarrBand` they write its chunks with. Their level-1
        sections then go to `add_band`; `add_slab` is no longer used."""
        if self.next_z:
            raise ValueError("slabs were already added")
        self.first_level = 1
        level0 = self.levels[0]
        return ZarrBand(str(level0.folder), level0.chunks, self.dtype.newbyteorder("<").str, len(self.levels) > 1)

    def add_band(self, piece: np.ndarray, row_done: bool) -> None:
        """Add a band job's level-1 sections ``(d, h, nx1)``: bands in y order, z-rows in z order;
        ``row_done`` with the last band of a z-row, whose sections then go up the pyramid."""
        if self.first_level != 1:
            raise ValueError("add_band needs band_writer first")
        self._row_parts.append(piece)
        if not row_done:
            return
        rows = self._row_parts[0] if len(self._row_parts) == 1 else np.concatenate(self._row_parts, axis=1)
        self._row_parts = []
        if rows.shape[1:] != self.levels[1].shape[1:]:
            raise ValueError(f"level-1 row of shape {rows.shape} does not fit level {self.levels[1].shape}")
        self._feed(1, rows)

    def _feed(self, k: int, sections: np.ndarray) -> None:
        level = self.levels[k]
        level.add(sections)
        if k + 1 == len(self.levels):
            return
        if level.pending is not None:
            sections = np.concatenate([level.pending, sections])
        even = len(sections) // 2 * 2
        level.pending = sections[even:].copy() if even < len(sections) else None
        if even:
            self._feed(k + 1, downsample_mean_trunc(sections[:even], self.dtype))

    def close(self) -> Path:
        """Write the last chunk rows and ``.zattrs``, then rename the folder into place."""
        if self.first_level == 0 and self.next_z != self.shape[0]:
            raise ValueError(f"only {self.next_z} of {self.shape[0]} sections were added")
        if self.first_level == 1 and len(self.levels) > 1 and self.levels[1].received != self.levels[1].shape[0]:
            raise ValueError(f"only {self.levels[1].received} of {self.levels[1].shape[0]} level-1 sections were added")
        for level in self.levels:
            level.flush()
        attrs = multiscales_attrs(len(self.levels), self.voxel_size_nm_zyx, self.name)
        (self.tmp / ".zattrs").write_text(json.dumps(attrs, indent=2) + "\n")
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Remove the temp folder; ``path`` is left as it was."""
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)
