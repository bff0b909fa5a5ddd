"""``emflow view``'s server: OUT read-only (no escape), byte ranges, CORS, content types, the
viewer protocol (client files, state stream, edits in memory), the index page, Ctrl-C."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emflow.errors import EmflowInputError
from emflow.view.server import ViewServer, content_type, find_series

needs_client = pytest.mark.skipif(importlib.util.find_spec("neuroglancer") is None,
                                  reason="the neuroglancer package (its client files) is not installed")

INFO = {"type": "image", "num_channels": 1, "data_type": "uint8",
        "scales": [{"chunk_sizes": [[8, 8, 8]], "encoding": "raw", "key": "1nm", "resolution": [1.5, 1.5, 2.0],
                    "size": [8, 6, 4], "voxel_offset": [0, 0, 0]}]}
MINMAX = {"neuroglancerPrecomputedMin": "10", "neuroglancerPrecomputedMax": "90",
          "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "200"}
CHUNK = bytes(range(192))


def make_series(out: Path, name: str) -> Path:
    folder = out / name
    (folder / f"neuro-{name}" / "1nm").mkdir(parents=True)
    (folder / f"neuro-{name}" / "info").write_text(json.dumps(INFO))
    (folder / f"neuro-{name}" / "1nm" / "0-8_0-6_0-4").write_bytes(CHUNK)
    (folder / f"{name}_min_max.json").write_text(json.dumps(MINMAX))
    return folder


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "OUT"
    make_series(out, "B")
    (tmp_path / "secret.txt").write_text("outside OUT")
    (out / "B" / "escape").symlink_to(tmp_path / "secret.txt")
    (out / "B" / "inside").symlink_to(out / "B" / "B_min_max.json")
    (out / "B" / "z.ome.zarr" / "0").mkdir(parents=True)
    (out / "B" / "z.ome.zarr" / "0" / ".zarray").write_text("{}")
    (out / "B" / "z.ome.zarr" / "0" / "0.0.0").write_bytes(b"\0" * 4)
    (out / "report.html").write_text("<html></html>")
    return out


@pytest.fixture
def server(out: Path) -> Iterator[ViewServer]:
    if importlib.util.find_spec("neuroglancer") is None:
        pytest.skip("the neuroglancer package (its client files) is not installed")
    with ViewServer(out, port=0) as srv:
        yield srv


def request(srv: ViewServer, path: str, method: str = "GET", headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict, bytes]:
    """A raw request (the path is sent as is: no client-side normalisation of ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/B/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/secret.txt",
    "/B/..%2f..%2fsecret.txt", "/B/%2e%2e%2f%2e%2e%2fsecret.txt", "/B/escape", "/B/%00", "/B/..%5c..%5csecret.txt",
])
def test_escape_attempts_are_refused(server: ViewServer, path: str) -> None:
    status, _, body = request(server, path)
    assert status == 403 and b"outside OUT" not in body


@pytest.mark.parametrize("path", ["//etc/passwd", "/etc/passwd", "///tmp", "/B/nothing"])
def test_absolute_or_missing_paths_are_not_found(server: ViewServer, path: str) -> None:
    status, _, body = request(server, path)
    assert status == 404 and b"root:" not in body


def test_files_content_types_and_symlinks_inside(server: ViewServer) -> None:
    status, headers, body = request(server, "/B/neuro-B/info")
    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", INFO)
    status, headers, body = request(server, "/B/neuro-B/1nm/0-8_0-6_0-4")
    assert (status, headers["content-type"], body) == (200, "application/octet-stream", CHUNK)
    assert headers["content-length"] == "192" and headers["accept-ranges"] == "bytes"
    assert request(server, "/B/z.ome.zarr/0/.zarray")[1]["content-type"] == "application/json"
    assert request(server, "/B/z.ome.zarr/0/0.0.0")[1]["content-type"] == "application/octet-stream"
    assert request(server, "/B/inside")[0] == 200  # a symlink that stays inside OUT
    status, headers, body = request(server, "/B/neuro-B/1nm/0-8_0-6_0-4", "HEAD")
    assert (status, headers["content-length"], body) == (200, "192", b"")
    assert [content_type(Path(n)) for n in ("a.mp4", "a.jpg", "report.html", "x.0", "provenance")] == [
        "video/mp4", "image/jpeg", "text/html; charset=utf-8", "application/octet-stream", "application/json"]


def test_byte_ranges(server: ViewServer) -> None:
    chunk = "/B/neuro-B/1nm/0-8_0-6_0-4"
    status, headers, body = request(server, chunk, headers={"Range": "bytes=10-19"})
    assert (status, headers["content-range"], body) == (206, "bytes 10-19/192", CHUNK[10:20])
    status, headers, body = request(server, chunk, headers={"Range": "bytes=-5"})
    assert (status, headers["content-range"], body) == (206, "bytes 187-191/192", CHUNK[-5:])
    status, headers, body = request(server, chunk, headers={"Range": "bytes=180-"})
    assert (status, headers["content-length"], body) == (206, "12", CHUNK[180:])
    status, headers, body = request(server, chunk, headers={"Range": "bytes=190-500"})
    assert (status, body) == (206, CHUNK[190:])
    status, headers, _ = request(server, chunk, headers={"Range": "bytes=192-"})
    assert (status, headers["content-range"]) == (416, "bytes */192")
    status, _, body = request(server, chunk, headers={"Range": "bytes=0-1,5-6"})  # multi-range: whole file
    assert (status, body) == (200, CHUNK)


