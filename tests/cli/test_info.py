"""`emflow info`: IMOD-header-like summary and one-line errors (exit 2)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from emflow.cli import main
from emflow.mrc import write_volume


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_text_and_json(make_mrc, capsys) -> None:
    path = make_mrc("ts.mrc", np.zeros((3, 5, 7), np.int16), voxel_size_angstrom=(4.5, 4.5, 4.5), tilt_angles_deg=[-20, 0, 20])
    code, out, err = run(["info", str(path)], capsys)
    assert code == 0 and err == ""
    assert "7 x 5 x 3" in out and "(int16)" in out and "4.5 4.5 4.5" in out
    assert "3 from rawtlt (-20 ... 20)" in out
    code, out, _ = run(["info", "--json", str(path)], capsys)
    (record,) = json.loads(out)
    assert record["dims_xyz"] == [7, 5, 3]
    assert record["mode"] == 1
    assert record["tilt_angles"]["count"] == 3


@pytest.mark.parametrize("case", ["truncated", "text", "huge"])
def test_info_bad_files_one_line_exit_2(tmp_path: Path, capsys, case: str) -> None:
    path = tmp_path / "x.mrc"
    if case == "text":
        path.write_text("not an mrc\n" * 200)
    else:
        write_volume(path, np.zeros((2, 4, 4), np.float32))
        raw = bytearray(path.read_bytes())
        if case == "huge":
            raw[0:12] = struct.pack("<3i", 100000, 100000, 100000)
        else:
            raw = raw[:-7]
        path.write_bytes(bytes(raw))
    code, out, err = run(["info", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"emflow: {path}: ")
    assert "Traceback" not in err


def test_info_several_files_reports_each(tmp_path: Path, make_mrc, capsys) -> None:
    good = make_mrc("g.mrc", np.zeros((1, 2, 2), np.float32))
    bad = tmp_path / "bad.mrc"
    bad.write_text("x")
    code, out, err = run(["info", "--json", str(bad), str(good)], capsys)
    assert code == 2
    assert len(json.loads(out)) == 1
    assert "bad.mrc" in err


def test_info_real_samples(shared_data: Path, tmp_path: Path, capsys) -> None:
    stack = shared_data / "tilt_series" / "etspy_HAADF.mrc"
    code, out, _ = run(["info", str(stack)], capsys)
    assert code == 0
    assert "256 x 256 x 77" in out and "Map mode ..............................  1 " in out
    assert "77 from rawtlt (-76 ... 76)" in out
    alone = shutil.copy(stack, tmp_path / "etspy.mrc")
    code, out, _ = run(["info", str(alone)], capsys)
    assert "77 from FEI-old (-76 ... 76)" in out
    code, out, _ = run(["info", "--json", str(shared_data / "micrographs" / "fei-extended_crop.mrc")], capsys)
    assert json.loads(out)[0]["tilt_angles"]["source"] == "FEI1"
