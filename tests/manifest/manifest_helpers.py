"""Helpers for the manifest tests: a finished OUT folder made of placeholder files."""

from __future__ import annotations

import json
from pathlib import Path

from emflow.runner.status import write_record

MINMAX = {"neuroglancerPrecomputedMin": "30000", "neuroglancerPrecomputedMax": "34000",
          "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "65535"}
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
