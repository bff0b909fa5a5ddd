"""Tilt movie, key image and thumbnail from ``BASENAME_ali.mrc`` (SPEC §4).

make_tilt_movie(ali_path, outdir, fps=4, size=1024, slab_size=64, workers=1) -> dict[str, Path]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError
from emflow.frames.encode import Progress, encode_frames
from emflow.frames.movie import check_movie_options
from emflow.frames.pool import ordered_map, slab_ranges
from emflow.frames.render import render_slab
from emflow.frames.stats import tilt_stats
from emflow.names import check_basename


def series_of(path: str | os.PathLike[str], suffix: str) -> str:
    """BASENAME of ``BASENAME<suffix>`` (e.g. ``_ali.mrc``), checked against SPEC §1."""
    name = Path(path).name
    if not name.endswith(suffix) or len(name) == len(suffix):
        raise EmflowInputError(path, f"file name must end with {suffix} (BASENAME{suffix})")
    return check_basename(name[: -len(suffix)], path)


def render_all(path: Path, stats: dict[str, Any], slab_size: int, workers: int) -> Any:
    """Yield ``(z0, frames)`` for every section, rendered by ``workers`` processes, in order."""
    nz, ny, nx = stats["shape"]
    ranges = slab_ranges(nz, slab_size, bytes_per_section=ny * nx)
    results = ordered_map(render_slab, [(path, stats, z0, z1) for z0, z1 in ranges], workers)
    return zip((z0 for z0, _ in ranges), results)


def make_tilt_movie(
    ali_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    fps: float = 4,
    size: int = 1024,
    slab_size: int = 64,
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write ``tiltMov_B.mp4``, ``keyimg_B.jpg`` and ``keyimg_B_s.jpg`` into ``outdir``.

    Parameters
    ----------
    ali_path : ``BASENAME_ali.mrc``, an aligned stack (nz >= 2, finite)
    fps : frames per second of the movie; ``size`` : movie side in pixels (even)
    slab_size : sections per task; the output bytes do not depend on it nor on ``workers``
    progress : called with the number of sections done, twice per section (stats, frames)

    Returns
    -------
    dict with keys ``tiltMovie``, ``keyImage``, ``thumbnail``
    """
    check_movie_options(fps, size)
    ali_path = Path(ali_path)
    base = series_of(ali_path, "_ali.mrc")
    outdir = Path(outdir)
    stats = tilt_stats(ali_path, slab_size, workers)
    if progress is not None:
        progress(stats["shape"][0])
    out = {
        "tiltMovie": outdir / f"tiltMov_{base}.mp4",
        "keyImage": outdir / f"keyimg_{base}.jpg",
        "thumbnail": outdir / f"keyimg_{base}_s.jpg",
    }
    slabs = render_all(ali_path, stats, slab_size, workers)
    encode_frames(stats, slabs, out["tiltMovie"], fps=fps, size=size,
                  key_image=out["keyImage"], thumbnail=out["thumbnail"], progress=progress)  # fmt: skip
    return out
