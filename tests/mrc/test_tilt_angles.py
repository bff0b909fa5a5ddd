"""Tilt-angle discovery, in SPEC §0's order, on synthetic headers and the real samples."""

from __future__ import annotations

import shutil
import struct
import warnings
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.mrc import read_info, write_volume
from emflow.tilt_angles import find_tilt_angles, read_mdoc_angles, read_tlt_file


def _with_extended_header(path: Path, nz: int, ext: bytes, exttyp: bytes, nint: int = 0, nreal: int = 0) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(np.zeros((nz, 4, 4), np.int16))
            mrc.set_extended_header(np.frombuffer(ext, dtype="V1"))
            mrc.header.exttyp = exttyp
    raw = bytearray(path.read_bytes())
    raw[128:132] = struct.pack("<hh", nint, nreal)
    path.write_bytes(bytes(raw))
    return path


def test_rawtlt_wins_over_header(tmp_path: Path, make_mrc) -> None:
    path = make_mrc("ts.mrc", np.zeros((3, 4, 4), np.int16), tilt_angles_deg=[-30, 0, 30])
    found = find_tilt_angles(read_info(path))
    assert found.source == "rawtlt"
    assert found.angles_deg.tolist() == [-30.0, 0.0, 30.0]


def test_serialem_extended_header(tmp_path: Path) -> None:
    angles = [-60.0, -1.5, 0.0, 12.34]
    record = 6  # tilt angle (2 bytes, flag 1) + stage position (4 bytes, flag 4)
    ext = b"".join(struct.pack("<h", round(a * 100)) + b"\0" * 4 for a in angles)
    path = _with_extended_header(tmp_path / "seri.mrc", 4, ext, b"SERI", nint=record, nreal=1 | 4)
    found = find_tilt_angles(read_info(path))
    assert found.source == "SERI"
    assert found.angles_deg.tolist() == angles


def test_old_fei_extended_header(tmp_path: Path) -> None:
    angles = [-50.0, -25.0, 0.0, 25.0, 50.0]
    ext = b"".join(struct.pack("<f", a) + b"\0" * 124 for a in angles) + b"\0" * 128 * 3
    path = _with_extended_header(tmp_path / "fei.mrc", 5, ext, b"\0\0\0\0")
    found = find_tilt_angles(read_info(path))
    assert found.source == "FEI-old"
    assert found.angles_deg.tolist() == angles


def test_mdoc_beside_stack(tmp_path: Path, make_mrc) -> None:
    path = make_mrc("s.mrc", np.zeros((2, 4, 4), np.int16))
    (tmp_path / "s.mrc.mdoc").write_text(
        "PixelSpacing = 5.4\n\n[ZValue = 1]\nTiltAngle = 3.0\n\n[ZValue = 0]\nTiltAngle = -3.0\n"
    )
    found = find_tilt_angles(read_info(path))
    assert found.source == "mdoc"
    assert found.angles_deg.tolist() == [-3.0, 3.0]


def test_no_angles(make_mrc) -> None:
    assert find_tilt_angles(read_info(make_mrc("n.mrc", np.zeros((2, 4, 4), np.int16)))) is None


def test_bad_tlt_file(tmp_path: Path) -> None:
    tlt = tmp_path / "a.tlt"
    tlt.write_text("1.0\nabc\n")
    with pytest.raises(EmflowInputError, match=r"a\.tlt: line 2 is not a tilt angle"):
        read_tlt_file(tlt)


def test_real_etspy_rawtlt_and_old_fei(shared_data: Path, tmp_path: Path) -> None:
    stack = shared_data / "tilt_series" / "etspy_HAADF.mrc"
    found = find_tilt_angles(read_info(stack))
    assert (found.source, len(found)) == ("rawtlt", 77)
    assert found.angles_deg[[0, -1]].tolist() == [-76.0, 76.0]
    alone = shutil.copy(stack, tmp_path / "alone.mrc")
    found = find_tilt_angles(read_info(alone))
    assert (found.source, len(found)) == ("FEI-old", 77)
    np.testing.assert_allclose(found.angles_deg, np.arange(-76, 77, 2))


def test_real_fei1_and_mdoc(shared_data: Path, tmp_path: Path) -> None:
    found = find_tilt_angles(read_info(shared_data / "micrographs" / "fei-extended_crop.mrc"))
    assert found.source == "FEI1"
    assert found.angles_deg[0] == pytest.approx(0.00427, abs=1e-5)
    mdoc = shared_data / "metadata" / "tiltstack_TS_01.mrc.mdoc"
    angles = read_mdoc_angles(mdoc)
    stack = write_volume(tmp_path / "tiltstack_TS_01.mrc", np.zeros((41, 4, 4), np.int16))
    shutil.copy(mdoc, tmp_path / mdoc.name)
    found = find_tilt_angles(read_info(stack))
    assert (found.source, len(found)) == ("mdoc", 41)
    np.testing.assert_array_equal(found.angles_deg, angles)
