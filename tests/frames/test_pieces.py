"""Hand-computed cases for the pure pieces: newstack -float 3, mrc2tif -C, clip avg, binvol."""

from __future__ import annotations

import numpy as np
import pytest

from emflow.frames.binvol import bin_pair, binned_shape
from emflow.frames.clipavg import RunningAverage, average_sections
from emflow.frames.mrc2tif import contrast_params, to_bytes
from emflow.frames.newstack import apply_float3, float3_params, round_to_mode, section_stats

from . import reference

f32 = np.float32


def test_section_stats_hand_values() -> None:
    assert section_stats(np.array([[0, 1, 2, 3], [4, 5, 6, 7]], dtype=np.int16)) == (0.0, 7.0, 3.5)
    # signed bytes are read as IMOD does: stored value + 128
    assert section_stats(np.array([[-128, 127]], dtype=np.int8)) == (0.0, 255.0, 127.5)


def test_section_stats_sums_rows_in_float32() -> None:
    # 2**24 + 1 is not a float32: a float32 row sum loses the 1s, a float64 sum would keep them
    row = np.array([[2.0**24, 1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    assert section_stats(row)[2] == float(f32(2.0**24 / 5))
    assert section_stats(row)[2] == float(reference.stats(row)[2])


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int8])
@pytest.mark.parametrize("scale", [1, 300, 32767])
def test_section_stats_integer_fast_path_equals_sequential_float32(dtype: type, scale: int) -> None:
    # 1024-wide rows of large values take the sequential path, small ones the exact float64 path;
    # both must give IMOD's sequential float32 row sums
    info = np.iinfo(dtype)
    rng = np.random.default_rng(scale)
    section = np.clip(rng.normal(0, scale, (33, 1024)), info.min, info.max).astype(dtype)
    values = section.astype(np.float64) + (128 if dtype == np.int8 else 0)
    row_sums = np.cumsum(values.astype(f32), axis=1, dtype=f32)[:, -1]
    mean = f32(float(np.cumsum(row_sums.astype(np.float64))[-1]) / section.size)
    assert section_stats(section) == (float(values.min()), float(values.max()), float(mean))


@pytest.mark.parametrize("mode", [0, 1, 2, 6])
def test_float3_constant_section_hand_computed(mode: int) -> None:
    # A: min 0 max 10 mean 5; B: constant 7 -> diffMin -5, diffMax 5, grandMean 6, shiftMean 6
    stack = np.array([[[0, 10]], [[7, 7]]], dtype=np.float32)
    mins, maxs, means = zip(*(section_stats(s) for s in stack))
    p = float3_params(np.array(mins), np.array(maxs), np.array(means), mode)
    assert p.scale.tolist() == [1.0, 1.0]  # B has no range: scale 1
    assert p.add.tolist() == [1.0, -1.0]
    assert (p.amin, p.amax) == (1.0, 11.0)
    assert apply_float3(stack[0], p.scale[0], p.add[0], mode).tolist() == [[1.0, 11.0]]
    assert apply_float3(stack[1], p.scale[1], p.add[1], mode).tolist() == [[6.0, 6.0]]


def test_float3_compresses_into_int16_and_matches_reference() -> None:
    # ranges about the mean span 60000 > 32767: shiftMax > optimalMax, values are compressed
    stack = np.array([[[-30000, 30000, 5]], [[-20000, 29000, 100]], [[0, 0, 1]]], dtype=np.int16)
    mins, maxs, means = (np.array(c, dtype=f32) for c in zip(*(section_stats(s) for s in stack)))
    p = float3_params(mins, maxs, means, 1)
    got = np.stack([apply_float3(stack[z].astype(f32), p.scale[z], p.add[z], 1) for z in range(3)])
    ref, amin, amax, _ = reference.float3(stack, 1)
    np.testing.assert_array_equal(got, ref)
    assert (p.amin, p.amax) == (amin, amax)
    assert got.max() <= 32767 and got.min() >= 0


def test_round_to_mode_rounds_half_up() -> None:
    values = np.array([0.49, 0.5, 1.5, 2.4999, 32766.6, -0.5, -1.5], dtype=np.float32)
    assert round_to_mode(values, 1).tolist() == [0, 1, 2, 2, 32767, 0, -1]
    assert round_to_mode(values[:5], 2).dtype == np.float32


def test_mrc2tif_params_hand_computed() -> None:
    # -C 0,255 over amin 0, amax 255: slope 1, offset 0
    assert contrast_params(0.0, 255.0, 0, 255) == (1.0, 0.0)
    # -C 100,255: range 156; slope = 255/255 * 256/156; offset = -(100/255*255 + 0) * slope
    slope, offset = contrast_params(0.0, 255.0, 100, 255)
    assert slope == f32(f32(256 / 156))
    assert offset == f32(-100.0 * float(slope))
    # amax = amin: slope = 256/range
    assert contrast_params(5.0, 5.0, 0, 255) == (1.0, -5.0)


def test_mrc2tif_truncates_clamps_and_flips_rows() -> None:
    section = np.array([[0.0, 1.99, 254.99], [255.0, 300.0, -3.0]], dtype=np.float32)
    out = to_bytes(section, f32(1), f32(0))
    assert out.tolist() == [[255, 255, 0], [0, 1, 254]]  # row 0 of the image = MRC line ny-1
    section = np.array([[10, 20], [30, 40]], dtype=np.int16)
    np.testing.assert_array_equal(to_bytes(section, *contrast_params(10, 40, 100, 255)), reference.mrc2tif(section, 10, 40, 100, 255))


def test_clip_avg_truncates_toward_zero_and_clamps() -> None:
    stack = np.zeros((5, 1, 4), dtype=np.float32)
    stack[:, 0, 0] = [-7, -7, -7, -7, -8]  # -7.2 -> -7 (floor would give -8)
    stack[:, 0, 1] = [7, 8, 8, 8, 8]  # 7.8 -> 7 (rounding would give 8)
    stack[:, 0, 2] = 40000  # clamped to 32767
    stack[:, 0, 3] = -40000  # clamped to -32768
    assert average_sections(stack).tolist() == [[-7, 7, 32767, -32768]]
    np.testing.assert_array_equal(average_sections(stack), reference.clip_avg(stack)[0])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "float32", "float16"])
