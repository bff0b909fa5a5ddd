"""Filtered back-projection with ASTRA, one slice (one row of the aligned stack) at a time.

Geometry: ASTRA 2D ``parallel`` with the tilt angles in radians. ASTRA projects a slice point
(column x, row z, both from the centre) to detector position ``x cos(t) - z sin(t)``, which is
exactly IMOD ``tilt``'s back-projection (``xproj = x cos(beta) + z sin'(beta)`` with
``sin' = -sin``), so the slice rows are tilt's output Y (thickness) in the same direction.

Public names
------------
cuda_available()                 True when ASTRA was built with CUDA and sees a GPU
SliceFbp(angles_deg, n_det, thickness, use_cuda=False, filter_type="ram-lak")
    callable: sinogram (n_angles, n_det) -> slice (thickness, n_det) float32; ``close()``
sample_rows(ny) ; intensity_scale(slices)   (offset, factor) mapping FBP values to int16 range
fbp_row(fbp, aligned, means, y)          one slice (float32); fbp_rows_int16(...) a slab of int16 slices
"""

from __future__ import annotations

import numpy as np

FILTER_TYPES = ("ram-lak", "shepp-logan", "cosine", "hamming", "hann")
INT16_TARGET_STD = 1000.0  # std of the written reconstruction, in int16 units


def cuda_available() -> bool:
    """True when ASTRA can run CUDA algorithms here (never raises)."""
    try:
        import astra

        return bool(astra.use_cuda())
    except Exception:  # noqa: BLE001 - any failure means "no GPU"
        return False


class SliceFbp:
    """ASTRA FBP of single slices with the objects created once and reused.

    Parameters
    ----------
    angles_deg : tilt angles in degrees, one per projection
    n_det : detector width (aligned-stack nx, binned pixels)
    thickness : slice height (binned pixels)
    use_cuda : run ``FBP_CUDA`` instead of the CPU ``FBP`` (linear projector)
    filter_type : an ASTRA FilterType (``ram-lak`` default)
    """

    def __init__(self, angles_deg: np.ndarray, n_det: int, thickness: int, *,
                 use_cuda: bool = False, filter_type: str = "ram-lak") -> None:
        import astra

        if filter_type not in FILTER_TYPES:
            raise ValueError(f"filter_type must be one of {', '.join(FILTER_TYPES)}")
        self._astra = astra
        self.shape = (int(thickness), int(n_det))
        self.n_angles = len(angles_deg)
        vol_geom = astra.create_vol_geom(int(thickness), int(n_det))
        proj_geom = astra.create_proj_geom("parallel", 1.0, int(n_det), np.deg2rad(np.asarray(angles_deg, float)))
        self._sino = astra.data2d.create("-sino", proj_geom, 0)
        self._rec = astra.data2d.create("-vol", vol_geom, 0)
        cfg = astra.astra_dict("FBP_CUDA" if use_cuda else "FBP")
        self._proj = None
        if not use_cuda:
            self._proj = astra.create_projector("linear", proj_geom, vol_geom)
            cfg["ProjectorId"] = self._proj
        cfg["ProjectionDataId"] = self._sino
        cfg["ReconstructionDataId"] = self._rec
        cfg["option"] = {"FilterType": filter_type}
        self._alg = astra.algorithm.create(cfg)

    def __call__(self, sinogram: np.ndarray) -> np.ndarray:
        self._astra.data2d.store(self._sino, np.ascontiguousarray(sinogram, dtype=np.float32))
        self._astra.algorithm.run(self._alg)
        return np.array(self._astra.data2d.get_shared(self._rec), dtype=np.float32)

    def close(self) -> None:
        if self._alg is None:
            return
        self._astra.algorithm.delete(self._alg)
        self._astra.data2d.delete([self._sino, self._rec])
        if self._proj is not None:
            self._astra.projector.delete(self._proj)
        self._alg = None

    def __enter__(self) -> SliceFbp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sample_rows(ny: int, n_sample: int = 16) -> list[int]:
    """Up to ``n_sample`` rows spread evenly over ``ny``: the rows `intensity_scale` uses."""
    return [int(y) for y in np.unique(np.linspace(0, ny - 1, min(n_sample, ny)).round().astype(int))]


def fbp_row(fbp: SliceFbp, aligned: np.ndarray, means: np.ndarray, y: int) -> np.ndarray:
    """The slice of aligned-stack row ``y`` with each tilt's mean (``means``, float32) removed."""
    return fbp(aligned[:, y, :] - means[:, None])


def fbp_rows_int16(fbp: SliceFbp, aligned: np.ndarray, means: np.ndarray, offset: float, factor: float,
                   y0: int, y1: int, skip: frozenset[int] = frozenset()) -> np.ndarray:
    """Int16 slices ``(y1 - y0, thickness, nx)`` of rows ``y0 .. y1-1`` (rows in ``skip`` left 0).

    Each slice depends on its row alone, so any split of the rows gives the same bytes.
    """
    slab = np.zeros((y1 - y0, *fbp.shape), dtype=np.int16)
    for k, y in enumerate(range(y0, y1)):
        if y not in skip:
            slab[k] = to_int16(fbp_row(fbp, aligned, means, y), offset, factor)
    return slab


def intensity_scale(slices: list[np.ndarray]) -> tuple[float, float]:
    """``(offset, factor)``: ``(v - offset) * factor`` has std ``INT16_TARGET_STD`` over ``slices``.

    ``slices`` are those of the `sample_rows`, so the reconstruction can be written as int16 in
    one streaming pass (as tilt's SCALE does).
    """
    values = np.stack(slices)
    mean, std = float(values.mean(dtype=np.float64)), float(values.std(dtype=np.float64))
    return mean, (INT16_TARGET_STD / std if std > 0 else 1.0)


def to_int16(values: np.ndarray, offset: float, factor: float) -> np.ndarray:
    """``round((v - offset) * factor)`` clipped to int16."""
    scaled = np.rint((values.astype(np.float64) - offset) * factor)
    return np.clip(scaled, -32768, 32767).astype(np.int16)
