"""An independent, slow reference of SPEC §4-5 (pixel loops over numpy float32 scalars).

Written from the SPEC text only, without the emflow.frames code, for tiny test volumes.
"""

from __future__ import annotations

import math

import numpy as np

f32 = np.float32
OPT = {0: 255.0, 1: 32767.0, 6: 65535.0}
RANGE = {0: (0.0, 255.0), 1: (-32768.0, 32767.0), 6: (0.0, 65535.0), 2: (-1e30, 1e30)}


def stats(section: np.ndarray) -> tuple[f32, f32, f32]:
    """min, max, mean: float32 row sums left to right, rows added in double, mean to float32."""
    lo, hi, total = f32(np.inf), f32(-np.inf), 0.0
    for row in section:
        row_sum = f32(0)
        for v in row:
            v = f32(v)
            row_sum = f32(row_sum + v)
            lo, hi = min(lo, v), max(hi, v)
        total += float(row_sum)
    return lo, hi, f32(total / section.size)


def float3(stack: np.ndarray, mode: int) -> tuple[np.ndarray, float, float, float]:
    """(values before rounding, header amin, amax, amean) of ``newstack -float 3``."""
    st = [stats(s) for s in stack]
    diff_min = min([f32(0)] + [f32(lo - m) for lo, _, m in st])
    diff_max = max([f32(0)] + [f32(hi - m) for _, hi, m in st])
    grand = f32(0)
    for _, _, m in st:
        grand = f32(grand + m)
    grand = f32(grand / f32(len(st)))
    shift_min = max(f32(0), f32(grand + diff_min))
    shift_mean = f32(shift_min - diff_min)
    shift_max = f32(shift_mean + diff_max)
    out = np.zeros(stack.shape, dtype=np.float32)
    means = []
    for z, (lo, hi, m) in enumerate(st):
        dmin = f32(f32(lo + shift_mean) - m)
        dmax = f32(f32(hi + shift_mean) - m)
        if mode in OPT:
            dmin = f32(f32(dmin * f32(OPT[mode])) / max(f32(OPT[mode]), shift_max))
            dmax = f32(f32(dmax * f32(OPT[mode])) / max(f32(OPT[mode]), shift_max))
        scale = f32(1) if (dmax == dmin or hi == lo) else f32(f32(dmax - dmin) / f32(hi - lo))
        add = f32(dmin - f32(scale * lo))
        total = 0.0
        for y in range(stack.shape[1]):
            for x in range(stack.shape[2]):
                v = f32(f32(scale * f32(stack[z, y, x])) + add)
                v = f32(min(max(v, f32(RANGE[mode][0])), f32(RANGE[mode][1])))
                out[z, y, x] = v
                total += float(v)
        means.append(f32(total / stack[z].size))
    amean = f32(0)
    for m in means:
        amean = f32(amean + m)
    return out, float(out.min()), float(out.max()), float(f32(amean / f32(len(means))))


def round_int(values: np.ndarray, dtype: type) -> np.ndarray:
    return np.vectorize(lambda v: math.floor(float(v) + 0.5))(values).astype(dtype)


def mrc2tif(section: np.ndarray, amin: float, amax: float, lo: int, hi: int) -> np.ndarray:
    """Bytes of one section, rows flipped, truncation."""
    rng = hi - lo + 1
    width = f32(f32(amax) - f32(amin))
    slope = f32(256 / rng) if width == 0 else f32(f32(f32(255) / width) * f32(256 / rng))
    offset = f32(-((lo / 255) * (float(f32(amax)) - float(f32(amin))) + float(f32(amin))) * float(slope))
    ny, nx = section.shape
    out = np.zeros((ny, nx), dtype=np.uint8)
    for y in range(ny):
        for x in range(nx):
            v = f32(f32(f32(section[y, x]) * slope) + offset)
            out[ny - 1 - y, x] = int(min(max(float(v), 0.0), 255.0))
    return out


def clip_avg(stack: np.ndarray) -> np.ndarray:
    """Running average of 5 sections -> int16 by truncation."""
    nz, ny, nx = stack.shape
    out = np.zeros((nz - 4, ny, nx), dtype=np.int16)
    for i in range(2, nz - 2):
        for y in range(ny):
            for x in range(nx):
                s = f32(0)
                for z in range(i - 2, i + 3):
                    s = f32(s + f32(stack[z, y, x]))
                v = min(max(float(f32(s * f32(1 / 5))), -32768.0), 32767.0)
                out[i - 2, y, x] = int(math.trunc(v))
    return out


def binvol2(vol: np.ndarray) -> tuple[np.ndarray, float, float]:
    """2x2x2 float32 mean (1 section: 2x2), trailing odd planes dropped; (values, min, max)."""
    nz, ny, nx = vol.shape
    kz = 1 if nz == 1 else 2
    out = np.zeros((max(1, nz // 2) if nz > 1 else 1, ny // 2, nx // 2), dtype=np.float32)
    for zo in range(out.shape[0]):
        for yo in range(out.shape[1]):
            for xo in range(out.shape[2]):
                vals = [float(vol[zo * kz + dz, yo * 2 + dy, xo * 2 + dx]) for dz in range(kz) for dy in (0, 1) for dx in (0, 1)]
                out[zo, yo, xo] = f32(sum(vals) / len(vals))
    return out, float(out.min()), float(out.max())
