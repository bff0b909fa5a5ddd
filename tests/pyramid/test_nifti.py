"""emflow mrc2nifti: same data, dtype and affine as tomojs-pytools' mrc2nifti."""

from __future__ import annotations

import subprocess

import nibabel as nib
import numpy as np
import pytest

from emflow.cli import main
from emflow.mrc import write_volume
from emflow.pyramid.nifti import nifti_affine
from reference_env import MRC2NIFTI


def test_affine_by_hand():
    affine = nifti_affine((12.5, 12.5, 20.0), (100.0, -50.0, 30.0))
    assert np.allclose(affine, [[-1.25e-6, 0, 0, -1e-5], [0, -1.25e-6, 0, 5e-6], [0, 0, 2e-6, 3e-6], [0, 0, 0, 1]])


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_int8_becomes_uint8(suffix, make_mrc, tmp_path):
    data = np.array([[[-128, -1, 0, 127]]], dtype=np.int8).repeat(2, axis=0)
    out = tmp_path / f"v{suffix}"
    assert main(["mrc2nifti", str(make_mrc("v.mrc", data, (5.0, 5.0, 5.0))), str(out)]) == 0
    img = nib.load(out)
    assert img.get_data_dtype() == np.uint8
    assert np.asarray(img.dataobj)[:, 0, 0].tolist() == [0, 127, 128, 255]
    assert img.shape == (4, 1, 2)


@pytest.mark.reference
@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "float32"])
def test_matches_reference(dtype, rng, ref_python, tmp_path):
    data = rng.integers(-100, 100, (5, 7, 9)).astype(dtype) if dtype != "uint16" else rng.integers(0, 9000, (5, 7, 9)).astype(dtype)
    mrc = tmp_path / "v.mrc"
    write_volume(mrc, data, (12.5, 12.5, 20.0), origin_angstrom=(100.0, -50.0, 30.0))
    subprocess.run([str(ref_python), "-c", MRC2NIFTI, str(mrc), str(tmp_path / "ref.nii")], check=True, capture_output=True)
    assert main(["mrc2nifti", str(mrc), str(tmp_path / "mine.nii")]) == 0
    ref, mine = nib.load(tmp_path / "ref.nii"), nib.load(tmp_path / "mine.nii")
    assert mine.get_data_dtype() == ref.get_data_dtype()
    assert np.array_equal(mine.affine, ref.affine)
    assert np.array_equal(np.asarray(mine.dataobj), np.asarray(ref.dataobj))
