"""Slab reading for the pyramid writers, with the facility's type conversion (SPEC §6).

Public names
------------
converted_dtype(dtype)          int8 -> uint8, int16 -> uint16, float16 -> float32, else kept
convert(slab)                   the values mrc2nifti wrote: int8 v + 128, int16 v + 32768 ...
open_checked(path, force)       MrcVolume of a 3D, non-tilt-series MRC (one-line errors)
iter_slabs_checked(volume, n)   ``(z0, native_slab)`` slabs, each checked for NaN/Inf

Slabs come from explicit reads (``os.preadv`` in emflow.mrc), so a 16 GiB input never shows up
as 16 GiB of resident file pages. One pass serves every writer (precomputed, OME-Zarr, min/max).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from emflow.errors import EmflowInputError
from emflow.mrc import MrcVolume, open_volume, require_3d, require_finite
from emflow.tilt_angles import find_tilt_angles

_CONVERTED = {
    np.dtype(np.int8): np.dtype(np.uint8),
    np.dtype(np.int16): np.dtype(np.uint16),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.uint8): np.dtype(np.uint8),
    np.dtype(np.uint16): np.dtype(np.uint16),
    np.dtype(np.float32): np.dtype(np.float32),
}


def converted_dtype(dtype: np.dtype) -> np.dtype:
    """The precomputed data type for a stored MRC dtype."""
    try:
        return _CONVERTED[np.dtype(dtype).newbyteorder("=")]
    except KeyError as exc:
        raise TypeError(f"no precomputed type for {dtype}") from exc


def convert(slab: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Map stored values to the precomputed domain: int8 v + 128, int16 v + 32768, float16 -> float32.

    uint8, uint16 and float32 slabs are returned as they are (no copy). With ``inplace`` an
    int8/int16 slab's memory is reused (the slab must be writable and not needed afterwards).
    """
    dtype = slab.dtype
    if dtype in (np.int8, np.int16):
        unsigned = slab.view(np.uint8 if dtype == np.int8 else np.uint16)
        flip = unsigned.dtype.type(0x80 if dtype == np.int8 else 0x8000)
        return np.bitwise_xor(unsigned, flip, out=unsigned if inplace else None)
    if dtype == np.float16:
        return slab.astype(np.float32)
    converted_dtype(dtype)
    return slab


def open_checked(path: str | os.PathLike[str], force: bool = False, what: str = "a Neuroglancer pyramid") -> MrcVolume:
    """Open an MRC volume for a pyramid: 3D, and not a tilt series unless ``force``.

    A tilt series is a stack whose nz equals the number of angles in a ``.rawtlt``/``.tlt``
    beside it.
    """
    volume = open_volume(path)
    info = volume.info
    try:
        require_3d(info, 2, what)
        if not force:
            angles = find_tilt_angles(info)
            if angles is not None and angles.source in ("rawtlt", "tlt") and len(angles) == info.nz:
                raise EmflowInputError(
                    info.path,
                    f"looks like a tilt series ({info.nz} sections, {len(angles)} angles in {angles.path.name}); "
                    "a pyramid is for a reconstructed volume (use --force to make one anyway)",
                )
    except BaseException:
        volume.close()
        raise
    return volume


def iter_slabs_checked(volume: MrcVolume, slab_size: int = 64) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(z0, slab)`` in the stored dtype; NaN/Inf raise a one-line EmflowInputError."""
    nz = volume.shape[0]
    for z0 in range(0, nz, slab_size):
        slab = volume.read_slab(z0, min(z0 + slab_size, nz))
        if slab.dtype.kind == "f" and not np.isfinite(slab).all():
            for i, section in enumerate(slab):
                require_finite(volume.info.path, section, z0 + i)
        yield z0, slab
        del slab  # the caller is done with it: never hold two slabs while reading the next
