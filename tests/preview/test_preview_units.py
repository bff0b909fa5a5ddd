"""Unit tests of the preview backend's pieces, against hand-computed numbers and IMOD's formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from emflow.preview.align import affine_section, bin_section, prepare_for_xcorr, xcorr_shift
from emflow.preview.fbp import SliceFbp, to_int16
from emflow.preview.imodfiles import read_xf, write_tlt, write_xf, xf_lines
from emflow.preview.orient import rec_chunk, rotx_origin, rotx_stream


def test_bin_section_block_means_and_even_trim():
    a = np.arange(4 * 6, dtype=np.float32).reshape(4, 6)
    # block (rows 0-1, cols 0-1) = 0, 1, 6, 7 -> 3.5
    np.testing.assert_allclose(bin_section(a, 2), [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5]])
    b = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    # 5 // 2 = 2 rows, 7 // 2 = 3 columns; left-over row/column trimmed at the start (offset 0 for 1)
    assert bin_section(b, 2).shape == (2, 3)
    assert bin_section(b, 2)[0, 0] == pytest.approx((0 + 1 + 7 + 8) / 4)
    c = np.arange(6 * 6, dtype=np.float32).reshape(6, 6)
    # 6 // 4 = 1, trimmed (6 - 4) // 2 = 1 on each side: rows/cols 1..4
    assert bin_section(c, 4)[0, 0] == pytest.approx(c[1:5, 1:5].mean())


def test_xcorr_shift_recovers_a_subpixel_shift(rng):
    img = ndimage.gaussian_filter(rng.normal(size=(64, 80)), 2.0)
    moved = ndimage.shift(img, (-2.25, 3.4), order=3, mode="wrap")  # content moves by dx=3.4, dy=-2.25
    dx, dy = xcorr_shift(prepare_for_xcorr(img), prepare_for_xcorr(moved), img.shape)
    assert dx == pytest.approx(3.4, abs=0.15)
    assert dy == pytest.approx(-2.25, abs=0.15)


def test_affine_section_rotates_by_minus_the_tilt_axis_angle():
    # A point 5 px right of the centre (x = +5, y = 0, y = row index as IMOD's Y) on a 21 x 21 image.
    img = np.zeros((21, 21), np.float32)
    img[10, 15] = 1.0
    # Tilt axis 90 deg (counterclockwise from Y): rotating by -90 sends (5, 0) to (0, -5).
    out = affine_section(img, 90.0, fill=0.0)
    assert np.unravel_index(np.argmax(out), out.shape) == (5, 10)
    # A shift d moves the content by -d: (0, -5) - (2, 1) = (-2, -6) -> row 4, column 8.
    out = affine_section(img, 90.0, shift_xy=(2.0, 1.0), fill=0.0)
    assert np.unravel_index(np.argmax(out), out.shape) == (4, 8)
    # Stretch by 2 in x about the centre: x = +5 -> +10.
    out = affine_section(img, 0.0, stretch_x=2.0, fill=0.0)
    assert np.unravel_index(np.argmax(out), out.shape) == (10, 20)


def test_xf_and_tlt_text_in_imod_formats(tmp_path):
    lines = xf_lines(90.0, np.array([[1.5, -2.25], [0.0, 0.0]]))
    assert lines[0] == "   0.0000000   1.0000000  -1.0000000   0.0000000      -1.500       2.250"
    assert lines[1] == "   0.0000000   1.0000000  -1.0000000   0.0000000       0.000       0.000"
    assert xf_lines(0.0, np.array([[3.0, 4.0]]))[0] == (
        "   1.0000000   0.0000000   0.0000000   1.0000000      -3.000      -4.000")
    path = write_xf(tmp_path / "a.xf", 30.0, np.array([[1.0, 2.0]]))
    a11, a12, a21, a22, dx, dy = read_xf(path)[0]
    # R(-30): [[cos30, sin30], [-sin30, cos30]]
    assert (a11, a12, a21, a22) == pytest.approx((0.8660254, 0.5, -0.5, 0.8660254))
    assert (dx, dy) == (-1.0, -2.0)
    tlt = write_tlt(tmp_path / "a.tlt", [-60, -0.004, 2.5])
    assert tlt.read_text() == " -60.00\n   0.00\n   2.50\n"


def test_rec_is_full_rec_after_clip_rotx():
    full = np.arange(3 * 4 * 5).reshape(3, 4, 5)  # (ny_ali, thickness, nx)
    rec = rec_chunk(full, 0, 4)
    assert rec.shape == (4, 3, 5)
    # clip rotx: rec[k, j, :] = full[j, T - 1 - k, :]
    for k in range(4):
        for j in range(3):
            np.testing.assert_array_equal(rec[k, j], full[j, 3 - k])
    chunks: list[np.ndarray] = []
    rotx_stream(lambda z0, z1: full[z0:z1], full.shape, chunks.append, max_bytes=3 * 5 * 8, itemsize=8)
    assert len(chunks) == 4  # one rec section (3 x 5 x 8 bytes) per chunk
    np.testing.assert_array_equal(np.concatenate(chunks), rec)


def test_rotx_origin_follows_clip():
    # ny = 40 (thickness), nz = 64; origin (0, 2688, 0) with 134.4 A voxels: ycen = 20 - 20 = 0,
    # zcen = 32; yorg' = (64/2 - 32) * v = 0, zorg' = (40/2 + 0) * v = 2688.
    assert rotx_origin((64, 40, 64), (0.0, 2688.0, 0.0), 134.4) == pytest.approx((0.0, 0.0, 2688.0))
    # Origin 0: ycen = 20, zcen = 32 -> zorg' = 40 * v.
    assert rotx_origin((64, 40, 64), (0.0, 0.0, 0.0), 2.0) == pytest.approx((0.0, 0.0, 80.0))


def test_fbp_puts_a_point_where_imod_tilt_would():
    """Sinogram built by hand with tilt's projection formula u = x cos(t) - z sin(t)."""
    n, thickness = 41, 21
    angles = np.arange(-70.0, 71.0, 2.0)
    x, z = 8.0, -5.0  # relative to the slice centre; z = thickness row - centre
    u = x * np.cos(np.deg2rad(angles)) - z * np.sin(np.deg2rad(angles))
    det = np.arange(n) - (n - 1) / 2.0
    sino = np.exp(-((det[None, :] - u[:, None]) ** 2) / (2 * 0.8**2)).astype(np.float32)
    with SliceFbp(angles, n, thickness) as fbp:
        rec = fbp(sino)
    row, col = np.unravel_index(np.argmax(rec), rec.shape)
    assert (row - (thickness - 1) / 2, col - (n - 1) / 2) == (z, x)


def test_to_int16_rounds_and_clips():
    v = np.array([0.0, 1.24, 1.26, -1e9, 1e9])
    np.testing.assert_array_equal(to_int16(v, 0.0, 10.0), [0, 12, 13, -32768, 32767])
