"""emflow brt with the batchruntomo test double: staging, streaming, judging (SPEC §3.1)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from emflow.adoc import parse_adoc
from emflow.brt import BrtOutputs, brt_argv, run_brt
from emflow.cli import main
from emflow.errors import EmflowInputError, EmflowStepError
from emflow.mrc import read_info


def brt_cli(stack: Path, adoc: Path, workdir: Path, *extra: str) -> int:
    return main(["brt", str(stack), "--adoc", str(adoc), "--workdir", str(workdir), *extra])


def test_brt_argv():
    assert brt_argv("ts.adoc", 8) == ["batchruntomo", "-di", "ts.adoc", "-cpus", "8"]
    assert brt_argv("ts.adoc", 2, 1) == ["batchruntomo", "-di", "ts.adoc", "-cpus", "2", "-gpus", "1"]
    for cpus, gpus in ((0, 0), (1, 2), (1, -1)):
        with pytest.raises(EmflowInputError):
            brt_argv("ts.adoc", cpus, gpus)


def test_success(fake_brt, series, tmp_path, capsys):
    stack, adoc = series
    stack_bytes, adoc_text = stack.read_bytes(), adoc.read_text()
    work = tmp_path / "work"
    assert brt_cli(stack, adoc, work, "--cpus", "2", "--recon", "imod") == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"imod: {work}"
    out = BrtOutputs("ts", work)
    # IMOD's shapes (x, y, z) from the double: _ali 6x4x5, _full_rec 6x8x4, _rec 6x4x8
    assert [(i.nx, i.ny, i.nz) for i in map(read_info, (out.ali, out.full_rec, out.rec))] == [
        (6, 4, 5), (6, 8, 4), (6, 4, 8)]
    assert {p.name for p in out.kept()} == {
        "ts_ali.mrc", "ts_rec.mrc", "ts_full_rec.mrc", "ts.adoc", "ts.xf", "ts.tlt", "ts.rawtlt",
        "brt_run.log", "align.log", "tilt.log"}
    run_log = out.run_log.read_text()
    assert "Arguments: -di ts.adoc -cpus 2\n" in run_log and "Completed dataset ts" in run_log
    assert "-gpus" not in run_log
    assert "Completed dataset ts" in captured.err  # streamed to the console too
    # the processing folder's copy differs from the source in the datasetDirectory line only
    staged = (work / "ts.adoc").read_text().splitlines()
    source = adoc_text.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(source, staged, strict=True)) if a != b]
    assert [staged[i] for i in changed] == [f"setupset.datasetDirectory={work.resolve()}"]
    assert parse_adoc(work / "ts.adoc")["setupset.datasetDirectory"] == str(work.resolve())
    assert "setupset.datasetDirectory" in run_log and "(the only line changed)" in run_log
    # inputs untouched; the stack is linked, not copied
    assert stack.read_bytes() == stack_bytes and adoc.read_text() == adoc_text
    assert (work / "ts.mrc").samefile(stack)


def test_gpus_flag_reaches_batchruntomo(fake_brt, series, tmp_path):
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w", "--gpus", "1", "--cpus", "3") == 0
    assert "Arguments: -di ts.adoc -cpus 3 -gpus 1\n" in (tmp_path / "w" / "brt_run.log").read_text()


def test_abort_line_is_quoted(fake_brt, series, tmp_path, capsys):
    fake_brt("abort")
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("emflow: batchruntomo: ABORT SET: Too few fiducials were tracked to do an alignment "
                       "(in brt_run.log)")


def test_missing_rec_is_named(fake_brt, series, tmp_path, capsys):
    fake_brt("missing_rec")
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w") == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"emflow: {tmp_path / 'w' / 'ts_rec.mrc'}: required output is missing (batchruntomo did not write it)"


def test_corrupt_rec_is_named(fake_brt, series, tmp_path, capsys):
    fake_brt("corrupt_rec")
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w") == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"emflow: {tmp_path / 'w' / 'ts_rec.mrc'}: required output is not a valid MRC: ")


@pytest.mark.timeout(60)
def test_timeout_kills_batchruntomo(fake_brt, series, tmp_path, monkeypatch):
    fake_brt("sleep")
    monkeypatch.setenv("EMFLOW_FAKE_BRT_SLEEP_S", "30")
    stack, adoc = series
    start = time.monotonic()
    with pytest.raises(EmflowStepError, match="timed out after 1 s"):
        run_brt(stack, adoc, tmp_path / "w", recon="imod", timeout_s=1)
    assert time.monotonic() - start < 15
    assert "Running tilt.com" in (tmp_path / "w" / "brt_run.log").read_text()


def test_workdir_holding_the_stack(fake_brt, series):
    stack, adoc = series
    result = run_brt(stack, adoc, stack.parent, recon="auto")
    assert result.backend == "imod"
    assert not stack.is_symlink() and result.outputs.rec.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "2"], "--gpus: value 2 must be 0 or 1"),
        (["--cpus", "0"], "--cpus: value 0 must be a whole number >= 1"),
    ],
)
def test_bad_options(fake_brt, series, tmp_path, capsys, args, message):
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w", *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_adoc_for_another_series(fake_brt, series, make_mrc, tmp_path, capsys):
    _, adoc = series
    other = make_mrc("other.mrc", np.zeros((2, 4, 4), np.int16))
    assert brt_cli(other, adoc, tmp_path / "w") == 2
    assert "setupset.copyarg.name is ts, but the stack is other" in capsys.readouterr().err


def test_bad_line_in_users_adoc(fake_brt, series, tmp_path, capsys):
    stack, adoc = series
    bad = tmp_path / "ts.adoc"
    bad.write_text(adoc.read_text() + "comparam.tilt.tilt.LOG=1 # no log\n")
    assert brt_cli(stack, bad, tmp_path / "w") == 2
    assert f"{bad} line " in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_imod_required_but_absent(no_brt, series, tmp_path, capsys):
    stack, adoc = series
    assert brt_cli(stack, adoc, tmp_path / "w", "--recon", "imod") == 2
    err = capsys.readouterr().err.strip()
    assert err == "emflow: --recon imod: batchruntomo not found on PATH; use a container profile or --recon preview"
    assert os.listdir(tmp_path) and not (tmp_path / "w").exists()


def test_rerun_ignores_what_an_earlier_run_left(fake_brt, series, tmp_path, capsys):
    stack, adoc = series
    work = tmp_path / "w"
    work.mkdir()
    (work / "old.log").write_text("ABORT SET: from last week\n")
    assert brt_cli(stack, adoc, work) == 0  # an old, unchanged log's ABORT line is not this run's
    fake_brt("missing_rec")  # the earlier _rec.mrc is still there, but this run did not write it
    assert brt_cli(stack, adoc, work) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"emflow: {work / 'ts_rec.mrc'}: required output was not written by this run (left from an earlier one)"


def test_copy_when_links_are_impossible(fake_brt, series, tmp_path, monkeypatch):
    stack, adoc = series

    def refuse(*args, **kwargs):
        raise OSError("links not supported here")

    monkeypatch.setattr(os, "symlink", refuse)
    monkeypatch.setattr(os, "link", refuse)
    result = run_brt(stack, adoc, tmp_path / "w", recon="imod")
    staged = tmp_path / "w" / "ts.mrc"
    assert not staged.is_symlink() and not staged.samefile(stack)
    assert staged.read_bytes() == stack.read_bytes()
    assert result.outputs.rec.is_file()
