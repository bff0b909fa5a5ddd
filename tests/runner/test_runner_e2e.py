"""End to end on the bundled sample with the real steps (preview backend): the issue's must-shows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from runner_fakes import checksums

from emflow.cli import main
from emflow.data import DEMO_BASENAME, demo_dir
from emflow.manifest import validate_assets
from emflow.mrc import read_info

pytestmark = pytest.mark.slow
B = DEMO_BASENAME
SPEC9_FILES = {
    f"keyimg_{B}.jpg", f"keyimg_{B}_s.jpg", f"tiltMov_{B}.mp4", f"keyMov_{B}.mp4", f"ave_{B}.mrc", f"avebin8_{B}.mrc",
    f"{B}_min_max.json", f"neuro-{B}/info", f"brt/{B}.adoc", f"brt/{B}_rec.mrc", f"brt/{B}.tlt", f"brt/{B}.xf",
    "brt/brt_run.log",
}
EMFLOW = [sys.executable, "-c", "from emflow.cli import run_main; run_main()"]


def _series_files(out: Path) -> set[str]:
    return {str(p.relative_to(out / B)) for p in (out / B).rglob("*") if p.is_file()}


def test_demo_sample_is_the_binned_etspy_series() -> None:
    info = read_info(demo_dir() / f"{B}.mrc")
    assert info.shape == (77, 128, 128) and info.mode == 1
    assert info.voxel_size_angstrom == pytest.approx((67.2, 67.2, 67.2), rel=1e-6)
    assert "NIST" in (demo_dir() / "NOTICE").read_text() and "title 17" in (demo_dir() / "NOTICE").read_text()


def test_demo_sample_matches_imod_binning(shared_data: Path) -> None:
    from emflow.mrc import open_volume

    with open_volume(shared_data / "tilt_series" / "etspy_HAADF.mrc") as src, open_volume(demo_dir() / f"{B}.mrc") as dst:
        raw, binned = src.read_slab(0, 77).astype(np.float64), dst.read_slab(0, 77)
    assert binned.dtype == np.int16
    # section 40, output pixel (y=10, x=17) = mean of raw rows 20-21, columns 34-35, rounded half up
    block = raw[40, 20:22, 34:36]
    assert binned[40, 10, 17] == np.floor(block.mean() + 0.5)
    expected = np.floor(raw.reshape(77, 128, 2, 128, 2).mean(axis=(2, 4)) + 0.5)
    np.testing.assert_array_equal(binned, expected)


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["demo", str(out)]) == 0
    seconds = time.monotonic() - start
    files = _series_files(out)
    assert SPEC9_FILES <= files
    assert not any(f.endswith(("_ali.mrc", "_full_rec.mrc")) for f in files)  # intermediates removed
    assert not [p for p in (out / B / "brt").iterdir() if p.is_symlink()]
    assets = validate_assets(out / "assets.json")
    assert assets["status"] == "success" and len(assets["files"]) == 1
    entry = assets["files"][0]
    assert entry["primaryFilePath"] == f"{B}.mrc"
    assert entry["imageSet"][0]["imageMetadata"]["reconstruction"] == "preview"
    assert len(entry["imageSet"][0]["assets"]) == 7
    assert (out / "report.html").stat().st_size > 1000 and (out / "run_log.txt").exists()
    rec = read_info(out / B / "brt" / f"{B}_rec.mrc")
    assert rec.shape == (128, 128, 128)  # bin 1, 128 px thick
    assert not list(out.rglob(".emflow-tmp-*"))
    assert seconds < 120, f"demo took {seconds:.0f} s"


def test_bad_inputs_beside_the_sample(tmp_path: Path, make_mrc) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    for name in (f"{B}.mrc", f"{B}.rawtlt"):
        shutil.copyfile(demo_dir() / name, inp / name)
    good = (inp / f"{B}.mrc").read_bytes()
    (inp / "truncated.mrc").write_bytes(good[: len(good) // 2])
    (inp / "notes.mrc").write_text("acquisition notes, not an MRC\n" * 40)
    make_mrc("single.mrc", np.ones((16, 16), np.int16), folder=inp)
    (inp / "bad name.mrc").write_bytes(good)
    before = checksums(inp)
    out = tmp_path / "out"
    assert main(["run", str(inp), "--outdir", str(out), "--recon", "preview", "--bin", "2", "--thickness", "64"]) == 1
    assets = validate_assets(out / "assets.json")
    assert (assets["status"], assets["failedFiles"]) == ("success", 4)
    by_file = {f["primaryFilePath"]: f for f in assets["files"]}
    assert by_file[f"{B}.mrc"]["status"] == "success"
    errors = {k: f["message"] for k, f in by_file.items() if f["status"] == "error"}
    assert sorted(errors) == ["bad name.mrc", "notes.mrc", "single.mrc", "truncated.mrc"]
    for name, message in errors.items():
        assert "\n" not in message and name in message, message
    assert errors["truncated.mrc"].startswith("check: ")
    assert errors["single.mrc"].startswith("check: ") and "2D" in errors["single.mrc"]
    assert errors["bad name.mrc"].startswith("discover: ")
    assert SPEC9_FILES <= _series_files(out)
    assert checksums(inp) == before
    assert not list(out.rglob(".emflow-tmp-*"))


def _wait_for(path: Path, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, "the run ended before the marker appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_resume_after_kill_does_not_redo_finished_steps(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = out / B / ".emflow"
    proc = subprocess.Popen(EMFLOW + ["demo", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(status / f"{B}.brt.status.json", proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done_before = {p.name: p.read_bytes() for p in status.glob("*.status.json")}
    assert {f"{B}.check.status.json", f"{B}.adoc.status.json", f"{B}.brt.status.json"} <= set(done_before)
    assert not (out / "assets.json").exists()
    result = subprocess.run(EMFLOW + ["demo", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name, content in done_before.items():  # finished steps were not redone: records untouched
        assert (status / name).read_bytes() == content, name
    assert f"[{B}] brt: already done (--resume), skipped" in result.stderr
    assert f"[{B}] pyramid: done" in result.stderr
    assert validate_assets(out / "assets.json")["status"] == "success"
    assert SPEC9_FILES <= _series_files(out)
    assert not list(out.rglob(".emflow-tmp-*"))
