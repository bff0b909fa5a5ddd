"""The per-series Neuroglancer state (``B_neuroglancer.json``): volume, voxel size, contrast, layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emflow.errors import EmflowInputError
from emflow.view.state import (
    BASE_URL,
    contrast_from_minmax,
    fill_base_url,
    load_state,
    series_state,
    state_bytes,
    write_state,
)

SHAPE = (20, 30, 40)  # z, y, x
VOXEL_A = (8.0, 9.0, 11.0)  # x, y, z in Å


def volume(dtype: str = "int8") -> np.ndarray:
    z, y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1], 0:SHAPE[2]]
    return ((x * 3 + y * 2 + z) % 200 - 100).astype(dtype)


@pytest.fixture
def precomputed_series(make_mrc, tmp_path: Path) -> Path:
    from emflow.pyramid import make_pyramid

    src = make_mrc("B_full_rec.mrc", volume(), voxel_size_angstrom=VOXEL_A)
    folder = tmp_path / "OUT" / "B"
    make_pyramid(src, folder / "neuro-B", minmax_json=folder / "B_min_max.json", chunk=16)
    return folder


def test_precomputed_state_numbers(precomputed_series: Path) -> None:
    minmax = json.loads((precomputed_series / "B_min_max.json").read_text())
    state = series_state(precomputed_series, "B")
    # voxel size in metres (nm from the MRC's Å / 10, as the pyramid's info says)
    info = json.loads((precomputed_series / "neuro-B" / "info").read_text())
    resolution = info["scales"][0]["resolution"]
    assert [state["dimensions"][a] for a in "xyz"] == [[r * 1e-9, "m"] for r in resolution]
    assert [round(state["dimensions"][a][0] * 1e10, 4) for a in "xyz"] == list(VOXEL_A)
    # centre of voxel (20, 15, 10) of the 40 x 30 x 20 volume
    assert state["position"] == [20.5, 15.5, 10.5]
    assert state["crossSectionScale"] == round(1.1 * 40 / 400, 6) and state["layout"] == "4panel"
    layer = state["layers"][0]
    assert layer["source"] == f"precomputed://{BASE_URL}/neuro-B" and layer["name"] == "B" and layer["type"] == "image"
    # the portal's contrast: invlerp range = [Min, Max], window = [Floor, Limit] (converted domain)
    expected = {"range": [int(minmax["neuroglancerPrecomputedMin"]), int(minmax["neuroglancerPrecomputedMax"])],
                "window": [int(minmax["neuroglancerPrecomputedFloor"]), int(minmax["neuroglancerPrecomputedLimit"])]}
    assert layer["shaderControls"] == {"normalized": expected}
    assert expected["window"] == [28, 222]  # int8 -100..94 shifted by +128
    assert "#uicontrol invlerp normalized" in layer["shader"]


def test_state_file_is_deterministic_and_cli_writes_the_same_bytes(precomputed_series: Path, tmp_path: Path) -> None:
    from emflow.cli import cli

    first = write_state(precomputed_series, "B").read_bytes()
    second = write_state(precomputed_series, "B", tmp_path / "again.json").read_bytes()
    assert first == second == state_bytes(series_state(precomputed_series, "B"))
    assert first.endswith(b"}\n") and (precomputed_series / "B_neuroglancer.json").is_file()
    # emflow pyramid --neuroglancer-json: the series name from the file name
    out = tmp_path / "cli" / "B"
    result = CliRunner().invoke(cli, ["pyramid", str(tmp_path / "B_full_rec.mrc"), str(out / "neuro-B"), "--chunk", "16",
                                      "--minmax-json", str(out / "B_min_max.json"),
                                      "--neuroglancer-json", str(out / "B_neuroglancer.json")])
    assert result.exit_code == 0, result.output
    assert (out / "B_neuroglancer.json").read_bytes() == first
    assert load_state(out, "B") == json.loads(first)
    refused = CliRunner().invoke(cli, ["pyramid", str(tmp_path / "B_full_rec.mrc"), str(tmp_path / "x" / "neuro-B"),
                                       "--neuroglancer-json", str(tmp_path / "x" / "B_neuroglancer.json")])
    assert refused.exit_code == 2 and "--neuroglancer-json needs --minmax-json" in refused.output
    assert not (tmp_path / "x").exists()


def test_zarr_only_state_takes_the_shader_json(make_mrc, tmp_path: Path) -> None:
    from emflow.pyramid.zarr import write_zarr

    src = make_mrc("B_full_rec.mrc", volume("int16"), voxel_size_angstrom=VOXEL_A)
    folder = tmp_path / "OUT" / "B"
    params = write_zarr(src, folder / "B.ome.zarr", chunk=16)
    state = series_state(folder, "B")
    layer = state["layers"][0]
    assert layer["source"] == f"zarr://{BASE_URL}/B.ome.zarr"
    assert layer["shaderControls"]["normalized"] == {"range": params["shaderParameters"]["range"],
                                                    "window": params["shaderParameters"]["window"]}
    assert layer["shaderControls"]["normalized"]["window"] == [-100, 94]  # native int16 values
    assert state["position"] == [20.0, 15.0, 10.0]  # zarr coordinates name voxel centres
    assert [math.isclose(state["dimensions"][a][0], v * 1e-10) for a, v in zip("xyz", VOXEL_A)] == [True] * 3


def test_zarr_without_shader_json_shifts_the_minmax_back(make_mrc, tmp_path: Path) -> None:
    from emflow.pyramid import make_pyramid

    src = make_mrc("B_full_rec.mrc", volume("int8"))
    folder = tmp_path / "OUT" / "B"
    result = make_pyramid(src, folder / "neuro-B", minmax_json=folder / "B_min_max.json", chunk=16,
                          ng_format="zarr", zarr_out=folder / "B.ome.zarr")
    assert not (folder / "neuro-B").exists()
    contrast = series_state(folder, "B")["layers"][0]["shaderControls"]["normalized"]
    assert contrast == contrast_from_minmax(result.minmax, 128)
    assert contrast["window"] == [-100, 94]


def test_fill_base_url_and_errors(precomputed_series: Path, tmp_path: Path) -> None:
    state = series_state(precomputed_series, "B")
    filled = fill_base_url(state, "https://data.example.org/run 1/B/")
    assert filled["layers"][0]["source"] == "precomputed://https://data.example.org/run 1/B/neuro-B"
    assert state["layers"][0]["source"].startswith(f"precomputed://{BASE_URL}")  # the original is kept
    with pytest.raises(EmflowInputError, match="has no Neuroglancer volume"):
        series_state(tmp_path, "B")
    (precomputed_series / "B_min_max.json").write_text('{"neuroglancerPrecomputedMin": "x"}')
    with pytest.raises(EmflowInputError, match=r"B_min_max\.json.*not a min/max JSON"):
        series_state(precomputed_series, "B")
