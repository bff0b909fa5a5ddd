"""`emflow record`: status records around an in-process emflow subcommand (Nextflow tasks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emflow.cli import main


def _record(folder: Path, series: str, step: str) -> dict:
    return json.loads((folder / f"{series}.{step}.status.json").read_text())


def test_done_record_with_inputs_and_outputs(tmp_path: Path, make_mrc, capfd) -> None:
    stack = make_mrc("s.mrc", np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4))
    marker = tmp_path / "made.txt"
    marker.write_text("x")
    code = main(["record", "--series", "s", "--step", "info", "--status-dir", str(tmp_path / "st"),
                 "--output", str(marker), "--", "info", str(stack), "--json"])
    assert code == 0
    assert json.loads(capfd.readouterr().out)[0]["dims_xyz"] == [4, 3, 2]  # the subcommand really ran
    record = _record(tmp_path / "st", "s", "info")
    assert record["status"] == "done" and record["message"] == ""
    assert record["inputs"] == [{"path": str(stack), "size": stack.stat().st_size, "mtime_ns": stack.stat().st_mtime_ns}]
    assert record["outputs"][0]["path"] == str(marker) and record["outputs"][0]["size"] == 1


def test_emflow_error_is_recorded_and_exits_0(tmp_path: Path, capfd) -> None:
    bad = tmp_path / "bad.mrc"
    bad.write_text("not an mrc")
    code = main(["record", "--series", "bad", "--step", "tilt_movie", "--status-dir", str(tmp_path / "st"),
                 "--", "info", str(bad)])
    assert code == 0
    record = _record(tmp_path / "st", "bad", "tilt_movie")
    assert record["status"] == "error" and record["message"].startswith(f"{bad}: ") and record["outputs"] == []


def test_usage_errors_still_fail(tmp_path: Path, capfd) -> None:
    assert main(["record", "--series", "s", "--step", "x", "--status-dir", str(tmp_path), "--", "no-such-command"]) == 2
    assert not list(tmp_path.glob("*.status.json"))
    assert main(["record", "--series", "bad name", "--step", "x", "--status-dir", str(tmp_path), "--", "info", "f"]) == 2
    assert "--series: series name 'bad name' is not allowed" in capfd.readouterr().err
