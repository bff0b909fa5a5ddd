"""``OUT/assets.json`` + ``report.html`` (+ callback) for a spatialomics session (SPEC §8).

Public functions
----------------
session_manifest(entries)                      ``{"status", "files"}`` from ``files[]`` entries
collect_entries(out, session=None)             the per-file records ``OUT/<group>/<stem>/<stem>.asset.json``
write_session_manifest(out, entries, *, callback_url=None, token=None, log=None) -> dict

The schema check, report and callback are `emflow.manifest`'s (the tomography runner uses the
same ones); only the list of entries differs: one per slide file instead of one per series.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError
from emflow.manifest import publish_manifest
from emflow.manifest.portal import manifest_of
from emflow.spatialomics.results import RECORD_SUFFIX, FileResult
from emflow.spatialomics.session import discover_session


def session_manifest(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest dict: top-level status from the entries' statuses (the portal's rule), entries in order."""
    return manifest_of(list(entries))


def _read_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmflowInputError(path, f"not a readable spatialomics record: {exc}") from exc


def collect_entries(out: str | os.PathLike[str], session: str | os.PathLike[str] | None = None
                    ) -> list[dict[str, Any]]:
    """Gather the per-file records published under ``out`` (e.g. by Nextflow tasks).

    With ``session``, the entries follow the session's files in discovery order and a file
    without a record gets an ``error`` entry (``"spatialomics: FILE: no result record ..."``);
    without it, every ``OUT/*/*/*.asset.json`` is taken, sorted by ``primaryFilePath``.
    """
    out = Path(out)
    found = {}
    for path in sorted(out.glob(f"*/*/*{RECORD_SUFFIX}")):
        entry = _read_record(path)
        found[entry.get("primaryFilePath")] = entry
    if session is None:
        return [found[k] for k in sorted(found)]
    entries = []
    for item in discover_session(session).files:
        entry = found.get(item.relative)
        if entry is None:
            message = f"spatialomics: {item.relative}: no result record (the task did not finish)"
            entry = FileResult(item.relative, item.group, "error", message, item.stem).to_manifest_entry()
        entries.append(entry)
    return entries


def write_session_manifest(out: str | os.PathLike[str], entries: list[dict[str, Any]], *,
                           callback_url: str | None = None, token: str | None = None,
                           log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Validate and write ``OUT/assets.json`` and ``OUT/report.html``; POST assets.json to
    ``callback_url`` (token from ``$EMFLOW_TOKEN`` unless given). Returns the manifest."""
    return publish_manifest(out, session_manifest(entries), callback_url=callback_url, token=token, log=log)
