"""Headless-browser test harness: local HTTP with CORS, Debian chromium via chromedriver, Neuroglancer.

Helpers for tests (issues 7, 9, 10, 11)
---------------------------------------
require_chromium()                      skip visibly when chromium/chromedriver/selenium are absent,
                                        fail instead under CI=true
serve_directory(path) -> base_url       context manager: threaded http.server on 127.0.0.1 with CORS
browser(size=(1024, 768))               context manager: a headless Chromium WebDriver (selenium)
screenshot(url, out_png, size, wait_js=None, timeout_s=60)   load url, save a PNG, return its path
evaluate_js(url, expression, wait_js=None, timeout_s=30)     load url, return the value of a JS expression
neuroglancer_viewer()                   context manager: a ``neuroglancer.Viewer`` on 127.0.0.1
view_in_neuroglancer(data_dir, path, scheme, out_png, shape_xyz=..., value_range=...)
                                        serve a volume, open it in Neuroglancer, screenshot the panel
image_stats(png)                        distinct grey levels, std and mean of (part of) a screenshot

Chromium runs with a fresh ``--user-data-dir``, no network services (background networking,
component updates, sync off) and software WebGL (ANGLE on SwiftShader), so Neuroglancer renders
without a GPU. Selenium talks to Debian's ``/usr/bin/chromedriver`` (never downloads a driver).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--enable-webgl",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--autoplay-policy=no-user-gesture-required",
    "--hide-scrollbars",
)


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_paths() -> tuple[str | None, str | None]:
    """(chromium binary, chromedriver binary), from $CHROMIUM/$CHROMEDRIVER or PATH."""
    chrome = os.environ.get("CHROMIUM") or _find(("chromium", "chromium-browser"))
    driver = os.environ.get("CHROMEDRIVER") or _find(("chromedriver",))
    return chrome, driver


def require_module(name: str) -> Any:
    """Import a test-only package (selenium, neuroglancer); skip visibly when absent, fail under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"headless browser test needs the python package {name!r} (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def require_chromium() -> tuple[str, str]:
    """Return (chromium, chromedriver); skip the test visibly when absent, fail under CI=true."""
    chrome, driver = chromium_paths()
    missing = [what for what, path in (("chromium", chrome), ("chromium-driver", driver)) if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python selenium")
    if missing:
        message = f"headless browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return chrome, driver  # type: ignore[return-value]


class _CorsHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with CORS headers, quiet logs, no caching."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "application/javascript", ".json": "application/json", ".mp4": "video/mp4"}

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_OPTIONS(self) -> None:  # noqa: N802 (http.server naming)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve_directory(path: str | os.PathLike[str]) -> Iterator[str]:
    """Serve ``path`` over HTTP on 127.0.0.1 (free port, CORS, threads); yield the base URL.

    The base URL has no trailing slash: ``f"{base}/sub/file.json"``. Range requests are not
    needed by Neuroglancer's precomputed or zarr sources.
    """
    handler = functools.partial(_CorsHandler, directory=os.fspath(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def browser(size: tuple[int, int] = (1024, 768)) -> Iterator[Any]:
    """A headless Chromium selenium WebDriver with a fresh profile; quit and cleaned up on exit."""
    chrome, driver_path = require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="emflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(60)
        # the viewport (what screenshots show) exactly ``size``, whatever the window decorations
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, js_condition: str, timeout_s: float = 30, poll_s: float = 0.25) -> Any:
    """Poll ``return (js_condition)`` until truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script(f"return ({js_condition});")
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"browser condition not met in {timeout_s} s: {js_condition}")
        time.sleep(poll_s)


def screenshot(url: str, out_png: str | os.PathLike[str], size: tuple[int, int] = (1024, 768),
               wait_js: str | None = None, timeout_s: float = 60, settle_s: float = 0.5) -> Path:
    """Load ``url`` in headless Chromium, wait for ``wait_js`` (a JS expression), save a PNG."""
    with browser(size) as driver:
        driver.get(url)
        if wait_js:
            wait_for(driver, wait_js, timeout_s)
        time.sleep(settle_s)
        Path(out_png).write_bytes(driver.get_screenshot_as_png())
    return Path(out_png)


def evaluate_js(url: str, expression: str, wait_js: str | None = None, timeout_s: float = 30,
                size: tuple[int, int] = (1024, 768)) -> Any:
    """Load ``url``, wait for ``wait_js`` (default: document complete), return ``expression``'s value.

    Example: ``evaluate_js(f"{base}/report.html", "[...document.images].map(i => i.naturalWidth)")``;
    for videos wait on ``[...document.querySelectorAll('video')].every(v => v.readyState >= 1)``
    and read ``v.duration``.
    """
    with browser(size) as driver:
        driver.get(url)
        wait_for(driver, wait_js or "document.readyState === 'complete'", timeout_s)
        return driver.execute_script(f"return ({expression});")


def image_stats(png: str | os.PathLike[str], box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> dict:
    """Grey-level statistics of (part of) a screenshot: box = fractions x0, y0, x1, y1."""
    from PIL import Image

    with Image.open(png) as im:
        grey = np.asarray(im.convert("L"), dtype=np.float64)
    h, w = grey.shape
    crop = grey[int(box[1] * h):int(box[3] * h), int(box[0] * w):int(box[2] * w)]
    return {"distinct": int(len(np.unique(crop))), "std": float(crop.std()), "mean": float(crop.mean())}


@contextlib.contextmanager
def neuroglancer_viewer() -> Iterator[Any]:
    """A ``neuroglancer.Viewer`` served by the package's own server on 127.0.0.1 (stopped on exit).

    The PyPI package's built client only runs under its Python server (its URL carries the
    viewer token), so tests use that server for the client and the Python API for the state;
    the data itself comes from `serve_directory` over plain HTTP, as the portal serves it.
    """
    neuroglancer = require_module("neuroglancer")
    neuroglancer.set_server_bind_address("127.0.0.1")
    try:
        yield neuroglancer.Viewer()
    finally:
        neuroglancer.server.stop()


def view_in_neuroglancer(data_dir: str | os.PathLike[str], path_in_dir: str, scheme: str,
                         out_png: str | os.PathLike[str], *, shape_xyz: tuple[int, ...],
                         value_range: tuple[float, float] | None = None, shader: str | None = None,
                         size: tuple[int, int] = (640, 480), timeout_s: float = 120) -> dict:
    """Open ``scheme://<served data_dir>/path_in_dir`` in Neuroglancer (headless Chromium), screenshot it.

    Parameters
    ----------
    data_dir, path_in_dir : the folder served over HTTP and the volume inside it
    scheme : ``"precomputed"`` or ``"zarr"``
    out_png : where the screenshot of the rendered xy panel goes
    shape_xyz : size in voxels, (x, y, z) or (x, y) for a 2D image (the view is zoomed so the xy
        section fills the panel, centred on the middle section); an NGFF channel axis ``c`` becomes
        Neuroglancer's channel dimension and needs no entry
    value_range : the grey-scale range (``shaderControls.normalized.range``), e.g. min/max JSON
    shader : a Neuroglancer shader instead of the default grey scale (e.g. RGB from channel ``c'``)
    size : panel size in pixels

    Returns
    -------
    dict with ``png``, ``loaded`` (the source's metadata was read), ``stats`` (`image_stats` of the panel), ``errors`` (error messages in the
    page), ``failed`` (data URLs that failed to load, other than zarr's metadata probes) and
    ``layer`` (the layer state Neuroglancer ended with).
    """
    neuroglancer = require_module("neuroglancer")
    with serve_directory(data_dir) as data, neuroglancer_viewer() as viewer, browser(size) as driver:
        with viewer.txn() as state:
            controls = {"normalized": {"range": list(value_range)}} if value_range else {}
            state.layers["data"] = neuroglancer.ImageLayer(
                source=f"{scheme}://{data}/{path_in_dir.strip('/')}", shader_controls=controls)
            if shader:
                state.layers["data"].shader = shader
            state.layout = "xy"
            state.show_axis_lines = False
            state.show_default_annotations = False
            state.show_scale_bar = False
        driver.get(viewer.get_viewer_url())
        wait_for(driver, "window.viewer !== undefined", timeout_s)
        loaded = wait_for_neuroglancer_dimensions(viewer, timeout_s, driver)
        if loaded:
            with viewer.txn() as state:
                names = list(state.dimensions.names)
                state.display_dimensions = [name for name in ("x", "y", "z") if name in names]
                centre = dict(zip("xyz", (n / 2 for n in shape_xyz)))
                state.position = [centre.get(name, 0.5) for name in names]
                state.cross_section_scale = 1.05 * max(shape_xyz[0] / size[0], shape_xyz[1] / size[1])
            reply = viewer.screenshot(size=list(size))  # returns once every visible chunk is drawn
            Path(out_png).write_bytes(reply.screenshot.image)
        else:  # the source never opened: keep what the page shows
            Path(out_png).write_bytes(driver.get_screenshot_as_png())
        errors = driver.execute_script(f"return {NG_ERRORS_JS};")
        console = [entry.get("message", "") for entry in driver.get_log("browser")]
        layer = viewer.state.layers["data"].to_json()
    failed = [m for m in console if "Failed to load resource" in m and data in m
              and not any(probe in m for probe in ("zarr.json", ".zarray", ".zattrs", ".zgroup"))]
    return {"png": Path(out_png), "loaded": loaded, "stats": image_stats(out_png), "errors": errors,
            "failed": failed, "layer": layer, "console": console}


def wait_for_neuroglancer_dimensions(viewer: Any, timeout_s: float, driver: Any = None) -> bool:
    """Wait until Neuroglancer has read the source's metadata (the state gains dimensions x and y);
    False when it has not within ``timeout_s`` or (given the ``driver``) a source reported an error."""
    deadline = time.monotonic() + timeout_s
    while True:
        dims = viewer.state.dimensions
        if dims is not None and {"x", "y"} <= set(dims.names):
            return True
        if time.monotonic() > deadline or (driver is not None and driver.execute_script(f"return {NG_ERRORS_JS};")):
            return False
        time.sleep(0.2)


# JS: data-source load errors and shader compile errors of every layer, plus error messages in the page.
NG_ERRORS_JS = """(() => {
  const out = [];
  const viewer = window.viewer;
  for (const managed of (viewer ? viewer.layerManager.managedLayers : [])) {
    for (const source of (managed.layer ? managed.layer.dataSources : [])) {
      const state = source.loadState;
      if (state && state.error) out.push(String(state.error.message || state.error));
    }
    const shaderError = managed.layer && managed.layer.shaderError ? managed.layer.shaderError.value : undefined;
    if (shaderError) out.push('shader: ' + String(shaderError.message || JSON.stringify(shaderError)));
  }
  for (const e of document.querySelectorAll('.neuroglancer-message-error, .neuroglancer-layer-item-error')) {
    if (e.textContent && e.textContent.trim()) out.push(e.textContent.trim());
  }
  return out;
})()"""
