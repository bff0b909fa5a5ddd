"""emflow pyramid vs the facility's chain (mrc2nifti -> volume-to-precomputed-pyramid -> mrc_visual_min_max).

Every chunk file, the ``info`` and the min/max JSON must be byte-identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emflow.pyramid import make_pyramid
from emflow.pyramid.minmax import minmax_bytes
from reference_env import run_reference_chain

pytestmark = pytest.mark.reference


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def assert_same_as_reference(ref_python: Path, mrc: Path, work: Path, workers: int = 1, chunk_files: int | None = None) -> dict:
    ref_dir, ref_minmax = run_reference_chain(ref_python, mrc, work / "ref")
    result = make_pyramid(mrc, work / "mine", minmax_json=work / "mine.json", workers=workers)
    ref_files, my_files = _files(ref_dir), _files(work / "mine")
    assert my_files == ref_files
    assert (work / "mine" / "info").read_bytes() == (ref_dir / "info").read_bytes()
    differ = [f for f in ref_files if (ref_dir / f).read_bytes() != (work / "mine" / f).read_bytes()]
    assert differ == []
    assert (work / "mine.json").read_bytes() == (work / "ref" / "min_max.json").read_bytes()
    assert result.minmax == ref_minmax
    if chunk_files is not None:
        assert len(my_files) == chunk_files + 1
    return result.info


def _volume(dtype: str, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    if dtype == "float32":
        return rng.normal(3.0, 2.0, shape).astype(np.float32)
    info = np.iinfo(dtype)
    # a smooth ramp plus noise: odd sums in every 2x2x2 block so rounding is exercised
    z, y, x = np.indices(shape)
    base = (x * 7 + y * 3 + z * 11) % (int(info.max) - int(info.min) + 1) + int(info.min)
    noise = rng.integers(-3, 4, shape)
    return np.clip(base + noise, info.min, info.max).astype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint16", "float32"])
def test_odd_sizes_every_dtype(dtype, make_mrc, rng, ref_python, tmp_path):
    # 131 x 67 x 45 (x, y, z): odd in every axis, two scales, partial chunks everywhere
    mrc = make_mrc(f"v_{dtype}.mrc", _volume(dtype, (45, 67, 131), rng), voxel_size_angstrom=(33.6, 33.6, 33.6))
    info = assert_same_as_reference(ref_python, mrc, tmp_path / "w")
    assert [s["key"] for s in info["scales"]] == ["3nm", "7nm"]
    assert info["scales"][0]["resolution"][1] == 3.3599999369471334


def test_anisotropic_voxels(make_mrc, rng, ref_python, tmp_path):
    # z voxels 4x the x/y voxels: x/y are halved first, chunks longer in x/y than in z
    mrc = make_mrc("aniso.mrc", _volume("uint8", (40, 150, 260), rng), voxel_size_angstrom=(10.0, 10.0, 40.0))
    info = assert_same_as_reference(ref_python, mrc, tmp_path / "w", workers=2)
    assert info["scales"][0]["chunk_sizes"] == [[128, 128, 32]]
    assert [s["size"] for s in info["scales"]] == [[260, 150, 40], [130, 75, 40], [65, 38, 40]]


def test_anisotropic_coarse_y(make_mrc, rng, ref_python, tmp_path):
    # y voxels 4x the x/z voxels: chunks 128 x 32 x 128 at full resolution, y halved last
    mrc = make_mrc("aniso_y.mrc", _volume("int16", (140, 45, 270), rng), voxel_size_angstrom=(10.0, 40.0, 10.0))
    info = assert_same_as_reference(ref_python, mrc, tmp_path / "w", workers=2)
    assert info["scales"][0]["chunk_sizes"] == [[128, 32, 128]]


def test_smaller_than_one_chunk(make_mrc, rng, ref_python, tmp_path):
    mrc = make_mrc("small.mrc", _volume("int16", (5, 9, 13), rng), voxel_size_angstrom=(2.1, 2.1, 2.1))
    info = assert_same_as_reference(ref_python, mrc, tmp_path / "w", chunk_files=1)
    assert len(info["scales"]) == 1


def test_deep_volume_streams_rows(make_mrc, rng, ref_python, tmp_path):
    # 150 sections: three level-0 chunk rows, two level-1 rows fed across level-0 rows
    mrc = make_mrc("deep.mrc", _volume("uint16", (150, 20, 30), rng), voxel_size_angstrom=(5.0, 5.0, 5.0))
    assert_same_as_reference(ref_python, mrc, tmp_path / "w", workers=2)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["maps/EMD-3197.map", "maps/EMD-3001.map", "tomograms/cylindra_13pf_MT_int8.mrc"])
def test_real_data(name, shared_data, ref_python, tmp_path):
    src = shared_data / name
    mrc = tmp_path / src.name
    shutil.copyfile(src, mrc)  # the reference tools write nothing beside it, but keep ../shared clean
    assert_same_as_reference(ref_python, mrc, tmp_path / "w", workers=2)


def test_minmax_bytes_match_json_dump():
    d = {"neuroglancerPrecomputedMin": "-64", "neuroglancerPrecomputedMax": "319",
         "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "255"}
    assert minmax_bytes(d) == (b'{"neuroglancerPrecomputedMin": "-64", "neuroglancerPrecomputedMax": "319", '
                               b'"neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "255"}')
