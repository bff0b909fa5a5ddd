"""``emflow view``'s HTTP server: OUT read-only, the bundled Neuroglancer client, one state per series.

Public names
------------
ViewServer(out, series=None, bind="127.0.0.1", port=0)   bind, ``.start()``/``.serve_forever()``/``.close()``;
                                                         ``.viewer_url(name)``, ``.index_url``, ``.series``
find_series(out, names=None) -> list[str]                series folders of OUT with a Neuroglancer volume
neuroglancer_client_dir() -> Path                        the client files of the ``neuroglancer`` package
resolve_under(root, url_path) -> Path                    a URL path as a file under root (Forbidden if it leaves)
CONTENT_TYPES, content_type(path)

URL space
---------
``/``                              index: one entry per series (key image, viewer link, report)
``/<path>``                        files of OUT (GET/HEAD, single byte ranges, CORS); never outside
                                   OUT: ``..`` (also percent-encoded), encoded ``/``, NUL, symlinks
                                   resolving out of OUT get 403; no PUT/DELETE/POST
``/neuroglancer/v/<B>/``           the Neuroglancer client from the ``neuroglancer`` PyPI package
``/neuroglancer/events/<B>``       its state stream, ``/neuroglancer/state/<B>`` (POST) its edits

The package's client is the one its Python integration serves: it finds its "viewer token" in
the path ``.../v/<token>/`` and reads the state from a server-sent event stream at
``.../events/<token>``, posting each change to ``.../state/<token>``. This server speaks that small
protocol with the series name as the token; edits are kept in memory for the session only
(OUT stays read-only). Sources in the state point back to this server at the address the
browser used (the request's Host), so the same URL works through a tunnel or another hostname.
"""

from __future__ import annotations

import html
import http.server
import importlib.util
import json
import mimetypes
import os
import re
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from emflow.errors import EmflowInputError
from emflow.view.state import PRECOMPUTED_DIR, ZARR_DIR, fill_base_url, load_state

NG_PREFIX = "/neuroglancer"
CLIENT_FILE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_\-.]*\.(?:js|map|css|wasm|html)$")
CONTENT_TYPES = {
    ".json": "application/json", ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8", ".css": "text/css", ".js": "application/javascript",
    ".map": "application/json", ".wasm": "application/wasm", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".png": "image/png", ".mp4": "video/mp4", ".svg": "image/svg+xml", ".gz": "application/gzip",
}
# Metadata files of precomputed volumes and Zarr arrays have no (or a dot-only) extension
JSON_NAMES = frozenset({"info", ".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json", "provenance"})
KEEPALIVE_S = 15.0
COPY_BLOCK = 1 << 16


class Forbidden(Exception):
    """A URL path that would leave the served folder."""


def content_type(path: Path) -> str:
    """The Content-Type of a served file; chunks without an extension are octet-stream."""
    if path.name in JSON_NAMES:
        return "application/json"
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    if not suffix or suffix[1:].isdigit():  # precomputed "0-64_0-64_0-64", zarr "0.0.0" / "0"
        return "application/octet-stream"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def resolve_under(root: Path, url_path: str) -> Path:
    """The file that URL path ``url_path`` names under ``root`` (resolved, symlinks followed).

    Raises `Forbidden` for a ``.``/``..`` segment (raw or percent-encoded), an encoded ``/`` or
    ``\\``, a NUL, an absolute path (``//x``) or a path whose real location is outside ``root``.
    """
    if url_path.startswith("//"):
        raise Forbidden(url_path)
    parts = []
    for raw in url_path.split("/"):
        segment = unquote(raw, errors="strict")
        if segment in (".", "..") or any(c in segment for c in "/\\\x00"):
            raise Forbidden(url_path)
        if segment:
            parts.append(segment)
    real_root = root.resolve()
    real = real_root.joinpath(*parts).resolve()
    if real != real_root and real_root not in real.parents:
        raise Forbidden(url_path)
    return real


def neuroglancer_client_dir() -> Path:
    """``neuroglancer/static/client`` of the installed ``neuroglancer`` package, found without importing it."""
    spec = importlib.util.find_spec("neuroglancer")
    if spec is None or not spec.submodule_search_locations:
        raise EmflowInputError("neuroglancer", "the Python package is not installed (pip install 'emflow[view]')")
    for location in spec.submodule_search_locations:
        client = Path(location) / "static" / "client"
        if (client / "index.html").is_file():
            return client
    raise EmflowInputError("neuroglancer", "the package has no bundled client (static/client/index.html)")


