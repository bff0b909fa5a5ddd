"""Stream a 2D ``(c, y, x)`` image into an OME-NGFF 0.4 pyramid (zarr v2 format).

Public functions
----------------
write_ngff_image(target, read_region, shape_cyx, dtype, *, name, channel_labels,
                 channel_colours, pixel_size_um=None, ...) -> NgffImage

Level 0 is filled block by block from ``read_region(y0, y1, x0, x1)`` (blocks of
``read_chunks`` chunks, 2048 x 4096 px by default, chunk-aligned), so the full-resolution plane
is never in memory; every further level is a 2 x 2 mean of the previous one, read back from the
zarr ``chunk_px`` rows and ``block_chunks`` chunks across at a time. Chunks are ``(1, chunk_px, chunk_px)``, compressed with
Blosc/zstd, chunk keys ``/``-separated as NGFF 0.4 requires. The folder is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr

from emflow.atomic import atomic_dir
from emflow.omezarr.downscale import level_shapes, mean_2x2
from emflow.omezarr.ngff import channel_window, image_multiscales_metadata, omero_channel, omero_metadata

RegionReader = Callable[[int, int, int, int], np.ndarray]
"""``read_region(y0, y1, x0, x1)`` -> ``(c, y1 - y0, x1 - x0)`` array of the level-0 plane."""

COMPRESSOR = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)


@dataclass(frozen=True)
class NgffImage:
    """What `write_ngff_image` wrote.

    Attributes
    ----------
    path : Path
        The ``.ome.zarr`` folder.
    level_shapes : list of (int, int)
        ``(y, x)`` of each level, level 0 first.
    channels : list of dict
        The omero channel entries (label, color, window, ...).
    preview : ndarray, shape (c, y, x)
        The coarsest level whose longest side is ``>= preview_px`` (level 0 if none is), read
        back for key images; its longest side is below ``2 * preview_px`` unless it is level 0.
    preview_level : int
        Index of ``preview``'s level.
    """

    path: Path
    level_shapes: list[tuple[int, int]]
    channels: list[dict[str, Any]]
    preview: np.ndarray
    preview_level: int


def _create_level(group: zarr.Group, level: int, n_channels: int, shape_yx: tuple[int, int],
                  dtype: np.dtype, chunk_px: int) -> zarr.Array:
    return group.create_array(
        str(level), shape=(n_channels, *shape_yx), dtype=dtype,
        chunks=(1, min(chunk_px, shape_yx[0]), min(chunk_px, shape_yx[1])),
        compressors=COMPRESSOR, chunk_key_encoding={"name": "v2", "separator": "/"}, fill_value=0,
    )


def _blocks(shape_yx: tuple[int, int], rows: int, cols: int):
    ny, nx = shape_yx
    for y0 in range(0, ny, rows):
        for x0 in range(0, nx, cols):
            yield y0, min(y0 + rows, ny), x0, min(x0 + cols, nx)


def _fill_level0(array: zarr.Array, read_region: RegionReader, rows: int, cols: int) -> None:
    c, ny, nx = array.shape
    for y0, y1, x0, x1 in _blocks((ny, nx), rows, cols):
        block = np.asarray(read_region(y0, y1, x0, x1))
        if block.shape != (c, y1 - y0, x1 - x0):
            raise ValueError(f"read_region({y0}, {y1}, {x0}, {x1}) gave shape {block.shape}")
        array[:, y0:y1, x0:x1] = block.astype(array.dtype, copy=False)


def _fill_downscaled(dest: zarr.Array, source: zarr.Array, rows: int, cols: int) -> None:
    for y0, y1, x0, x1 in _blocks(dest.shape[1:], rows, cols):
        dest[:, y0:y1, x0:x1] = mean_2x2(source[:, 2 * y0 : 2 * y1, 2 * x0 : 2 * x1])


def _preview_level(shapes: list[tuple[int, int]], preview_px: int) -> int:
    large = [k for k, shape in enumerate(shapes) if max(shape) >= preview_px]
    return max(large) if large else 0


def write_ngff_image(
    target: str | os.PathLike[str],
    read_region: RegionReader,
    shape_cyx: tuple[int, int, int],
    dtype: np.dtype | str,
    *,
    name: str,
    channel_labels: list[str],
    channel_colours: list[str],
    pixel_size_um: tuple[float, float] | None = None,
    chunk_px: int = 512,
    max_px: int = 512,
    preview_px: int = 1024,
    block_chunks: int = 4,
    read_chunks: tuple[int, int] = (4, 8),
) -> NgffImage:
    """Write a ``(c, y, x)`` image as an NGFF 0.4 multiscale pyramid with omero metadata.

    Parameters
    ----------
    target : path
        The ``.ome.zarr`` folder to create (replaced if it exists).
    read_region : callable
        ``read_region(y0, y1, x0, x1)`` returning the level-0 pixels ``(c, y1 - y0, x1 - x0)``.
    shape_cyx : (int, int, int)
        Channels, rows and columns of level 0.
    dtype : numpy dtype
        Stored dtype (level 0 is cast to it; e.g. uint8 for RGB, uint16 for Gray16).
    name : str
        Image name (multiscales and omero ``name``).
    channel_labels, channel_colours : list of str
        One label and one ``RRGGBB`` colour per channel.
    pixel_size_um : (float, float) or None
        Level-0 ``(y, x)`` pixel size in micrometres, if known.
    chunk_px, max_px, preview_px, block_chunks : int
        Chunk side; longest side of the coarsest level; longest side wanted for `NgffImage.preview`;
        chunks across per downscaling block (which reads ``chunk_px**2 * block_chunks * 4`` pixels
        per channel).
    read_chunks : (int, int)
        Chunks down and across per `read_region` call on level 0.

    Returns
    -------
    NgffImage
        Paths, level shapes, omero channels (windows from the 1 % / 99 % quantiles of the preview
        level) and the preview array.
    """
    n_channels, ny, nx = (int(v) for v in shape_cyx)
    if len(channel_labels) != n_channels or len(channel_colours) != n_channels:
        raise ValueError("one label and one colour per channel are needed")
    dtype = np.dtype(dtype)
    shapes = level_shapes((ny, nx), max_px)
    cols = chunk_px * block_chunks
    target = Path(target)
    with atomic_dir(target, overwrite=True) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        arrays = [_create_level(group, k, n_channels, s, dtype, chunk_px) for k, s in enumerate(shapes)]
        _fill_level0(arrays[0], read_region, chunk_px * read_chunks[0], chunk_px * read_chunks[1])
        for k in range(1, len(arrays)):
            _fill_downscaled(arrays[k], arrays[k - 1], chunk_px, cols)
        level = _preview_level(shapes, preview_px)
        preview = np.asarray(arrays[level][:])
        channels = [
            omero_channel(label, colour, channel_window(preview[i], dtype))
            for i, (label, colour) in enumerate(zip(channel_labels, channel_colours, strict=True))
        ]
        group.attrs.update(
            {"multiscales": image_multiscales_metadata(len(shapes), name, pixel_size_um),
             "omero": omero_metadata(channels, name)}
        )
    return NgffImage(path=target, level_shapes=shapes, channels=channels, preview=preview,
                     preview_level=level)
