"""Visual min/max: the issue's hand-computed cases, the float path and the NIfTI/reference checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emflow.cli import main
from emflow.pyramid import HistogramAccumulator, compute_minmax, visual_stats
from emflow.pyramid.minmax import float_edges, minmax_json
from emflow.pyramid.nifti import mrc2nifti
from reference_env import run_reference_minmax


def test_uint16_ramp_mad_1_5(make_mrc, tmp_path, capsys):
    # 0..65535 once each: median 32767.5, MAD 16384 -> 8191.5 .. 57343.5
    mrc = make_mrc("ramp.mrc", np.arange(65536, dtype=np.uint16).reshape(16, 64, 64))
    assert main(["minmax", str(mrc), "--mad", "1.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"neuroglancerPrecomputedMin": "8191", "neuroglancerPrecomputedMax": "57344",
                   "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "65535"}
    assert list(out) == ["neuroglancerPrecomputedMin", "neuroglancerPrecomputedMax",
                         "neuroglancerPrecomputedFloor", "neuroglancerPrecomputedLimit"]


def test_uint8_half_0_half_255(make_mrc, tmp_path):
    # median 127.5 (positions 0.25 and 0.75), MAD 127.5 -> 127.5 -+ 191.25
    data = np.zeros((4, 8, 8), dtype=np.uint8)
    data[2:] = 255
    mrc = make_mrc("halves.mrc", data)
    out = tmp_path / "mm.json"
    assert main(["minmax", str(mrc), "--mad", "1.5", "--output-json", str(out)]) == 0
    assert json.loads(out.read_text()) == {"neuroglancerPrecomputedMin": "-64", "neuroglancerPrecomputedMax": "319",
                                           "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "255"}


def test_int8_is_histogrammed_in_the_uint8_domain(make_mrc):
    mrc = make_mrc("i8.mrc", np.full((2, 3, 4), -128, dtype=np.int8))
    result, stats = compute_minmax(mrc)
    assert stats["floor"] == 0.0 and stats["limit"] == 0.0 and stats["mad"] == 0.0
    assert result["neuroglancerPrecomputedMax"] == "0"


def test_float_edges_match_arange():
    edges = float_edges(-1.5, 2.25)
    step = (2.25 + 1.5) / 1024
    assert np.array_equal(edges, np.arange(-1.5, 2.25 + step, step))
    assert len(edges) in (1025, 1026)


def test_float_accumulator_counts_like_np_histogram(rng):
    data = rng.normal(0, 1, (3, 50, 40)).astype(np.float32)
    lo, hi = float(data.min()), float(data.max())
    acc = HistogramAccumulator(np.float32, (lo, hi))
    for slab in data:
        acc.update(slab)
    centres, counts = acc.result()
    edges = float_edges(lo, hi)
    expected, _ = np.histogram(data.ravel(), bins=edges)
    assert np.array_equal(counts, expected)
    assert counts.sum() == data.size


def test_float_without_range_is_close(rng):
    data = rng.normal(10, 3, (4, 60, 60)).astype(np.float32)
    exact = HistogramAccumulator(np.float32, (float(data.min()), float(data.max())))
    approx = HistogramAccumulator(np.float32)
    exact.update(data)
    approx.update(data)
    a, b = visual_stats(*exact.result(), 5.0), visual_stats(*approx.result(), 5.0)
    assert b["median"] == pytest.approx(a["median"], abs=0.05)
    assert b["mad"] == pytest.approx(a["mad"], abs=0.05)
    assert b["floor"] == pytest.approx(a["floor"], abs=0.05)


def test_minmax_json_rounds_outwards():
    stats = {"median": 0.0, "mad": 1.0, "min": -2.5, "max": 2.5, "floor": -0.5, "limit": 3.5}
    assert minmax_json(stats) == {"neuroglancerPrecomputedMin": "-3", "neuroglancerPrecomputedMax": "3",
                                  "neuroglancerPrecomputedFloor": "-1", "neuroglancerPrecomputedLimit": "4"}


def test_bad_mad(make_mrc):
    mrc = make_mrc("v.mrc", np.zeros((2, 3, 4), np.uint8))
    assert main(["minmax", str(mrc), "--mad", "0"]) == 2


@pytest.mark.reference
@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_minmax_of_nifti_matches_reference(dtype, make_mrc, rng, ref_python, tmp_path):
    data = (rng.normal(0, 500, (6, 20, 30))).astype(dtype)
    nii = mrc2nifti(make_mrc("v.mrc", data), tmp_path / "v.nii")
    expected, raw = run_reference_minmax(ref_python, nii, tmp_path, mad=3.0)
    result, _ = compute_minmax(nii, 3.0)
    assert result == expected
    out = tmp_path / "mine.json"
    assert main(["minmax", str(nii), "--mad", "3", "--output-json", str(out)]) == 0
    assert out.read_bytes() == raw


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16"])
def test_integer_counts_equal_bincount(dtype, rng):
    info = np.iinfo(dtype)
    data = rng.integers(info.min, info.max, (3, 33, 17), endpoint=True).astype(dtype)
    acc = HistogramAccumulator(dtype)
    acc.update(data)  # odd size: no byte pairing
    acc.update(data[:, :, :4])  # even, not contiguous
    acc.update(data[:2])  # even and contiguous
    expected = sum(np.bincount(part.astype(np.int64).ravel() - info.min, minlength=info.max - info.min + 1)
                   for part in (data, data[:, :, :4], data[:2]))
    assert np.array_equal(acc.counts, expected)
    centres, counts = acc.result()
    assert centres[0] == info.min and centres[-1] == info.max and counts.sum() == data.size + 3 * 33 * 4 + 2 * 33 * 17


def test_minmax_of_a_2d_image(make_mrc):
    # 0, 1, 2, 3 once each: median 1.5, MAD 1 -> 1.5 -+ 5
    result, stats = compute_minmax(make_mrc("img.mrc", np.arange(4, dtype=np.uint8).reshape(1, 2, 2)))
    assert (stats["median"], stats["mad"]) == (1.5, 1.0)
    assert result == {"neuroglancerPrecomputedMin": "-4", "neuroglancerPrecomputedMax": "7",
                      "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "3"}
