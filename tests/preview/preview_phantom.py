"""A small synthetic tilt series: Gaussian-blob phantom projected with ASTRA, shifted, noisy."""

from __future__ import annotations

import astra
import numpy as np
from scipy import ndimage


def blob_phantom(shape: tuple[int, int, int], rng: np.random.Generator, n_pairs: int = 6) -> np.ndarray:
    """``(ny, thickness, nx)`` volume (full_rec orientation) of Gaussian blobs inside a margin.

    Blobs come in pairs mirrored about the middle of the thickness, so the mass is centred on
    the tilt axis: cross-correlation cannot tell a specimen above the axis from a drift that
    grows with sin(tilt), so a centred specimen makes the true shifts the measurable ones.
    """
    ny, nt, nx = shape
    zz, tt, xx = np.meshgrid(np.arange(ny), np.arange(nt), np.arange(nx), indexing="ij")
    vol = np.zeros(shape, dtype=np.float64)
    for _ in range(n_pairs):
        ct = rng.uniform(0.35, 0.65) * (nt - 1)
        sigma, amp = rng.uniform(1.5, 3.0), rng.uniform(0.5, 1.0)
        for t in (ct, nt - 1 - ct):
            cy, cx = rng.uniform(0.3, 0.7) * ny, rng.uniform(0.3, 0.7) * nx
            vol += amp * np.exp(-((zz - cy) ** 2 + (tt - t) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return vol.astype(np.float32)


def project(phantom: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Tilt series ``(n_angles, ny, nx)``: each phantom section projected as one sinogram row."""
    ny, nt, nx = phantom.shape
    vol_geom = astra.create_vol_geom(nt, nx)
    proj_geom = astra.create_proj_geom("parallel", 1.0, nx, np.deg2rad(angles_deg))
    proj = astra.create_projector("linear", proj_geom, vol_geom)
    out = np.empty((len(angles_deg), ny, nx), dtype=np.float32)
    try:
        for y in range(ny):
            sid, sino = astra.create_sino(phantom[y], proj)
            astra.data2d.delete(sid)
            out[:, y, :] = sino
    finally:
        astra.projector.delete(proj)
    return out


def shifted_noisy(projections: np.ndarray, shifts_xy: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Move the content of projection i by ``shifts_xy[i]`` (cubic) and add Gaussian noise."""
    out = np.empty_like(projections)
    for i, (dx, dy) in enumerate(shifts_xy):
        out[i] = ndimage.shift(projections[i], (dy, dx), order=3, mode="constant", cval=0.0)
    out += rng.normal(0.0, noise * projections.std(), out.shape).astype(np.float32)
    return out
