"""The movie commands and their Nextflow fan-out pieces give the same bytes as the whole steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emflow.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_tilt_fan_out_equals_tilt_movie(make_mrc, tmp_path: Path, rng: np.random.Generator, capsys) -> None:
    ali = make_mrc("f_ali.mrc", rng.normal(10, 3, size=(9, 20, 24)).astype(np.float32))
    whole = tmp_path / "whole"
    assert _run(capsys, "tilt-movie", ali, "--outdir", whole, "--size", 32, "--slab-size", 4)[0] == 0
    fan = tmp_path / "fan"
    stats = fan / "stats.json"
    slabs = fan / "slabs.csv"
    assert _run(capsys, "section-stats", ali, "--output", stats, "--kind", "tilt", "--slab-size", 4, "--slabs", slabs)[0] == 0
    assert json.loads(stats.read_text())["shape"] == [9, 20, 24]
    assert slabs.read_text() == "0,4\n4,8\n8,9\n"
    parts = []
    for start in range(0, 9, 4):  # render-frames caps --stop at nz
        parts.append(fan / f"s{start}.frames")
        assert _run(capsys, "render-frames", ali, "--stats", stats, "--start", start, "--stop", start + 4, "--output", parts[-1])[0] == 0
    code, _ = _run(capsys, "encode-movie", "--stats", stats, "--output", fan / "m.mp4", "--fps", 4, "--size", 32,
                   "--key-image", fan / "k.jpg", "--thumbnail", fan / "t.jpg", *reversed(parts))  # fmt: skip
    assert code == 0
    assert (fan / "m.mp4").read_bytes() == (whole / "tiltMov_f.mp4").read_bytes()
    assert (fan / "k.jpg").read_bytes() == (whole / "keyimg_f.jpg").read_bytes()
    assert (fan / "t.jpg").read_bytes() == (whole / "keyimg_f_s.jpg").read_bytes()
    # a missing slab is an error naming the movie, and leaves no movie behind
    code, err = _run(capsys, "encode-movie", "--stats", stats, "--output", fan / "x.mp4", parts[0], parts[2])
    assert code == 2 and "do not follow section 3" in err and not (fan / "x.mp4").exists()


def test_rec_fan_out_equals_rec_movie(make_mrc, tmp_path: Path, rng: np.random.Generator, capsys) -> None:
    rec = make_mrc("g_rec.mrc", rng.integers(-300, 900, size=(11, 18, 22)).astype(np.int16))
    whole = tmp_path / "whole"
    assert _run(capsys, "rec-movie", rec, "--outdir", whole, "--size", 32, "--workers", 2, "--slab-size", 3)[0] == 0
    fan = tmp_path / "fan"
    assert _run(capsys, "rec-volumes", rec, "--outdir", fan)[0] == 0
    for name in ("ave_g.mrc", "avebin8_g.mrc"):
        assert (fan / name).read_bytes() == (whole / name).read_bytes()
    stats = fan / "stats.json"
    assert _run(capsys, "section-stats", fan / "ave_g.mrc", "--output", stats, "--kind", "rec")[0] == 0
    parts = [fan / "a.frames", fan / "b.frames"]
    assert _run(capsys, "render-frames", fan / "ave_g.mrc", "--stats", stats, "--start", 0, "--stop", 5, "--output", parts[0])[0] == 0
    assert _run(capsys, "render-frames", fan / "ave_g.mrc", "--stats", stats, "--start", 5, "--stop", 7, "--output", parts[1])[0] == 0
    assert _run(capsys, "encode-movie", "--stats", stats, "--output", fan / "m.mp4", "--fps", 8, "--size", 32, *parts)[0] == 0
    assert (fan / "m.mp4").read_bytes() == (whole / "keyMov_g.mp4").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rec-movie", "{small}", "--outdir", "{out}"], "needs a 3D stack with nz >= 5"),
        (["tilt-movie", "{flat}", "--outdir", "{out}"], "a 2D image"),
        (["tilt-movie", "{missing}", "--outdir", "{out}"], "file not found"),
        (["tilt-movie", "{small}", "--outdir", "{out}", "--fps", "0"], "--fps: 0 must be > 0"),
        (["render-frames", "{small}", "--stats", "{small}", "--start", "0", "--stop", "1", "--output", "{out}/x"], "cannot read statistics JSON"),
    ],
)
def test_errors_are_one_line(make_mrc, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    paths = {
        "small": make_mrc("small_rec.mrc", np.zeros((4, 8, 8), np.int16)),
        "flat": make_mrc("flat_ali.mrc", np.zeros((8, 8), np.int16)),
        "missing": tmp_path / "missing_ali.mrc",
        "out": tmp_path / "out",
    }
    code, err = _run(capsys, *[a.format(**paths) for a in args])
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_stats_for_another_volume_is_refused(make_mrc, tmp_path: Path, capsys) -> None:
    a = make_mrc("a_ali.mrc", np.ones((3, 8, 8), np.int16))
    b = make_mrc("b_ali.mrc", np.ones((4, 8, 8), np.int16))
    assert _run(capsys, "section-stats", a, "--output", tmp_path / "a.json")[0] == 0
    code, err = _run(capsys, "render-frames", b, "--stats", tmp_path / "a.json", "--start", 0, "--stop", 2, "--output", tmp_path / "x.frames")
    assert code == 2 and "statistics are for a (3, 8, 8)" in err
