"""The preview backend end to end: bin, align, write IMOD files, FBP, orient (SPEC §3.2).

Memory: the binned stack (aligned in place) plus one slab of the reconstruction; the raw stack
is read one section at a time and ``_rec.mrc`` is built from ``_full_rec.mrc`` by explicit reads.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emflow.errors import EmflowInputError
from emflow.mrc import MrcWriter, open_volume, read_info, require_3d
from emflow.preview.align import apply_alignment, neighbour_shifts, read_binned_stack
from emflow.preview.fbp import SliceFbp, cuda_available, intensity_scale, to_int16
from emflow.preview.imodfiles import write_tlt, write_xf
from emflow.preview.orient import rotx_origin, rotx_stream
from emflow.preview.refine import refine_shifts
from emflow.tilt_angles import find_tilt_angles

PREVIEW_LABEL = "emflow preview reconstruction (no fiducial alignment)"
LOG_NAME = "brt_run.log"
SLAB_BYTES = 256 << 20


class _Log:
    """Appends each line to ``WORKDIR/brt_run.log`` and passes it to ``extra`` when given."""

    def __init__(self, path: Path, extra: Callable[[str], None] | None) -> None:
        self.path = path
        self.extra = extra

    def __call__(self, text: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} preview: {text}\n")
        if self.extra is not None:
            self.extra(f"preview: {text}")


def _check_params(stack: Path, bin_factor: int, thickness_px: int, pixel_size_nm: float) -> None:
    if not 1 <= int(bin_factor) <= 16:
        raise EmflowInputError("bin", f"{bin_factor} is outside 1..16")
    if not 1 <= int(thickness_px) <= 10000:
        raise EmflowInputError("thickness", f"{thickness_px} is outside 1..10000")
    if not float(pixel_size_nm) > 0:
        raise EmflowInputError("pixel", f"{pixel_size_nm} nm is not a positive pixel size")


def load_angles(stack: Path) -> np.ndarray:
    """Tilt angles per SPEC §0; an error when there are none or their count is not nz."""
    info = read_info(stack)
    require_3d(info, 2, "a preview reconstruction")
    found = find_tilt_angles(info)
    if found is None:
        raise EmflowInputError(stack, "no tilt angles found (.rawtlt/.tlt beside it, extended header or .mdoc)")
    if len(found) != info.nz:
        raise EmflowInputError(found.path or stack, f"{len(found)} tilt angles for {info.nz} sections")
    return np.asarray(found.angles_deg, dtype=np.float64)


def _write_stack(path: Path, data: np.ndarray, voxel: float, origin: tuple[float, float, float]) -> Path:
    with MrcWriter(path, data.shape, np.float32, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                   step="preview aligned stack", space_group=0) as writer:
        writer.write_slab(data)
        writer.set_stats(float(data.min()), float(data.max()), float(data.mean(dtype=np.float64)))
    return path


def _write_full_rec(path: Path, fbp: SliceFbp, aligned: np.ndarray, voxel: float,
                    origin: tuple[float, float, float], slab_bytes: int) -> tuple[float, float, float]:
    """Reconstruct row slabs into ``path`` (int16); returns (amin, amax, amean)."""
    nz_ali, ny, nx = aligned.shape
    thickness = fbp.shape[0]
    offset, factor, sampled = intensity_scale(fbp, aligned)
    rows = max(1, slab_bytes // max(1, thickness * nx * 4))
    lo, hi, total = np.inf, -np.inf, 0.0
    with MrcWriter(path, (ny, thickness, nx), np.int16, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                   step="preview FBP full_rec") as writer:
        for y0 in range(0, ny, rows):
            y1 = min(ny, y0 + rows)
            slab = np.empty((y1 - y0, thickness, nx), dtype=np.int16)
            for k, y in enumerate(range(y0, y1)):
                values = sampled.pop(y) if y in sampled else fbp(aligned[:, y, :])
                slab[k] = to_int16(values, offset, factor)
            lo, hi = min(lo, int(slab.min())), max(hi, int(slab.max()))
            total += float(slab.sum(dtype=np.float64))
            writer.write_slab(slab)
        stats = (float(lo), float(hi), total / (ny * thickness * nx))
        writer.set_stats(*stats)
    return stats


def _write_rec(full_rec: Path, rec: Path, stats: tuple[float, float, float], voxel: float, slab_bytes: int) -> None:
    with open_volume(full_rec) as vol:
        full_shape = vol.shape
        origin = rotx_origin(full_shape, vol.info.origin_angstrom, voxel)
        nz, thickness, nx = full_shape
        with MrcWriter(rec, (thickness, nz, nx), np.int16, (voxel,) * 3, origin, labels=[PREVIEW_LABEL],
                       step="preview rec (clip rotx)") as writer:
            rotx_stream(vol.read_slab, full_shape, writer.write_slab, max_bytes=slab_bytes // 2)
            writer.set_stats(*stats)


def _make_fbp(angles: np.ndarray, n_det: int, thickness: int, cuda: bool, filter_type: str,
              say: Callable[[str], None]) -> SliceFbp:
    """The CUDA FBP when asked for and it can be set up, else the CPU one (said in the log)."""
    if cuda:
        try:
            return SliceFbp(angles, n_det, thickness, use_cuda=True, filter_type=filter_type)
        except Exception as exc:  # noqa: BLE001 - ASTRA raises plain Exception for a CUDA failure
            say(f"CUDA FBP unavailable ({' '.join(str(exc).split())[:120]}); using the CPU FBP")
    return SliceFbp(angles, n_det, thickness, use_cuda=False, filter_type=filter_type)


def run_preview_files(stack: str | os.PathLike[str], workdir: str | os.PathLike[str], basename: str, *,
                      bin_factor: int, thickness_px: int, pixel_size_nm: float, tilt_axis_deg: float = 0.0,
                      gpus: int = 0, log: Callable[[str], None] | None = None, use_cuda: bool | None = None,
                      filter_type: str = "ram-lak", slab_bytes: int = SLAB_BYTES) -> dict[str, Path]:
    """Run the preview backend; returns paths by kind: ``ali``, ``full_rec``, ``rec``, ``tlt``, ``xf``, ``log``.

    See `emflow.preview.run_preview` for the parameters.
    """
    stack, workdir = Path(stack), Path(workdir)
    _check_params(stack, bin_factor, thickness_px, pixel_size_nm)
    angles = load_angles(stack)
    workdir.mkdir(parents=True, exist_ok=True)
    say = _Log(workdir / LOG_NAME, log)
    cuda = (gpus > 0 or cuda_available()) if use_cuda is None else use_cuda
    if cuda and not cuda_available():
        say("no usable CUDA GPU for ASTRA; using the CPU FBP")
        cuda = False
    say(f"{PREVIEW_LABEL}: {stack.name}, bin {bin_factor}, thickness {thickness_px} px, "
        f"tilt axis {tilt_axis_deg} deg, {'CUDA' if cuda else 'CPU'} FBP ({filter_type})")
    paths = {k: workdir / f"{basename}{s}" for k, s in (("ali", "_ali.mrc"), ("full_rec", "_full_rec.mrc"),
                                                           ("rec", "_rec.mrc"), ("tlt", ".tlt"), ("xf", ".xf"))}
    voxel = float(pixel_size_nm) * 10.0 * int(bin_factor)
    with open_volume(stack) as vol:
        origin = vol.info.origin_angstrom
        binned = read_binned_stack(vol, int(bin_factor), say)
    thickness = max(1, int(round(int(thickness_px) / int(bin_factor))))
    shifts = neighbour_shifts(binned, angles, tilt_axis_deg)
    shifts = refine_shifts(binned, angles, tilt_axis_deg, shifts, thickness)
    write_xf(paths["xf"], tilt_axis_deg, shifts * int(bin_factor))
    write_tlt(paths["tlt"], angles)
    big = np.abs(shifts).max() * int(bin_factor)
    say(f"aligned {len(angles)} tilts by cross-correlation + projection matching (largest shift {big:.1f} raw px); wrote {paths['xf'].name}")
    aligned = apply_alignment(binned, tilt_axis_deg, shifts)
    del binned
    _write_stack(paths["ali"], aligned, voxel, origin)
    aligned -= aligned.mean(axis=(1, 2), dtype=np.float64)[:, None, None].astype(np.float32)
    full_origin = (origin[0], voxel * (thickness // 2), origin[1])
    with _make_fbp(angles, aligned.shape[2], thickness, cuda, filter_type, say) as fbp:
        stats = _write_full_rec(paths["full_rec"], fbp, aligned, voxel, full_origin, slab_bytes)
    say(f"wrote {paths['full_rec'].name} ({aligned.shape[2]} x {thickness} x {aligned.shape[1]})")
    _write_rec(paths["full_rec"], paths["rec"], stats, voxel, slab_bytes)
    say(f"wrote {paths['rec'].name} (rotated about x as trimvol -rx); {PREVIEW_LABEL}")
    paths["log"] = workdir / LOG_NAME
    return paths
