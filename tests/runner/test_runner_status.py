from __future__ import annotations

import json
import os
from pathlib import Path

from emflow import __version__
from emflow.records import fingerprint, is_done, read_records, write_record


def test_record_format_and_fingerprints(tmp_path: Path) -> None:
    src = tmp_path / "in.mrc"
    src.write_bytes(b"12345")
    os.utime(src, ns=(1_000_000_000, 2_000_000_123))
    folder = tmp_path / "neuro"
    (folder / "k").mkdir(parents=True)
    (folder / "info").write_bytes(b"abc")
    (folder / "k" / "chunk").write_bytes(b"abcdefg")
    path = write_record(tmp_path / "st", "B", "pyramid", "done", seconds=1.23456, inputs=[src], outputs=[folder])
    assert path.name == "B.pyramid.status.json"
    record = json.loads(path.read_text())
    assert set(record) == {"series", "step", "status", "message", "seconds", "inputs", "outputs", "version"}
    assert record["inputs"] == [{"path": str(src), "size": 5, "mtime_ns": 2_000_000_123}]
    assert record["outputs"][0]["size"] == 10  # 3 + 7 bytes in the folder
    assert record["seconds"] == 1.235 and record["version"] == __version__
    assert read_records(tmp_path / "st")[("B", "pyramid")] == record


def test_is_done_detects_changes(tmp_path: Path) -> None:
    src, out = tmp_path / "in.mrc", tmp_path / "out.mp4"
    src.write_bytes(b"12345")
    out.write_bytes(b"movie")
    write_record(tmp_path, "B", "tilt_movie", "done", inputs=[src], outputs=[out])
    record = read_records(tmp_path)[("B", "tilt_movie")]
    assert is_done(record)
    stat = src.stat()
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched input: redo
    assert not is_done(record)
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert is_done(record)
    src.unlink()  # a removed input counts only when allowed (an intermediate)
    assert not is_done(record)
    assert is_done(record, allow_missing=[str(src)])
    assert not is_done({**record, "version": "0.0.0"}, allow_missing=[str(src)])
    assert not is_done({**record, "status": "error"}, allow_missing=[str(src)])
    assert not is_done(None)


def test_error_record_and_unreadable_files(tmp_path: Path) -> None:
    write_record(tmp_path, "B", "brt", "error", message="B.mrc: ABORT SET:\n  bad")
    (tmp_path / "junk.status.json").write_text("{not json")
    records = read_records(tmp_path)
    assert list(records) == [("B", "brt")]
    assert records[("B", "brt")]["message"] == "B.mrc: ABORT SET: bad"
    assert fingerprint(tmp_path / "nothing") == {"path": str(tmp_path / "nothing"), "size": None, "mtime_ns": None}
