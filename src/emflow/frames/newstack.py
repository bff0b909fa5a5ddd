"""IMOD ``newstack -float 3`` (shift each section to a common mean, no scaling), SPEC §4.1.

Pure functions over float32 numbers, split so the work streams and fans out:

section_stats(section) -> (min, max, mean)     one section, IMOD's arithmetic
float3_params(mins, maxs, means, mode) -> Float3   global shift + per-section scale/add
apply_float3(section, scale, add, mode) -> float32  scaled and clamped, before rounding
round_to_mode(values, mode) -> stored values   ``floor(v + 0.5)`` for integer modes

IMOD reads every mode as float32 (mode 0 as 0..255: signed stored value + 128), so callers pass
`imod_values(section)` to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32
# newstack's optimalMax for the integer modes; float modes are not scaled.
OPTIMAL_MAX = {0: 255.0, 1: 32767.0, 6: 65535.0}
# Range an output value is clamped to, per mode (float modes: IMOD's +-1e30).
MODE_RANGE = {0: (0.0, 255.0), 1: (-32768.0, 32767.0), 6: (0.0, 65535.0), 2: (-1e30, 1e30), 12: (-65504.0, 65504.0)}


def imod_values(section: np.ndarray) -> np.ndarray:
    """A section as IMOD sees it: float32, signed bytes shifted by +128 to 0..255."""
    if section.dtype == np.int8:
        return section.astype(F32) + F32(128)
    return section.astype(F32, copy=False)


def section_stats(section: np.ndarray) -> tuple[float, float, float]:
    """Min, max and mean of one ``(ny, nx)`` section exactly as IMOD's ``arrayMinMaxMean``.

    Row sums accumulate left to right in float32, rows add up in float64, and the mean is
    rounded to float32. Returns Python floats holding float32 values.
    """
    values = imod_values(section)
    lo, hi = float(values.min()), float(values.max())
    row_sums = _float32_row_sums(values, integral=section.dtype.kind in "iu", largest=max(-lo, hi))
    total = float(np.cumsum(row_sums.astype(np.float64))[-1])
    mean = F32(total / (float(values.shape[0]) * float(values.shape[1])))
    return lo, hi, float(mean)


# Integers of magnitude up to 2**24 are exact in float32.
F32_EXACT_INTEGERS = 2.0**24


def _float32_row_sums(values: np.ndarray, integral: bool, largest: float) -> np.ndarray:
    """Row sums accumulated left to right in float32, as IMOD does.

    For integer data whose partial sums cannot leave float32's exact integers
    (``largest * nx <= 2**24``) every float32 addition is exact, so the sum equals the exact one
    computed in float64, at a fraction of the cost of the sequential ``cumsum``.
    """
    if integral and largest * values.shape[1] <= F32_EXACT_INTEGERS:
        return values.sum(axis=1, dtype=np.float64).astype(F32)
    return np.cumsum(values, axis=1, dtype=F32)[:, -1]


@dataclass(frozen=True)
class Float3:
    """Result of the statistics pass: what `apply_float3` needs for each section.

    scale, add : ``(nz,)`` float32 per-section linear maps (value ``f32(f32(scale*v) + add)``)
    mode : output mode (= input mode)
    amin, amax : header min/max of the output (float values before rounding)
    """

    scale: np.ndarray
    add: np.ndarray
    mode: int
    amin: float
    amax: float


def _shift_params(mins: np.ndarray, maxs: np.ndarray, means: np.ndarray) -> tuple[F32, F32]:
    """``(shiftMean, shiftMax)`` of SPEC §4.1 in float32, sums accumulated as IMOD does."""
    diff_min, diff_max, grand_sum = F32(0), F32(0), F32(0)
    for lo, hi, mean in zip(mins, maxs, means):
        diff_min = min(diff_min, F32(lo - mean))
        diff_max = max(diff_max, F32(hi - mean))
        grand_sum = F32(grand_sum + mean)
    grand_mean = F32(grand_sum / F32(len(means)))
    shift_min = max(F32(0), F32(grand_mean + diff_min))
    shift_mean = F32(shift_min - diff_min)
    return shift_mean, F32(shift_mean + diff_max)


def float3_params(mins: np.ndarray, maxs: np.ndarray, means: np.ndarray, mode: int) -> Float3:
    """Per-section scale and add of ``newstack -float 3`` from per-section min/max/mean.

    Parameters
    ----------
    mins, maxs, means : ``(nz,)`` float32 section statistics (`section_stats`)
    mode : MRC mode of input and output (0, 1, 6 scale into the mode's range; 2, 12 do not)
    """
    mins, maxs, means = (np.asarray(a, dtype=F32) for a in (mins, maxs, means))
    shift_mean, shift_max = _shift_params(mins, maxs, means)
    optimal = OPTIMAL_MAX.get(mode)
    scales = np.empty(len(mins), F32)
    adds = np.empty(len(mins), F32)
    for s, (lo, hi, mean) in enumerate(zip(mins, maxs, means)):
        dmin_out = F32(F32(lo + shift_mean) - mean)
        dmax_out = F32(F32(hi + shift_mean) - mean)
        if optimal is not None:
            denom = max(F32(optimal), shift_max)
            dmin_out = F32(F32(dmin_out * F32(optimal)) / denom)
            dmax_out = F32(F32(dmax_out * F32(optimal)) / denom)
        scale = F32(1)
        if dmax_out != dmin_out and hi != lo:
            scale = F32(F32(dmax_out - dmin_out) / F32(hi - lo))
        scales[s] = scale
        adds[s] = F32(dmin_out - F32(scale * lo))
    out_lo = apply_float3(mins[:, None], scales, adds, mode)
    out_hi = apply_float3(maxs[:, None], scales, adds, mode)
    return Float3(scales, adds, mode, float(out_lo.min()), float(out_hi.max()))


def apply_float3(values: np.ndarray, scale: np.ndarray | float, add: np.ndarray | float, mode: int) -> np.ndarray:
    """``clamp(f32(f32(scale*v) + add))`` for float32 ``values``; scale/add broadcast per row.

    For a ``(nz, ny, nx)`` slab pass ``scale[:, None, None]``; for a ``(nz, 1)`` column of
    section minima pass ``(nz,)`` arrays (they broadcast along the first axis).
    """
    values = np.asarray(values, dtype=F32)
    scale = np.asarray(scale, dtype=F32)
    add = np.asarray(add, dtype=F32)
    if scale.ndim == 1 and values.ndim == 2:
        scale, add = scale[:, None], add[:, None]
    out = np.multiply(values, scale, dtype=F32)
    out += add
    lo, hi = MODE_RANGE[mode]
    return np.clip(out, F32(lo), F32(hi), out=out)


def round_to_mode(values: np.ndarray, mode: int) -> np.ndarray:
    """Values as the output file stores them: ``floor(v + 0.5)`` for integer modes.

    Returns int16 (mode 1), uint8 (mode 0, IMOD's 0..255), uint16 (6), float32 (2) or float16 (12).
    """
    if mode == 2:
        return np.asarray(values, dtype=F32)
    if mode == 12:
        return np.asarray(values, dtype=np.float16)
    dtype = {0: np.uint8, 1: np.int16, 6: np.uint16}[mode]
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5).astype(dtype)
