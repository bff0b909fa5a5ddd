"""make_pyramid / emflow pyramid without the reference tools: hand-checked numbers and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from folder_bytes import folder_bytes

from emflow.cli import main
from emflow.errors import EmflowInputError
from emflow.pyramid import make_pyramid
from emflow.pyramid.downscale import downscale
from emflow.pyramid.reader import convert
from emflow.pyramid.scales import pyramid_info, resolution_nm


def _reference_average(block: np.ndarray, factors_zyx) -> np.ndarray:
    """neuroglancer-scripts' AveragingDownscaler restated: float64, z then y then x, edge pad, rint."""
    a = block.astype(np.float64)
    for axis, f in enumerate(factors_zyx):
        if f == 2:
            if a.shape[axis] % 2:
                pad = [(0, 0)] * 3
                pad[axis] = (0, 1)
                a = np.pad(a, pad, mode="edge")
            a = 0.5 * (a.take(range(0, a.shape[axis], 2), axis) + a.take(range(1, a.shape[axis], 2), axis))
    if block.dtype.kind == "u":
        info = np.iinfo(block.dtype)
        return np.clip(np.rint(a), info.min, info.max).astype(block.dtype)
    return a.astype(block.dtype)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("factors", [(2, 2, 2), (1, 2, 2), (2, 1, 2), (2, 2, 1), (1, 1, 2)])
def test_downscale_matches_restated_reference(dtype, factors, rng):
    shape = (5, 7, 9)
    if dtype == "float32":
        block = rng.normal(0, 1e3, shape).astype(dtype)
    else:
        block = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    assert np.array_equal(downscale(block, factors), _reference_average(block, factors))


def test_downscale_rounds_half_to_even():
    # 2x2x2 blocks summing to 4 (mean 0.5 -> 0), 12 (1.5 -> 2), 20 (2.5 -> 2), 5 (0.625 -> 1)
    block = np.zeros((2, 2, 8), np.uint8)
    block[0, 0, 0:2] = (2, 2)
    block[0, 0, 2:4] = (6, 6)
    block[0, 0, 4:6] = (10, 10)
    block[0, 0, 6:8] = (5, 0)
    assert downscale(block, (2, 2, 2)).ravel().tolist() == [0, 2, 2, 1]


def test_odd_axis_repeats_the_edge():
    block = np.array([[[10, 20, 31]]], dtype=np.uint16)  # x odd: last voxel averaged with itself
    assert downscale(block, (1, 1, 2)).ravel().tolist() == [15, 31]


def test_convert_offsets():
    assert convert(np.array([-128, -1, 0, 127], np.int8)).tolist() == [0, 127, 128, 255]
    assert convert(np.array([-32768, 0, 32767], np.int16)).tolist() == [0, 32768, 65535]
    assert convert(np.array([1.5], np.float16)).dtype == np.float32


def test_resolution_through_float32_nifti():
    assert resolution_nm((33.6, 33.6, 33.6)) == [3.3599999369471334] * 3
    assert resolution_nm((10.0, 10.0, 10.0)) == [float(np.float32(1e-6)) * 1000000] * 3


def test_info_isotropic_scales():
    info = pyramid_info((131, 67, 45), [3.36, 3.36, 3.36], "uint8")
    assert [s["size"] for s in info["scales"]] == [[131, 67, 45], [66, 34, 23]]
    assert [s["key"] for s in info["scales"]] == ["3nm", "7nm"]
    assert all(s["chunk_sizes"] == [[64, 64, 64]] for s in info["scales"])


def test_info_anisotropic_chunks():
    # z voxels 4x larger: x/y halve first (z delayed 2 levels); anisotropy factors [2,2,0] give
    # 2^(6 - 5//3 + 2) = 128 along x/y and 2^5 = 32 along z, then [1,1,0] -> 64,64,32, then 64^3.
    # Levels: max(ceil(log2(1024/64)) - 0, ceil(log2(100/64)) - 2) = 4.
    info = pyramid_info((1024, 1024, 100), [1.0, 1.0, 4.0], "uint16")
    assert [s["chunk_sizes"][0] for s in info["scales"]] == [[128, 128, 32], [64, 64, 32], [64, 64, 64], [64, 64, 64]]
    assert [s["size"] for s in info["scales"]] == [[1024, 1024, 100], [512, 512, 100], [256, 256, 100], [128, 128, 50]]
    assert [s["key"] for s in info["scales"]] == ["1nm", "2nm", "4nm", "8nm"]


