"""Projection matching: refine coarse shifts against reprojections of a quick reconstruction.

Neighbour cross-correlation drifts: features at different heights move differently between
tilts (parallax), which biases every neighbour measurement the same way and the bias adds up
over the series. Correlating each aligned tilt with the reprojection, at its own angle, of a
small FBP reconstruction has no such parallax, so a couple of rounds remove the drift.

Two motions are invisible to any such consistency check and are fixed by convention:
a translation of the whole series (the tilt nearest 0 degrees keeps its coarse shift, as in
tiltxcorr) and a shift ``-z0 sin(theta)`` in x (the specimen sitting ``z0`` off the middle of
the slab): the specimen is centred in the slab (weights ``|v - mean|`` of the reconstruction).

Public functions
----------------
forward_project(slices, angles_deg)        ASTRA projections of (n, thickness, nx) slices
refine_shifts(binned, angles_deg, tilt_axis_deg, shifts_xy, thickness, ...) -> shifts_xy
"""

from __future__ import annotations

import math

import numpy as np

from emflow.preview.align import affine_section, aligned_shape, bin_section, prepare_for_xcorr, xcorr_shift, zero_tilt_index
from emflow.preview.fbp import SliceFbp


def forward_project(slices: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Projections ``(n_angles, n, nx)`` of ``(n, thickness, nx)`` slices (ASTRA, CPU, linear)."""
    import astra

    n, thickness, nx = slices.shape
    vol_geom = astra.create_vol_geom(thickness, nx)
    proj_geom = astra.create_proj_geom("parallel", 1.0, nx, np.deg2rad(np.asarray(angles_deg, float)))
    proj = astra.create_projector("linear", proj_geom, vol_geom)
    out = np.empty((len(angles_deg), n, nx), dtype=np.float32)
    try:
        for k in range(n):
            sid, sino = astra.create_sino(np.ascontiguousarray(slices[k], dtype=np.float32), proj)
            astra.data2d.delete(sid)
            out[:, k, :] = sino
    finally:
        astra.projector.delete(proj)
    return out


def _small_aligned(binned: np.ndarray, tilt_axis_deg: float, shifts_xy: np.ndarray, factor: int,
                   band: float, max_rows: int = 64) -> np.ndarray:
    """Aligned tilts binned by ``factor``: the central ``band`` fraction of rows (at most
    ``max_rows``, at least 8), each with its mean subtracted."""
    out_shape = aligned_shape(binned.shape[1:], tilt_axis_deg)
    small = [bin_section(affine_section(binned[z], tilt_axis_deg, 1.0, tuple(shifts_xy[z]), out_shape), factor)
             for z in range(binned.shape[0])]
    stack = np.stack(small)
    ny = stack.shape[1]
    keep = min(ny, max(8, min(max_rows, int(round(ny * band)))))
    y0 = max(0, (ny - keep) // 2)
    stack = stack[:, y0:y0 + keep]
    return stack - stack.mean(axis=(1, 2), keepdims=True)


def _mass_offset(rec: np.ndarray) -> float:
    """Offset (pixels) of the ``|v - mean|``-weighted centre of the slab from its middle row."""
    weights = np.abs(rec - rec.mean()).sum(axis=(0, 2))
    rows = np.arange(rec.shape[1]) - (rec.shape[1] - 1) / 2.0
    total = float(weights.sum())
    return float((weights * rows).sum() / total) if total > 0 else 0.0


def refine_shifts(binned: np.ndarray, angles_deg: np.ndarray, tilt_axis_deg: float, shifts_xy: np.ndarray,
                  thickness: int, *, iterations: int = 2, max_size: int = 256, band: float = 0.5) -> np.ndarray:
    """Shifts ``(nz, 2)`` (binned pixels, rotated frame) after ``iterations`` rounds of
    projection matching on a copy binned to at most ``max_size`` pixels, using the central
    ``band`` of rows; the specimen is then centred in a slab ``thickness`` (binned px) thick."""
    angles = np.asarray(angles_deg, dtype=float)
    shifts = np.array(shifts_xy, dtype=np.float64)
    factor = max(1, math.ceil(max(binned.shape[1:]) / max_size))
    slab = max(8, int(round(thickness / factor)))
    z0 = zero_tilt_index(angles)
    offset = 0.0
    for _ in range(max(1, iterations)):
        small = _small_aligned(binned, tilt_axis_deg, shifts, factor, band)
        with SliceFbp(angles, small.shape[2], slab) as fbp:
            rec = np.stack([fbp(small[:, y, :]) for y in range(small.shape[1])])
        offset = _mass_offset(rec)
        reproj = forward_project(rec, angles)
        shape = small.shape[1:]
        for i in range(len(angles)):
            dx, dy = xcorr_shift(prepare_for_xcorr(reproj[i]), prepare_for_xcorr(small[i]), shape)
            shifts[i] += (dx * factor, dy * factor)
        shifts -= shifts[z0]
    shifts[:, 0] -= offset * factor * np.sin(np.deg2rad(angles))
    return shifts
