"""``emflow zarr`` / `write_zarr` (issue 11): outputs, shader parameters (rule 2), errors, real data."""

from __future__ import annotations

import json
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import zarr
from zarr_reference import reference_levels, reference_shader

from emflow.cli import main
from emflow.pyramid.shader import native_offset, shader_json_path, shader_params, shader_params_from_stats
from emflow.pyramid.zarr import write_zarr


def shader(window: list[int], rng: list[int]) -> dict:
    return {"shader": "Grayscale", "dimensions": "XYZ", "shaderParameters": {"window": window, "range": rng}}


def test_shader_json_path() -> None:
    assert shader_json_path("OUT/B/B.ome.zarr") == Path("OUT/B/B_shader.json")


def test_shader_params_clamp_and_integers() -> None:
    # median 100, MAD 30: 100 +- 150 is clamped to the data's [0, 200]
    assert shader_params(100.0, 30.0, 0.0, 200.0) == shader(window=[0, 200], rng=[0, 200])
    # not clamped: floor/ceil outward
    assert shader_params(10.2, 1.1, -50.5, 80.4) == shader(window=[-51, 81], rng=[4, 16])
    assert shader_params_from_stats({"median": 228.0, "mad": 2.0, "floor": 28.0, "limit": 255.0}, 5.0, 128) == \
        shader(window=[-100, 127], rng=[90, 110])
    assert (native_offset(np.int8), native_offset(np.int16), native_offset(np.uint16), native_offset(np.float32)) == (128, 32768, 0, 0)


def test_cli_int16_131x67x45(make_mrc, tmp_path: Path, rng: np.random.Generator, capsys) -> None:
    """The issue's odd int16 case, end to end: levels, values, metadata, shader JSON on stdout and disk."""
    volume = rng.normal(-200.0, 900.0, (45, 67, 131)).astype(np.int16)
    src = make_mrc("vol.mrc", volume, voxel_size_angstrom=(8.0, 8.0, 12.0))
    out = tmp_path / "OUT" / "B" / "B.ome.zarr"
    assert main(["zarr", str(src), str(out), "--chunk", "16", "--workers", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = reference_shader(volume)
    assert printed == expected == json.loads((out.parent / "B_shader.json").read_text())
    assert all(type(v) is int for pair in printed["shaderParameters"].values() for v in pair)
    group = zarr.open_group(out, mode="r", zarr_format=2)
    for k, ref in enumerate(reference_levels(volume, 16)):
        np.testing.assert_array_equal(group[str(k)][:], ref)
    datasets = group.attrs["multiscales"][0]["datasets"]
    assert [d["coordinateTransformations"][0]["scale"] for d in datasets] == [
        [1.2 * 2**k, 0.8 * 2**k, 0.8 * 2**k] for k in range(4)]
    assert sorted(p.name for p in out.parent.iterdir()) == ["B.ome.zarr", "B_shader.json"]


@pytest.mark.parametrize(
    ("dtype", "values", "window", "rng_"),
    [
        # symmetric +-10 with one voxel at each extreme: median 0, MAD 10 -> [-50, 50] (native int8)
        ("int8", {-10: 499, 10: 499, -128: 1, 127: 1}, [-128, 127], [-50, 50]),
        # half -1000, half 1000: median 0, MAD 1000 -> +-5000, clamped to the data
        ("int16", {-1000: 500, 1000: 500}, [-1000, 1000], [-1000, 1000]),
        # uint8 half 0, half 255 (SPEC §6's min/max example -64, 319), clamped to [0, 255]
        ("uint8", {0: 500, 255: 500}, [0, 255], [0, 255]),
    ],
)
def test_shader_values_hand_computed(make_mrc, tmp_path: Path, dtype, values, window, rng_) -> None:
    flat = np.concatenate([np.full(n, v, dtype=dtype) for v, n in values.items()])
    volume = np.random.default_rng(3).permutation(flat).reshape(10, 10, 10)
    params = write_zarr(make_mrc("v.mrc", volume), tmp_path / "v.ome.zarr", chunk=8)
    assert params == shader(window, rng_)
    assert json.loads((tmp_path / "v_shader.json").read_text()) == params


def test_shader_uint16_ramp_mad_1_5(make_mrc, tmp_path: Path) -> None:
    """SPEC §6 example (uint16 ramp 0..65535, --mad 1.5 -> Min 8191, Max 57344): inside the data."""
    volume = np.arange(65536, dtype=np.uint16).reshape(16, 64, 64)
    params = write_zarr(make_mrc("ramp.mrc", volume), tmp_path / "r.ome.zarr", chunk=16, mad=1.5)
    assert params == shader([0, 65535], [8191, 57344])


def test_float32_shader_and_levels(make_mrc, tmp_path: Path, rng: np.random.Generator) -> None:
    volume = rng.normal(3.0, 2.0, (9, 21, 35)).astype(np.float32)
    out = tmp_path / "f.ome.zarr"
    params = write_zarr(make_mrc("f.mrc", volume), out, chunk=8)
    assert params == reference_shader(volume)
    group = zarr.open_group(out, mode="r", zarr_format=2)
    for k, ref in enumerate(reference_levels(volume, 8)):
        np.testing.assert_allclose(group[str(k)][:], ref, rtol=2e-6, atol=1e-6)


def test_errors_are_one_line(make_mrc, tmp_path: Path, capsys) -> None:
    flat = make_mrc("flat.mrc", np.zeros((1, 8, 8), np.int16))
    assert main(["zarr", str(flat), str(tmp_path / "a.ome.zarr")]) == 2
    assert "2D image" in capsys.readouterr().err
    nan = np.zeros((4, 8, 8), np.float32)
    nan[2, 3, 3] = np.nan
    assert main(["zarr", str(make_mrc("nan.mrc", nan)), str(tmp_path / "b.ome.zarr")]) == 2
    err = capsys.readouterr().err
    assert "section 2 contains NaN" in err and err.count("\n") == 1
    good = make_mrc("good.mrc", np.ones((4, 8, 8), np.uint8))
    (tmp_path / "c.ome.zarr").mkdir()
    (tmp_path / "c.ome.zarr" / "x").write_text("")
    assert main(["zarr", str(good), str(tmp_path / "c.ome.zarr")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["zarr", str(good), str(tmp_path / "c.ome.zarr"), "--overwrite"]) == 0
    assert not any(p.name.startswith(".emflow-tmp-") for p in tmp_path.iterdir())
    assert sorted(p.name for p in tmp_path.glob("*.ome.zarr")) == ["c.ome.zarr"]


@pytest.mark.shared
def test_cylindra_int8_real_tomogram(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "tomograms" / "cylindra_13pf_MT_int8.mrc"
    with mrcfile.open(src, permissive=True) as mrc:
        volume = np.asarray(mrc.data).astype(np.int8)  # mode 0 flagged signed by IMOD's stamp
    out = tmp_path / "cyl" / "cyl.ome.zarr"
    params = write_zarr(src, out)
    assert params == reference_shader(volume)
    group = zarr.open_group(out, mode="r", zarr_format=2)
    levels = reference_levels(volume, 64)
    assert [group[str(k)].shape for k in range(len(levels))] == [(36, 206, 94), (18, 103, 47), (9, 51, 23)]
    for k, ref in enumerate(levels):
        assert group[str(k)].dtype == np.int8
        np.testing.assert_array_equal(group[str(k)][:], ref)
    scale0 = group.attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale0 == [1.052, 1.052, 1.052]  # float32 header noise not carried into the metadata
