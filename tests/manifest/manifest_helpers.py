"""Helpers for the manifest tests: a finished OUT folder of placeholder files, a fake portal."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from emflow.records import write_record

MINMAX = {"neuroglancerPrecomputedMin": "30000", "neuroglancerPrecomputedMax": "34000",
          "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "65535"}
TOKEN = "s3cr3t-T0KEN-for-tests-9f8e7d"
STEPS = ("check", "adoc", "brt", "tilt_movie", "rec_movie", "pyramid")


def publish_series(out: Path, name: str, backend: str | None = "preview") -> None:
    """SPEC §9 files of one finished series (placeholders) and its done records."""
    folder = out / name
    (folder / f"neuro-{name}").mkdir(parents=True)
    (folder / f"neuro-{name}" / "info").write_text("{}")
    for pattern in ("keyimg_{B}.jpg", "keyimg_{B}_s.jpg", "tiltMov_{B}.mp4", "keyMov_{B}.mp4", "ave_{B}.mrc", "avebin8_{B}.mrc"):
        (folder / pattern.format(B=name)).write_bytes(b"x")
    (folder / f"{name}_min_max.json").write_text(json.dumps(MINMAX))
    for i, step in enumerate(STEPS):
        extra = {"backend": backend} if step == "brt" and backend else None
        write_record(folder / ".emflow", name, step, "done", seconds=i + 0.5, extra=extra)


def grep_token(folder: Path, token: str = TOKEN) -> list[str]:
    """Files below ``folder`` that contain ``token``."""
    return [str(p) for p in folder.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]


@contextlib.contextmanager
def portal(statuses: list[int]) -> Iterator[tuple[str, list[dict]]]:
    """A server answering POSTs with ``statuses`` in turn (then 200); yields (url, requests)."""
    seen: list[dict] = []
    answers = list(statuses)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
            code = answers.pop(0) if answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/assets?run=7", seen
    finally:
        server.shutdown()
        server.server_close()
