"""Acquisition metadata (issue 19): tilt axis and pixel size from .mdoc, header labels, FEI1/FEI2
and old FEI extended headers, with their sources, precedence and disagreements."""

from __future__ import annotations

import struct

import mrcfile
import numpy as np
import pytest
from mrcfile.dtypes import get_ext_header_dtype

from emflow.acquisition import (
    Sourced,
    read_acquisition,
    read_mdoc_acquisition,
    resolve_pixel_size,
    resolve_tilt_axis,
)

MDOC = """PixelSpacing = 5.4
ImageFile = TS_01.mrc

[T = SerialEM: Digitized on EMBL Krios                       30-Nov-15  15:14:20    ]

[T =     Tilt axis angle = 85.3, binning = 4  spot = 8  camera = 2]

[ZValue = 0]
TiltAngle = 0.000999877
PixelSpacing = 5.4
RotationAngle = 175.3
"""


def write_mdoc(path, text=MDOC):
    path.write_text(text, encoding="latin-1")
    return path


@pytest.mark.shared
def test_real_serialem_mdoc(shared_data):
    found = read_mdoc_acquisition(shared_data / "metadata" / "tiltstack_TS_01.mrc.mdoc")
    assert found.tilt_axis_deg == (Sourced(85.3, "tiltstack_TS_01.mrc.mdoc"),)  # not RotationAngle 175.3
    assert found.pixel_size_nm == (Sourced(pytest.approx(0.54), "tiltstack_TS_01.mrc.mdoc"),)


@pytest.mark.shared
def test_real_fei1_header_pixel_size_and_no_valid_tilt_axis(shared_data):
    # Bitmask 1 = 0xFFFFCFFF: bit 12 (tilt axis) is clear, so its 0.0 is not taken; bit 14 (pixel size X) set
    found = read_acquisition(shared_data / "micrographs" / "fei-extended_crop.mrc")
    assert found.tilt_axis_deg == ()
    assert [s.source for s in found.pixel_size_nm] == ["fei-extended_crop.mrc header voxel size", "FEI1 extended header"]
    assert found.pixel_size_nm[1].value == pytest.approx(0.08537755225)


def test_mdoc_beside_stack_wins_over_label_and_conflict_reported(make_mrc, tmp_path):
    stack = make_mrc("TS_01.mrc", np.zeros((3, 8, 8), np.int16), voxel_size_angstrom=(5.4, 5.4, 5.4))
    with mrcfile.open(stack, "r+") as mrc:
        mrc.header.label[1] = b"Tilt axis angle = 87.0, binning = 1".ljust(80)
        mrc.header.nlabl = 2
    write_mdoc(tmp_path / "TS_01.mrc.mdoc")
    choice = resolve_tilt_axis(stack)
    assert (choice.value, choice.source) == (85.3, "TS_01.mrc.mdoc")
    assert choice.conflicts == ("TS_01.mrc header label says 87°, TS_01.mrc.mdoc says 85.3°",)
    assert choice.describe("tilt axis", "°") == "tilt axis 85.3° from TS_01.mrc.mdoc"
    # a row value beats metadata and is compared with it; an explicit value beats the row
    row = resolve_tilt_axis(stack, row=Sourced(90.0, "sheet.csv row 2"))
    assert (row.value, row.source) == (90.0, "sheet.csv row 2") and len(row.conflicts) == 2
    explicit = resolve_tilt_axis(stack, explicit=Sourced(85.0, "--tilt-axis-deg"), row=Sourced(90.0, "row"))
    assert (explicit.value, explicit.source) == (85.0, "--tilt-axis-deg")
    assert "row says 90°, --tilt-axis-deg says 85°" in explicit.conflicts
    assert "TS_01.mrc.mdoc says 85.3°" not in " ".join(explicit.conflicts)  # within 1°


def test_mdoc_edge_cases(tmp_path):
    # no tilt axis title, section-only PixelSpacing, several title lines (the first with the field wins)
    text = "[T = SerialEM]\n[T = Tilt axis angle = -12.5, binning = 2]\n[T = Tilt axis angle = 40]\n" \
           "[ZValue = 0]\nTiltAngle = 1\nPixelSpacing = 2.7\n[ZValue = 1]\nPixelSpacing = 9\n"
    found = read_mdoc_acquisition(write_mdoc(tmp_path / "a.mdoc", text))
    assert found.tilt_axis_deg[0].value == -12.5 and found.pixel_size_nm[0].value == pytest.approx(0.27)
    empty = read_mdoc_acquisition(write_mdoc(tmp_path / "b.mdoc", "[ZValue = 0]\nTiltAngle = 1\nPixelSpacing = nan\n"))
    assert empty.tilt_axis_deg == () and empty.pixel_size_nm == ()


def test_default_when_nothing_says(make_mrc):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16), voxel_size_angstrom=(1.0, 1.0, 1.0))
    assert resolve_tilt_axis(stack).to_json() == {"value": 0.0, "source": "default"}
    assert resolve_pixel_size(stack).value is None


def _fei_stack(tmp_path, kind: bytes, bits: int, axis: float, pixel_m: float):
    dtype = get_ext_header_dtype(kind)
    ext = np.zeros(3, dtype=dtype)
    ext["Metadata size"] = dtype.itemsize
    ext["Bitmask 1"] = bits
    ext["Tilt axis angle"] = axis
    ext["Pixel size X"] = pixel_m
    path = tmp_path / f"{kind.decode()}.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((3, 8, 8), np.int16))
        mrc.set_extended_header(ext)
        mrc.header.exttyp = kind
    return path


@pytest.mark.parametrize("kind", [b"FEI1", b"FEI2"])
def test_synthetic_fei_headers(tmp_path, kind):
    valid = _fei_stack(tmp_path, kind, (1 << 12) | (1 << 14), -84.5, 2.1e-10)
    found = read_acquisition(valid)
    assert found.tilt_axis_deg == (Sourced(-84.5, f"{kind.decode()} extended header"),)
    assert found.pixel_size_nm[0].value == pytest.approx(0.21)
    (tmp_path / "unset").mkdir()
    missing = _fei_stack(tmp_path / "unset", kind, 0, -84.5, 2.1e-10)  # validity bits clear
    assert read_acquisition(missing).tilt_axis_deg == () and read_acquisition(missing).pixel_size_nm == ()


def test_old_fei_header(tmp_path):
    records = bytearray(128 * 4)
    for z in range(4):
        struct.pack_into("<13f", records, z * 128, -60 + 40 * z, 0, 0, 0, 0, 0, 0, 0, 1, 0, 88.0, 3.36e-9, 1e5)
    path = tmp_path / "old.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((4, 8, 8), np.int16))
        mrc.set_extended_header(np.frombuffer(bytes(records), dtype="V1"))
        mrc.voxel_size = 1.0
    found = read_acquisition(path)
    assert found.tilt_axis_deg == (Sourced(88.0, "FEI extended header"),)
    assert found.pixel_size_nm[0].value == pytest.approx(3.36)
