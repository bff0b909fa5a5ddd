"""MRC header checks, slab reads and the atomic writer (SPEC §0)."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.mrc import MrcWriter, iter_slabs, open_volume, read_info, require_3d, require_finite, write_volume
from emflow.mrc.header import IMOD_STAMP, mode0_is_signed


def _mrcfile_write(path: Path, data: np.ndarray, voxel: float = 2.5) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(data)
            mrc.voxel_size = voxel


@pytest.mark.parametrize(
    ("dtype", "mode"),
    [(np.int8, 0), (np.int16, 1), (np.float32, 2), (np.uint16, 6), (np.float16, 12)],
)
def test_read_info_modes_and_voxel(tmp_path: Path, dtype: type, mode: int) -> None:
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / "v.mrc"
    _mrcfile_write(path, data, voxel=2.5)
    info = read_info(path)
    assert info.shape == (2, 3, 4)
    assert info.mode == mode
    # mrcfile writes no IMOD stamp; with amin = 0 IMOD reads mode-0 bytes as unsigned
    assert info.dtype == (np.dtype(np.uint8) if mode == 0 else np.dtype(dtype))
    assert info.voxel_size_angstrom == pytest.approx((2.5, 2.5, 2.5))
    with open_volume(path) as vol:
        np.testing.assert_array_equal(vol.read_slab(0, 2), data)
        np.testing.assert_array_equal(vol.read_section(1), data[1])


def test_big_endian_file_reads_native(tmp_path: Path) -> None:
    data = np.arange(24, dtype=">i2").reshape(2, 3, 4)
    path = tmp_path / "be.mrc"
    _mrcfile_write(path, data)
    info = read_info(path)
    assert info.byte_order == ">"
    with open_volume(path) as vol:
        slab = vol.read_slab(0, 2)
    assert slab.dtype == np.dtype("=i2")
    np.testing.assert_array_equal(slab, np.arange(24).reshape(2, 3, 4))


def test_mode0_sign_rule() -> None:
    assert mode0_is_signed(IMOD_STAMP, 1, amin=5.0) is True
    assert mode0_is_signed(IMOD_STAMP, 0, amin=-5.0) is False  # stamp wins over amin
    assert mode0_is_signed(0, 0, amin=-1.0) is True
    assert mode0_is_signed(0, 1, amin=0.0) is False  # flags mean nothing without the stamp


def test_mode0_unsigned_and_signed_files(tmp_path: Path) -> None:
    unsigned = write_volume(tmp_path / "u.mrc", np.array([[[0, 200]]], dtype=np.uint8))
    signed = write_volume(tmp_path / "s.mrc", np.array([[[-100, 100]]], dtype=np.int8))
    assert read_info(unsigned).dtype == np.uint8
    assert read_info(signed).dtype == np.int8
    with open_volume(unsigned) as vol:
        assert vol.read_section(0).tolist() == [[0, 200]]
    # mrcfile (no IMOD stamp) writing int8 with a negative minimum: signed by the amin rule
    _mrcfile_write(tmp_path / "m.mrc", np.array([[[-3, 4]]], dtype=np.int8))
    assert read_info(tmp_path / "m.mrc").dtype == np.int8


def test_writer_header_stats_label_and_mrcfile_validates(tmp_path: Path) -> None:
    path = tmp_path / "w.mrc"
    with MrcWriter(path, (3, 4, 5), np.int16, (6.0, 6.0, 6.0), origin_angstrom=(1, 2, 3), step="unit test") as writer:
        for z in range(3):
            writer.write_slab(np.full((4, 5), z, dtype=np.int16))
        writer.set_stats(-1.5, 7.25, 0.5)
    info = read_info(path)
    assert (info.amin, info.amax, info.amean) == (-1.5, 7.25, 0.5)
    assert info.voxel_size_angstrom == (6.0, 6.0, 6.0)
    assert info.origin_angstrom == (1.0, 2.0, 3.0)
    assert info.labels[0].startswith("emflow") and "unit test" in info.labels[0]
    with mrcfile.open(path) as mrc:  # strict mode: a proper header
        assert mrc.data.shape == (3, 4, 5)
        assert mrc.header.nlabl == 1
    assert not list(tmp_path.glob(".emflow-tmp-*"))


def test_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "w.mrc"
    with pytest.raises(RuntimeError):
        with MrcWriter(path, (2, 2, 2), np.float32, (1, 1, 1)) as writer:
            writer.write_slab(np.zeros((2, 2), np.float32))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_iter_slabs_covers_volume(tmp_path: Path) -> None:
    data = np.arange(7 * 2 * 3, dtype=np.float32).reshape(7, 2, 3)
    path = write_volume(tmp_path / "v.mrc", data)
    with open_volume(path) as vol:
        starts = []
        parts = []
        for z0, slab in iter_slabs(vol, 3):
            starts.append(z0)
            parts.append(slab)
    assert starts == [0, 3, 6]
    np.testing.assert_array_equal(np.concatenate(parts), data)


def test_truncated_file(tmp_path: Path) -> None:
    path = write_volume(tmp_path / "t.mrc", np.zeros((4, 8, 8), np.float32))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(EmflowInputError, match=r"t\.mrc: truncated: header says 8 x 8 x 4 float32"):
        read_info(path)


def test_text_file_named_mrc(tmp_path: Path) -> None:
    path = tmp_path / "x.mrc"
    path.write_text("this is not an image\n" * 100)
    with pytest.raises(EmflowInputError, match=r"x\.mrc: not an MRC file"):
        read_info(path)


def test_short_file(tmp_path: Path) -> None:
    path = tmp_path / "s.mrc"
    path.write_bytes(b"MAP ")
    with pytest.raises(EmflowInputError, match="shorter than the 1024-byte header"):
        read_info(path)


def test_absurd_dims(tmp_path: Path) -> None:
    path = write_volume(tmp_path / "big.mrc", np.zeros((1, 2, 2), np.float32))
    raw = bytearray(path.read_bytes())
    raw[0:12] = struct.pack("<3i", 100000, 100000, 100000)
    path.write_bytes(bytes(raw))
    with pytest.raises(EmflowInputError, match=r"big\.mrc: truncated: header says 100000 x 100000 x 100000"):
        read_info(path)


def test_unknown_mode(tmp_path: Path) -> None:
    path = write_volume(tmp_path / "m.mrc", np.zeros((1, 2, 2), np.float32))
    raw = bytearray(path.read_bytes())
    raw[12:16] = struct.pack("<i", 4)  # complex float: not an image mode emflow reads
    path.write_bytes(bytes(raw))
    with pytest.raises(EmflowInputError, match="unsupported MRC mode 4"):
        read_info(path)


def test_require_3d_and_finite(tmp_path: Path) -> None:
    flat = read_info(write_volume(tmp_path / "flat.mrc", np.zeros((1, 4, 4), np.float32)))
    with pytest.raises(EmflowInputError, match=r"flat\.mrc: is a 2D image \(nz = 1\)"):
        require_3d(flat, 1 + 1, "the tilt movie")
    short = read_info(write_volume(tmp_path / "short.mrc", np.zeros((3, 4, 4), np.float32)))
    with pytest.raises(EmflowInputError, match="nz >= 5"):
        require_3d(short, 5)
    require_3d(short, 3)
    section = np.array([[1.0, np.nan]], np.float32)
    with pytest.raises(EmflowInputError, match="section 7 contains NaN"):
        require_finite("f.mrc", section, 7)
