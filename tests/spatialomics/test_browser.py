"""The spatialomics OME-Zarr opens in Neuroglancer (headless Chromium, tests/browser.py harness)."""

from __future__ import annotations

import time

import pytest
from browser import NG_ERRORS_JS, browser, image_stats, neuroglancer_viewer, serve_directory, wait_for

from emflow.spatialomics import process_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_for_xy(viewer, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dims = viewer.state.dimensions
        if dims is not None and {"x", "y"} <= set(dims.names):
            return dims.to_json()
        time.sleep(0.2)
    raise TimeoutError("Neuroglancer did not read the OME-Zarr metadata")


def test_mosaic_ome_zarr_renders_in_neuroglancer(make_session, tmp_path):
    neuroglancer = pytest.importorskip("neuroglancer")
    session, out = make_session(multi_scene=True), tmp_path / "out"
    result = process_file(session / "HQ_Images" / "slide_3.czi", "HQ_Images", out / "HQ_Images" / "slide_3")
    assert result.status == "success"
    path = "HQ_Images/slide_3/slide_3_s1.ome.zarr"  # 2 channels, 40 x 50, 0.25 µm pixels
    size = (320, 240)
    zarr_asset = [a for a in result.images[1].assets if a["type"] == "neuroglancerZarr"][0]
    window = zarr_asset["metadata"]["channels"][0]["window"]  # as a portal would set it
    with serve_directory(out) as data, neuroglancer_viewer() as viewer, browser(size) as driver:
        with viewer.txn() as state:
            state.layers["data"] = neuroglancer.ImageLayer(
                source=f"zarr://{data}/{path}",
                shader_controls={"normalized": {"range": [window["start"], window["end"]]}})
            state.layout = "xy"
        driver.get(viewer.get_viewer_url())
        wait_for(driver, "window.viewer !== undefined", 60)
        dims = _wait_for_xy(viewer)
        with viewer.txn() as state:
            state.display_dimensions = ["x", "y"]
            state.position = [20, 25] + [0] * (len(state.dimensions.names) - 2)
            state.cross_section_scale = 1.05 * 50 / size[0]
        time.sleep(1.0)
        png = tmp_path / "panel.png"
        png.write_bytes(viewer.screenshot(size=list(size)).screenshot.image)
        errors = driver.execute_script(f"return {NG_ERRORS_JS};")
        layer = viewer.state.layers["data"].to_json()
    assert errors == []
    assert dims["x"][0] == pytest.approx(0.25e-6) and dims["x"][1] == "m"
    assert "c'" in layer.get("localDimensions", {})  # the channel axis became a channel dimension
    stats = image_stats(png, box=(0.3, 0.3, 0.7, 0.7))
    # random 12-bit data shown through its 1 %/99 % window: a full grey range, not a blank panel
    assert stats["distinct"] > 100 and stats["std"] > 40
