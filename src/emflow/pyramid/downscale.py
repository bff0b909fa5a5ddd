"""One pyramid step: the 2x2x2 mean of neuroglancer-scripts' ``AveragingDownscaler``, exactly.

Public names
------------
downscale(block, factors_zyx)       ``(z, y, x)`` block -> next level, same dtype

The reference computes, in float64, ``0.5 * (a + b)`` along z, then y, then x (each axis whose
factor is 2), an odd axis first padded by repeating its last element; integer outputs are
rounded half-to-even (``rint``) and clipped, float32 is cast back. For 8/16-bit integers every
intermediate is an exact dyadic fraction, so the same result comes from the integer sum ``s`` of
the 2^k values: ``rint(s / 2^k)`` computed with shifts (faster, a quarter of the memory).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SUM_DTYPE = {np.dtype(np.uint8): np.dtype(np.uint16), np.dtype(np.uint16): np.dtype(np.uint32)}


def _pair(a: np.ndarray, axis: int, float_mean: bool, dtype: np.dtype | None = None) -> np.ndarray:
    """Combine neighbours along ``axis``: mean (float) or sum (integer) in ``dtype`` (default
    ``a.dtype``); an odd axis pairs its last element with itself."""
    n = a.shape[axis]
    half = n // 2
    shape = list(a.shape)
    shape[axis] = (n + 1) // 2
    out = np.empty(shape, dtype=dtype or a.dtype)

    def sl(start: int | None, stop: int | None, step: int | None = None) -> tuple[slice, ...]:
        index = [slice(None)] * a.ndim
        index[axis] = slice(start, stop, step)
        return tuple(index)

    body = out[sl(0, half)]
    np.add(a[sl(0, 2 * half, 2)], a[sl(1, 2 * half, 2)], out=body, dtype=out.dtype)
    if float_mean:
        body *= 0.5
    if n % 2:
        last = a[sl(n - 1, n)]
        out[sl(half, half + 1)] = last
        if not float_mean:
            out[sl(half, half + 1)] *= 2
    return out


def downscale(block: np.ndarray, factors_zyx: Sequence[int]) -> np.ndarray:
    """Downscale a ``(z, y, x)`` block by 1 or 2 per axis, as neuroglancer-scripts' average does.

    Parameters
    ----------
    block : uint8, uint16 or float32 ``(z, y, x)`` array (a whole level, or a band of it whose
        edges along downscaled axes are even except at the volume's end)
    factors_zyx : 1 or 2 per axis, in (z, y, x) order

    Returns
    -------
    ``(ceil(z/fz), ceil(y/fy), ceil(x/fx))`` array of ``block.dtype``.
    """
    dtype = block.dtype
    axes = [axis for axis, f in enumerate(factors_zyx) if f == 2]
    if not axes:
        return block.copy()
    if dtype == np.float32:
        a = block.astype(np.float64)
        for axis in axes:
            a = _pair(a, axis, True)
        return a.astype(np.float32)
    if dtype not in _SUM_DTYPE:
        raise TypeError(f"cannot downscale {dtype}")
    a = _pair(block, axes[0], False, _SUM_DTYPE[dtype])  # the first sum widens: no full-size copy
    for axis in axes[1:]:
        a = _pair(a, axis, False)
    shift = len(axes)
    q = a >> shift
    r = a & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    q += (r > half) | ((r == half) & (q & 1 == 1))
    return q.astype(dtype)
