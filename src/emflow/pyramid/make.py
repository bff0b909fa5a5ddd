"""MRC volume -> Neuroglancer precomputed pyramid + visual min/max, in one streamed pass.

Public names
------------
make_pyramid(volume, outdir, ...) -> PyramidResult
compute_minmax(path, mad=5.0) -> dict      the SPEC §6 JSON of an MRC (or .nii/.nii.gz)
value_range(volume) -> (min, max)          float data: first pass, also rejecting NaN/Inf
PyramidResult                              outdir, minmax (SPEC dict), stats (floats), info, zarr_out
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from emflow.atomic import atomic_dir, write_bytes_atomic
from emflow.errors import EmflowInputError
from emflow.mrc import MrcVolume, open_volume
from emflow.pyramid.minmax import HistogramAccumulator, minmax_bytes, minmax_json, visual_stats
from emflow.pyramid.minmax import minmax_json as spec_minmax  # make_pyramid's minmax_json argument shadows it
from emflow.pyramid.level0 import BandJob, bands, iter_bands, scan_range
from emflow.pyramid.precomputed import PrecomputedWriter
from emflow.pyramid.reader import convert, converted_dtype, iter_slabs_checked, open_checked
from emflow.pyramid.scales import pyramid_info, resolution_nm, scales_of

NG_FORMATS = ("precomputed", "zarr", "both")


@dataclasses.dataclass(frozen=True)
class PyramidResult:
    """What `make_pyramid` wrote: ``minmax`` is the SPEC §6 dict of strings."""

    outdir: Path | None
    minmax: dict[str, str]
    stats: dict[str, float]
    info: dict[str, Any]
    minmax_json: Path | None = None
    zarr_out: Path | None = None


def value_range(volume: MrcVolume, slab_size: int = 64) -> tuple[float, float] | None:
    """(min, max) of float data in the converted domain (None for integers); NaN/Inf raise."""
    if volume.info.dtype.kind != "f":
        return None
    lo, hi = np.inf, -np.inf
    for _, slab in iter_slabs_checked(volume, slab_size):
        lo, hi = min(lo, float(slab.min())), max(hi, float(slab.max()))
    return lo, hi


def _check_outdir(outdir: Path, overwrite: bool) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise EmflowInputError(outdir, "exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()) and not overwrite:
        raise EmflowInputError(outdir, "exists and is not empty (use --overwrite to replace it)")


def _zarr_writer(zarr_out: Path, volume: MrcVolume, chunk: int, workers: int, overwrite: bool) -> Any:
    try:
        from emflow.omezarr.volume import ZarrPyramidWriter
    except ImportError as exc:  # pragma: no cover - the OME-Zarr writer ships with emflow
        raise EmflowInputError("--ng-format", f"OME-Zarr output is not available: {exc}") from exc
    info = volume.info
    vx, vy, vz = info.voxel_size_angstrom
    dtype = np.dtype(np.float32) if info.dtype == np.float16 else info.dtype
    return ZarrPyramidWriter(zarr_out, info.shape, dtype, (vz / 10, vy / 10, vx / 10), chunk,
                             workers=workers, overwrite=overwrite)


def make_pyramid(
    volume: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    minmax_json: str | os.PathLike[str] | None = None,
    mad: float = 5.0,
    chunk: int = 64,
    gzip: bool = False,
    workers: int = 1,
    overwrite: bool = False,
    force: bool = False,
    ng_format: str = "precomputed",
    zarr_out: str | os.PathLike[str] | None = None,
) -> PyramidResult:
    """Write the precomputed pyramid of an MRC volume and its visual min/max, in one pass.

    Parameters
    ----------
    volume : 3D MRC (int8, uint8, int16, uint16, float32, float16); a tilt series (nz = number
        of angles in a .rawtlt/.tlt beside it) is refused unless ``force``
    outdir : the precomputed folder (``info`` + one folder per scale); written under a temp
        name beside it and renamed at the end; an existing non-empty folder needs ``overwrite``
    minmax_json : also write the SPEC §6 min/max JSON here
    mad : MAD multiple for Min/Max
    chunk : target chunk edge (power of two)
    gzip : gzip the chunks (``NAME.gz``)
    workers : processes for the full resolution (band jobs) and threads for the other levels
    ng_format : "precomputed", "zarr" (OME-Zarr at ``zarr_out`` only) or "both"
    """
    if ng_format not in NG_FORMATS:
        raise EmflowInputError("--ng-format", f"{ng_format!r} is not one of {', '.join(NG_FORMATS)}")
    if not mad > 0:
        raise EmflowInputError("--mad", f"must be > 0 (got {mad})")
    if chunk < 2 or chunk & (chunk - 1):
        raise EmflowInputError("--chunk", f"must be a power of two >= 2 (got {chunk})")
    if ng_format != "precomputed" and zarr_out is None:
        raise EmflowInputError("--zarr-out", "is needed with --ng-format zarr or both")
    outdir = Path(outdir)
    zarr_path = Path(zarr_out) if zarr_out is not None else None
    with open_checked(volume, force) as vol:
        if ng_format != "zarr":
            _check_outdir(outdir, overwrite)
        info_mrc = vol.info
        dtype = converted_dtype(info_mrc.dtype)
        nz, ny, nx = info_mrc.shape
        info = pyramid_info((nx, ny, nz), resolution_nm(info_mrc.voxel_size_angstrom), dtype.name, chunk)
        job = _band_job(vol, info, outdir, gzip, dtype)
        histogram = HistogramAccumulator(dtype, scan_range(job, workers) if dtype.kind == "f" else None)
        with_zarr = zarr_path is not None and ng_format != "precomputed"
        zarr = _zarr_writer(zarr_path, vol, chunk, workers, overwrite) if with_zarr else None  # type: ignore[arg-type]
        try:
            written = _write(vol, outdir if ng_format != "zarr" else None, info, job, histogram, zarr,
                             overwrite=overwrite, gzip=gzip, workers=workers)
        except BaseException:
            if zarr is not None:
                zarr.abort()
            raise
    stats = visual_stats(*histogram.result(), mad)
    minmax = spec_minmax(stats)
    json_path = write_bytes_atomic(minmax_json, minmax_bytes(minmax)) if minmax_json is not None else None
    return PyramidResult(written, minmax, stats, info, json_path, zarr_path if with_zarr else None)


def _write(vol: MrcVolume, outdir: Path | None, info: dict[str, Any], job: BandJob, histogram: HistogramAccumulator,
           zarr: Any, *, overwrite: bool, gzip: bool, workers: int) -> Path | None:
    """The one pass: level 0 of each format in band jobs (worker processes), the levels above in
    this process; slabs through this process only when the precomputed bands do not fit the zarr
    chunks (anisotropic precomputed chunks)."""
    if outdir is None:  # OME-Zarr only: bands of its own chunks
        cz, cy, cx = zarr.levels[0].chunks
        zarr_job = dataclasses.replace(job, folder=None, value_range=histogram.value_range,
                                       scale=dataclasses.replace(job.scale, chunk=(cx, cy, cz)))
        _stream_bands(zarr_job, None, histogram, workers, zarr)
        return None
    in_bands = zarr is None or _bands_fit_zarr(job, zarr.levels[0].chunks)
    with atomic_dir(outdir, overwrite=overwrite) as tmp:
        writer = PrecomputedWriter(tmp, info, workers=workers, gzip=gzip)
        if in_bands:
            band_job = dataclasses.replace(job, folder=str(tmp), value_range=histogram.value_range)
            _stream_bands(band_job, writer, histogram, workers, zarr)
        else:
            _stream(vol, writer, histogram, zarr, writer.slab_sections)
    return outdir


def _bands_fit_zarr(job: BandJob, zarr_chunks_zyx: tuple[int, int, int]) -> bool:
    """Whether band jobs can write OME-Zarr level 0: along z and y, every band boundary is a
    zarr chunk boundary and even (so the band's level-1 mean splits cleanly). True for the
    usual isotropic chunks; anisotropic precomputed chunks fall back to slabs."""
    nz, ny, _ = job.shape_zyx
    steps = ((nz, job.scale.chunk[2], zarr_chunks_zyx[0]), (ny, job.scale.chunk[1], zarr_chunks_zyx[1]))
    return all(step >= n or (step % chunk == 0 and step % 2 == 0) for n, step, chunk in steps)


def _stream(vol: MrcVolume, writer: PrecomputedWriter, histogram: HistogramAccumulator, zarr: Any, slab: int) -> None:
    """Slabs through this process: histogram, precomputed chunks (level 0 up), OME-Zarr."""
    for z0, native in iter_slabs_checked(vol, slab):
        # native values first: the zarr writer keeps no reference once it returns
        zarr.add_slab(z0, native.astype(np.float32) if native.dtype == np.float16 else native)
        values = convert(native, inplace=True)  # the slab is a fresh read: reuse its memory
        histogram.update(values)
        writer.add_slab(values)
        del native, values  # let the slab go before the next one is read
    writer.close()
    zarr.close()


def _band_job(vol: MrcVolume, info: dict[str, Any], folder: Path, gzip: bool, dtype: np.dtype) -> BandJob:
    """The level-0 band job of a volume (the folder and value range are set when known)."""
    mrc = vol.info
    scales = scales_of(info)
    return BandJob(
        path=str(mrc.path),
        data_offset=mrc.data_offset,
        shape_zyx=mrc.shape,
        stored_dtype=mrc.dtype.newbyteorder(mrc.byte_order).str,
        scale=scales[0],
        next_factors_zyx=tuple(reversed(scales[1].factors)) if len(scales) > 1 else None,  # type: ignore[arg-type]
        folder=str(folder),
        gzip=gzip,
        hist_dtype=dtype.str,
        value_range=None,
    )


def _stream_bands(job: BandJob, writer: PrecomputedWriter | None, histogram: HistogramAccumulator, workers: int,
                  zarr: Any) -> None:
    """Level 0 in band jobs on ``workers`` processes (precomputed and/or OME-Zarr), levels 1+ in
    this one, fed with each band's level-1 sections in (z-row, y-band) order."""
    if writer is not None:
        writer.first_level = 1
    if zarr is not None:
        job = dataclasses.replace(job, zarr=zarr.band_writer())
    ny = job.shape_zyx[1]
    for (_, _, _, y1), result in zip(bands(job), iter_bands(job, workers), strict=True):
        histogram.merge(result.histogram)
        if writer is not None and result.down is not None:
            if writer.gzip:
                writer.add_band(result.down, level=1)
            else:
                writer.stream_band(result.down, level=1)
        if zarr is not None and result.zarr_down is not None:
            zarr.add_band(result.zarr_down, row_done=y1 == ny)
    if writer is not None:
        writer.close()
    if zarr is not None:
        zarr.close()


def compute_minmax(path: str | os.PathLike[str], mad: float = 5.0) -> tuple[dict[str, str], dict[str, float]]:
    """The SPEC §6 min/max of an MRC volume (converted domain) or a NIfTI image (its own dtype).

    Returns the JSON dict (strings) and the float stats (`visual_stats`).
    """
    if not mad > 0:
        raise EmflowInputError("--mad", f"must be > 0 (got {mad})")
    path = Path(path)
    if path.name.endswith((".nii", ".nii.gz")):
        from emflow.pyramid.nifti import nifti_histogram

        centres, counts = nifti_histogram(path)
    else:
        with open_volume(path) as vol:  # any MRC, 2D included, as mrc_visual_min_max reads it
            histogram = HistogramAccumulator(converted_dtype(vol.info.dtype), value_range(vol))
            for _, slab in iter_slabs_checked(vol, 64):
                histogram.update(convert(slab))
        centres, counts = histogram.result()
    stats = visual_stats(centres, counts, mad)
    return minmax_json(stats), stats
