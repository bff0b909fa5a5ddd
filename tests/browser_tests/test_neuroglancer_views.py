"""Neuroglancer (headless Chromium, software WebGL) opens emflow's precomputed and OME-Zarr outputs.

Each test serves the output over local HTTP with CORS, opens it in the real Neuroglancer client,
and compares the rendered xy panel with the section it should show: the data must be there
(not blank, no error), the right way round, in the right contrast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from browser import evaluate_js, image_stats, require_chromium, screenshot, serve_directory, view_in_neuroglancer

SHAPE = (33, 67, 131)  # z, y, x
SIZE = (640, 480)


@pytest.fixture
def chromium() -> None:
    """Skip visibly without chromium/chromium-driver/selenium (fail under CI=true)."""
    require_chromium()


def pattern(dtype: str) -> np.ndarray:
    """A smooth, asymmetric pattern (so a flipped or transposed view does not correlate)."""
    z, y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1], 0:SHAPE[2]].astype(np.float64)
    values = 40 * np.sin(x / 9.0) + 30 * np.cos(y / 6.0) + 0.6 * x - 0.4 * y + z
    info = np.iinfo(dtype)
    return np.clip(np.round(values), info.min, info.max).astype(dtype)


def expected_panel(section_yx: np.ndarray, value_range: tuple[float, float], scheme: str) -> np.ndarray:
    """What the xy panel should show: nearest voxel at each pixel centre, zoom as the harness
    sets it (section fills the panel, 5% margin), grey = clamp((v - lo) / (hi - lo)); NaN outside.

    Voxel i covers [i, i + 1) in a precomputed volume but [i - 1/2, i + 1/2) in OME-Zarr, whose
    coordinates name voxel centres (Neuroglancer follows both conventions)."""
    ny, nx = section_yx.shape
    scale = 1.05 * max(nx / SIZE[0], ny / SIZE[1])
    px = nx / 2 + (np.arange(SIZE[0]) + 0.5 - SIZE[0] / 2) * scale
    py = ny / 2 + (np.arange(SIZE[1]) + 0.5 - SIZE[1] / 2) * scale
    origin = -0.5 if scheme == "zarr" else 0.0
    ix, iy = np.floor(px - origin).astype(int), np.floor(py - origin).astype(int)
    inside = (iy[:, None] >= 0) & (iy[:, None] < ny) & (ix[None, :] >= 0) & (ix[None, :] < nx)
    values = section_yx[np.clip(iy, 0, ny - 1)][:, np.clip(ix, 0, nx - 1)].astype(np.float64)
    lo, hi = value_range
    grey = np.clip((values - lo) / (hi - lo), 0, 1) * 255
    return np.where(inside, grey, np.nan)


def panel_correlation(png: Path, expected: np.ndarray) -> float:
    from PIL import Image

    with Image.open(png) as im:
        shot = np.asarray(im.convert("L"), dtype=np.float64)
    assert shot.shape == expected.shape
    inside = ~np.isnan(expected)
    return float(np.corrcoef(shot[inside], expected[inside])[0, 1])


def check_view(view: dict, expected: np.ndarray) -> None:
    assert view["loaded"]
    assert view["errors"] == [], view["errors"]
    assert view["failed"] == [], view["failed"]
    stats = view["stats"]
    assert stats["distinct"] > 100 and stats["std"] > 30, stats  # not blank, not one grey level
    correlation = panel_correlation(view["png"], expected)
    print(f"{view['png'].name}: {stats}, correlation with the expected section {correlation:.4f}")
    assert correlation > 0.99


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_precomputed_pyramid_in_neuroglancer(make_mrc, tmp_path: Path, chromium: None) -> None:
    from emflow.pyramid import make_pyramid

    volume = pattern("int8")
    src = make_mrc("B_full_rec.mrc", volume, voxel_size_angstrom=(10.0, 10.0, 10.0))
    out = tmp_path / "OUT" / "B"
    result = make_pyramid(src, out / "neuro-B", minmax_json=out / "B_min_max.json", chunk=32)
    minmax = json.loads((out / "B_min_max.json").read_text())
    value_range = (float(minmax["neuroglancerPrecomputedMin"]), float(minmax["neuroglancerPrecomputedMax"]))
    view = view_in_neuroglancer(out, "neuro-B", "precomputed", tmp_path / "precomputed.png",
                                shape_xyz=SHAPE[::-1], value_range=value_range, size=SIZE)
    assert result.info["data_type"] == "uint8"
    converted = volume.astype(np.int16) + 128  # SPEC §6: int8 -> uint8 (v + 128)
    check_view(view, expected_panel(converted[SHAPE[0] // 2], value_range, "precomputed"))


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_ome_zarr_in_neuroglancer(make_mrc, tmp_path: Path, chromium: None) -> None:
    from emflow.pyramid.zarr import write_zarr

    volume = pattern("int16")
    src = make_mrc("B_full_rec.mrc", volume, voxel_size_angstrom=(10.0, 10.0, 10.0))
    params = write_zarr(src, tmp_path / "OUT" / "B" / "B.ome.zarr", chunk=32)
    value_range = tuple(params["shaderParameters"]["range"])
    view = view_in_neuroglancer(tmp_path / "OUT" / "B", "B.ome.zarr", "zarr", tmp_path / "zarr.png",
                                shape_xyz=SHAPE[::-1], value_range=value_range, size=SIZE)
    assert view["layer"]["source"].startswith("zarr://http://127.0.0.1:")
    check_view(view, expected_panel(volume[SHAPE[0] // 2], value_range, "zarr"))


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_missing_source_is_not_mistaken_for_data(tmp_path: Path, chromium: None) -> None:
    """The checks above can fail: an absent volume renders one flat grey level."""
    (tmp_path / "empty").mkdir()
    view = view_in_neuroglancer(tmp_path / "empty", "nothing.ome.zarr", "zarr", tmp_path / "none.png",
                                shape_xyz=(16, 16, 16), size=SIZE, timeout_s=15)
    assert not view["loaded"]
    assert view["errors"] == ["No zarr metadata found"]


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_2d_multichannel_ngff_and_shader_errors(tmp_path: Path, chromium: None) -> None:
    """The harness also serves 2D (c, y, x) NGFF images (spatialomics): Neuroglancer makes ``c``
    a channel dimension and shows one channel; a broken shader is reported, not ignored."""
    import zarr

    y, x = np.mgrid[0:150, 0:200]
    image = np.stack([x * 255 // 200, y * 255 // 150, np.full_like(x, 128)]).astype(np.uint8)
    group = zarr.open_group(tmp_path / "rgb.ome.zarr", mode="w", zarr_format=2)
    group.create_array("0", data=image, chunks=(3, 64, 64))
    axes = [{"name": "c", "type": "channel"}] + [{"name": a, "type": "space", "unit": "micrometer"} for a in "yx"]
    transforms = [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes,
                                   "datasets": [{"path": "0", "coordinateTransformations": transforms}]}]
    view = view_in_neuroglancer(tmp_path, "rgb.ome.zarr", "zarr", tmp_path / "rgb.png", shape_xyz=(200, 150),
                                value_range=(0, 255), size=SIZE)
    assert view["loaded"] and view["errors"] == [] and view["layer"]["localPosition"] == [1]
    assert panel_correlation(view["png"], expected_panel(image[1], (0, 255), "zarr")) > 0.99
    broken = view_in_neuroglancer(tmp_path, "rgb.ome.zarr", "zarr", tmp_path / "bad.png", shape_xyz=(200, 150),
                                  shader="void main() { nonsense(); }", size=SIZE)
    assert len(broken["errors"]) == 1 and broken["errors"][0].startswith("shader: ")


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_evaluate_js_reads_images_and_page_state(tmp_path: Path, chromium: None) -> None:
    """The helpers the report test uses: naturalWidth of an <img>, values from the DOM."""
    from PIL import Image

    Image.new("RGB", (37, 21), (200, 10, 10)).save(tmp_path / "thumb.png")
    (tmp_path / "page.html").write_text(
        '<!doctype html><html><body><img id="t" src="thumb.png"><img id="bad" src="missing.png">'
        '<p id="n">42</p></body></html>')
    with serve_directory(tmp_path) as base:
        widths = evaluate_js(f"{base}/page.html", "[...document.images].map(i => i.naturalWidth)",
                             wait_js="[...document.images].every(i => i.complete)")
        text = evaluate_js(f"{base}/page.html", "document.getElementById('n').textContent")
    assert widths == [37, 0] and text == "42"


def test_serve_directory_sends_cors_and_serves_files(tmp_path: Path) -> None:
    import urllib.request

    (tmp_path / "a.json").write_text('{"x": 1}')
    with serve_directory(tmp_path) as base:
        with urllib.request.urlopen(f"{base}/a.json", timeout=10) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert json.loads(response.read()) == {"x": 1}
        assert base.startswith("http://127.0.0.1:")


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_screenshot_captures_the_page(tmp_path: Path, chromium: None) -> None:
    (tmp_path / "page.html").write_text(
        '<!doctype html><body style="margin:0;background:#000">'
        '<div style="position:absolute;left:0;top:0;width:160px;height:120px;background:#fff"></div></body>')
    with serve_directory(tmp_path) as base:
        png = screenshot(f"{base}/page.html", tmp_path / "shot.png", size=(320, 240))
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (320, 240)
    assert image_stats(png, (0.0, 0.0, 0.5, 0.5))["mean"] == 255.0
    assert image_stats(png, (0.5, 0.5, 1.0, 1.0))["mean"] == 0.0


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_evaluate_js_reads_video_duration(tmp_path: Path, chromium: None) -> None:
    """An H.264 MP4 (as the movies are written) plays in Debian's chromium: 16 frames at 4 fps = 4 s."""
    import subprocess

    import imageio_ffmpeg

    frames = np.random.default_rng(0).integers(0, 255, (16, 64, 64), dtype=np.uint8)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray",
                    "-s", "64x64", "-r", "4", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(tmp_path / "m.mp4")], input=frames.tobytes(), check=True, timeout=60)
    (tmp_path / "page.html").write_text('<!doctype html><video src="m.mp4" preload="metadata"></video>')
    with serve_directory(tmp_path) as base:
        durations = evaluate_js(f"{base}/page.html", "[...document.querySelectorAll('video')].map(v => v.duration)",
                                wait_js="[...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)")
    assert durations == [4]


