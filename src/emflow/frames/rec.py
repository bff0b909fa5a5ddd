"""Reconstruction movie and averaged volumes from ``BASENAME_rec.mrc`` (SPEC §5).

average_stats(path, a, b) -> [[min, max, mean], ...]     pass 1 over clip-averaged sections
average_apply(path, a, b, scale, add) -> (int16, rows)   pass 2: float 3, rounded to int16
make_rec_volumes(rec_path, outdir, ...) -> {"averagedVolume", "volume"}
make_rec_movie(rec_path, outdir, ...) -> {"recMovie", "averagedVolume", "volume"}
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emflow import __version__
from emflow.frames.binvol import bin_pair, binned_shape
from emflow.frames.clipavg import WINDOW, average_sections
from emflow.frames.encode import Progress, encode_frames
from emflow.frames.movie import check_movie_options
from emflow.frames.newstack import apply_float3, float3_params, round_to_mode, section_stats
from emflow.frames.pool import ordered_map, slab_ranges
from emflow.frames.stats import header_stats
from emflow.frames.tilt import render_all, series_of
from emflow.mrc import MrcWriter, open_volume, read_info, require_3d, require_finite

F32 = np.float32


def _averages(path: str | os.PathLike[str], a: int, b: int) -> Iterator[np.ndarray]:
    """clip avg output sections ``a .. b-1`` (section i averages input sections i .. i+4)."""
    window: deque[np.ndarray] = deque(maxlen=WINDOW)
    with open_volume(path) as volume:
        for z in range(a, b + WINDOW - 1):
            section = volume.read_section(z)
            require_finite(path, section, z)
            window.append(section)
            if len(window) == WINDOW:
                yield average_sections(np.stack(window))


def average_stats(path: str | os.PathLike[str], a: int, b: int) -> list[list[float]]:
    """``[min, max, mean]`` (IMOD arithmetic) of averaged sections ``a .. b-1``."""
    return [list(section_stats(avg)) for avg in _averages(path, a, b)]


def average_apply(path: str | os.PathLike[str], a: int, b: int, scale: list[float], add: list[float]) -> tuple[np.ndarray, list[list[float]]]:
    """Averaged sections ``a .. b-1`` through float 3 (mode 1): int16 stored values and, per
    section, ``[min, max, mean]`` of the float values before rounding (newstack's header sums)."""
    out, rows = [], []
    for i, avg in enumerate(_averages(path, a, b)):
        values = apply_float3(avg.astype(F32), scale[i], add[i], 1)
        total = float(values.sum(dtype=np.float64))
        mean = F32(total / float(F32(values.shape[0] * values.shape[1])))
        rows.append([float(values.min()), float(values.max()), float(mean)])
        out.append(round_to_mode(values, 1))
    return np.stack(out), rows


def _label(step: str) -> str:
    """Header label naming emflow and the step, without a time stamp so reruns give equal bytes."""
    return f"emflow {__version__}: {step}"


class _Binner:
    """Feed ``ave_`` sections in order; writes ``binvol -binning 2`` sections and keeps its stats."""

    def __init__(self, writer: MrcWriter, nz: int) -> None:
        self.writer, self.nz = writer, nz
        self.pending: list[np.ndarray] = []
        self.done = 0
        self.dmin, self.dmax, self.mean_sum, self.pixels = np.inf, -np.inf, 0.0, 0.0

    def add(self, section: np.ndarray) -> None:
        self.pending.append(section)
        need = 1 if self.nz == 1 else 2
        if len(self.pending) < need:
            return
        binned = bin_pair(np.stack(self.pending))
        self.pending = []
        lo, hi, mean = section_stats(binned)
        ny, nx = binned.shape
        self.dmin, self.dmax = min(self.dmin, lo), max(self.dmax, hi)
        self.mean_sum += float(F32(F32(F32(mean) * F32(ny)) * F32(nx)))
        self.pixels += ny * nx
        self.writer.write_slab(round_to_mode(binned, 1))
        self.done += 1

    def finish(self) -> None:
        self.writer.set_stats(self.dmin, self.dmax, float(F32(self.mean_sum / self.pixels)))


def make_rec_volumes(
    rec_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    slab_size: int = 64,
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write ``ave_B.mrc`` (clip avg + newstack -float 3) and ``avebin8_B.mrc`` (binvol -binning 2).

    Two passes over ``rec_path`` (statistics, then values), streamed by slabs of ``slab_size``
    output sections over ``workers`` processes; the bytes do not depend on either.
    """
    rec_path, outdir = Path(rec_path), Path(outdir)
    base = series_of(rec_path, "_rec.mrc")
    info = read_info(rec_path)
    require_3d(info, WINDOW, "the reconstruction movie (5-section running average)")
    nz, ny, nx = info.shape[0] - (WINDOW - 1), info.ny, info.nx
    ranges = slab_ranges(nz, slab_size, bytes_per_section=ny * nx * 2)
    rows = [r for part in ordered_map(average_stats, [(rec_path, a, b) for a, b in ranges], workers) for r in part]
    if progress is not None:
        progress(nz)
    params = float3_params(*(np.array(col, dtype=F32) for col in zip(*rows)), mode=1)
    out = {"averagedVolume": outdir / f"ave_{base}.mrc", "volume": outdir / f"avebin8_{base}.mrc"}
    voxel = info.voxel_size_angstrom
    bshape = binned_shape((nz, ny, nx))
    bvoxel = (voxel[0] * 2, voxel[1] * 2, voxel[2] * (2 if nz > 1 else 1))
    tasks = [(rec_path, a, b, params.scale[a:b].tolist(), params.add[a:b].tolist()) for a, b in ranges]
    with (
        MrcWriter(out["averagedVolume"], (nz, ny, nx), np.int16, voxel, labels=[_label("clip avg 5 + newstack -float 3")]) as ave,
        MrcWriter(out["volume"], bshape, np.int16, bvoxel, labels=[_label("binvol -binning 2")]) as binned,
    ):
        binner = _Binner(binned, nz)
        lo, hi, mean_sum = np.inf, -np.inf, F32(0)
        for sections, stats in ordered_map(average_apply, tasks, workers):
            ave.write_slab(sections)
            for section, (s_lo, s_hi, s_mean) in zip(sections, stats):
                lo, hi, mean_sum = min(lo, s_lo), max(hi, s_hi), F32(mean_sum + F32(s_mean))
                binner.add(section)
            if progress is not None:
                progress(len(sections))
        ave.set_stats(lo, hi, float(F32(mean_sum / F32(nz))))
        binner.finish()
    return out


def make_rec_movie(
    rec_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    fps: float = 8,
    size: int = 1024,
    slab_size: int = 64,
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write ``keyMov_B.mp4``, ``ave_B.mrc`` and ``avebin8_B.mrc`` into ``outdir`` (SPEC §5).

    Returns
    -------
    dict with keys ``recMovie``, ``averagedVolume``, ``volume``
    """
    check_movie_options(fps, size)
    volumes = make_rec_volumes(rec_path, outdir, slab_size=slab_size, workers=workers, progress=progress)
    base = series_of(rec_path, "_rec.mrc")
    movie = Path(outdir) / f"keyMov_{base}.mp4"
    stats = header_stats(volumes["averagedVolume"])
    slabs = render_all(volumes["averagedVolume"], stats, slab_size, workers)
    encode_frames(stats, slabs, movie, fps=fps, size=size, progress=progress)
    return {"recMovie": movie, **volumes}
