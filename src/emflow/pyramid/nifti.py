"""MRC -> NIfTI-1 as tomojs-pytools' ``mrc2nifti`` writes it (streamed), and NIfTI histograms.

Public names
------------
nifti_affine(voxel_size_angstrom, origin_angstrom)   the 4x4 affine (mm, RAS) ITK writes
mrc2nifti(mrc, out)                 write ``out`` (.nii or .nii.gz) slab by slab; returns out
nifti_histogram(path)               (centres, counts) of a NIfTI image, as mrc_visual_min_max bins it

ITK reads the MRC in LPS and writes NIfTI in RAS, so x and y spacings (and origins) are negated;
spacing and origin go from Å to mm (x 1e-7); qform and sform codes are 1 (scanner), units mm.
Data: int8 -> uint8 (v + 128), int16 -> uint16 (v + 32768), others kept; voxel order unchanged.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from emflow.atomic import atomic_path
from emflow.errors import EmflowInputError
from emflow.pyramid.minmax import HistogramAccumulator, float_edges
from emflow.pyramid.reader import convert, converted_dtype, iter_slabs_checked, open_checked

MM_PER_ANGSTROM = 1e-7


def nifti_affine(voxel_size_angstrom: Sequence[float], origin_angstrom: Sequence[float]) -> np.ndarray:
    """The affine (mm) of mrc2nifti's output: diag(-sx, -sy, sz), origin (-ox, -oy, oz)."""
    spacing = [(v if v > 0 else 1.0) * MM_PER_ANGSTROM for v in voxel_size_angstrom]
    origin = [o * MM_PER_ANGSTROM for o in origin_angstrom]
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = [-origin[0], -origin[1], origin[2]]
    return affine


def _header(shape_xyz: Sequence[int], dtype: np.dtype, affine: np.ndarray) -> nib.Nifti1Header:
    header = nib.Nifti1Header()
    header.set_data_shape(tuple(int(n) for n in shape_xyz))
    header.set_data_dtype(dtype)
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm")
    header["vox_offset"] = 352
    return header


def mrc2nifti(mrc: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write ``out`` (.nii or .nii.gz) from an MRC volume, converting types as mrc2nifti does."""
    out = Path(out)
    if not out.name.endswith((".nii", ".nii.gz")):
        raise EmflowInputError(out, "output must end in .nii or .nii.gz")
    with open_checked(mrc, force=True, what="NIfTI output") as vol:
        info = vol.info
        dtype = converted_dtype(info.dtype)
        nz, ny, nx = info.shape
        header = _header((nx, ny, nz), dtype, nifti_affine(info.voxel_size_angstrom, info.origin_angstrom))
        with atomic_path(out) as tmp:
            opener = gzip.open if out.name.endswith(".gz") else open
            with opener(tmp, "wb") as fh:  # type: ignore[operator]
                header.write_to(fh)
                for _, slab in iter_slabs_checked(vol, 64):
                    fh.write(np.ascontiguousarray(convert(slab), dtype=dtype.newbyteorder("<")).tobytes())
    return out


def nifti_histogram(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of a NIfTI image in its own data type, slab by slab along z.

    Integer images: one bin per value of the dtype; float: 1024 bins between min and max.
    """
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises several types for a bad file
        raise EmflowInputError(path, f"cannot read NIfTI: {exc}") from exc
    proxy = img.dataobj
    shape = img.shape
    if len(shape) < 3 or shape[2] < 1:
        raise EmflowInputError(path, f"is not a 3D image (shape {shape})")
    first = np.asarray(proxy[..., 0:1])
    dtype = first.dtype
    value_range = None
    if dtype.kind == "f":
        lo, hi = np.inf, -np.inf
        for z0 in range(0, shape[2], 16):
            part = np.asarray(proxy[..., z0 : z0 + 16])
            if not np.isfinite(part).all():
                raise EmflowInputError(path, "contains NaN or Inf values")
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
        value_range = (lo, hi)
        float_edges(lo, hi)
    histogram = HistogramAccumulator(dtype, value_range)
    for z0 in range(0, shape[2], 16):
        histogram.update(np.asarray(proxy[..., z0 : z0 + 16]))
    return histogram.result()
