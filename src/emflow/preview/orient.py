"""IMOD's volume orientations for the preview outputs (SPEC §3.2).

``BASENAME_full_rec.mrc`` is ``tilt``'s output: section z = row y of the aligned stack (along
the tilt axis), each section ``(thickness, nx)``; numpy ``(ny_ali, thickness, nx)``.

``BASENAME_rec.mrc`` is that volume after ``trimvol -rx``, which runs ``clip rotx`` ("rotation
by -90 around X"). IMOD's clip_proc.c fills output section ``z_out`` from input row
``y_in = ny_in - 1 - z_out`` and output row ``y_out`` from input section ``z_in = y_out``:

    rec[k, j, :] = full_rec[j, T - 1 - k, :]      numpy (T, ny_ali, nx), T = thickness

Public functions
----------------
rec_chunk(full_rec_slab, k0, k1)            rec sections k0..k1-1 from a full_rec slab
rotx_origin(full_shape, full_origin, voxel)  clip rotx's header origin for the rotated volume
rotx_stream(read_slab, full_shape, write, ...)  write the rec volume chunk by chunk
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def rec_chunk(full_rec_slab: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """Rec sections ``k0 .. k1-1`` restricted to the full_rec sections of ``full_rec_slab``.

    ``full_rec_slab`` is ``(nz_slab, T, nx)``; the result is ``(k1 - k0, nz_slab, nx)``.
    """
    thickness = full_rec_slab.shape[1]
    rows = np.arange(thickness - 1 - k0, thickness - 1 - k1, -1)
    return np.ascontiguousarray(full_rec_slab[:, rows, :].transpose(1, 0, 2))


def rotx_origin(full_shape: tuple[int, int, int], full_origin_angstrom: tuple[float, float, float],
                voxel_angstrom: float) -> tuple[float, float, float]:
    """Origin (x, y, z) Å that ``clip rotx`` writes for the rotated volume (isotropic voxel).

    clip: ``ycen = ny/2 - yorg/v``, ``zcen = nz/2 - zorg/v``; ``yorg' = (ny'/2 - zcen) v``,
    ``zorg' = (nz'/2 + ycen) v`` with ``ny' = nz``, ``nz' = ny`` (x unchanged).
    """
    nz, ny, _ = full_shape
    ox, oy, oz = full_origin_angstrom
    ycen = ny / 2.0 - oy / voxel_angstrom
    zcen = nz / 2.0 - oz / voxel_angstrom
    return ox, (nz / 2.0 - zcen) * voxel_angstrom, (ny / 2.0 + ycen) * voxel_angstrom


def rotx_stream(read_slab: Callable[[int, int], np.ndarray], full_shape: tuple[int, int, int],
                write: Callable[[np.ndarray], None], max_bytes: int = 256 << 20, itemsize: int = 2) -> None:
    """Stream the ``rotx`` of a full_rec volume: ``write`` gets consecutive rec chunks.

    ``read_slab(z0, z1)`` returns full_rec sections ``z0 .. z1-1``. Memory holds one rec chunk
    of at most ``max_bytes`` plus one read slab of the same size; the input is re-read once per
    chunk (explicit reads, no memory map).
    """
    nz, thickness, nx = full_shape
    rec_section_bytes = max(1, nz * nx * itemsize)
    k_chunk = max(1, min(thickness, max_bytes // rec_section_bytes))
    z_chunk = max(1, min(nz, max_bytes // max(1, thickness * nx * itemsize)))
    for k0 in range(0, thickness, k_chunk):
        k1 = min(thickness, k0 + k_chunk)
        chunk = None
        for z0 in range(0, nz, z_chunk):
            z1 = min(nz, z0 + z_chunk)
            part = rec_chunk(read_slab(z0, z1), k0, k1)
            if chunk is None:
                chunk = np.empty((k1 - k0, nz, nx), dtype=part.dtype)
            chunk[:, z0:z1, :] = part
        write(chunk)
