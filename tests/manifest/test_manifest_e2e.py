"""`emflow run` on the bundled sample with a callback, and its report in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from manifest_helpers import TOKEN, grep_token, portal

from emflow.cli import main
from emflow.data import demo_dir

pytestmark = pytest.mark.slow
QUICK = ["--recon", "preview", "--bin", "2", "--thickness", "64"]


def test_run_posts_assets_and_never_writes_the_token(tmp_path: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("EMFLOW_TOKEN", TOKEN)
    monkeypatch.setattr("emflow.manifest.callback.BACKOFF_S", 0.01)
    out = tmp_path / "out"
    with portal([500]) as (url, seen):
        assert main(["run", str(demo_dir()), "--outdir", str(out), *QUICK, "--callback-url", url]) == 0
    assert len(seen) == 2
    assert seen[-1]["body"] == (out / "assets.json").read_bytes()
    assert json.loads(seen[-1]["body"])["status"] == "success"
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    captured = capfd.readouterr()
    assert TOKEN not in captured.out + captured.err
    assert grep_token(out) == []  # assets.json, report.html, run_log.txt, records, brt logs
    log = (out / "run_log.txt").read_text()
    assert "try 1 of 3: HTTP 500" in log and "HTTP 200 (try 2)" in log


def test_run_refuses_callback_without_token(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EMFLOW_TOKEN", raising=False)
    out = tmp_path / "out"
    assert main(["run", str(demo_dir()), "--outdir", str(out), "--callback-url", "http://127.0.0.1:9/cb"]) == 2
    assert not out.exists()  # before any work


@pytest.mark.browser
def test_report_renders_images_and_videos(tmp_path: Path) -> None:
    from browser import evaluate_js, screenshot

    out = tmp_path / "out"
    assert main(["run", str(demo_dir()), "--outdir", str(out), *QUICK]) == 0
    url = (out / "report.html").resolve().as_uri()  # opened as a file: no server needed
    ready = ("[...document.images].every(i => i.complete) && "
             "[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
    images, durations, note = evaluate_js(url, "[[...document.images].map(i => [i.className, i.naturalWidth]), "
                                          "[...document.querySelectorAll('video')].map(v => v.duration), "
                                          "document.querySelector('.preview').textContent]", wait_js=ready)
    assert images == [["thumb", 300], ["key", 64]]  # thumbnail fitted to 300 px; key image = 64 px frame
    # tilt movie: 77 frames at 4 fps; reconstruction movie: 32 - 4 frames at 8 fps
    assert durations == [pytest.approx(77 / 4, abs=0.3), pytest.approx(28 / 8, abs=0.3)]
    assert note == "preview reconstruction (no fiducial alignment)"
    png = screenshot(url, tmp_path / "report.png", size=(1280, 600), wait_js=ready)
    assert png.stat().st_size > 10_000
