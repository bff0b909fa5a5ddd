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
refine_shifts(binned, angles_deg, tilt_axis_deg, shifts_xy, thickness, ..., workers) -> shifts_xy
small_sections / fbp_rows / match_tilts    its tasks (any split of the work gives the same numbers)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from emflow.preview.align import affine_section, aligned_shape, bin_section, prepare_for_xcorr, xcorr_shift, zero_tilt_index
from emflow.preview.parallel import cached_fbp, shared

if TYPE_CHECKING:
    from emflow.preview.parallel import PreviewWorkers


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


def _band_rows(ny: int, band: float, max_rows: int = 64) -> tuple[int, int]:
    """``(y0, keep)``: the central ``band`` fraction of ``ny`` rows, at most ``max_rows``, at least 8."""
    keep = min(ny, max(8, min(max_rows, int(round(ny * band)))))
    return max(0, (ny - keep) // 2), keep


def small_sections(binned: np.ndarray | str, tilt_axis_deg: float, shifts_xy: np.ndarray, z0: int, factor: int,
                   band: float) -> np.ndarray:
    """Task: aligned tilts ``z0 .. z0 + len(shifts_xy) - 1`` binned by ``factor``, the central
    ``band`` of their rows (see `_band_rows`)."""
    stack = shared(binned)
    out_shape = aligned_shape(stack.shape[1:], tilt_axis_deg)
    small = [bin_section(affine_section(stack[z0 + k], tilt_axis_deg, 1.0, tuple(shift), out_shape), factor)
             for k, shift in enumerate(shifts_xy)]
    y0, keep = _band_rows(small[0].shape[0], band)
    return np.stack(small)[:, y0:y0 + keep]


def fbp_rows(sinograms: np.ndarray, angles_deg: np.ndarray, thickness: int) -> np.ndarray:
    """Task: CPU FBP slices ``(n, thickness, nx)`` of the ``(n_angles, n, nx)`` sinogram rows."""
    fbp = cached_fbp(angles_deg, sinograms.shape[2], thickness)
    return np.stack([fbp(sinograms[:, y, :]) for y in range(sinograms.shape[1])])


def match_tilts(reprojections: np.ndarray, tilts: np.ndarray) -> list[tuple[float, float]]:
    """Task: shift of each tilt against its reprojection (both ``(n, ny, nx)``), small-pixel units."""
    shape = tilts.shape[1:]
    return [xcorr_shift(prepare_for_xcorr(r), prepare_for_xcorr(t), shape) for r, t in zip(reprojections, tilts)]


def _mass_offset(rec: np.ndarray) -> float:
    """Offset (pixels) of the ``|v - mean|``-weighted centre of the slab from its middle row."""
    weights = np.abs(rec - rec.mean()).sum(axis=(0, 2))
    rows = np.arange(rec.shape[1]) - (rec.shape[1] - 1) / 2.0
    total = float(weights.sum())
    return float((weights * rows).sum() / total) if total > 0 else 0.0


def refine_shifts(binned: np.ndarray | str, angles_deg: np.ndarray, tilt_axis_deg: float, shifts_xy: np.ndarray,
                  thickness: int, *, iterations: int = 2, max_size: int = 256, band: float = 0.5,
                  workers: PreviewWorkers | None = None) -> np.ndarray:
    """Shifts ``(nz, 2)`` (binned pixels, rotated frame) after ``iterations`` rounds of
    projection matching on a copy binned to at most ``max_size`` pixels, using the central
    ``band`` of rows; the specimen is then centred in a slab ``thickness`` (binned px) thick.

    With ``workers`` (``binned`` then names their shared stack) each stage (binning, FBP,
    reprojection, matching) runs its independent parts in parallel, with the same numbers.
    """
    run = workers.map if workers else (lambda func, tasks: (func(*args) for args in tasks))
    angles = np.asarray(angles_deg, dtype=float)
    shifts = np.array(shifts_xy, dtype=np.float64)
    nz = len(angles)
    factor = max(1, math.ceil(max(shared(binned).shape[1:]) / max_size))
    slab = max(8, int(round(thickness / factor)))
    z0 = zero_tilt_index(angles)
    tilt_ranges = workers.split(nz) if workers else [(0, nz)]
    offset = 0.0
    for _ in range(max(1, iterations)):
        small = np.concatenate(list(run(small_sections, [(binned, tilt_axis_deg, shifts[a:b], a, factor, band)
                                                         for a, b in tilt_ranges])))
        small = small - small.mean(axis=(1, 2), keepdims=True)
        row_ranges = workers.split(small.shape[1]) if workers else [(0, small.shape[1])]
        rec = np.concatenate(list(run(fbp_rows, [(small[:, a:b], angles, slab) for a, b in row_ranges])))
        offset = _mass_offset(rec)
        reproj = np.concatenate(list(run(forward_project, [(rec[a:b], angles) for a, b in row_ranges])), axis=1)
        matched = [d for part in run(match_tilts, [(reproj[a:b], small[a:b]) for a, b in tilt_ranges]) for d in part]
        shifts += np.asarray(matched, dtype=np.float64) * factor
        shifts -= shifts[z0]
    shifts[:, 0] -= offset * factor * np.sin(np.deg2rad(angles))
    return shifts
