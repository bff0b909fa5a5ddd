"""Preview reconstruction backend (no IMOD): coarse cross-correlation alignment + ASTRA FBP.

Writes the files batchruntomo writes, with IMOD's names and orientations (SPEC §3.2), every MRC
labelled "emflow preview reconstruction (no fiducial alignment)".

Public API
----------
run_preview(stack, workdir, basename, *, bin_factor, thickness_px, pixel_size_nm,
            tilt_axis_deg=0.0, gpus=0, log=None, use_cuda=None, filter_type="ram-lak", cpus=1) -> BrtOutputs
PREVIEW_LABEL
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from emflow.preview.run import PREVIEW_LABEL, run_preview_files

if TYPE_CHECKING:
    from emflow.brt.outputs import BrtOutputs

__all__ = ["PREVIEW_LABEL", "run_preview"]


def run_preview(stack: str | os.PathLike[str], workdir: str | os.PathLike[str], basename: str, *,
                bin_factor: int, thickness_px: int, pixel_size_nm: float, tilt_axis_deg: float = 0.0,
                gpus: int = 0, log: Callable[[str], None] | None = None, use_cuda: bool | None = None,
                filter_type: str = "ram-lak", cpus: int = 1) -> BrtOutputs:
    """Align ``stack`` coarsely, reconstruct it with ASTRA FBP and write BRT's outputs.

    Parameters
    ----------
    stack : raw tilt series (MRC); angles from ``find_tilt_angles`` (SPEC §0), one per section.
    workdir : folder for ``BASENAME_ali.mrc``, ``_full_rec.mrc``, ``_rec.mrc``, ``.tlt``, ``.xf``.
    basename : BASENAME of the outputs.
    bin_factor : binning of the aligned stack and reconstruction (1..16).
    thickness_px : reconstruction thickness in unbinned pixels (binned: round(thickness / bin)).
    pixel_size_nm : raw pixel size; output voxel size is ``pixel_size_nm * 10 * bin_factor`` Å.
    tilt_axis_deg : tilt-axis angle as IMOD/SerialEM give it (from the image Y axis,
        counterclockwise positive, Y up as 3dmod shows it); images are rotated by minus this
        so the axis lies along y.
    gpus : > 0 asks for ASTRA's CUDA FBP (used when ASTRA sees a GPU; else CPU, logged).
    log : optional callable given every progress line; the lines are always appended to
        ``WORKDIR/brt_run.log`` (timestamped, prefixed "preview:").
    use_cuda : force the CUDA (True) or CPU (False) FBP; None = ``gpus > 0`` or a GPU detected.
    filter_type : ASTRA FBP filter (``ram-lak``, ``shepp-logan``, ``cosine``, ``hamming``, ``hann``).
    cpus : worker processes for the reading, alignment and CPU FBP (the outputs are
        byte-identical for any value); the CUDA FBP runs in this process only.

    Returns
    -------
    BrtOutputs for ``(basename, workdir)``.

    Raises
    ------
    EmflowInputError
        bad parameters (``cpus`` < 1 included), unreadable stack, no tilt angles or a count that
        differs from nz.
    """
    from emflow.brt.outputs import BrtOutputs

    run_preview_files(stack, workdir, basename, bin_factor=bin_factor, thickness_px=thickness_px,
                      pixel_size_nm=pixel_size_nm, tilt_axis_deg=tilt_axis_deg, gpus=gpus, log=log,
                      use_cuda=use_cuda, filter_type=filter_type, cpus=cpus)
    return BrtOutputs(basename, Path(workdir))
