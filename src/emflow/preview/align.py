"""Coarse tilt-series alignment by cross-correlation of neighbouring tilts (SPEC §3.2).

The preview backend's stand-in for IMOD's tiltxcorr: no fiducials, no tilt-axis refinement.
All arrays are ``(y, x)`` sections or ``(z, y, x)`` stacks; shifts are ``(dx, dy)`` pixels.

Public functions
----------------
bin_section(section, bin_factor)            block mean, trailing rows/columns trimmed evenly
read_binned_stack(volume, bin_factor, ...)  binned float32 stack, read section by section
affine_section(img, tilt_axis_deg, ...)     rotate by -tilt_axis_deg, stretch in x, shift
prepare_for_xcorr(img)                      normalise, taper edges, band-pass (FFT)
xcorr_shift(ref_fft, mov_fft)               sub-pixel shift of ``mov`` relative to ``ref``
neighbour_pairs(angles_deg)                 (i, j, stretch) of each tilt and its neighbour nearer 0
neighbour_shifts(binned, angles_deg, ...)   cumulative shifts from the zero tilt outwards
apply_alignment(binned, tilt_axis_deg, shifts, ...)   aligned stack (in place if possible), stats

Every stage can run its independent parts in `emflow.preview.parallel.PreviewWorkers`; the
task functions (``read_binned_sections``, ``pair_translations``, ``align_sections``) compute
the same numbers however the work is split.

Model: the content of raw tilt ``i`` is displaced by ``d_i`` (after rotating the tilt axis onto
y). Stretching tilt ``i`` by ``s = cos(theta_j) / cos(theta_i)`` in x about the centre and
correlating it with its neighbour ``j`` (one step nearer to 0 degrees) measures
``t = (s * d_i,x - d_j,x, d_i,y - d_j,y)``, so ``d_i = ((t_x + d_j,x) / s, t_y + d_j,y)``.
The zero tilt is the reference (``d = 0``), as in tiltxcorr: a shift of the whole series is not
measurable by cross-correlation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from emflow.mrc import MrcVolume, open_volume, require_finite
from emflow.preview.parallel import shared

if TYPE_CHECKING:
    from emflow.preview.parallel import PreviewWorkers

# tiltxcorr's default band-pass, in cycles/pixel: FilterSigma1, FilterRadius2, FilterSigma2.
SIGMA1 = 0.03
RADIUS2 = 0.25
SIGMA2 = 0.05
TAPER_FRACTION = 0.1


def bin_section(section: np.ndarray, bin_factor: int) -> np.ndarray:
    """Mean of ``bin_factor`` x ``bin_factor`` blocks (float32); left-over pixels trimmed evenly.

    Output size is ``ny // bin_factor`` x ``nx // bin_factor``, as IMOD's ``newstack -bin``.
    """
    img = np.asarray(section, dtype=np.float32)
    if bin_factor == 1:
        return img.copy()
    ny, nx = img.shape
    oy, ox = ny // bin_factor, nx // bin_factor
    y0, x0 = (ny - oy * bin_factor) // 2, (nx - ox * bin_factor) // 2
    core = img[y0:y0 + oy * bin_factor, x0:x0 + ox * bin_factor]
    return core.reshape(oy, bin_factor, ox, bin_factor).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def read_binned_stack(volume: MrcVolume, bin_factor: int, progress: Callable[[str], None] | None = None,
                      workers: PreviewWorkers | None = None, out: np.ndarray | str | None = None) -> np.ndarray:
    """Read ``volume`` one section at a time and return the ``(nz, ny//b, nx//b)`` binned stack.

    With ``workers``, ``out`` names their shared array (each worker reads its own sections);
    else the stack is ``out`` when given, or a new array.
    """
    nz, ny, nx = volume.shape
    if out is None:
        out = np.empty((nz, ny // bin_factor, nx // bin_factor), dtype=np.float32)
    tasks = [(str(volume.info.path), bin_factor, out, z0, z1) for z0, z1 in (workers.split(nz) if workers else [(0, nz)])]
    for _ in (workers.map if workers else _local_map)(read_binned_sections, tasks):
        pass
    if progress:
        progress(f"read and binned {nz} sections of {nx} x {ny} by {bin_factor}")
    return shared(out)


def read_binned_sections(path: str, bin_factor: int, out: np.ndarray | str, z0: int, z1: int) -> None:
    """Task: sections ``z0 .. z1-1`` of the MRC ``path``, binned into ``out`` (array or shared name)."""
    stack = shared(out)
    with open_volume(path) as volume:
        for z in range(z0, z1):
            section = volume.read_section(z)
            require_finite(volume.info.path, section, z)
            stack[z] = bin_section(section, bin_factor)


def _local_map(func: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
    return (func(*args) for args in tasks)


def _affine(in_shape: tuple[int, int], out_shape: tuple[int, int], tilt_axis_deg: float,
            stretch_x: float, shift_xy: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Matrix and offset for ``ndimage.affine_transform``: output (y, x) -> input (y, x).

    Output coordinate q (relative to the output centre) comes from input point
    ``R(tilt_axis_deg) @ (S^-1 q + d)`` (relative to the input centre), x right, y = row index.
    """
    a = math.radians(tilt_axis_deg)
    ca, sa = math.cos(a), math.sin(a)
    # R(A) in (x, y): [[ca, -sa], [sa, ca]]; in (y, x) index order: [[ca, sa], [-sa, ca]].
    rot_yx = np.array([[ca, sa], [-sa, ca]])
    inv_stretch_yx = np.diag([1.0, 1.0 / stretch_x])
    matrix = rot_yx @ inv_stretch_yx
    c_in = (np.asarray(in_shape, dtype=float) - 1.0) / 2.0
    c_out = (np.asarray(out_shape, dtype=float) - 1.0) / 2.0
    d_yx = np.array([shift_xy[1], shift_xy[0]], dtype=float)
    offset = c_in + rot_yx @ d_yx - matrix @ c_out
    return matrix, offset


def affine_section(img: np.ndarray, tilt_axis_deg: float = 0.0, stretch_x: float = 1.0,
                   shift_xy: tuple[float, float] = (0.0, 0.0), out_shape: tuple[int, int] | None = None,
                   fill: float | None = None) -> np.ndarray:
    """Rotate ``img`` by ``-tilt_axis_deg`` (so an axis at that angle from y becomes y), stretch
    by ``stretch_x`` along x and move its content by ``-shift_xy`` pixels; linear interpolation,
    outside filled with the image mean (as IMOD's newstack)."""
    out_shape = img.shape if out_shape is None else out_shape
    if tilt_axis_deg == 0.0 and stretch_x == 1.0 and shift_xy == (0.0, 0.0) and out_shape == img.shape:
        return np.array(img, dtype=np.float32)
    matrix, offset = _affine(img.shape, out_shape, tilt_axis_deg, stretch_x, shift_xy)
    if matrix[0, 1] == 0.0 and matrix[1, 0] == 0.0:
        matrix = np.diag(matrix)  # diagonal: scipy's faster zoom/shift path
    cval = float(img.mean()) if fill is None else fill
    return ndimage.affine_transform(img, matrix, offset=offset, output_shape=out_shape,
                                    output=np.float32, order=1, mode="constant", cval=cval)


def _bandpass(shape: tuple[int, int]) -> np.ndarray:
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    r = np.sqrt(fy * fy + fx * fx)
    high = 1.0 - np.exp(-(r * r) / (2 * SIGMA1 * SIGMA1))
    low = np.where(r <= RADIUS2, 1.0, np.exp(-((r - RADIUS2) ** 2) / (2 * SIGMA2 * SIGMA2)))
    return (high * low).astype(np.float32)


def _taper(shape: tuple[int, int]) -> np.ndarray:
    def ramp(n: int) -> np.ndarray:
        w = max(1, int(round(n * TAPER_FRACTION)))
        edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(w) + 0.5) / w)
        r = np.ones(n, dtype=np.float32)
        r[:w] = edge
        r[n - w:] = np.minimum(r[n - w:], edge[::-1])
        return r

    return ramp(shape[0])[:, None] * ramp(shape[1])[None, :]


