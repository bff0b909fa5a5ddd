"""The preview backend end to end: bin, align, write IMOD files, FBP, orient (SPEC §3.2).

``cpus`` worker processes share the binned stack (aligned in place) and do every stage's
independent parts: reading and binning sections, neighbour cross-correlations, projection
matching, aligning sections, and the FBP in slabs of rows, which come back in order and are
written by this process (at most ``2 * cpus`` slabs in flight). Each value is computed from its
own inputs alone, so the outputs are byte-identical for any ``cpus``.

Memory: the binned stack plus a few slabs of the reconstruction; the raw stack is read one
section at a time and ``_rec.mrc`` is built from ``_full_rec.mrc`` by explicit reads.
"""

from __future__ import annotations

import datetime
import itertools
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from emflow.errors import EmflowInputError
from emflow.mrc import MrcWriter, open_volume, read_info, require_3d
from emflow.preview.align import aligned_shape, apply_alignment, neighbour_shifts, read_binned_stack
from emflow.preview.fbp import (SliceFbp, cuda_available, fbp_row, fbp_rows_int16, intensity_scale, sample_rows,
                                to_int16)
from emflow.preview.imodfiles import write_tlt, write_xf
from emflow.preview.orient import rotx_origin, rotx_stream
from emflow.preview.parallel import PreviewWorkers, cached_fbp, release, shared, shared_array
from emflow.preview.refine import refine_shifts
from emflow.tilt_angles import find_tilt_angles

PREVIEW_LABEL = "emflow preview reconstruction (no fiducial alignment)"
LOG_NAME = "brt_run.log"
SLAB_BYTES = 256 << 20
WRITE_BYTES = 16 << 20  # the aligned stack is written this much at a time (write_slab copies)
_RUNS = itertools.count()  # each run's shared stacks get names of their own (runs in threads)


class _Log:
    """Appends each line to ``WORKDIR/brt_run.log`` and passes it to ``extra`` when given."""

    def __init__(self, path: Path, extra: Callable[[str], None] | None) -> None:
        self.path = path
        self.extra = extra

    def __call__(self, text: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} preview: {text}\n")
        if self.extra is not None:
            self.extra(f"preview: {text}")


def _check_params(stack: Path, bin_factor: int, thickness_px: int, pixel_size_nm: float) -> None:
    if not 1 <= int(bin_factor) <= 16:
        raise EmflowInputError("bin", f"{bin_factor} is outside 1..16")
    if not 1 <= int(thickness_px) <= 10000:
        raise EmflowInputError("thickness", f"{thickness_px} is outside 1..10000")
    if not float(pixel_size_nm) > 0:
        raise EmflowInputError("pixel", f"{pixel_size_nm} nm is not a positive pixel size")


def load_angles(stack: Path) -> np.ndarray:
    """Tilt angles per SPEC §0; an error when there are none or their count is not nz."""
    info = read_info(stack)
    require_3d(info, 2, "a preview reconstruction")
    found = find_tilt_angles(info)
    if found is None:
        raise EmflowInputError(stack, "no tilt angles found (.rawtlt/.tlt beside it, extended header or .mdoc)")
    if len(found) != info.nz:
        raise EmflowInputError(found.path or stack, f"{len(found)} tilt angles for {info.nz} sections")
    return np.asarray(found.angles_deg, dtype=np.float64)


