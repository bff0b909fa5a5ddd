"""--recon auto|imod|preview dispatch (preview replaced by a stand-in module) and the judge's rules."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from emflow.brt import BrtOutputs, run_brt
from emflow.brt.judge import find_abort_line, judge_run
from emflow.cli import main
from emflow.errors import EmflowStepError
from emflow.mrc import write_volume


@pytest.fixture
def fake_preview(monkeypatch):
    """Replace ``emflow.preview`` by a stand-in whose run_preview records its arguments and writes
    the three MRCs (``write=False``: writes nothing)."""
    calls: list[dict] = []
    state = {"write": True}

    def run_preview(stack, workdir, basename, **kwargs):
        calls.append({"stack": Path(stack), "workdir": Path(workdir), "basename": basename, **kwargs})
        kwargs["log"]("preview reconstruction (no fiducial alignment)")
        out = BrtOutputs(basename, Path(workdir))
        if state["write"]:
            for path in out.required():
                write_volume(path, np.zeros((2, 3, 4), np.float32))
        return out

    module = types.ModuleType("emflow.preview")
    module.run_preview = run_preview
    monkeypatch.setitem(sys.modules, "emflow.preview", module)
    return calls, state


def test_auto_without_imod_runs_preview_loudly(no_brt, fake_preview, series, tmp_path, caplog):
    calls, _ = fake_preview
    stack, adoc = series
    with caplog.at_level(logging.WARNING):
        result = run_brt(stack, adoc, tmp_path / "w", recon="auto", cpus=4, gpus=1)
    assert result.backend == "preview"
    assert result.outputs == BrtOutputs("ts", tmp_path / "w")
    assert "using the PREVIEW reconstruction (no fiducial alignment)" in caplog.text
    (call,) = calls
    log = call.pop("log")
    assert callable(log)
    assert call == {"stack": stack, "workdir": tmp_path / "w", "basename": "ts", "bin_factor": 4,
                    "thickness_px": 32, "pixel_size_nm": 2.0, "tilt_axis_deg": 0.0, "gpus": 1, "cpus": 4}
    assert (tmp_path / "w" / "ts.adoc").is_file()
    run_log = (tmp_path / "w" / "brt_run.log").read_text()
    assert "preview reconstruction (no fiducial alignment)" in run_log
    assert "--recon auto: using the preview backend (batchruntomo not found on PATH)" in run_log


def test_preview_asked_for_even_with_imod(fake_brt, fake_preview, series, tmp_path, capsys):
    calls, _ = fake_preview
    stack, adoc = series
    code = main(["brt", str(stack), "--adoc", str(adoc), "--workdir", str(tmp_path / "w"), "--recon", "preview",
                 "--tilt-axis-deg", "85.5", "--cpus", "3"])
    assert code == 0
    assert capsys.readouterr().out.strip() == f"preview: {tmp_path / 'w'}"
    assert calls[0]["tilt_axis_deg"] == 85.5 and calls[0]["gpus"] == 0
    assert calls[0]["cpus"] == 3  # emflow brt --cpus (the Nextflow task's task.cpus) reaches the preview


def test_preview_missing_output_fails(no_brt, fake_preview, series, tmp_path):
    _, state = fake_preview
    state["write"] = False
    stack, adoc = series
    with pytest.raises(EmflowStepError, match="ts_ali.mrc: required output is missing"):
        run_brt(stack, adoc, tmp_path / "w", recon="preview")


@pytest.mark.parametrize(
    ("lines", "found"),
    [
        (["Running tilt.com", "ABORT SET: tilt failed", "ABORT AXIS: later"], "ABORT SET: tilt failed"),
        (["   ABORT AXIS: No fiducials  \n"], "ABORT AXIS: No fiducials"),
        (["ABORT AXIS AND SET: out of disk"], "ABORT AXIS AND SET: out of disk"),
        (["NOT ABORT SET: x", "ABORT SETS: x", "abort set: x", "ABORT SET x"], None),
    ],
)
def test_find_abort_line(lines, found):
    assert find_abort_line(lines) == found


def _complete(folder: Path) -> BrtOutputs:
    out = BrtOutputs("ts", folder)
    for path in out.required():
        write_volume(path, np.zeros((2, 3, 4), np.int16))
    (folder / "brt_run.log").write_text("Completed dataset ts\n")
    return out


def test_judge_abort_in_a_log_with_exit_0(tmp_path):
    out = _complete(tmp_path)
    (tmp_path / "align.log").write_text("residual\nABORT AXIS: Too many unknowns\n")
    with pytest.raises(EmflowStepError) as info:
        judge_run(0, out)
    assert str(info.value) == "batchruntomo: ABORT AXIS: Too many unknowns (in align.log)"


def test_judge_exit_status(tmp_path):
    out = _complete(tmp_path)
    judge_run(0, out)
    with pytest.raises(EmflowStepError, match="exited with status 3"):
        judge_run(3, out)


def test_judge_post_processing_off(tmp_path):
    out = _complete(tmp_path)
    out.full_rec.unlink()
    judge_run(0, out, post_processing=False)
    with pytest.raises(EmflowStepError, match="ts_full_rec.mrc: required output is missing"):
        judge_run(0, out)


def test_judge_truncated_mrc(tmp_path):
    out = _complete(tmp_path)
    out.ali.write_bytes(out.ali.read_bytes()[:-8])
    with pytest.raises(EmflowStepError, match="ts_ali.mrc: required output is not a valid MRC"):
        judge_run(0, out)