def prepare_for_xcorr(img: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance, cosine-tapered edges; returns the band-passed ``rfft2``."""
    x = np.asarray(img, dtype=np.float32)
    x = x - x.mean()
    std = float(x.std())
    if std > 0:
        x = x / std
    x = x * _taper(x.shape)
    return np.fft.rfft2(x) * _bandpass(x.shape)


def _parabola(m1: float, c: float, p1: float) -> float:
    den = m1 - 2 * c + p1
    return 0.0 if den >= 0 else float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5))


def xcorr_shift(ref_fft: np.ndarray, mov_fft: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """Shift ``(dx, dy)`` such that ``mov(x) ~ ref(x - d)``: peak of the cross-correlation,
    refined by a parabola through the peak and its neighbours in each axis."""
    cc = np.fft.irfft2(np.conj(ref_fft) * mov_fft, s=shape)
    iy, ix = np.unravel_index(int(np.argmax(cc)), cc.shape)
    ny, nx = shape
    fy = _parabola(cc[(iy - 1) % ny, ix], cc[iy, ix], cc[(iy + 1) % ny, ix])
    fx = _parabola(cc[iy, (ix - 1) % nx], cc[iy, ix], cc[iy, (ix + 1) % nx])
    dy = (iy + ny // 2) % ny - ny // 2 + fy
    dx = (ix + nx // 2) % nx - nx // 2 + fx
    return float(dx), float(dy)


def zero_tilt_index(angles_deg: np.ndarray) -> int:
    """Index of the tilt nearest 0 degrees (the first one on a tie)."""
    return int(np.argmin(np.abs(np.asarray(angles_deg))))


def neighbour_pairs(angles_deg: np.ndarray) -> list[tuple[int, int, float]]:
    """``(i, j, s)`` for every tilt ``i`` but the zero tilt: ``j`` its neighbour one step nearer to
    0 degrees in sorted-angle order, ``s = cos(theta_j) / cos(theta_i)``; in walk order (from the
    zero tilt down, then up), so ``j`` always comes before ``i``."""
    angles = np.asarray(angles_deg, dtype=float)
    order = np.argsort(angles, kind="stable")
    start = int(np.flatnonzero(order == zero_tilt_index(angles))[0])
    pairs = []
    for step in (-1, 1):
        for pos in range(start + step, len(order) if step > 0 else -1, step):
            i, j = int(order[pos]), int(order[pos - step])
            s = math.cos(math.radians(angles[j])) / max(1e-3, math.cos(math.radians(angles[i])))
            pairs.append((i, j, s))
    return pairs


def pair_translations(binned: np.ndarray | str, tilt_axis_deg: float,
                      pairs: list[tuple[int, int, float]]) -> list[tuple[float, float]]:
    """Task: ``t = xcorr(tilt j, tilt i stretched by s)`` for each pair of `neighbour_pairs`.

    A tilt's prepared transform is reused by the next pair when it is that pair's reference, so a
    run of pairs costs about one transform per tilt; any split into runs gives the same numbers.
    """
    stack = shared(binned)
    shape = stack.shape[1:]
    out = []
    ref, ref_index = None, -1
    for i, j, s in pairs:
        if ref is None or ref_index != j:
            ref = prepare_for_xcorr(affine_section(stack[j], tilt_axis_deg))
        mov = prepare_for_xcorr(affine_section(stack[i], tilt_axis_deg, stretch_x=s))
        out.append(xcorr_shift(ref, mov, shape))
        ref, ref_index = (mov if s == 1.0 else None), i
    return out


def neighbour_shifts(binned: np.ndarray | str, angles_deg: np.ndarray, tilt_axis_deg: float = 0.0,
                     workers: PreviewWorkers | None = None) -> np.ndarray:
    """Shifts ``(nz, 2)`` as ``(dx, dy)`` in binned pixels, in the frame rotated so the tilt
    axis is along y, relative to the tilt nearest 0 degrees, accumulated outwards.

    Neighbours are neighbours in angle (a stack in acquisition order, such as a dose-symmetric
    one, is walked in sorted-angle order). With ``workers`` (``binned`` then names their shared
    stack) the pairs are correlated in parallel; the accumulation is the same.
    """
    pairs = neighbour_pairs(angles_deg)
    ranges = workers.split(len(pairs), 2) if workers else [(0, len(pairs))]
    tasks = [(binned, tilt_axis_deg, pairs[a:b]) for a, b in ranges]
    translations = [t for part in (workers.map if workers else _local_map)(pair_translations, tasks) for t in part]
    shifts = np.zeros((len(angles_deg), 2), dtype=np.float64)
    for (i, j, s), (tx, ty) in zip(pairs, translations):
        shifts[i] = ((tx + shifts[j, 0]) / s, ty + shifts[j, 1])
    return shifts


def aligned_shape(shape_yx: tuple[int, int], tilt_axis_deg: float) -> tuple[int, int]:
    """Output (ny, nx): swapped when the rotation is nearer 90 than 0 degrees (keeps the field)."""
    a = abs(math.remainder(tilt_axis_deg, 180.0))
    return (shape_yx[1], shape_yx[0]) if a > 45.0 else tuple(shape_yx)


def apply_alignment(binned: np.ndarray | str, tilt_axis_deg: float, shifts_xy: np.ndarray,
                    out: np.ndarray | str | None = None, workers: PreviewWorkers | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Aligned stack and its per-section ``(min, max, sum)`` (``(nz, 3)`` float64): each section
    rotated by ``-tilt_axis_deg`` and moved by ``-shift``.

    ``out`` (array or shared name) receives it; None: ``binned`` itself (in place) when the
    aligned shape equals the binned shape, else a new array. With ``workers`` the sections are
    done in parallel (``binned`` and ``out`` then name shared arrays).
    """
    stack = shared(binned)
    nz = stack.shape[0]
    out_shape = aligned_shape(stack.shape[1:], tilt_axis_deg)
    if out is None:
        out = binned if out_shape == stack.shape[1:] else np.empty((nz, *out_shape), np.float32)
    shifts = np.asarray(shifts_xy, dtype=np.float64)
    ranges = workers.split(nz) if workers else [(0, nz)]
    tasks = [(binned, out, tilt_axis_deg, shifts[z0:z1], z0) for z0, z1 in ranges]
    stats = np.concatenate(list((workers.map if workers else _local_map)(align_sections, tasks)))
    return shared(out), stats


def align_sections(binned: np.ndarray | str, out: np.ndarray | str, tilt_axis_deg: float,
                   shifts_xy: np.ndarray, z0: int) -> np.ndarray:
    """Task: aligned sections ``z0 .. z0 + len(shifts_xy) - 1`` into ``out`` (may be ``binned``:
    each section is read whole before it is replaced); returns their ``(min, max, sum)``."""
    src, dst = shared(binned), shared(out)
    stats = np.empty((len(shifts_xy), 3), dtype=np.float64)
    for k, shift in enumerate(shifts_xy):
        section = affine_section(src[z0 + k], tilt_axis_deg, 1.0, (float(shift[0]), float(shift[1])), dst.shape[1:])
        dst[z0 + k] = section
        stats[k] = section.min(), section.max(), section.sum(dtype=np.float64)
    return stats
