"""Slab-streamed Neuroglancer precomputed writer (raw chunks, flat names), every level in one pass.

Public names
------------
PrecomputedWriter(folder, info, workers=1, gzip=False)
    ``.add_slab(slab)`` (converted values, z order), ``.close()``; writes ``info`` and chunks.

Each level keeps one chunk-row of sections (the level's chunk size along z); when a row is full
its chunks are written and its 2x2x2 (or anisotropic) mean is pushed to the level above, so
memory stays near one chunk-row per level whatever the volume's depth. Within a row the work
is split in bands of one chunk along y, run on a thread pool (numpy and file writes release
the GIL), in order.
"""

from __future__ import annotations

import gzip as gzip_module
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from emflow.pyramid.downscale import downscale
from emflow.pyramid.scales import Scale, chunk_name, info_bytes, scales_of


def _write_file(path: str, data: bytes | memoryview, append: bool = False) -> None:
    """Write all of ``data`` to ``path`` (replacing it, or appending to it with ``append``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o644)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _Level:
    """One scale: a buffer of up to one chunk-row of (z, y, x) sections."""

    def __init__(self, scale: Scale, dtype: np.dtype) -> None:
        self.scale = scale
        sx, sy, _ = scale.size
        self.rows = scale.chunk[2]
        self._shape, self._dtype = (self.rows, sy, sx), dtype
        self._buffer: np.ndarray | None = None
        self.filled = 0
        self.z0 = 0  # global z of buffer[0]
        self.band_y = 0  # rows of the current chunk-row already added band by band
        self.pending: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []  # streamed level: bands waiting for a chunk's height
        self.parts_rows = 0
        self.stream_y0 = 0
        self.stream_z0 = 0

    @property
    def buffer(self) -> np.ndarray:
        """The chunk-row buffer, allocated on first use (aligned slabs and streamed levels never need it)."""
        if self._buffer is None:
            self._buffer = np.empty(self._shape, dtype=self._dtype)
        return self._buffer


class PrecomputedWriter:
    """Write a precomputed pyramid from converted slabs fed in z order.

    Parameters
    ----------
    folder : the pyramid folder (must exist; ``info`` and one folder per scale go in it)
    info : the ``info`` dict (`emflow.pyramid.scales.pyramid_info`)
    workers : threads for chunk encoding and downscaling
    gzip : gzip each chunk (``NAME.gz``, as neuroglancer-scripts names them)
    """

    def __init__(self, folder: str | os.PathLike[str], info: dict[str, Any], workers: int = 1, gzip: bool = False) -> None:
        self.folder = Path(folder)
        self.info = info
        self.dtype = np.dtype(info["data_type"]).newbyteorder("<")
        self.gzip = gzip
        self.levels = [_Level(s, self.dtype) for s in scales_of(info)]
        self.pool = ThreadPoolExecutor(max(1, workers)) if workers > 1 else None
        self.sections_in = 0
        self.first_level = 0
        for level in self.levels:
            (self.folder / level.scale.key).mkdir(parents=True, exist_ok=True)
        _write_file(str(self.folder / "info"), info_bytes(info))

    @property
    def slab_sections(self) -> int:
        """The best slab size to feed: one chunk-row of the full-resolution level."""
        return self.levels[0].rows

    def add_slab(self, slab: np.ndarray, level: int = 0) -> None:
        """Append ``(n, ny, nx)`` sections of ``level`` (converted dtype), in z order.

        Feed one level only: 0 (the full resolution), or 1 when the full-resolution chunks are
        written elsewhere (`emflow.pyramid.level0`).
        """
        self.first_level = level
        self.sections_in += slab.shape[0]
        self._push(level, slab)

    def add_band(self, piece: np.ndarray, level: int = 1) -> None:
        """Add the next y-band of a chunk-row's sections of ``level`` (bands in y order, rows in z order).

        Bands are copied straight into the level's buffer, so a row is never held twice.
        """
        self.first_level = level
        lvl = self.levels[level]
        n, h = piece.shape[:2]
        if lvl.filled + n > lvl.rows or lvl.pending:
            lvl.pending.append(piece)  # a row taller than the buffer's room: assemble, then push
        else:
            lvl.buffer[lvl.filled : lvl.filled + n, lvl.band_y : lvl.band_y + h] = piece
        lvl.band_y += h
        if lvl.band_y < lvl.buffer.shape[1]:
            return
        lvl.band_y = 0
        self.sections_in += n
        if lvl.pending:
            row, lvl.pending = np.concatenate(lvl.pending, axis=1), []
            self._push(level, row)
            return
        lvl.filled += n
        if lvl.filled == lvl.rows:
            self._emit(level, lvl.buffer)
            lvl.filled = 0

    def stream_band(self, piece: np.ndarray, level: int = 1) -> None:
        """Add the next y-band of ``level`` without holding its chunk-row (raw chunks only).

        Bands (all x, in y order, rows in z order, an even number of sections except at the end)
        are gathered to one chunk's height, whose chunks get these sections appended (a raw chunk
        is z-major, so a chunk written in z parts has the same bytes) and whose mean goes to the
        next level's `add_band`. Memory: a chunk-high band instead of a chunk-row.
        """
        if self.gzip:
            raise ValueError("gzip chunks cannot be appended to")
        self.first_level = level + 1
        lvl = self.levels[level]
        lvl.parts.append(piece)
        lvl.parts_rows += piece.shape[1]
        sy = lvl.scale.size[1]
        if lvl.parts_rows < lvl.scale.chunk[1] and lvl.stream_y0 + lvl.parts_rows < sy:
            return
        block = lvl.parts[0] if len(lvl.parts) == 1 else np.concatenate(lvl.parts, axis=1)
        lvl.parts, lvl.parts_rows = [], 0
        append_chunks(self.folder, lvl.scale, block, lvl.stream_y0, lvl.stream_z0)
        if level + 1 < len(self.levels):
            fx, fy, fz = self.levels[level + 1].scale.factors
            self.add_band(downscale(block, (fz, fy, fx)), level=level + 1)
        lvl.stream_y0 += block.shape[1]
        if lvl.stream_y0 >= sy:
            lvl.stream_y0 = 0
            lvl.stream_z0 += block.shape[0]

    def close(self) -> None:
        """Flush the partial rows of every level (in order) and stop the threads."""
        try:
            nz = self.levels[self.first_level].scale.size[2] if self.first_level < len(self.levels) else 0
            if self.sections_in != nz:
                raise ValueError(f"received {self.sections_in} of {nz} sections")
            for lvl in self.levels[: self.first_level]:
                if lvl.parts or lvl.stream_z0 not in (0, lvl.scale.size[2]):
                    raise ValueError(f"scale {lvl.scale.key}: streamed {lvl.stream_z0} of {lvl.scale.size[2]} sections")
            for index in range(self.first_level, len(self.levels)):
                level = self.levels[index]
                if level.filled:
                    filled, level.filled = level.filled, 0
                    self._emit(index, level.buffer[:filled])
        finally:
            if self.pool is not None:
                self.pool.shutdown()

    def _push(self, index: int, piece: np.ndarray) -> None:
        level = self.levels[index]
        start, n = 0, piece.shape[0]
        while start < n:
            if level.filled == 0 and n - start >= level.rows:
                self._emit(index, piece[start : start + level.rows])
                start += level.rows
                continue
            take = min(level.rows - level.filled, n - start)
            level.buffer[level.filled : level.filled + take] = piece[start : start + take]
            level.filled += take
            start += take
            if level.filled == level.rows:
                self._emit(index, level.buffer)
                level.filled = 0

    def _emit(self, index: int, rows: np.ndarray) -> None:
        level = self.levels[index]
        self._process(index, rows, level.z0)
        level.z0 += rows.shape[0]

    def _process(self, index: int, rows: np.ndarray, z0: int) -> None:
        """Write one chunk-row of level ``index`` and push its downscaled rows to the next level."""
        scale = self.levels[index].scale
        cy = scale.chunk[1]
        bands = [(y0, min(y0 + cy, rows.shape[1])) for y0 in range(0, rows.shape[1], cy)]
        nxt = self.levels[index + 1].scale if index + 1 < len(self.levels) else None

        def band(yy: tuple[int, int]) -> np.ndarray | None:
            y0, y1 = yy
            part = rows[:, y0:y1]
            write_chunks(self.folder, scale, part, y0, z0, self.gzip)
            if nxt is None:
                return None
            fx, fy, fz = nxt.factors
            return downscale(part, (fz, fy, fx))

        results = list(self.pool.map(band, bands)) if self.pool is not None else [band(b) for b in bands]
        if nxt is not None:
            self._push(index + 1, np.concatenate(results, axis=1))  # type: ignore[arg-type]


def write_chunks(folder: str | os.PathLike[str], scale: Scale, part: np.ndarray, y0: int, z0: int, gzip: bool) -> None:
    """Write the chunks of a ``(z, y, x)`` band of ``scale`` whose corner is at (0, y0, z0).

    The band spans whole chunks along z and y (or reaches the volume's end); x is cut into chunks.
    """
    cx = scale.chunk[0]
    nz, ny, nx = part.shape
    dtype = part.dtype.newbyteorder("<")
    for x0 in range(0, nx, cx):
        x1 = min(x0 + cx, nx)
        data = memoryview(np.ascontiguousarray(part[:, :, x0:x1], dtype=dtype))
        name = os.path.join(os.fspath(folder), chunk_name(scale.key, x0, x1, y0, y0 + ny, z0, z0 + nz))
        if gzip:
            _write_file(name + ".gz", gzip_module.compress(data, compresslevel=6, mtime=0))
        else:
            _write_file(name, data)


def append_chunks(folder: str | os.PathLike[str], scale: Scale, block: np.ndarray, y0: int, z0: int) -> None:
    """Append the sections of a ``(z, y, x)`` block (corner (0, y0, z0), whole chunks along y and
    x) to the raw chunk files of ``scale`` they belong to (split at chunk boundaries along z)."""
    cx, cy, cz = scale.chunk
    sz = scale.size[2]
    nz, ny, nx = block.shape
    dtype = block.dtype.newbyteorder("<")
    zs = z0
    while zs < z0 + nz:
        r0 = zs // cz * cz
        ze = min(r0 + cz, z0 + nz)
        for ys in range(y0, y0 + ny, cy):
            ye = min(ys + cy, y0 + ny)
            for xs in range(0, nx, cx):
                xe = min(xs + cx, nx)
                part = np.ascontiguousarray(block[zs - z0 : ze - z0, ys - y0 : ye - y0, xs:xe], dtype=dtype)
                name = os.path.join(os.fspath(folder), chunk_name(scale.key, xs, xe, ys, ye, r0, min(r0 + cz, sz)))
                _write_file(name, memoryview(part), append=True)
        zs = ze
