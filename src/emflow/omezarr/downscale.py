"""2 x 2 mean downscaling of ``(c, y, x)`` planes and the level shapes of a 2D pyramid.

Public functions
----------------
level_shapes(shape_yx, max_px=512)   (y, x) of every level, halving until both sides <= max_px
mean_2x2(block)                      one 2 x 2 mean step of a ``(c, y, x)`` block

An odd last row or column is averaged over the pixels that exist (the same as replicating the
edge), so level ``k`` has ``ceil(n / 2**k)`` pixels along each axis. Integer data is rounded to
nearest (``rint``) and clipped to the dtype's range; float data stays float.
"""

from __future__ import annotations

import numpy as np


def level_shapes(shape_yx: tuple[int, int], max_px: int = 512) -> list[tuple[int, int]]:
    """Return the ``(y, x)`` shape of each pyramid level, level 0 first.

    Levels halve (rounding up) until the longest side is ``<= max_px``; a plane that already
    fits has a single level.

    Parameters
    ----------
    shape_yx : tuple of int
        ``(y, x)`` size of level 0 in pixels.
    max_px : int
        Longest side of the coarsest level, in pixels.
    """
    ny, nx = (int(v) for v in shape_yx)
    if ny < 1 or nx < 1 or max_px < 1:
        raise ValueError(f"bad plane shape {shape_yx} or max_px {max_px}")
    shapes = [(ny, nx)]
    while max(ny, nx) > max_px:
        ny, nx = -(-ny // 2), -(-nx // 2)
        shapes.append((ny, nx))
    return shapes


def mean_2x2(block: np.ndarray) -> np.ndarray:
    """Average each 2 x 2 group of pixels of a ``(c, y, x)`` block.

    Parameters
    ----------
    block : ndarray, shape (c, y, x)
        Any numeric dtype. An odd ``y`` or ``x`` is padded by replicating the last row/column.

    Returns
    -------
    ndarray, shape (c, ceil(y / 2), ceil(x / 2))
        Same dtype as ``block``; integers rounded to nearest and clipped to the dtype's range.
    """
    if block.ndim != 3:
        raise ValueError(f"expected a (c, y, x) block, got shape {block.shape}")
    c, ny, nx = block.shape
    pad = ((0, 0), (0, ny % 2), (0, nx % 2))
    work = np.pad(block, pad, mode="edge") if (ny % 2 or nx % 2) else block
    acc = work.astype(np.float64 if block.dtype.itemsize > 2 else np.float32)
    out = acc.reshape(c, acc.shape[1] // 2, 2, acc.shape[2] // 2, 2).mean(axis=(2, 4))
    if np.issubdtype(block.dtype, np.integer):
        info = np.iinfo(block.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(block.dtype)
