"""Gather rendered frames in section order into the movie (+ key image and thumbnail).

encode_frames(stats, frame_slabs, movie, fps, size, key_image=None, thumbnail=None, progress=None)
encode_frame_files(stats, files, ...)     the same from ``.frames`` files (Nextflow fan-in)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from emflow.errors import EmflowInputError
from emflow.frames.keyimage import write_key_image, write_thumbnail
from emflow.frames.movie import MovieEncoder, check_movie_size
from emflow.frames.render import read_frames, read_frames_header

Progress = Callable[[int], None]


def encode_frames(
    stats: dict[str, Any],
    frame_slabs: Iterable[tuple[int, np.ndarray]],
    movie: str | os.PathLike[str],
    *,
    fps: float,
    size: int,
    key_image: str | os.PathLike[str] | None = None,
    thumbnail: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Pipe ``(z0, frames)`` slabs (in section order, covering every section) into ``movie``.

    The frame of section ``floor(nz / 2)`` becomes the key image and thumbnail when asked for.
    """
    nz, ny, nx = stats["shape"]
    check_movie_size(size)
    if fps <= 0:
        raise EmflowInputError("--fps", f"{fps:g} must be > 0")
    key_z = nz // 2
    key_frame = None
    expected = 0
    with MovieEncoder(movie, nx, ny, fps, size) as encoder:
        for z0, frames in frame_slabs:
            if z0 != expected or frames.shape[1:] != (ny, nx):
                raise EmflowInputError(movie, f"frames for sections {z0}.. do not follow section {expected - 1} or have the wrong size")
            for frame in frames:
                encoder.write(frame)
            if z0 <= key_z < z0 + len(frames):
                key_frame = frames[key_z - z0].copy()
            expected += len(frames)
            if progress is not None:
                progress(len(frames))
        if expected != nz:
            raise EmflowInputError(movie, f"got frames for {expected} of {nz} sections")
    if key_frame is not None and key_image is not None:
        write_key_image(key_frame, key_image)
    if key_frame is not None and thumbnail is not None:
        write_thumbnail(key_frame, thumbnail)
    return Path(movie)


def encode_frame_files(stats: dict[str, Any], files: Iterable[str | os.PathLike[str]], movie: str | os.PathLike[str], **kwargs: Any) -> Path:
    """`encode_frames` over ``.frames`` files given in any order (sorted by their first section)."""
    ordered = sorted((read_frames_header(f)[0], Path(f)) for f in files)
    for (z_a, a), (z_b, b) in zip(ordered, ordered[1:]):
        if z_a == z_b:
            raise EmflowInputError(b, f"starts at section {z_b} like {a}")
    return encode_frames(stats, (read_frames(path) for _, path in ordered), movie, **kwargs)
