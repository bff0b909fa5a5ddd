"""End-to-end preview reconstructions: a synthetic phantom with known shifts, the etspy sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.mrc import open_volume, read_info
from emflow.preview import PREVIEW_LABEL, run_preview
from emflow.preview.fbp import cuda_available
from emflow.preview.imodfiles import read_xf
from preview_phantom import blob_phantom, project, shifted_noisy

ANGLES = np.arange(-76.0, 77.0, 2.0)  # the etspy sample's 77 angles
PHANTOM_SHAPE = (48, 32, 64)  # (ny_ali, thickness, nx): full_rec orientation


@pytest.fixture(scope="module")
def phantom_series(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    from emflow.mrc import write_volume

    rng = np.random.default_rng(4)
    phantom = blob_phantom(PHANTOM_SHAPE, rng)
    shifts = rng.uniform(-8, 8, (len(ANGLES), 2))
    shifts[np.argmin(np.abs(ANGLES))] = 0.0  # shifts are measured relative to the zero tilt
    stack = shifted_noisy(project(phantom, ANGLES), shifts, 0.05, rng)
    folder = tmp_path_factory.mktemp("phantom")
    path = folder / "ph.mrc"
    write_volume(path, stack, (10.0, 10.0, 10.0), space_group=0)
    path.with_suffix(".rawtlt").write_text("".join(f"{a:.2f}\n" for a in ANGLES))
    return path, phantom, shifts


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_phantom_shifts_and_reconstruction(phantom_series, tmp_path):
    stack, phantom, true_shifts = phantom_series
    lines: list[str] = []
    out = run_preview(stack, tmp_path, "ph", bin_factor=1, thickness_px=32, pixel_size_nm=1.0, log=lines.append)
    xf = read_xf(out.xf)
    assert xf.shape == (len(ANGLES), 6)
    np.testing.assert_allclose(xf[:, :4], [[1, 0, 0, 1]] * len(ANGLES), atol=1e-7)
    recovered = -xf[:, 4:6]  # .xf moves the content by -d
    error = np.abs(recovered - true_shifts).max(axis=1)
    assert (error <= 1.0).mean() >= 0.9, error
    full = open_volume(out.full_rec).read_slab(0, PHANTOM_SHAPE[0]).astype(np.float64)
    assert full.shape == PHANTOM_SHAPE
    centre = (slice(12, 36), slice(None), slice(16, 48))
    assert _corr(full[centre], phantom[centre]) >= 0.8
    rec = open_volume(out.rec).read_slab(0, PHANTOM_SHAPE[1])
    np.testing.assert_array_equal(rec, full[:, ::-1, :].transpose(1, 0, 2))
    assert any("no fiducial alignment" in line for line in lines)
    assert "preview reconstruction (no fiducial alignment)" in out.run_log.read_text()
    assert [float(v) for v in out.tlt.read_text().split()] == pytest.approx(ANGLES)


def test_off_centre_specimen_is_centred_in_the_slab(phantom_series, tmp_path, make_mrc):
    """A specimen 4 px above the middle: the preview centres it (the sin(tilt) drift convention)."""
    stack, phantom, _ = phantom_series
    raised = np.roll(phantom, 4, axis=1)
    data = project(raised, ANGLES)
    path = make_mrc("up.mrc", data, tilt_angles_deg=ANGLES)
    out = run_preview(path, tmp_path, "up", bin_factor=1, thickness_px=32, pixel_size_nm=1.0)
    full = open_volume(out.full_rec).read_slab(0, PHANTOM_SHAPE[0]).astype(np.float64)
    centre = (slice(12, 36), slice(None), slice(16, 48))
    assert _corr(full[centre], phantom[centre]) >= 0.8
    assert _corr(full[centre], phantom[centre]) > _corr(full[centre], raised[centre])


def test_bin_2_output_shapes_voxel_and_labels(phantom_series, tmp_path):
    stack, _, _ = phantom_series
    out = run_preview(stack, tmp_path, "ph", bin_factor=2, thickness_px=32, pixel_size_nm=0.5)
    shapes = {p.name: read_info(p) for p in (out.ali, out.full_rec, out.rec)}
    assert shapes["ph_ali.mrc"].shape == (77, 24, 32)
    assert shapes["ph_full_rec.mrc"].shape == (24, 16, 32)
    assert shapes["ph_rec.mrc"].shape == (16, 24, 32)
    for info in shapes.values():
        assert info.voxel_size_angstrom == pytest.approx((10.0, 10.0, 10.0))
        assert PREVIEW_LABEL in info.labels


def test_missing_or_wrong_tilt_angles_are_input_errors(make_mrc, tmp_path):
    data = np.zeros((5, 16, 16), np.int16)
    bare = make_mrc("bare.mrc", data)
    with pytest.raises(EmflowInputError, match="no tilt angles"):
        run_preview(bare, tmp_path, "bare", bin_factor=1, thickness_px=8, pixel_size_nm=1.0)
    short = make_mrc("short.mrc", data, tilt_angles_deg=[-10, 0, 10])
    with pytest.raises(EmflowInputError, match="3 tilt angles for 5 sections"):
        run_preview(short, tmp_path, "short", bin_factor=1, thickness_px=8, pixel_size_nm=1.0)
    with pytest.raises(EmflowInputError, match="bin"):
        run_preview(short, tmp_path, "short", bin_factor=0, thickness_px=8, pixel_size_nm=1.0)


@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU visible to ASTRA")
def test_cuda_fbp_matches_cpu(phantom_series, tmp_path):
    stack, _, _ = phantom_series
    cpu = run_preview(stack, tmp_path / "cpu", "ph", bin_factor=1, thickness_px=32, pixel_size_nm=1.0, use_cuda=False)
    gpu = run_preview(stack, tmp_path / "gpu", "ph", bin_factor=1, thickness_px=32, pixel_size_nm=1.0, use_cuda=True)
    a = open_volume(cpu.rec).read_slab(0, 32).astype(np.float64)
    b = open_volume(gpu.rec).read_slab(0, 32).astype(np.float64)
    assert a.shape == b.shape
    assert _corr(a, b) >= 0.99


@pytest.mark.shared
def test_etspy_sample(shared_data, tmp_path):
    stack = shared_data / "tilt_series" / "etspy_HAADF.mrc"
    out = run_preview(stack, tmp_path, "etspy_HAADF", bin_factor=4, thickness_px=160, pixel_size_nm=3.36,
                      tilt_axis_deg=90.0)
    expected = {out.ali: (77, 64, 64), out.full_rec: (64, 40, 64), out.rec: (40, 64, 64)}
    for path, shape in expected.items():
        info = read_info(path)
        assert info.shape == shape  # (z, y, x): x y z = 64 64 77, 64 40 64, 64 64 40
        assert info.voxel_size_angstrom == pytest.approx((134.4,) * 3, rel=1e-6)
        assert PREVIEW_LABEL in info.labels
    middle = open_volume(out.rec).read_section(20).astype(np.float64)
    empty = middle[:10, :10]  # a corner outside the rod
    assert middle.std() > 5 * empty.std()
    assert len(read_xf(out.xf)) == 77


def test_stack_in_acquisition_order_is_aligned_by_angle(phantom_series, tmp_path, make_mrc):
    """A dose-symmetric stack (0, 2, -2, 4, -4, ...): neighbours are taken in angle order."""
    stack, _, true_shifts = phantom_series
    order = np.argsort(np.abs(ANGLES) + 0.1 * (ANGLES < 0), kind="stable")
    data = open_volume(stack).read_slab(0, len(ANGLES))[order]
    path = make_mrc("dose.mrc", data, tilt_angles_deg=ANGLES[order])
    out = run_preview(path, tmp_path, "dose", bin_factor=1, thickness_px=32, pixel_size_nm=1.0)
    error = np.abs(-read_xf(out.xf)[:, 4:6] - true_shifts[order]).max(axis=1)
    assert (error <= 1.0).mean() >= 0.9, error


@pytest.mark.skipif(cuda_available(), reason="checks the fallback on a machine without a GPU")
def test_gpus_without_a_gpu_falls_back_to_cpu_and_says_so(phantom_series, tmp_path):
    stack, _, _ = phantom_series
    out = run_preview(stack, tmp_path, "ph", bin_factor=4, thickness_px=32, pixel_size_nm=1.0, gpus=1)
    log = out.run_log.read_text()
    assert "no usable CUDA GPU" in log and "CPU FBP" in log
    assert read_info(out.rec).shape == (8, 12, 16)
