"""Tilt movie, key image and thumbnail, SPEC §4."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from emflow.errors import EmflowInputError
from emflow.frames import make_tilt_movie
from emflow.frames.keyimage import thumbnail_size
from emflow.frames.render import render_slab
from emflow.frames.stats import tilt_stats

from . import reference


def _decoded(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream, tuple]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="gray") for f in container.decode(stream)]
        facts = (stream.codec_context.name, stream.codec_context.pix_fmt, stream.width, stream.height, stream.average_rate)
    return frames, stream, facts


def _reference_frames(data: np.ndarray, mode: int, dtype: type) -> list[np.ndarray]:
    values, amin, amax, _ = reference.float3(data, mode)
    stored = values if mode == 2 else reference.round_int(values, dtype)
    return [reference.mrc2tif(s, amin, amax, 0, 255) for s in stored]


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8])
def test_key_image_is_the_spec_frame(make_mrc, tmp_path: Path, rng: np.random.Generator, dtype: type) -> None:
    yy, xx = np.mgrid[0:48, 0:64]
    data = np.stack([(xx * 3 + yy + 10 * z) for z in range(5)]).astype(np.float64)
    data += rng.normal(0, 0.6, data.shape)
    data = np.clip(data, 0, 255).astype(dtype)
    mode = {np.int16: 1, np.float32: 2, np.uint8: 0}[dtype]
    ali = make_mrc("k_ali.mrc", data)
    out = make_tilt_movie(ali, tmp_path / "out", size=64)
    assert {k: v.name for k, v in out.items()} == {"tiltMovie": "tiltMov_k.mp4", "keyImage": "keyimg_k.jpg", "thumbnail": "keyimg_k_s.jpg"}
    expected = _reference_frames(data, mode, dtype)
    with Image.open(out["keyImage"]) as img:
        assert img.mode == "L" and img.size == (64, 48) and img.info["dpi"] == (100, 100)
        key = np.asarray(img, dtype=np.float64)
    assert np.abs(key - expected[5 // 2]).mean() < 1.5
    with Image.open(out["thumbnail"]) as thumb:
        assert thumb.size == (300, 225)
    stats = tilt_stats(ali, slab_size=2)
    np.testing.assert_array_equal(render_slab(ali, stats, 0, 5), np.stack(expected))  # exact bytes
    frames, _, facts = _decoded(out["tiltMovie"])
    assert facts == ("h264", "yuv420p", 64, 64, 4) and len(frames) == 5
    first = np.asarray(Image.fromarray(expected[0]).resize((64, 64), Image.Resampling.BICUBIC), dtype=np.float64)
    assert np.abs(frames[0].astype(np.float64) - first).mean() < 4


def test_thumbnail_sizes() -> None:
    assert thumbnail_size(1024, 1024) == (300, 300)
    assert thumbnail_size(100, 50) == (150, 300)  # enlarged, aspect kept
    assert thumbnail_size(3, 4000) == (300, 1)


def test_movie_has_every_section_in_order(make_mrc, tmp_path: Path) -> None:
    # section z has a bright 4-pixel-wide bar at x = 4z: all 12 must be in the movie, in z order
    data = np.zeros((12, 16, 48), np.int16)
    for z in range(12):
        data[z, :, 4 * z : 4 * z + 4] = 200
    out = make_tilt_movie(make_mrc("o_ali.mrc", data), tmp_path / "out", size=48, fps=4)
    frames, _, facts = _decoded(out["tiltMovie"])
    assert facts[4] == 4 and len(frames) == 12
    bars = [int(np.argmax(f.astype(float).mean(axis=0))) // 4 for f in frames]
    assert bars == list(range(12))


def test_a_thousand_sections(make_mrc, tmp_path: Path) -> None:
    data = np.zeros((1001, 8, 8), np.uint8)
    data[:, :4] = 200
    out = make_tilt_movie(make_mrc("t_ali.mrc", data), tmp_path / "out", size=16, fps=30)
    frames, _, facts = _decoded(out["tiltMovie"])
    assert len(frames) == 1001 and facts[4] == 30


def test_same_bytes_any_slab_size_or_workers(make_mrc, tmp_path: Path, rng: np.random.Generator) -> None:
    ali = make_mrc("s_ali.mrc", rng.normal(0, 50, size=(11, 24, 32)).astype(np.float32))
    runs = [(1, 1), (7, 1), (64, 1), (7, 2), (1, 2)]
    outs = [make_tilt_movie(ali, tmp_path / f"o{s}_{w}", size=32, slab_size=s, workers=w) for s, w in runs]
    for key in ("tiltMovie", "keyImage", "thumbnail"):
        first = outs[0][key].read_bytes()
        assert all(o[key].read_bytes() == first for o in outs[1:]), key


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("flat_ali.mrc", np.zeros((8, 8), np.int16), "a 2D image"),
        ("nan_ali.mrc", np.stack([np.ones((4, 4)), np.full((4, 4), np.nan)]).astype(np.float32), "section 1 contains NaN"),
        ("inf_ali.mrc", np.stack([np.ones((4, 4)), np.full((4, 4), np.inf)]).astype(np.float32), "section 1 contains Inf"),
        ("bad name_ali.mrc", np.zeros((2, 4, 4), np.int16), "series name"),
    ],
)
def test_tilt_input_errors(make_mrc, tmp_path: Path, name: str, data: np.ndarray, message: str) -> None:
    ali = make_mrc(name, data)
    before = ali.read_bytes()
    with pytest.raises(EmflowInputError, match=message):
        make_tilt_movie(ali, tmp_path / "out")
    assert ali.read_bytes() == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_worker_errors_come_back_as_one_line_errors(make_mrc, tmp_path: Path) -> None:
    data = np.ones((4, 8, 8), np.float32)
    data[2, 3, 3] = np.nan
    ali = make_mrc("w_ali.mrc", data)
    with pytest.raises(EmflowInputError, match="w_ali.mrc: section 2 contains NaN"):
        make_tilt_movie(ali, tmp_path / "out", slab_size=1, workers=2)


@pytest.mark.shared
@pytest.mark.slow
def test_etspy_as_ali_stack(shared_data: Path, tmp_path: Path) -> None:
    ali = tmp_path / "etspy_HAADF_ali.mrc"
    shutil.copy(shared_data / "tilt_series" / "etspy_HAADF.mrc", ali)
    out = make_tilt_movie(ali, tmp_path / "out", workers=2, slab_size=20)
    frames, _, facts = _decoded(out["tiltMovie"])
    assert facts == ("h264", "yuv420p", 1024, 1024, 4) and len(frames) == 77
    with Image.open(out["thumbnail"]) as thumb:
        assert thumb.size == (300, 300)
    with Image.open(out["keyImage"]) as img:
        assert img.size == (256, 256)