def _write_stack(path: Path, data: np.ndarray, section_stats: np.ndarray, voxel: float,
                 origin: tuple[float, float, float]) -> Path:
    """Write the aligned stack; header min/max/mean from its per-section ``(min, max, sum)``."""
    mean = math.fsum(section_stats[:, 2]) / data.size
    with MrcWriter(path, data.shape, np.float32, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                   step="preview aligned stack", space_group=0) as writer:
        step = max(1, WRITE_BYTES // max(1, data[0].nbytes))
        for z0 in range(0, data.shape[0], step):  # a few sections per write: no copy of the stack
            writer.write_slab(data[z0:z0 + step])
        writer.set_stats(float(section_stats[:, 0].min()), float(section_stats[:, 1].max()), mean)
    return path


# --- FBP tasks: a CPU SliceFbp per worker process; the shared aligned stack read in place -----

def _sample_task(spec: tuple, aligned: str, means: np.ndarray, rows: list[int]) -> list[np.ndarray]:
    fbp = cached_fbp(*spec)
    return [fbp_row(fbp, shared(aligned), means, y) for y in rows]


def _slab_task(spec: tuple, aligned: str, means: np.ndarray, offset: float, factor: float, y0: int, y1: int,
               skip: frozenset[int]) -> np.ndarray:
    return fbp_rows_int16(cached_fbp(*spec), shared(aligned), means, offset, factor, y0, y1, skip)


class _FbpSlabs:
    """The int16 reconstruction as row slabs, in order: on the CUDA FBP in this process, or on
    the CPU in the worker processes (each with its own ASTRA objects). Only this process ever
    runs CUDA, so the workers never open the GPU together.

    ``start()`` puts the first slabs in flight (the caller may write the aligned stack
    meanwhile); iterating yields ``(y0, slab)`` with the sampled rows filled in.
    """

    def __init__(self, workers: PreviewWorkers, cuda_fbp: SliceFbp | None, aligned_name: str, angles: np.ndarray,
                 thickness: int, filter_type: str, means: np.ndarray, slab_bytes: int) -> None:
        self.workers, self.cuda_fbp, self.aligned_name = workers, cuda_fbp, aligned_name
        aligned = shared(aligned_name)
        self.ny, nx = aligned.shape[1], aligned.shape[2]
        self.spec = (angles, nx, thickness, filter_type)
        self.means = means
        rows = sample_rows(self.ny)
        if cuda_fbp is not None:
            sampled = [fbp_row(cuda_fbp, aligned, means, y) for y in rows]
        else:
            parts = workers.map(_sample_task, [(self.spec, aligned_name, means, rows[a:b]) for a, b in workers.split(len(rows))])
            sampled = [v for part in parts for v in part]
        self.offset, self.factor = intensity_scale(sampled)
        self.sampled = {y: to_int16(v, self.offset, self.factor) for y, v in zip(rows, sampled)}
        by_bytes = max(1, slab_bytes // max(1, thickness * nx * 4))
        # 16 slabs per worker: the last ones end close together (fine-grained load balance)
        per_worker = max(4, math.ceil(self.ny / (16 * workers.cpus))) if cuda_fbp is None and workers.cpus > 1 else self.ny
        self.ranges = [(y, min(self.ny, y + min(by_bytes, per_worker))) for y in range(0, self.ny, min(by_bytes, per_worker))]
        self._slabs: Iterator[np.ndarray] | None = None

    def start(self) -> None:
        skip = frozenset(self.sampled)
        if self.cuda_fbp is None:
            tasks = [(self.spec, self.aligned_name, self.means, self.offset, self.factor, y0, y1, skip) for y0, y1 in self.ranges]
            self._slabs = self.workers.imap(_slab_task, tasks)
        else:
            fbp, aligned = self.cuda_fbp, shared(self.aligned_name)
            self._slabs = (fbp_rows_int16(fbp, aligned, self.means, self.offset, self.factor, y0, y1, skip)
                           for y0, y1 in self.ranges)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._slabs is None:
            self.start()
        for (y0, y1), slab in zip(self.ranges, self._slabs):
            for y in range(y0, y1):
                if y in self.sampled:
                    slab[y - y0] = self.sampled[y]
            yield y0, slab


def _write_full_rec(path: Path, slabs: _FbpSlabs, shape: tuple[int, int, int], voxel: float,
                    origin: tuple[float, float, float]) -> tuple[float, float, float]:
    """Write the int16 slabs into ``path``; returns (amin, amax, amean) (exact integer sum)."""
    lo, hi, total = np.inf, -np.inf, 0
    with MrcWriter(path, shape, np.int16, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                   step="preview FBP full_rec") as writer:
        for _, slab in slabs:
            lo, hi = min(lo, int(slab.min())), max(hi, int(slab.max()))
            total += int(slab.sum(dtype=np.int64))
            writer.write_slab(slab)
        stats = (float(lo), float(hi), total / math.prod(shape))
        writer.set_stats(*stats)
    return stats


def _write_rec(full_rec: Path, rec: Path, stats: tuple[float, float, float], voxel: float, slab_bytes: int) -> None:
    with open_volume(full_rec) as vol:
        full_shape = vol.shape
        origin = rotx_origin(full_shape, vol.info.origin_angstrom, voxel)
        nz, thickness, nx = full_shape
        with MrcWriter(rec, (thickness, nz, nx), np.int16, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                       step="preview rec (clip rotx)") as writer:
            rotx_stream(vol.read_slab, full_shape, writer.write_slab, max_bytes=slab_bytes // 2)
            writer.set_stats(*stats)


def _make_cuda_fbp(angles: np.ndarray, n_det: int, thickness: int, filter_type: str,
                   say: Callable[[str], None]) -> SliceFbp | None:
    """The CUDA FBP, or None (CPU FBP) when it cannot be set up (said in the log)."""
    try:
        return SliceFbp(angles, n_det, thickness, use_cuda=True, filter_type=filter_type)
    except Exception as exc:  # noqa: BLE001 - ASTRA raises plain Exception for a CUDA failure
        say(f"CUDA FBP unavailable ({' '.join(str(exc).split())[:120]}); using the CPU FBP")
    return None


def run_preview_files(stack: str | os.PathLike[str], workdir: str | os.PathLike[str], basename: str, *,
                      bin_factor: int, thickness_px: int, pixel_size_nm: float, tilt_axis_deg: float = 0.0,
                      gpus: int = 0, log: Callable[[str], None] | None = None, use_cuda: bool | None = None,
                      filter_type: str = "ram-lak", slab_bytes: int = SLAB_BYTES, cpus: int = 1) -> dict[str, Path]:
    """Run the preview backend; returns paths by kind: ``ali``, ``full_rec``, ``rec``, ``tlt``, ``xf``, ``log``.

    See `emflow.preview.run_preview` for the parameters.
    """
    stack, workdir = Path(stack), Path(workdir)
    _check_params(stack, bin_factor, thickness_px, pixel_size_nm)
    if int(cpus) < 1:
        raise EmflowInputError("cpus", f"{cpus} is not a positive number")
    angles = load_angles(stack)
    workdir.mkdir(parents=True, exist_ok=True)
    say = _Log(workdir / LOG_NAME, log)
    cuda = (gpus > 0 or cuda_available()) if use_cuda is None else use_cuda
    if cuda and not cuda_available():
        say("no usable CUDA GPU for ASTRA; using the CPU FBP")
        cuda = False
    paths = {k: workdir / f"{basename}{s}" for k, s in (("ali", "_ali.mrc"), ("full_rec", "_full_rec.mrc"),
                                                           ("rec", "_rec.mrc"), ("tlt", ".tlt"), ("xf", ".xf"))}
    voxel = float(pixel_size_nm) * 10.0 * int(bin_factor)
    info = read_info(stack)
    b = int(bin_factor)
    binned_shape = (info.nz, info.ny // b, info.nx // b)
    aligned_yx = aligned_shape(binned_shape[1:], tilt_axis_deg)
    binned = shared_array(binned_shape)
    run_id = next(_RUNS)
    binned_name, aligned_name = f"preview{run_id}.binned", f"preview{run_id}.aligned"  # the shared stacks
    arrays = {binned_name: binned, aligned_name: binned if aligned_yx == binned_shape[1:] else shared_array((info.nz, *aligned_yx))}
    thickness = max(1, int(round(int(thickness_px) / b)))
    with PreviewWorkers(int(cpus), arrays) as workers:
        say(f"{PREVIEW_LABEL}: {stack.name}, bin {bin_factor}, thickness {thickness_px} px, "
            f"tilt axis {tilt_axis_deg} deg, {'CUDA' if cuda else 'CPU'} FBP ({filter_type}), "
            f"{workers.cpus} process{'es' if workers.cpus > 1 else ''}"
            + ("" if workers.cpus == workers.requested else f" (of {workers.requested} CPUs: other threads are running)"))
        with open_volume(stack) as vol:
            read_binned_stack(vol, b, say, workers=workers, out=binned_name)
        shifts = neighbour_shifts(binned_name, angles, tilt_axis_deg, workers=workers)
        shifts = refine_shifts(binned_name, angles, tilt_axis_deg, shifts, thickness, workers=workers)
        write_xf(paths["xf"], tilt_axis_deg, shifts * b)
        write_tlt(paths["tlt"], angles)
        big = np.abs(shifts).max() * b
        say(f"aligned {len(angles)} tilts by cross-correlation + projection matching "
            f"(largest shift {big:.1f} raw px); wrote {paths['xf'].name}")
        aligned, section_stats = apply_alignment(binned_name, tilt_axis_deg, shifts, out=aligned_name, workers=workers)
        if aligned is not binned:
            release(binned)  # the tilt axis swapped the shape: the binned stack is done with
        means = (section_stats[:, 2] / (aligned.shape[1] * aligned.shape[2])).astype(np.float32)
        cuda_fbp = _make_cuda_fbp(angles, aligned.shape[2], thickness, filter_type, say) if cuda else None
        try:
            slabs = _FbpSlabs(workers, cuda_fbp, aligned_name, angles, thickness, filter_type, means, slab_bytes)
            slabs.start()  # the workers reconstruct while this process writes the aligned stack
            _write_stack(paths["ali"], aligned, section_stats, voxel, info.origin_angstrom)
            full_shape = (aligned.shape[1], thickness, aligned.shape[2])
            full_origin = (info.origin_angstrom[0], voxel * (thickness // 2), info.origin_angstrom[1])
            stats = _write_full_rec(paths["full_rec"], slabs, full_shape, voxel, full_origin)
        finally:
            if cuda_fbp is not None:
                cuda_fbp.close()
    say(f"wrote {paths['full_rec'].name} ({aligned.shape[2]} x {thickness} x {aligned.shape[1]})")
    del aligned, binned, arrays
    _write_rec(paths["full_rec"], paths["rec"], stats, voxel, slab_bytes)
    say(f"wrote {paths['rec'].name} (rotated about x as trimvol -rx); {PREVIEW_LABEL}")
    paths["log"] = workdir / LOG_NAME
    return paths