def test_cors_and_read_only(server: ViewServer) -> None:
    _, headers, _ = request(server, "/B/B_min_max.json", headers={"Origin": "http://elsewhere"})
    assert headers["access-control-allow-origin"] == "*"
    assert "Content-Range" in headers["access-control-expose-headers"]
    status, headers, _ = request(server, "/B/B_min_max.json", "OPTIONS",
                                 headers={"Origin": "http://x", "Access-Control-Request-Headers": "range"})
    assert status == 204 and "Range" in headers["access-control-allow-headers"]
    assert headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    for method in ("PUT", "DELETE", "POST"):
        assert request(server, "/B/B_min_max.json", method, body=b"{}")[0] == 405
    assert json.loads((server.out / "B" / "B_min_max.json").read_text()) == MINMAX


def event_state(srv: ViewServer, name: str, gs: str = "", timeout_s: float = 5) -> dict | None:
    """The first server-sent event of the viewer's state stream (None when it sends no state)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout_s)
    try:
        conn.request("GET", f"/neuroglancer/events/{name}?c=client1&gc=&gs={gs}")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("content-type") == "text/event-stream"
        line = response.fp.readline()
        if line.startswith(b": keep-alive"):
            return None
        return json.loads(line.decode().removeprefix("data: "))
    except TimeoutError:
        return None
    finally:
        conn.close()


@needs_client
def test_viewer_client_and_state_protocol(server: ViewServer) -> None:
    url = server.viewer_url("B")
    assert url == f"http://127.0.0.1:{server.port}/neuroglancer/v/B/"
    status, headers, body = request(server, "/neuroglancer/v/B/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<script" in body
    script = body.decode().split('src="')[1].split('"')[0]
    status, headers, _ = request(server, f"/neuroglancer/v/B/{script}")
    assert (status, headers["content-type"]) == (200, "application/javascript")
    assert request(server, "/neuroglancer/v/B")[0] == 301
    assert request(server, "/neuroglancer/v/nope/")[0] == 404
    assert request(server, "/neuroglancer/v/B/..%2f..%2fB%2fB_min_max.json")[0] == 404
    message = event_state(server, "B")
    assert message["k"] == "s" and message["g"] == "emflow/0"
    layer = message["s"]["layers"][0]
    # sources point back at the address the browser used
    assert layer["source"] == f"precomputed://http://127.0.0.1:{server.port}/B/neuro-B"
    assert layer["shaderControls"]["normalized"] == {"range": [10, 90], "window": [0, 200]}
    assert message["s"]["dimensions"]["z"] == [2e-9, "m"] and message["s"]["position"] == [4.5, 3.5, 2.5]
    # an edit is kept for the session (in memory, OUT untouched) and not sent back to its author
    edited = dict(message["s"], layout="xy")
    status, _, body = request(server, "/neuroglancer/state/B", "POST",
                              body=json.dumps({"s": edited, "g": 7, "pg": "emflow/0", "c": "client1"}).encode())
    assert (status, json.loads(body)) == (200, {"g": "client1/7"})
    assert event_state(server, "B", gs="client1/7", timeout_s=0.5) is None
    assert event_state(server, "B")["s"]["layout"] == "xy"
    assert not (server.out / "B" / "B_neuroglancer.json").exists()


@needs_client
def test_index_lists_every_series(out: Path) -> None:
    make_series(out, "C")
    (out / "C" / "keyimg_C_s.jpg").write_bytes(b"\xff\xd8")
    (out / "notaseries").mkdir()
    with ViewServer(out, port=0) as srv:
        assert srv.series == ["B", "C"]
        status, _, body = request(srv, "/")
        page = body.decode()
        assert status == 200 and page.count('class="series"') == 2
        assert 'href="/neuroglancer/v/C/"' in page and 'src="C/keyimg_C_s.jpg"' in page and 'href="report.html"' in page
    with ViewServer(out, ["C"], port=0) as srv:
        assert srv.series == ["C"] and request(srv, "/neuroglancer/v/B/")[0] == 404


def test_find_series_errors(tmp_path: Path) -> None:
    with pytest.raises(EmflowInputError, match="is not a folder"):
        find_series(tmp_path / "missing")
    with pytest.raises(EmflowInputError, match="has no series"):
        find_series(tmp_path)
    make_series(tmp_path, "B")
    with pytest.raises(EmflowInputError, match="X: has no Neuroglancer volume"):
        find_series(tmp_path, ["B", "X"])


@needs_client
@pytest.mark.timeout(60)
def test_cli_prints_one_url_per_series_and_stops_cleanly_on_ctrl_c(out: Path) -> None:
    make_series(out, "C")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", "from emflow.cli import run_main; run_main()", "view", str(out), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        assert [line.split(": ")[0] for line in lines] == ["B", "C", "index"]
        port = int(lines[0].split(":")[-1].split("/")[0])
        assert lines[1] == f"C: http://127.0.0.1:{port}/neuroglancer/v/C/"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/C/C_min_max.json")
        assert json.loads(conn.getresponse().read()) == MINMAX
        conn.close()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err.rstrip().endswith("stopped")


def test_cli_public_url_prints_states_without_serving(out: Path) -> None:
    from click.testing import CliRunner

    from emflow.cli import cli

    result = CliRunner().invoke(cli, ["view", str(out), "--public-url", "https://data.example.org/run1/"])
    assert result.exit_code == 0, result.output
    states = json.loads(result.output)
    assert list(states) == ["B"]
    assert states["B"]["layers"][0]["source"] == "precomputed://https://data.example.org/run1/B/neuro-B"
