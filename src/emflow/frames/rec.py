"""Reconstruction movie and averaged volumes from ``BASENAME_rec.mrc`` (SPEC §5).

average_stats(path, a, b) -> [[min, max, mean], ...]     pass 1 over clip-averaged sections
average_apply(path, a, b, scale, add) -> (int16, rows)   pass 2: float 3, rounded to int16
make_rec_volumes(rec_path, outdir, ...) -> {"averagedVolume", "volume"}
make_rec_movie(rec_path, outdir, ...) -> {"recMovie", "averagedVolume", "volume"}
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emflow import __version__
from emflow.errors import EmflowStepError
from emflow.frames.binvol import bin_pair, binned_shape
from emflow.frames.clipavg import WINDOW, RunningAverage
from emflow.frames.encode import Progress, encode_frames
from emflow.frames.movie import check_movie_options
from emflow.frames.mrc2tif import contrast_params, to_bytes
from emflow.frames.newstack import Float3, apply_float3, float3_params, round_to_mode, section_stats
from emflow.frames.pool import ordered_map, slab_ranges
from emflow.frames.stats import REC_CONTRAST
from emflow.frames.tilt import series_of
from emflow.mrc import MrcInfo, MrcWriter, open_volume, read_info, require_3d, require_finite

F32 = np.float32


def _averages(path: str | os.PathLike[str], a: int, b: int) -> Iterator[np.ndarray]:
    """clip avg output sections ``a .. b-1`` (section i averages input sections i .. i+4)."""
    running = RunningAverage()
    with open_volume(path) as volume:
        for z in range(a, b + WINDOW - 1):
            section = volume.read_section(z)
            require_finite(path, section, z)
            average = running.push(section)
            if average is not None:
                yield average


def average_stats(path: str | os.PathLike[str], a: int, b: int) -> list[list[float]]:
    """``[min, max, mean]`` (IMOD arithmetic) of averaged sections ``a .. b-1``."""
    return [list(section_stats(avg)) for avg in _averages(path, a, b)]


def average_apply(
    path: str | os.PathLike[str], a: int, b: int, scale: list[float], add: list[float], contrast: tuple[float, float] | None = None
) -> tuple[np.ndarray, list[list[float]], np.ndarray | None]:
    """Averaged sections ``a .. b-1`` through float 3 (mode 1).

    Returns the int16 stored values; per section ``[min, max, mean]`` of the float values before
    rounding (newstack's header sums); and, with ``contrast = (slope, offset)``, the movie frames.
    """
    ny, nx = read_info(path).shape[1:]
    out = np.empty((b - a, ny, nx), dtype=np.int16)
    frames = np.empty((b - a, ny, nx), dtype=np.uint8) if contrast is not None else None
    rows = []
    for i, avg in enumerate(_averages(path, a, b)):
        values = apply_float3(avg.astype(F32), scale[i], add[i], 1)
        total = float(values.sum(dtype=np.float64))
        mean = F32(total / float(F32(values.shape[0] * values.shape[1])))
        rows.append([float(values.min()), float(values.max()), float(mean)])
        out[i] = round_to_mode(values, 1)
        if frames is not None:
            frames[i] = to_bytes(out[i], F32(contrast[0]), F32(contrast[1]))
    return out, rows, frames


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


def _average_params(rec_path: Path, slab_size: int, workers: int) -> tuple[MrcInfo, Float3]:
    """Pass 1: float-3 parameters of the clip-averaged sections (mode 1)."""
    info = read_info(rec_path)
    require_3d(info, WINDOW, "the reconstruction movie (5-section running average)")
    nz = info.nz - (WINDOW - 1)
    ranges = slab_ranges(nz, slab_size, bytes_per_section=info.ny * info.nx * 2)
    rows = [r for part in ordered_map(average_stats, [(rec_path, a, b) for a, b in ranges], workers) for r in part]
    return info, float3_params(*(np.array(col, dtype=F32) for col in zip(*rows)), mode=1)


def _write_volumes(
    info: MrcInfo, params: Float3, out: dict[str, Path], slab_size: int, workers: int, contrast: tuple[float, float] | None
) -> Iterator[tuple[int, int, np.ndarray | None]]:
    """Pass 2: write ave_ and avebin8_; yield ``(z0, z1, frames)`` per slab (frames None without contrast).

    The volumes are complete (renamed into place) when the generator is exhausted.
    """
    nz, ny, nx = info.nz - (WINDOW - 1), info.ny, info.nx
    ranges = slab_ranges(nz, slab_size, bytes_per_section=ny * nx * 3)
    voxel = info.voxel_size_angstrom
    bvoxel = (voxel[0] * 2, voxel[1] * 2, voxel[2] * (2 if nz > 1 else 1))
    tasks = [(info.path, a, b, params.scale[a:b].tolist(), params.add[a:b].tolist(), contrast) for a, b in ranges]
    with (
        MrcWriter(out["averagedVolume"], (nz, ny, nx), np.int16, voxel, labels=[_label("clip avg 5 + newstack -float 3")]) as ave,
        MrcWriter(out["volume"], binned_shape((nz, ny, nx)), np.int16, bvoxel, labels=[_label("binvol -binning 2")]) as binned,
    ):
        binner = _Binner(binned, nz)
        lo, hi, mean_sum = np.inf, -np.inf, F32(0)
        for (a, b), (sections, stats, frames) in zip(ranges, ordered_map(average_apply, tasks, workers)):
            ave.write_slab(sections)
            for section, (s_lo, s_hi, s_mean) in zip(sections, stats):
                lo, hi, mean_sum = min(lo, s_lo), max(hi, s_hi), F32(mean_sum + F32(s_mean))
                binner.add(section)
            yield a, b, frames
        if (lo, hi) != (params.amin, params.amax):
            raise EmflowStepError(out["averagedVolume"], f"range {lo}..{hi} differs from the predicted {params.amin}..{params.amax}")
        ave.set_stats(lo, hi, float(F32(mean_sum / F32(nz))))
        binner.finish()


def _outputs(rec_path: Path, outdir: Path) -> dict[str, Path]:
    base = series_of(rec_path, "_rec.mrc")
    return {
        "recMovie": outdir / f"keyMov_{base}.mp4",
        "averagedVolume": outdir / f"ave_{base}.mrc",
        "volume": outdir / f"avebin8_{base}.mrc",
    }


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

    Returns
    -------
    dict with keys ``averagedVolume``, ``volume``
    """
    out = _outputs(Path(rec_path), Path(outdir))
    info, params = _average_params(Path(rec_path), slab_size, workers)
    if progress is not None:
        progress(info.nz - (WINDOW - 1))
    for a, b, _ in _write_volumes(info, params, out, slab_size, workers, None):
        if progress is not None:
            progress(b - a)
    return {k: out[k] for k in ("averagedVolume", "volume")}


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

    The movie frames (``mrc2tif -C 100,255`` of ``ave_``, whose header range is known after the
    statistics pass) are rendered and encoded while the volumes are written: one pass of values.

    Returns
    -------
    dict with keys ``recMovie``, ``averagedVolume``, ``volume``
    """
    check_movie_options(fps, size)
    out = _outputs(Path(rec_path), Path(outdir))
    info, params = _average_params(Path(rec_path), slab_size, workers)
    if progress is not None:
        progress(info.nz - (WINDOW - 1))
    stats = {"shape": [info.nz - (WINDOW - 1), info.ny, info.nx]}
    slope, offset = contrast_params(params.amin, params.amax, *REC_CONTRAST)
    contrast = (float(slope), float(offset))
    with contextlib.closing(_write_volumes(info, params, out, slab_size, workers, contrast)) as slabs:
        frames = ((a, f) for a, _, f in slabs)
        encode_frames(stats, frames, out["recMovie"], fps=fps, size=size, progress=progress)
    return out
