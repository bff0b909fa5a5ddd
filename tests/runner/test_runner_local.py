"""Orchestration with fake heavy steps: partial failure, resume, records, manifest, progress."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from runner_fakes import checksums, step_error, tree

from emflow.manifest import validate_assets
from emflow.runner.local import run_folder
from emflow.records import read_records
from emflow.runner.steps import RunOptions

CHAIN = ["adoc", "brt", "tilt_movie", "rec_movie", "pyramid"]
SERIES_FILES = {
    "keyimg_{B}.jpg", "keyimg_{B}_s.jpg", "tiltMov_{B}.mp4", "keyMov_{B}.mp4", "ave_{B}.mrc", "avebin8_{B}.mrc",
    "{B}_min_max.json", "neuro-{B}/info", "brt/{B}.adoc", "brt/{B}_rec.mrc", "brt/{B}.tlt", "brt/{B}.xf",
}


def _run(input_dir: Path, out: Path, **options) -> tuple[int, str]:
    stream = io.StringIO()
    code = run_folder(input_dir, out, RunOptions(**options), stream=stream, tty=False)
    return code, stream.getvalue()


def test_all_series_succeed(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    code, text = _run(tilt_folder, out)
    assert code == 0
    for b in ("alpha", "beta"):
        files = {k for k in tree(out / b) if not k.startswith(".emflow/")}
        assert files == {f.format(B=b) for f in SERIES_FILES}  # _ali/_full_rec removed
        assert sorted(step for (_, step) in read_records(out / b / ".emflow")) == sorted(["check"] + CHAIN)
    assets = validate_assets(json.loads((out / "assets.json").read_text()))
    assert assets["status"] == "success"
    assert [f["primaryFilePath"] for f in assets["files"]] == ["alpha.mrc", "beta.st"]
    first = assets["files"][0]
    assert [a["type"] for a in first["imageSet"][0]["assets"]] == [
        "thumbnail", "keyImage", "tiltMovie", "recMovie", "averagedVolume", "volume", "neuroglancerPrecomputed"]
    assert first["imageSet"][0]["assets"][0]["path"] == "alpha/keyimg_alpha_s.jpg"
    assert first["imageSet"][0]["imageMetadata"]["note"] == "preview reconstruction (no fiducial alignment)"
    assert first["fileMetadata"]["dims_xyz"] == [8, 8, 5]
    assert (out / "report.html").read_text().count('class="series"') == 2
    log = (out / "run_log.txt").read_text()
    assert "ignored (not a tilt series): notes.txt" in log and "[beta] pyramid: done" in log
    assert "[alpha] brt: started" in text and "\x1b[" not in text  # plain lines off a terminal
    assert not list(out.rglob(".emflow-tmp-*"))


def test_one_failure_does_not_stop_the_others(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    fake_chain.fail[("alpha", "brt")] = step_error("ABORT SET: tiltalign failed")
    out = tmp_path / "out"
    code, _ = _run(tilt_folder, out)
    assert code == 1
    assets = json.loads((out / "assets.json").read_text())
    assert (assets["status"], assets["failedFiles"]) == ("success", 1)
    alpha, beta = assets["files"]
    assert alpha["status"] == "error" and alpha["imageSet"][0]["assets"] == []
    assert alpha["message"] == "brt: B_rec.mrc: ABORT SET: tiltalign failed"
    assert beta["status"] == "success"
    assert "alpha tilt_movie" not in fake_chain.call_list()
    assert "brt: B_rec.mrc: ABORT SET" in (out / "report.html").read_text()


def test_bad_inputs_fail_one_by_one(tilt_folder: Path, tmp_path: Path, fake_chain, make_mrc) -> None:
    good = (tilt_folder / "alpha.mrc").read_bytes()
    (tilt_folder / "short.mrc").write_bytes(good[: len(good) - 100])
    (tilt_folder / "text.mrc").write_text("this is not an MRC file\n" * 50)
    make_mrc("flat.mrc", np.zeros((8, 8), np.int16), folder=tilt_folder)
    (tilt_folder / "bad name.mrc").write_bytes(good)
    (tilt_folder / "noangles.mrc").write_bytes(good)
    Path(os.fsdecode(os.fsencode(tilt_folder) + b"/bad\xff.mrc")).write_bytes(good)  # not UTF-8
    before = checksums(tilt_folder)
    out = tmp_path / "out"
    code, _ = _run(tilt_folder, out)
    assert code == 1
    files = {f["primaryFilePath"]: f for f in validate_assets(out / "assets.json")["files"]}
    assert files["alpha.mrc"]["status"] == files["beta.st"]["status"] == "success"
    messages = {name: f["message"] for name, f in files.items() if f["status"] == "error"}
    assert sorted(messages) == ["bad name.mrc", "bad\\xff.mrc", "flat.mrc", "noangles.mrc", "short.mrc", "text.mrc"]
    assert messages["bad name.mrc"].startswith("discover: bad name.mrc: series name 'bad name' is not allowed")
    assert messages["flat.mrc"].startswith("check: ") and "2D image" in messages["flat.mrc"]
    assert messages["noangles.mrc"].startswith("check: ") and "no tilt angles" in messages["noangles.mrc"]
    assert all(m.startswith("check: ") for n, m in messages.items() if n in ("short.mrc", "text.mrc"))
    assert all("\n" not in m for m in messages.values())
    assert checksums(tilt_folder) == before
    assert not list(out.rglob(".emflow-tmp-*"))


def test_resume_after_interrupt_skips_finished_steps(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    fake_chain.fail[("alpha", "tilt_movie")] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        _run(tilt_folder, out)
    assert fake_chain.call_list() == ["alpha adoc", "alpha brt", "alpha tilt_movie"]
    records = read_records(out / "alpha" / ".emflow")
    assert ("alpha", "tilt_movie") not in records  # nothing looks complete
    brt_record = (out / "alpha" / ".emflow" / "alpha.brt.status.json").read_text()
    fake_chain.fail.clear()
    fake_chain.calls.unlink()
    code, text = _run(tilt_folder, out, resume=True)
    assert code == 0
    assert fake_chain.call_list() == ["alpha tilt_movie", "alpha rec_movie", "alpha pyramid"] + [
        f"beta {s}" for s in CHAIN]
    assert "[alpha] brt: already done (--resume), skipped" in text
    assert (out / "alpha" / ".emflow" / "alpha.brt.status.json").read_text() == brt_record
    # a complete run resumed does nothing; a touched input redoes that series only
    fake_chain.calls.unlink()
    stat = (tilt_folder / "beta.st").stat()
    os.utime(tilt_folder / "beta.st", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10))
    assert _run(tilt_folder, out, resume=True)[0] == 0
    assert fake_chain.call_list() == [f"beta {s}" for s in CHAIN]


def test_resume_redoes_producer_of_a_removed_intermediate(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    assert _run(tilt_folder, out)[0] == 0
    assert not (out / "alpha" / "brt" / "alpha_ali.mrc").exists()
    (out / "alpha" / "tiltMov_alpha.mp4").unlink()
    fake_chain.calls.unlink()
    assert _run(tilt_folder, out, resume=True)[0] == 0
    assert fake_chain.call_list() == ["alpha brt", "alpha tilt_movie", "alpha rec_movie", "alpha pyramid"]


def test_without_resume_everything_reruns_and_save_intermediates(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    assert _run(tilt_folder, out)[0] == 0
    fake_chain.calls.unlink()
    assert _run(tilt_folder, out, save_intermediates=True)[0] == 0
    assert len(fake_chain.call_list()) == 10
    assert (out / "beta" / "brt" / "beta_ali.mrc").exists() and (out / "beta" / "brt" / "beta_full_rec.mrc").exists()
    assert (out / "run_log.txt").read_text().count("emflow 0") == 2  # appended per run


def test_workers_in_parallel(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    fake_chain.fail[("beta", "pyramid")] = RuntimeError("bug in a step")
    out = tmp_path / "out"
    code, text = _run(tilt_folder, out, workers=2)
    assert code == 1
    files = json.loads((out / "assets.json").read_text())["files"]
    assert [f["status"] for f in files] == ["success", "error"]
    assert files[1]["message"] == "pyramid: unexpected RuntimeError: bug in a step"
    assert sorted(fake_chain.call_list()) == sorted([f"alpha {s}" for s in CHAIN] + [f"beta {s}" for s in CHAIN])
    assert "[beta] pyramid: ERROR" in text
    assert "Traceback" in (out / "run_log.txt").read_text()


def test_terminal_display_redraws(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    stream = io.StringIO()
    assert run_folder(tilt_folder, tmp_path / "out", RunOptions(), stream=stream, tty=True) == 0
    text = stream.getvalue()
    assert "\x1b[" in text and re.search(r"\n  alpha +all steps done\n", text) and "[alpha] brt: started" not in text


def test_empty_folder_is_an_error(tmp_path: Path, fake_chain) -> None:
    (tmp_path / "in").mkdir()
    code, _ = _run(tmp_path / "in", tmp_path / "out")
    assert code == 1
    assert json.loads((tmp_path / "out" / "assets.json").read_text()) == {"status": "error", "failedFiles": 0, "files": []}


def test_user_adoc_is_checked_and_used(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    (tilt_folder / "alpha.adoc").write_text("setupset.copyarg.name=alpha\nsetupset.copyarg.pixel=2=3\n")
    (tilt_folder / "beta.adoc").write_text("setupset.copyarg.name=beta\nsetupset.copyarg.stackext=st\n")
    out = tmp_path / "out"
    assert _run(tilt_folder, out)[0] == 1
    files = json.loads((out / "assets.json").read_text())["files"]
    assert files[0]["message"].startswith("check: ") and "alpha.adoc" in files[0]["message"]
    assert "second '='" in files[0]["message"]
    assert files[1]["status"] == "success"
    assert "beta adoc" not in fake_chain.call_list()  # the user's file is used as is
    assert read_records(out / "beta" / ".emflow")[("beta", "adoc")]["adoc"] == "user"


def test_resume_redoes_steps_when_options_change(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    assert _run(tilt_folder, out, adoc={"bin_factor": 4})[0] == 0
    fake_chain.calls.unlink()
    assert _run(tilt_folder, out, resume=True, adoc={"bin_factor": 4}, workers=2)[0] == 0  # scheduling only
    assert fake_chain.call_list() == []
    assert _run(tilt_folder, out, resume=True, adoc={"bin_factor": 2})[0] == 0
    assert fake_chain.call_list() == [f"{b} {s}" for b in ("alpha", "beta") for s in CHAIN]


def test_a_dying_worker_process_is_an_error_record(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    fake_chain.fail[("alpha", "rec_movie")] = lambda: os._exit(3)  # a crash (segfault, OOM kill)
    out = tmp_path / "out"
    code, _ = _run(tilt_folder, out, workers=2)
    assert code == 1
    alpha, beta = json.loads((out / "assets.json").read_text())["files"]
    assert alpha["message"].startswith("rec_movie: the worker process died (BrokenProcessPool")
    # the broken pool takes the other series down too: blamed on its running step, or judged by its files
    assert beta["status"] == "success" or re.match(r"(\w+: the worker process died|incomplete: missing)", beta["message"])


def test_resume_redoes_only_what_depends_on_a_changed_output(tilt_folder: Path, tmp_path: Path, fake_chain) -> None:
    out = tmp_path / "out"
    assert _run(tilt_folder, out, save_intermediates=True)[0] == 0
    (out / "alpha" / "keyimg_alpha.jpg").unlink()  # tilt movie output gone: only that step again
    fake_chain.calls.unlink()
    assert _run(tilt_folder, out, resume=True, save_intermediates=True)[0] == 0
    assert fake_chain.call_list() == ["alpha tilt_movie"]
    (out / "beta" / "brt" / "beta_rec.mrc").write_text("changed")  # a brt output changed: brt and its readers
    fake_chain.calls.unlink()
    assert _run(tilt_folder, out, resume=True, save_intermediates=True)[0] == 0
    assert fake_chain.call_list() == ["beta brt", "beta tilt_movie", "beta rec_movie", "beta pyramid"]
