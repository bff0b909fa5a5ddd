#!/usr/bin/env python3
"""Compare the data files of two emflow output folders (CI: container run vs native run).

    python3 scripts/ci/compare_outputs.py EXPECTED ACTUAL

Both folders must hold the same data files, each with the same bytes: MRC volumes, movies, key
images, tilt/transform text, Neuroglancer pyramid and OME-Zarr chunks. JSON files are compared
after dropping timings and mtimes and masking absolute paths (they name the run's own folders).
Not compared: pipeline_info/ and the hidden .emflow/ status records (run metadata), report.html,
logs and the directive (.adoc) copies, which name the run's folders. Exit 1 and a line per
difference when they differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from folder_bytes import folder_bytes  # noqa: E402

RUN_METADATA_DIRS = {"pipeline_info", ".emflow"}
NOT_DATA_SUFFIXES = (".html", ".log", ".adoc", "run_log.txt", ".yml")
TIMING_KEYS = {"stepSeconds", "seconds", "mtime_ns", "started", "finished", "timestamp", "duration"}


def data_files(folder: Path) -> dict[str, bytes]:
    return {rel: data for rel, data in folder_bytes(folder).items()
            if not RUN_METADATA_DIRS & set(Path(rel).parts) and not rel.endswith(NOT_DATA_SUFFIXES)}


def without_run_details(value):
    """JSON value minus timings; absolute paths masked."""
    if isinstance(value, dict):
        return {k: without_run_details(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_run_details(v) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        return "<path>"
    return value


def differences(expected: Path, actual: Path) -> tuple[int, list[str]]:
    a, b = data_files(expected), data_files(actual)
    problems = [f"only in {expected}: {rel}" for rel in sorted(a.keys() - b.keys())]
    problems += [f"only in {actual}: {rel}" for rel in sorted(b.keys() - a.keys())]
    for rel in sorted(a.keys() & b.keys()):
        if rel.endswith(".json"):
            same = without_run_details(json.loads(a[rel])) == without_run_details(json.loads(b[rel]))
        else:
            same = a[rel] == b[rel]
        if not same:
            problems.append(f"differs: {rel}")
    return len(a.keys() & b.keys()), problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    expected, actual = (Path(p) for p in argv)
    compared, problems = differences(expected, actual)
    for line in problems:
        print(f"compare_outputs: {line}")
    kinds = sorted({Path(rel).suffix or "chunk" for rel in data_files(expected)})
    print(f"compare_outputs: {compared} data files compared ({' '.join(kinds)}): "
          f"{'identical' if not problems else f'{len(problems)} differences'}")
    return 1 if problems or not compared else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