@pytest.mark.browser
@pytest.mark.shared
@pytest.mark.timeout(300)
def test_real_tomogram_both_formats(shared_data: Path, tmp_path: Path, chromium: None) -> None:
    """cylindra_13pf_MT_int8.mrc (94 x 206 x 36, int8): precomputed and OME-Zarr both show the section."""
    import mrcfile

    from emflow.pyramid import make_pyramid
    from emflow.pyramid.zarr import write_zarr

    src = shared_data / "tomograms" / "cylindra_13pf_MT_int8.mrc"
    with mrcfile.open(src, permissive=True) as mrc:
        volume = np.asarray(mrc.data).astype(np.int8)
    out = tmp_path / "OUT" / "cyl"
    make_pyramid(src, out / "neuro-cyl", minmax_json=out / "cyl_min_max.json")
    params = write_zarr(src, out / "cyl.ome.zarr")
    minmax = json.loads((out / "cyl_min_max.json").read_text())
    pre_range = (float(minmax["neuroglancerPrecomputedMin"]), float(minmax["neuroglancerPrecomputedMax"]))
    zarr_range = tuple(params["shaderParameters"]["range"])
    shape_xyz = volume.shape[::-1]
    section = volume[volume.shape[0] // 2]
    for scheme, path, value_range, values in (
        ("precomputed", "neuro-cyl", pre_range, section.astype(np.int16) + 128),
        ("zarr", "cyl.ome.zarr", zarr_range, section),
    ):
        view = view_in_neuroglancer(out, path, scheme, tmp_path / f"{scheme}.png", shape_xyz=shape_xyz,
                                    value_range=value_range, size=SIZE)
        assert view["loaded"] and view["errors"] == [] and view["failed"] == []
        assert view["stats"]["distinct"] > 100
        correlation = panel_correlation(view["png"], expected_panel(values, value_range, scheme))
        print(f"{scheme}: {view['stats']}, correlation {correlation:.4f}")
        assert correlation > 0.98
