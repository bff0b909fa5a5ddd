"""``emflow view --no-browser`` on the demo output, opened in headless Chromium (offline).

The page must draw the volume: the xy panel, compared pixel by pixel with the middle section
of the volume as the served contrast maps it, correlates; outside the volume's bounds it is one
flat colour. The contrast the viewer applies (its layer's shader controls, read back from the
viewer state) is the min/max JSON's (precomputed) or the shader JSON's (OME-Zarr of
``--ng-format zarr``). The screenshots are kept as test artifacts ($EMFLOW_ARTIFACTS, else the
pytest temp folder) and their paths printed.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser import browser, require_chromium, wait_for

SIZE = (1200, 900)
DEMO_RUN = ["--recon", "preview", "--bin", "1", "--thickness", "128", "--tilt-axis-deg", "90"]  # = emflow demo


def emflow(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from emflow.cli import run_main; run_main()", *args],
                          capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``emflow demo OUT`` (precomputed) and the same run with ``--ng-format zarr``."""
    require_chromium()
    from emflow.data import demo_dir

    base = tmp_path_factory.mktemp("view")
    done = emflow("demo", str(base / "precomputed"))
    assert done.returncode == 0, done.stderr[-2000:]
    done = emflow("run", str(demo_dir()), "--outdir", str(base / "zarr"), *DEMO_RUN, "--ng-format", "zarr")
    assert done.returncode == 0, done.stderr[-2000:]
    return {"precomputed": base / "precomputed", "zarr": base / "zarr"}


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EMFLOW_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ViewProcess:
    """``emflow view OUT --no-browser --port 0`` as the user runs it; its printed URLs."""

    def __init__(self, out: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from emflow.cli import run_main; run_main()", "view", str(out), "--no-browser",
             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        name, _, self.url = self.proc.stdout.readline().strip().partition(": ")
        self.name = name
        assert self.url.startswith("http://127.0.0.1:"), (name, self.url, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port = int(self.url.split(":")[2].split("/")[0])

    def request(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def status(self, path: str) -> int:
        return self.request(path)[0]

    def get(self, path: str) -> bytes:
        status, body = self.request(path)
        assert status == 200, (path, status)
        return body

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        return err


@pytest.fixture
def view() -> Iterator:
    started: list[ViewProcess] = []

    def start(out: Path) -> ViewProcess:
        started.append(ViewProcess(out))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.communicate()


def level0(out: Path, name: str, scheme: str) -> np.ndarray:
    """Full-resolution voxels (z, y, x) as served: precomputed raw chunks, or the OME-Zarr array."""
    if scheme == "zarr":
        # read in a child process: zarr 3 leaves I/O threads running in the process that uses it,
        # and with foreign threads alive the preview's workers (tests/preview) would not fork
        array = out / name / f"{name}.ome.zarr" / "0"
        npy = out / f"{name}.level0.npy"
        subprocess.run([sys.executable, "-c", "import sys, numpy, zarr; "
                        "numpy.save(sys.argv[2], numpy.asarray(zarr.open_array(sys.argv[1], mode='r')))",
                        str(array), str(npy)], check=True, timeout=120)
        return np.load(npy)
    folder = out / name / f"neuro-{name}"
    scale = json.loads((folder / "info").read_text())["scales"][0]
    nx, ny, nz = scale["size"]
    dtype = np.dtype(json.loads((folder / "info").read_text())["data_type"]).newbyteorder("<")
    volume = np.zeros((nz, ny, nx), dtype)
    for chunk in (folder / scale["key"]).iterdir():
        (x0, x1), (y0, y1), (z0, z1) = (map(int, r.split("-")) for r in chunk.name.split("_"))
        volume[z0:z1, y0:y1, x0:x1] = np.frombuffer(chunk.read_bytes(), dtype).reshape(z1 - z0, y1 - y0, x1 - x0)
    return volume


def expected_xy_panel(volume: np.ndarray, state: dict, panel: dict, scheme: str) -> np.ndarray:
    """Grey levels the xy panel should show: nearest voxel of the section at the state's z,
    zoom crossSectionScale (voxels per pixel) about the state's position; NaN outside the volume."""
    position, scale = state["position"], state["crossSectionScale"]
    width, height = int(panel["width"]), int(panel["height"])
    x = position[0] + (np.arange(width) + 0.5 - width / 2) * scale
    y = position[1] + (np.arange(height) + 0.5 - height / 2) * scale
    origin = -0.5 if scheme == "zarr" else 0.0  # zarr coordinates name voxel centres
    ix, iy, iz = (np.floor(np.asarray(v) - origin).astype(int) for v in (x, y, position[2]))
    nz, ny, nx = volume.shape
    inside = (iy[:, None] >= 0) & (iy[:, None] < ny) & (ix[None, :] >= 0) & (ix[None, :] < nx)
    values = volume[int(iz)][np.clip(iy, 0, ny - 1)][:, np.clip(ix, 0, nx - 1)].astype(np.float64)
    lo, hi = state["layers"][0]["shaderControls"]["normalized"]["range"]
    return np.where(inside, np.clip((values - lo) / (hi - lo), 0, 1) * 255, np.nan)


def open_and_check(view: ViewProcess, out: Path, scheme: str, png: Path, capsys: pytest.CaptureFixture) -> dict:
    name = view.name
    with browser(SIZE) as driver:
        driver.get(view.url)
        wait_for(driver, "window.viewer !== undefined && window.viewer.layerManager.managedLayers.length > 0", 60)
        wait_for(driver, "window.viewer.coordinateSpace.value.names.length === 3 && window.viewer.isReady()", 120)
        state = driver.execute_script("return JSON.parse(JSON.stringify(window.viewer.state.toJSON()));")
        # the decorations over the data (axis lines, scale bar, bounding box) off: the panel is the data
        driver.execute_script("const v = window.viewer; v.showAxisLines.value = false; v.showScaleBar.value = false;"
                              " v.showDefaultAnnotations.value = false;")
        wait_for(driver, "window.viewer.isReady()", 60)
        time.sleep(0.5)
        png.write_bytes(driver.get_screenshot_as_png())
        panel = driver.execute_script(
            "const r = document.querySelector('.neuroglancer-rendered-data-panel').getBoundingClientRect();"
            "return {left: r.left, top: r.top, width: r.width, height: r.height};")
        # severe console messages, less the favicon and zarr's metadata probes (404 by design)
        probes = ("favicon.ico", "zarr.json", ".zarray", ".zattrs", ".zgroup")
        errors = [e["message"] for e in driver.get_log("browser")
                  if e.get("level") == "SEVERE" and not any(p in e["message"] for p in probes)]
    with capsys.disabled():  # into the log even when the test passes
        print(f"\nemflow view screenshot ({scheme}): {png}")
    from PIL import Image

    with Image.open(png) as im:
        shot = np.asarray(im.convert("L"), dtype=np.float64)
    left, top = round(panel["left"]), round(panel["top"])
    xy = shot[top:top + int(panel["height"]), left:left + int(panel["width"])]
    expected = expected_xy_panel(level0(out, name, scheme), state, panel, scheme)
    inside = ~np.isnan(expected)
    return {"state": state, "errors": errors, "xy": xy, "expected": expected, "inside": inside,
            "correlation": float(np.corrcoef(xy[inside], expected[inside])[0, 1])}


def check_drawn(result: dict) -> None:
    assert result["errors"] == [], result["errors"]
    xy, inside = result["xy"], result["inside"]
    assert inside.mean() > 0.3  # the volume fills a good part of the panel
    drawn = xy[inside]
    assert drawn.std() > 20 and len(np.unique(drawn)) > 50, (drawn.std(), len(np.unique(drawn)))  # not uniform
    # nothing drawn outside the volume's bounds: the margins left and right of it, rows of the
    # middle half (clear of the panel's border and of the axis labels and buttons in its corners)
    height, width = xy.shape
    columns = np.flatnonzero(inside.any(axis=0))
    rows = slice(height // 4, 3 * height // 4)
    outside = np.concatenate([xy[rows, 5:columns[0] - 2].ravel(), xy[rows, columns[-1] + 3:width - 5].ravel()])
    assert outside.size > 1000 and outside.std() < 1.0, (outside.size, outside.std())
    print(f"correlation with the expected section {result['correlation']:.4f}; "
          f"grey-level error median {np.median(np.abs(drawn - result['expected'][inside])):.1f}")
    assert result["correlation"] > 0.95
    assert np.median(np.abs(drawn - result["expected"][inside])) <= 3  # the contrast mapping itself


def served_contrast(out: Path, name: str, scheme: str) -> dict:
    """The contrast the portal applies: the min/max JSON's (precomputed) or the shader JSON's (OME-Zarr)."""
    if scheme == "zarr":
        shader = json.loads((out / name / f"{name}_shader.json").read_text())["shaderParameters"]
        return {"range": shader["range"], "window": shader["window"]}
    minmax = {k.removeprefix("neuroglancerPrecomputed"): int(v)
              for k, v in json.loads((out / name / f"{name}_min_max.json").read_text()).items()}
    return {"range": [minmax["Min"], minmax["Max"]], "window": [minmax["Floor"], minmax["Limit"]]}


@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scheme", ["precomputed", "zarr"])
def test_emflow_view_shows_the_demo(demo_outputs: dict[str, Path], scheme: str, view, artifacts: Path, capsys) -> None:
    out = demo_outputs[scheme]
    served = view(out)
    name = served.name
    volume = f"neuro-{name}" if scheme == "precomputed" else f"{name}.ome.zarr"
    assert served.url == f"http://127.0.0.1:{served.port}/neuroglancer/v/{name}/"
    assert (out / name / f"neuro-{name}").exists() == (scheme == "precomputed")  # zarr: the only volume
    result = open_and_check(served, out, scheme, artifacts / f"emflow_view_{scheme}.png", capsys)
    layer = result["state"]["layers"][0]
    assert layer["source"] == f"{scheme}://http://127.0.0.1:{served.port}/{name}/{volume}"
    assert layer["shaderControls"]["normalized"] == served_contrast(out, name, scheme)
    assert result["state"]["dimensions"]["x"][0] == pytest.approx(6.72e-9, rel=1e-6)  # the demo's 6.72 nm voxels
    assert result["state"]["layout"] == "4panel"
    check_drawn(result)
    # the report's "Open in Neuroglancer" link, relative to report.html, opens this viewer page
    report = served.get("/report.html").decode()
    href = report.split('class="ng-link" href="')[1].split('"')[0]
    assert href == f"neuroglancer/v/{name}/" and "<script" in served.get(f"/{href}").decode()
    # no way out of OUT: ``/../``, encoded, absolute
    assert served.status("/../etc/passwd") in (403, 404)
    assert served.status(f"/{name}/%2e%2e/%2e%2e/etc/passwd") == 403
    assert served.status("//etc/passwd") in (403, 404)
    assert served.status(f"/{name}/{name}_min_max.json") == 200
    err = served.stop()
    assert served.proc.returncode == 0 and "Traceback" not in err
