"""Neuroglancer precomputed pyramid, visual min/max, mrc2nifti and OME-Zarr for volumes (SPEC §6).

Public API
----------
make_pyramid(volume, outdir, *, minmax_json=None, mad=5.0, chunk=64, gzip=False, workers=1,
             overwrite=False, force=False, ng_format="precomputed", zarr_out=None) -> PyramidResult
compute_minmax(path, mad=5.0) -> (SPEC dict, float stats)
HistogramAccumulator, visual_stats, minmax_json     (emflow.pyramid.minmax)
write_zarr(volume, out_path, *, chunk=64, workers=1, mad=5.0, ...) -> shader parameters dict
"""

from emflow.pyramid.make import PyramidResult, compute_minmax, make_pyramid
from emflow.pyramid.minmax import HistogramAccumulator, minmax_json, visual_stats
from emflow.pyramid.zarr import write_zarr

__all__ = ["HistogramAccumulator", "PyramidResult", "compute_minmax", "make_pyramid", "minmax_json", "visual_stats",
           "write_zarr"]