def find_series(out: Path, names: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Folders ``OUT/B`` holding ``neuro-B/info`` or ``B.ome.zarr``, sorted; ``names`` picks some."""
    def has_volume(name: str) -> bool:
        folder = out / name
        return (folder / PRECOMPUTED_DIR.format(B=name) / "info").is_file() or (folder / ZARR_DIR.format(B=name)).is_dir()

    if not out.is_dir():
        raise EmflowInputError(out, "is not a folder")
    if names:
        for name in names:
            if "/" in name or name in (".", "..") or not has_volume(name):
                raise EmflowInputError(out / name, f"has no Neuroglancer volume (neuro-{name}/ or {name}.ome.zarr/)")
        return list(dict.fromkeys(names))
    found = sorted(p.name for p in out.iterdir() if p.is_dir() and has_volume(p.name))
    if not found:
        raise EmflowInputError(out, "has no series with a Neuroglancer volume (OUT/B/neuro-B/ or OUT/B/B.ome.zarr/)")
    return found


class _SeriesStates:
    """The session's state of each series: what the page edited last, and its generation."""

    def __init__(self, out: Path, names: list[str]) -> None:
        self.templates = {name: load_state(out / name, name) for name in names}  # bad files fail at start
        self.edited: dict[str, tuple[Any, str]] = {}
        self.lock = threading.Lock()

    def current(self, name: str, base_url: str) -> tuple[Any, str]:
        with self.lock:
            if name in self.edited:
                return self.edited[name]
        return fill_base_url(self.templates[name], f"{base_url}/{quote(name)}"), "emflow/0"

    def edit(self, name: str, state: Any, generation: str) -> None:
        with self.lock:
            self.edited[name] = (state, generation)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "emflow-view"

    # --- plumbing -------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the data is thousands of chunks
        pass

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range, Content-Encoding, Accept-Ranges")
        super().end_headers()

    def _reply(self, status: int, body: bytes = b"", ctype: str = "text/plain; charset=utf-8",
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._reply(status, f"{status} {message}\n".encode())

    # --- methods --------------------------------------------------------------------------
    def do_OPTIONS(self) -> None:  # noqa: N802 - CORS preflight (Range makes a request non-simple)
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range, Content-Type")
        self.send_header("Access-Control-Max-Age", "86400")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path in ("", "/"):
            return self._reply(200, self.server.index_html().encode(), "text/html; charset=utf-8")
        if path == NG_PREFIX or path.startswith(NG_PREFIX + "/"):
            return self._neuroglancer_get(path[len(NG_PREFIX):])
        self._file(path)

    def do_POST(self) -> None:  # noqa: N802 - only the viewer's state edits (kept in memory)
        path = urlsplit(self.path).path
        match = re.fullmatch(rf"{NG_PREFIX}/state/([^/]+)", path)
        name = unquote(match.group(1)) if match else None
        if name not in self.server.series:
            return self._error(405, "read-only")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            message = json.loads(self.rfile.read(min(length, 64 << 20)))
            generation = f"{message['c']}/{message['g']}"
            self.server.states.edit(name, message["s"], generation)
        except (ValueError, KeyError, TypeError):
            return self._error(400, "bad state message")
        self._reply(200, json.dumps({"g": generation}).encode(), "application/json")

    def do_PUT(self) -> None:  # noqa: N802
        self._error(405, "read-only")

    do_DELETE = do_PATCH = do_PUT  # noqa: N815

    # --- OUT ------------------------------------------------------------------------------
    def _file(self, url_path: str) -> None:
        try:
            target = resolve_under(self.server.root, url_path)
        except (Forbidden, UnicodeDecodeError):
            return self._error(403, "forbidden")
        if target.is_dir():
            if not url_path.endswith("/"):
                return self._reply(301, b"", headers={"Location": quote(url_path + "/")})
            return self._reply(200, _listing(url_path, target).encode(), "text/html; charset=utf-8")
        encoding = None
        if not target.is_file() and target.with_name(target.name + ".gz").is_file():
            target, encoding = target.with_name(target.name + ".gz"), "gzip"  # precomputed --gzip chunks
        if not target.is_file():
            return self._error(404, "not found")
        self._send_file(target, "application/octet-stream" if encoding else content_type(target), encoding)

    def _send_file(self, target: Path, ctype: str, encoding: str | None = None) -> None:
        try:
            handle = target.open("rb")
        except OSError:
            return self._error(403, "cannot be read")
        with handle:
            size = os.fstat(handle.fileno()).st_size
            span = _byte_range(self.headers.get("Range"), size) if encoding is None else None
            if span == "unsatisfiable":
                return self._reply(416, b"", headers={"Content-Range": f"bytes */{size}"})
            start, end = span if isinstance(span, tuple) else (0, size - 1)
            self.send_response(206 if span else 200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(max(end - start + 1, 0)))
            self.send_header("Accept-Ranges", "bytes")
            if span:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.end_headers()
            if self.command == "HEAD":
                return
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                block = handle.read(min(COPY_BLOCK, left))
                if not block:
                    break
                self.wfile.write(block)
                left -= len(block)

    # --- the viewer -----------------------------------------------------------------------
    def _neuroglancer_get(self, path: str) -> None:
        match = re.fullmatch(r"/v/([^/]+)(/?)(.*)", path) or re.fullmatch(r"/(events)/([^/]+)()", path)
        if match is None:
            return self._error(404, "not found")
        if match.group(1) == "events":
            name = unquote(match.group(2))
            return self._events(name) if name in self.server.series else self._error(404, "no such series")
        name, slash, file = unquote(match.group(1)), match.group(2), match.group(3)
        if name not in self.server.series:
            return self._error(404, "no such series")
        if not slash:
            return self._reply(301, b"", headers={"Location": f"{NG_PREFIX}/v/{match.group(1)}/"})
        file = file or "index.html"
        if not CLIENT_FILE.match(file) or not (self.server.client / file).is_file():
            return self._error(404, "not found")
        self._send_file(self.server.client / file, content_type(Path(file)))

    def _events(self, name: str) -> None:
        """The client's server-sent event stream: the state once, then keep-alive comments."""
        query = dict(p.partition("=")[::2] for p in urlsplit(self.path).query.split("&") if p)
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        state, generation = self.server.states.current(name, f"http://{host}")
        self.close_connection = True  # the stream ends with the connection
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            if unquote(query.get("gs", "")) != generation:
                message = {"k": "s", "s": state, "g": generation}
                self.wfile.write(f"data: {json.dumps(message, separators=(',', ':'))}\n\n".encode())
            self.wfile.flush()
            while not self.server.stopping.wait(KEEPALIVE_S):
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def _byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) of a single ``bytes=`` range, "unsatisfiable", or None (whole file: no or
    a multi-part/garbled header, which RFC 9110 lets a server ignore)."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix: the last N bytes
        n = int(last)
        return (max(size - n, 0), size - 1) if n > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


def _listing(url_path: str, folder: Path) -> str:
    rows = "".join(
        f'<li><a href="{html.escape(quote(p.name))}{"/" if p.is_dir() else ""}">{html.escape(p.name)}{"/" if p.is_dir() else ""}</a></li>'
        for p in sorted(folder.iterdir(), key=lambda p: p.name))
    title = html.escape(unquote(url_path))
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body><h1>{title}</h1><ul>{rows}</ul></body></html>'


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # event streams must not hold the process at Ctrl-C
    allow_reuse_address = True

    root: Path
    client: Path
    series: list[str]
    states: _SeriesStates
    stopping: threading.Event
    index_html: Any


class ViewServer:
    """Serve OUT, the Neuroglancer client and one viewer state per series.

    Parameters
    ----------
    out : the run's output folder (SPEC §9 layout); only read
    series : series names (folders of OUT) to show; default every one with a pyramid or OME-Zarr
    bind, port : the address to listen on (port 0: a free one)
    """

    def __init__(self, out: str | os.PathLike[str], series: list[str] | tuple[str, ...] | None = None,
                 bind: str = "127.0.0.1", port: int = 0) -> None:
        self.out = Path(out)
        self.series = find_series(self.out, series)
        client = neuroglancer_client_dir()
        states = _SeriesStates(self.out, self.series)
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        server_class = type("_Server", (_HTTPServer,), {"address_family": family})
        try:
            self.httpd = server_class((bind, port), _Handler)
        except OSError as exc:
            raise EmflowInputError(f"--bind {bind} --port {port}", f"cannot listen ({exc.strerror or exc}); choose another --port (0: any free one)") from exc
        self.httpd.root = self.out.resolve()
        self.httpd.client = client
        self.httpd.series = self.series
        self.httpd.states = states
        self.httpd.stopping = threading.Event()
        self.httpd.index_html = self.index_html
        self._thread: threading.Thread | None = None
        host = bind if bind not in ("0.0.0.0", "::", "") else socket.gethostname()
        host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{host}:{self.httpd.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/"

    def viewer_url(self, name: str) -> str:
        return f"{self.base_url}{NG_PREFIX}/v/{quote(name)}/"

    def index_html(self) -> str:
        """The index page: per series its key image, the viewer link and the report."""
        rows = []
        for name in self.series:
            key = self.out / name / f"keyimg_{name}_s.jpg"
            image = (f'<img src="{html.escape(quote(f"{name}/{key.name}"))}" alt="key image of {html.escape(name)}" width="200">'
                     if key.is_file() else "")
            rows.append(f'<li class="series"><a href="{html.escape(f"{NG_PREFIX}/v/{quote(name)}/")}">{image}'
                        f"<br>{html.escape(name)}</a></li>")
        report = '<p><a href="report.html">report.html</a></p>' if (self.out / "report.html").is_file() else ""
        return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>emflow view</title>'
                "<style>body{font-family:system-ui,sans-serif;margin:1.5rem} ul{list-style:none;padding:0;display:flex;"
                "flex-wrap:wrap;gap:1rem} li{text-align:center}</style></head><body>"
                f"<h1>emflow view: {html.escape(self.out.resolve().name)}</h1>{report}"
                f'<p>Open a series in Neuroglancer:</p><ul>{"".join(rows)}</ul></body></html>')

    def start(self) -> ViewServer:
        """Serve in a background thread (tests); `close` stops it."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `close` (from another thread) or KeyboardInterrupt."""
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self.httpd.stopping.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def __enter__(self) -> ViewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
