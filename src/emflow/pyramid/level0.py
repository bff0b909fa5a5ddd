"""Full-resolution work in (z-row, y-band) jobs that read the file themselves, for worker processes.

Public names
------------
BandJob                 what one job needs: file facts, level-0 scale, next level's factors
read_band(fd, ...)      sections z0..z1, rows y0..y1 of an MRC with explicit reads (no mmap)
run_band(job, z0, z1, y0, y1) -> BandResult   level-1 sections, histogram, OME-Zarr level-1 sections
bands(job)                      the (z0, z1, y0, y1) of every band, in the order results come
iter_bands(job, workers)        yields each band's `BandResult`, in order
scan_range(job, workers)        (min, max) of float data, NaN/Inf rejected, in parallel

One job reads a band of one chunk-row along z and one chunk along y (about 64 x 64 x nx voxels),
converts it (int8 + 128, int16 + 32768), counts its histogram, writes its level-0 chunks and
returns the band's 2x2x2 mean for level 1. With OME-Zarr (``job.zarr``) it first writes the
band's native values as zarr level-0 chunks too and returns their level-1 mean: one read of the
file serves both formats, and the costly chunk compression runs in the worker processes. Jobs
run in a process pool (true parallelism for numpy's histogram, the codec and the many small
file writes); the parent only assembles level-1 rows.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from emflow.errors import EmflowInputError
from emflow.mrc import require_finite
from emflow.pyramid.downscale import downscale
from emflow.pyramid.minmax import HistogramAccumulator
from emflow.pyramid.precomputed import write_chunks
from emflow.pyramid.reader import convert
from emflow.pyramid.scales import Scale

if TYPE_CHECKING:  # the OME-Zarr writer (numcodecs) is imported only when it is used
    from emflow.omezarr.volume import ZarrBand

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class BandJob:
    """Everything a worker needs (picklable): the file, its layout, the scale and the output."""

    path: str
    data_offset: int
    shape_zyx: tuple[int, int, int]
    stored_dtype: str  # numpy dtype string with the file's byte order, e.g. "<i2"
    scale: Scale
    next_factors_zyx: tuple[int, int, int] | None
    folder: str | None  # the precomputed pyramid's folder; None: OME-Zarr only
    gzip: bool
    hist_dtype: str
    value_range: tuple[float, float] | None
    zarr: ZarrBand | None = None  # also write OME-Zarr level 0 (bands aligned to its chunks)


class BandResult(NamedTuple):
    """One band's results: precomputed level-1 sections, histogram, OME-Zarr level-1 sections."""

    down: np.ndarray | None
    histogram: HistogramAccumulator
    zarr_down: np.ndarray | None


def read_band(fd: int, job: BandJob, z0: int, z1: int, y0: int, y1: int) -> np.ndarray:
    """``(z1-z0, y1-y0, nx)`` of the stored data, native byte order, by one pread per section."""
    _, ny, nx = job.shape_zyx
    stored = np.dtype(job.stored_dtype)
    out = np.empty((z1 - z0, y1 - y0, nx), dtype=stored)
    row_bytes = nx * stored.itemsize
    section_bytes = ny * row_bytes
    for i, z in enumerate(range(z0, z1)):
        view = memoryview(out[i]).cast("B")
        offset = job.data_offset + z * section_bytes + y0 * row_bytes
        done = 0
        while done < len(view):
            n = os.preadv(fd, [view[done:]], offset + done)
            if n <= 0:
                raise EmflowInputError(job.path, f"truncated while reading section {z}")
            done += n
    if stored.byteorder not in ("=", "|") and stored != stored.newbyteorder("="):
        out = out.astype(stored.newbyteorder("="))
    return out


def run_band(job: BandJob, z0: int, z1: int, y0: int, y1: int) -> BandResult:
    """Read one band; write its OME-Zarr level-0 chunks (native values, if asked) and their mean;
    convert, histogram, write its precomputed level-0 chunks and downscale (if asked)."""
    fd = os.open(job.path, os.O_RDONLY)
    try:
        band = read_band(fd, job, z0, z1, y0, y1)
    finally:
        os.close(fd)
    zarr_down = job.zarr.write(band, z0, y0) if job.zarr is not None else None  # before `convert` reuses it
    values = convert(band, inplace=True)
    histogram = HistogramAccumulator(np.dtype(job.hist_dtype), job.value_range)
    histogram.update(values)
    down = None
    if job.folder is not None:
        write_chunks(job.folder, job.scale, values, y0, z0, job.gzip)
        if job.next_factors_zyx is not None:
            down = downscale(values, job.next_factors_zyx)
    return BandResult(down, histogram, zarr_down)


def range_band(job: BandJob, z0: int, z1: int, y0: int, y1: int) -> tuple[float, float]:
    """(min, max) of a float band; NaN/Inf raise a one-line error naming the section."""
    fd = os.open(job.path, os.O_RDONLY)
    try:
        band = read_band(fd, job, z0, z1, y0, y1)
    finally:
        os.close(fd)
    lo, hi = float(band.min()), float(band.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        for i, section in enumerate(band):
            require_finite(job.path, section, z0 + i)
    return lo, hi


def scan_range(job: BandJob, workers: int) -> tuple[float, float]:
    """(min, max) of a float volume, band by band on ``workers`` processes."""
    lo, hi = np.inf, -np.inf
    for band_lo, band_hi in iter_bands(job, workers, range_band):
        lo, hi = min(lo, band_lo), max(hi, band_hi)
    return lo, hi


def bands(job: BandJob) -> Iterator[tuple[int, int, int, int]]:
    """``(z0, z1, y0, y1)`` of every band: one level-0 chunk deep and high, z-rows in z order."""
    nz, ny, _ = job.shape_zyx
    cz, cy = job.scale.chunk[2], job.scale.chunk[1]
    for z0 in range(0, nz, cz):
        for y0 in range(0, ny, cy):
            yield z0, min(z0 + cz, nz), y0, min(y0 + cy, ny)


def iter_bands(job: BandJob, workers: int, work: Callable[..., T] = run_band) -> Iterator[T]:  # type: ignore[assignment]
    """Run ``work(job, z0, z1, y0, y1)`` for every band (``workers`` processes, at most 2 x
    workers in flight) and yield the results in (z-row, y-band) order; for `run_band`: each
    band's `BandResult`."""
    pool = None
    if workers > 1:
        # fork is fastest; with other threads alive (a caller's pool) fork is unsafe: forkserver
        method = "fork" if threading.active_count() == 1 else "forkserver"
        initializer = _no_blosc_threads if job.zarr is not None else None
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=initializer)
    try:
        pending: deque[Future | tuple] = deque()
        todo = bands(job)

        def submit() -> bool:
            nxt = next(todo, None)
            if nxt is None:
                return False
            pending.append(pool.submit(work, job, *nxt) if pool is not None else (nxt,))
            return True

        while len(pending) < 2 * max(1, workers) and submit():
            pass
        while pending:
            item = pending.popleft()
            result = item.result() if isinstance(item, Future) else work(job, *item[0])
            submit()
            yield result
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _no_blosc_threads() -> None:
    """Pool processes are the parallelism: blosc compresses in each one's own thread (a forked
    child must not reuse blosc's global thread pool either)."""
    import numcodecs.blosc

    numcodecs.blosc.use_threads = False
