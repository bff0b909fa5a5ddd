"""Fixtures for the manifest tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from manifest_helpers import publish_series

from emflow.records import write_record


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path]:
    """(input folder with a.mrc, b.mrc, 'bad name.mrc'; OUT where a succeeded and b failed at brt)."""
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for name in ("a.mrc", "b.mrc", "bad name.mrc", "readme.txt"):
        (inp / name).write_bytes(b"not read")
    publish_series(out, "a")
    write_record(out / "b" / ".emflow", "b", "check", "done", seconds=0.1)
    write_record(out / "b" / ".emflow", "b", "brt", "error", message="b.mrc: ABORT SET: tiltalign", seconds=2.0)
    return inp, out
