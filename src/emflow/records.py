"""Step status records: resume markers and failure reports (docs/DEVELOPING.md).

A record is ``DIR/<series>.<step>.status.json`` =
``{"series", "step", "status": "done"|"error", "message", "seconds", "inputs", "outputs", "version"}``
where ``inputs``/``outputs`` are ``[{"path", "size", "mtime_ns"}]`` (a folder's size is the sum of
its files' sizes, its mtime the newest of them). The local runner keeps them in
``OUT/<series>/.emflow/``; ``emflow record`` writes them for Nextflow tasks.

Public functions
----------------
fingerprint(path)                      {"path", "size", "mtime_ns"} of a file or folder
write_record(status_dir, ...)          write one record atomically; returns its path
read_records(status_dir)               every record in a folder, by (series, step)
is_done(record, allow_missing=())      True when a done record still matches the files
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from emflow import __version__
from emflow.atomic import TMP_PREFIX, write_json_atomic

STATUS_SUFFIX = ".status.json"

# Fields a command adds to the record that `emflow record` writes for it (same process), e.g. the
# per-series parameters and their sources (`emflow adoc`, `emflow brt`).
RECORD_EXTRA: dict[str, Any] = {}


def add_record_extra(**fields: Any) -> None:
    """Add ``fields`` to the status record of the command now running under `emflow record`."""
    RECORD_EXTRA.update(fields)


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"path", "size", "mtime_ns"}`` of a file, or of a folder (sum of sizes, newest mtime).

    A missing path gets ``size`` and ``mtime_ns`` of ``None``.
    """
    path = Path(path)
    if path.is_dir():
        size, mtime = 0, path.stat().st_mtime_ns
        for root, _dirs, files in os.walk(path):
            for name in files:
                st = os.stat(os.path.join(root, name))
                size += st.st_size
                mtime = max(mtime, st.st_mtime_ns)
        return {"path": str(path), "size": size, "mtime_ns": mtime}
    try:
        st = path.stat()
    except FileNotFoundError:
        return {"path": str(path), "size": None, "mtime_ns": None}
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def record_path(status_dir: str | os.PathLike[str], series: str, step: str) -> Path:
    return Path(status_dir) / f"{series}.{step}{STATUS_SUFFIX}"


def write_record(
    status_dir: str | os.PathLike[str],
    series: str,
    step: str,
    status: str,
    *,
    message: str = "",
    seconds: float = 0.0,
    inputs: Sequence[str | os.PathLike[str]] = (),
    outputs: Sequence[str | os.PathLike[str]] = (),
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``<series>.<step>.status.json`` atomically with fingerprints of inputs and outputs."""
    if status not in ("done", "error"):
        raise ValueError(f"status must be done or error, not {status!r}")
    record = {
        "series": series,
        "step": step,
        "status": status,
        "message": " ".join(str(message).split()),
        "seconds": round(float(seconds), 3),
        "inputs": [fingerprint(p) for p in inputs],
        "outputs": [fingerprint(p) for p in outputs],
        "version": __version__,
    }
    if extra:
        record.update(extra)
    return write_json_atomic(record_path(status_dir, series, step), record)


def read_records(status_dir: str | os.PathLike[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every readable record in ``status_dir`` keyed by ``(series, step)``; unreadable ones skipped."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    folder = Path(status_dir)
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob(f"*{STATUS_SUFFIX}")):
        if path.name.startswith(TMP_PREFIX):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[(str(record["series"]), str(record["step"]))] = record
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def _matches(entry: dict[str, Any], allow_missing: Iterable[str]) -> bool:
    now = fingerprint(entry["path"])
    if now["size"] is None:
        return entry["path"] in set(allow_missing)
    return now["size"] == entry.get("size") and now["mtime_ns"] == entry.get("mtime_ns")


def is_done(record: dict[str, Any] | None, allow_missing: Iterable[str] = ()) -> bool:
    """True when ``record`` is a ``done`` record of this emflow version whose inputs and outputs
    are unchanged (same size and mtime_ns). Paths in ``allow_missing`` (intermediates removed
    on purpose) may be absent."""
    if not record or record.get("status") != "done" or record.get("version") != __version__:
        return False
    allowed = {str(p) for p in allow_missing}
    entries = list(record.get("inputs", [])) + list(record.get("outputs", []))
    return all(_matches(entry, allowed) for entry in entries)
