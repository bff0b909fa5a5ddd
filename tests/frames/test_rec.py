"""Averaged volumes (ave_, avebin8_) and the reconstruction movie, SPEC §5."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.frames import make_rec_movie, make_rec_volumes
from emflow.mrc import open_volume, read_info

from . import reference


def _read(path: Path) -> np.ndarray:
    with open_volume(path) as vol:
        return vol.read_slab(0, vol.shape[0])


def test_six_sections_hand_computed(make_mrc, tmp_path: Path) -> None:
    p = np.array([[0, 1, 2, 3], [4, 5, 6, 7]], dtype=np.int16)
    rec = make_mrc("s6_rec.mrc", np.stack([10 * z + p for z in range(6)]), voxel_size_angstrom=(3, 3, 3))
    out = make_rec_volumes(rec, tmp_path / "out")
    # clip avg: 20 + p and 30 + p; float 3 shifts both to the grand mean 28.5: 25 + p
    ave = read_info(out["averagedVolume"])
    assert _read(out["averagedVolume"]).tolist() == [(25 + p).tolist()] * 2
    assert (ave.mode, ave.shape, ave.voxel_size_angstrom) == (1, (2, 2, 4), (3.0, 3.0, 3.0))
    assert (ave.amin, ave.amax, ave.amean) == (25.0, 32.0, 28.5)
    assert ave.origin_angstrom == (0.0, 0.0, 0.0)
    assert any("emflow" in label and "newstack" in label for label in ave.labels)
    # binvol: 25 + mean(0,1,4,5) = 27.5 -> 28 ; 25 + mean(2,3,6,7) = 29.5 -> 30
    binned = read_info(out["volume"])
    assert _read(out["volume"]).tolist() == [[[28, 30]]]
    assert (binned.mode, binned.shape, binned.voxel_size_angstrom) == (1, (1, 1, 2), (6.0, 6.0, 6.0))
    assert (binned.amin, binned.amax, binned.amean) == (27.5, 29.5, 28.5)
    assert any("binvol" in label for label in binned.labels)


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8])
def test_volumes_equal_reference(make_mrc, tmp_path: Path, rng: np.random.Generator, dtype: type) -> None:
    nz = 12 if dtype == np.int16 else 11  # 8 or 7 averaged sections: the odd last one is not binned
    data = rng.normal(100, 40, size=(nz, 7, 9))
    data[3] += 5000 if dtype != np.uint8 else 0  # one bright section: the float-3 shift matters
    data = np.clip(data, 0, 255).astype(dtype) if dtype == np.uint8 else data.astype(dtype)
    rec = make_mrc("r_rec.mrc", data)
    out = make_rec_volumes(rec, tmp_path / "out", slab_size=3)
    avg = reference.clip_avg(data)
    values, amin, amax, amean = reference.float3(avg, 1)
    ave = read_info(out["averagedVolume"])
    np.testing.assert_array_equal(_read(out["averagedVolume"]), reference.round_int(values, np.int16))
    assert (ave.amin, ave.amax) == (amin, amax)
    assert ave.amean == pytest.approx(amean, rel=1e-6)
    binned, bmin, bmax = reference.binvol2(_read(out["averagedVolume"]))
    np.testing.assert_array_equal(_read(out["volume"]), reference.round_int(binned, np.int16))
    info = read_info(out["volume"])
    assert info.shape == ((nz - 4) // 2, 3, 4) and (info.amin, info.amax) == (bmin, bmax)
    assert info.amean == pytest.approx(float(binned.mean()), rel=1e-5)


def test_same_bytes_any_slab_size_or_workers(make_mrc, tmp_path: Path, rng: np.random.Generator) -> None:
    rec = make_mrc("w_rec.mrc", rng.integers(-500, 500, size=(13, 16, 20)).astype(np.int16))
    runs = [(1, 1), (7, 1), (64, 1), (7, 2)]
    outs = [make_rec_movie(rec, tmp_path / f"o{s}_{w}", size=64, slab_size=s, workers=w) for s, w in runs]
    for key in ("averagedVolume", "volume", "recMovie"):
        first = outs[0][key].read_bytes()
        assert all(o[key].read_bytes() == first for o in outs[1:]), key


def test_rec_movie_frames_and_format(make_mrc, tmp_path: Path, rng: np.random.Generator) -> None:
    rec = make_mrc("m_rec.mrc", rng.integers(0, 1000, size=(9, 30, 40)).astype(np.int16))
    out = make_rec_movie(rec, tmp_path / "out", size=128)
    assert out["recMovie"].name == "keyMov_m.mp4"
    with av.open(str(out["recMovie"])) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="gray") for f in container.decode(stream)]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height, stream.average_rate) == (128, 128, 8)
    assert len(frames) == 9 - 4


def test_memory_is_bounded_by_slabs(make_mrc, tmp_path: Path, rng: np.random.Generator) -> None:
    # 6.5 MB of int16 input; slabs of 8 sections keep the Python-side peak far below the volume
    rec = make_mrc("big_rec.mrc", rng.integers(0, 4000, size=(200, 128, 128)).astype(np.int16))
    tracemalloc.start()
    try:
        make_rec_movie(rec, tmp_path / "out", size=32, slab_size=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < rec.stat().st_size / 4, peak


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((4, 8, 8), np.int16), "needs a 3D stack with nz >= 5"),
        (np.zeros((8, 8), np.int16), "a 2D image"),
    ],
)
def test_rec_input_errors(make_mrc, tmp_path: Path, data: np.ndarray, message: str) -> None:
    rec = make_mrc("e_rec.mrc", data)
    before = rec.read_bytes()
    with pytest.raises(EmflowInputError, match=message):
        make_rec_movie(rec, tmp_path / "out")
    assert rec.read_bytes() == before and not (tmp_path / "out").exists()


def test_rec_nan_section_is_named(make_mrc, tmp_path: Path) -> None:
    data = np.ones((6, 4, 4), np.float32)
    data[4] = np.nan
    rec = make_mrc("n_rec.mrc", data)
    with pytest.raises(EmflowInputError, match="section 4 contains NaN"):
        make_rec_movie(rec, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_rec_name_must_end_with_rec(make_mrc, tmp_path: Path) -> None:
    rec = make_mrc("plain.mrc", np.zeros((6, 4, 4), np.int16))
    with pytest.raises(EmflowInputError, match="_rec.mrc"):
        make_rec_movie(rec, tmp_path / "out")


@pytest.mark.shared
@pytest.mark.slow
def test_etspy_as_rec_volume(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    rec = tmp_path / "etspy_HAADF_rec.mrc"
    shutil.copy(shared_data / "tilt_series" / "etspy_HAADF.mrc", rec)
    out = make_rec_movie(rec, tmp_path / "out", workers=2, slab_size=16)
    with av.open(str(out["recMovie"])) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        facts = (stream.codec_context.name, stream.codec_context.pix_fmt, stream.width, stream.height, stream.average_rate)
    assert facts == ("h264", "yuv420p", 1024, 1024, 8) and count == 77 - 4
    assert read_info(out["averagedVolume"]).shape == (73, 256, 256)
    assert read_info(out["volume"]).shape == (36, 128, 128)