def test_running_average_equals_clip_avg_of_each_window(dtype: str) -> None:
    rng = np.random.default_rng(7)
    if dtype.startswith("float"):
        stack = rng.normal(0, 3000, (12, 6, 7)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        stack = rng.integers(info.min, info.max, (12, 6, 7), endpoint=True).astype(dtype)
        stack[2:9, 0, :2] = [info.min, info.max]  # windows of extremes: largest sums, both signs
    imod_view = stack.astype(np.float32) + (128 if dtype == "int8" else 0)  # IMOD shifts signed bytes
    running = RunningAverage()
    got = [running.push(section) for section in stack]
    assert got[:4] == [None] * 4
    for i in range(4, len(stack)):
        expected = average_sections(stack[i - 4 : i + 1])
        assert got[i].dtype == np.int16
        np.testing.assert_array_equal(got[i], expected)
        np.testing.assert_array_equal(got[i], reference.clip_avg(imod_view[i - 4 : i + 1])[0])


def test_binvol_hand_computed() -> None:
    vol = np.arange(2 * 3 * 5, dtype=np.int16).reshape(2, 3, 5)  # odd row and column dropped
    assert binned_shape(vol.shape) == (1, 1, 2)
    # mean of [0,1,5,6, 15,16,20,21] = 10.5 ; [2,3,7,8,17,18,22,23] = 12.5
    assert bin_pair(vol).tolist() == [[10.5, 12.5]]
    assert bin_pair(vol[:1]).tolist() == [[3.0, 5.0]]  # one section: x and y only
    assert binned_shape((1, 4, 4)) == (1, 2, 2) and binned_shape((5, 4, 4)) == (2, 2, 2)