def test_pyramid_by_hand(make_mrc, tmp_path):
    data = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    mrc = make_mrc("v.mrc", data, (10.0, 10.0, 10.0))
    result = make_pyramid(mrc, tmp_path / "neuro", minmax_json=tmp_path / "mm.json")
    info = json.loads((tmp_path / "neuro" / "info").read_text())
    assert info["scales"][0]["size"] == [3, 2, 2]
    assert (tmp_path / "neuro" / "1nm" / "0-3_0-2_0-2").read_bytes() == data.tobytes()
    assert result.minmax == json.loads((tmp_path / "mm.json").read_text())
    assert sorted(p.name for p in (tmp_path / "neuro").iterdir()) == ["1nm", "info"]


def test_gzip_chunks(make_mrc, tmp_path):
    import gzip

    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    mrc = make_mrc("v.mrc", data, (10.0, 10.0, 10.0))
    assert main(["pyramid", str(mrc), str(tmp_path / "n"), "--gzip"]) == 0
    raw = gzip.decompress((tmp_path / "n" / "1nm" / "0-6_0-5_0-4.gz").read_bytes())
    assert np.array_equal(np.frombuffer(raw, "<u2"), (data.astype(np.int32) + 32768).ravel())


def test_zarr_via_make_pyramid(make_mrc, tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    mrc = make_mrc("v.mrc", data, (10.0, 10.0, 10.0))
    result = make_pyramid(mrc, tmp_path / "n", ng_format="both", zarr_out=tmp_path / "v.ome.zarr")
    assert (tmp_path / "n" / "info").is_file()
    assert (tmp_path / "v.ome.zarr" / ".zattrs").is_file()
    assert result.zarr_out == tmp_path / "v.ome.zarr"


def test_errors_are_one_line(make_mrc, tmp_path, capsys):
    flat = make_mrc("flat.mrc", np.zeros((1, 4, 4), np.uint8))
    assert main(["pyramid", str(flat), str(tmp_path / "a")]) == 2
    assert "2D image" in capsys.readouterr().err

    tilt = make_mrc("ts.mrc", np.zeros((3, 4, 4), np.uint8), tilt_angles_deg=[-3, 0, 3])
    assert main(["pyramid", str(tilt), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "tilt series" in err and err.count("\n") == 1
    assert main(["pyramid", str(tilt), str(tmp_path / "b"), "--force"]) == 0

    nan = np.zeros((3, 4, 4), np.float32)
    nan[2, 1, 1] = np.nan
    assert main(["pyramid", str(make_mrc("nan.mrc", nan)), str(tmp_path / "c")]) == 2
    assert "section 2 contains NaN" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()

    ok = make_mrc("ok.mrc", np.zeros((3, 4, 4), np.uint8))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    assert main(["pyramid", str(ok), str(tmp_path / "d")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["pyramid", str(ok), str(tmp_path / "d"), "--overwrite"]) == 0
    assert not (tmp_path / "d" / "x").exists()
    assert main(["pyramid", str(ok), str(tmp_path / "e"), "--chunk", "48"]) == 2


def test_no_temp_leftovers_after_error(make_mrc, tmp_path):
    nan = np.zeros((70, 4, 4), np.float32)
    nan[69] = np.inf
    with pytest.raises(EmflowInputError, match="section 69 contains Inf"):
        make_pyramid(make_mrc("inf.mrc", nan), tmp_path / "out" / "neuro")
    assert list((tmp_path / "out").glob(".emflow-tmp-*")) == []


def test_big_endian_input(tmp_path):
    import mrcfile

    data = np.arange(3 * 4 * 5, dtype=">i2").reshape(3, 4, 5)
    with mrcfile.new(tmp_path / "be.mrc") as m:
        m.set_data(data)
        m.voxel_size = 10.0
    make_pyramid(tmp_path / "be.mrc", tmp_path / "n")
    raw = (tmp_path / "n" / "1nm" / "0-5_0-4_0-3").read_bytes()
    assert np.array_equal(np.frombuffer(raw, "<u2"), data.astype(np.int32).ravel() + 32768)


def test_slab_path_equals_band_path(make_mrc, rng, tmp_path):
    # with OME-Zarr the pass is slab-based in this process; without it level 0 runs in band jobs
    data = rng.integers(0, 65535, (70, 37, 75), endpoint=True).astype(np.uint16)
    mrc = make_mrc("v.mrc", data, (7.0, 7.0, 14.0))
    a = make_pyramid(mrc, tmp_path / "bands", workers=2)
    b = make_pyramid(mrc, tmp_path / "slabs", ng_format="both", zarr_out=tmp_path / "v.ome.zarr")
    assert folder_bytes(tmp_path / "bands") == folder_bytes(tmp_path / "slabs")
    assert a.minmax == b.minmax and a.stats == b.stats
    c = make_pyramid(mrc, tmp_path / "unused", ng_format="zarr", zarr_out=tmp_path / "only.ome.zarr")
    assert c.outdir is None and not (tmp_path / "unused").exists() and c.minmax == a.minmax
    with pytest.raises(EmflowInputError, match="--zarr-out"):
        make_pyramid(mrc, tmp_path / "x", ng_format="both")


def test_float16_becomes_float32(make_mrc, tmp_path):
    data = (np.arange(2 * 3 * 4) / 4).astype(np.float16).reshape(2, 3, 4)
    result = make_pyramid(make_mrc("h.mrc", data), tmp_path / "n")
    assert result.info["data_type"] == "float32"
    raw = (tmp_path / "n" / "1nm" / "0-4_0-3_0-2").read_bytes()
    assert np.array_equal(np.frombuffer(raw, "<f4"), data.astype(np.float32).ravel())


def _traced_peak(make_mrc, rng, tmp_path, nz, ng_format):
    import tracemalloc

    data = rng.integers(0, 255, (nz, 64, 256), endpoint=True).astype(np.uint8)
    mrc = make_mrc(f"deep{nz}.mrc", data)
    del data
    tracemalloc.start()
    try:
        make_pyramid(mrc, tmp_path / f"n{nz}", ng_format=ng_format, zarr_out=tmp_path / f"z{nz}.ome.zarr")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("ng_format", ["precomputed", "both"])
def test_memory_does_not_grow_with_depth(make_mrc, rng, tmp_path, ng_format):
    # 150 vs 2400 sections of 64 x 256 uint8 (2.3 vs 37.5 MiB): the peak (one 1 MiB band, the
    # histogram's 4 MiB bincount temporary, one level-1 row per format) is the same, far below
    # the volume
    shallow = _traced_peak(make_mrc, rng, tmp_path, 150, ng_format)
    deep = _traced_peak(make_mrc, rng, tmp_path, 2400, ng_format)
    assert deep < 1.2 * shallow, (shallow, deep)
    assert deep < 37.5 * 2**20 / 4, deep


def test_worker_errors_reach_the_caller(make_mrc, tmp_path, capsys):
    data = np.zeros((70, 20, 30), np.float32)
    data[66, 3, 3] = np.nan
    assert main(["pyramid", str(make_mrc("nan.mrc", data)), str(tmp_path / "n"), "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip().endswith("section 66 contains NaN values")
    assert not (tmp_path / "n").exists()


def test_gzip_pyramid_decompresses_to_the_raw_one(make_mrc, rng, tmp_path):
    import gzip

    data = rng.integers(-500, 500, (70, 40, 150)).astype(np.int16)
    mrc = make_mrc("v.mrc", data, (7.0, 7.0, 7.0))
    make_pyramid(mrc, tmp_path / "raw", workers=2)
    make_pyramid(mrc, tmp_path / "gz", workers=2, gzip=True)
    raw = folder_bytes(tmp_path / "raw")
    unzipped = {name.removesuffix(".gz"): gzip.decompress(body) if name.endswith(".gz") else body
                for name, body in folder_bytes(tmp_path / "gz").items()}
    assert unzipped == raw and len(raw) == 9  # info, 3 x 2 chunks at full resolution, 2 at the next scale


def test_cli_both_writes_zarr_and_shader(make_mrc, tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.int8).reshape(4, 5, 6)
    mrc = make_mrc("v.mrc", data, (10.0, 10.0, 10.0))
    zarr = tmp_path / "B.ome.zarr"
    assert main(["pyramid", str(mrc), str(tmp_path / "neuro-B"), "--ng-format", "both", "--zarr-out", str(zarr)]) == 0
    assert (tmp_path / "neuro-B" / "info").is_file() and (zarr / ".zattrs").is_file()
    shader = json.loads((tmp_path / "B_shader.json").read_text())
    # native int8 values 0..119: the window is in native values, not the +128 precomputed ones
    assert shader["shaderParameters"]["window"] == [0, 119]


def test_no_zarr_leftovers_after_nan(make_mrc, tmp_path):
    data = np.zeros((4, 5, 6), np.float32)
    data[1, 2, 3] = np.nan
    with pytest.raises(EmflowInputError, match="section 1 contains NaN"):
        make_pyramid(make_mrc("nan.mrc", data), tmp_path / "out" / "n", ng_format="both", zarr_out=tmp_path / "out" / "v.ome.zarr")
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == []
