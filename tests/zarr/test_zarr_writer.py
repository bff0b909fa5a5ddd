"""OME-Zarr writer (issue 11 rule 1): levels, values, metadata, streaming, readers."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr_reference import reference_levels

from emflow.omezarr.volume import ZarrPyramidWriter, downsample_mean_trunc, level_shapes

SHAPE = (45, 67, 131)  # z, y, x: odd in every axis (the 131 x 67 x 45)
CHUNK = 16


def make_volume(dtype: str, rng: np.random.Generator, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Random values over (most of) the dtype's range, so truncation and sign matter."""
    if dtype == "float32":
        return rng.normal(0.0, 50.0, shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def write_streamed(path: Path, volume: np.ndarray, slab_sizes: list[int], chunk: int = CHUNK,
                   workers: int = 1, voxel_nm: tuple[float, float, float] = (2.0, 1.5, 1.5)) -> Path:
    """Feed ``volume`` to the writer in slabs of the given sizes (cycled), as a pass would."""
    writer = ZarrPyramidWriter(path, volume.shape, volume.dtype, voxel_nm, chunk, workers=workers)
    z, i = 0, 0
    while z < volume.shape[0]:
        n = slab_sizes[i % len(slab_sizes)]
        writer.add_slab(z, volume[z:z + n])
        z, i = z + n, i + 1
    return writer.close()


def test_level_shapes_halve_until_one_chunk() -> None:
    assert level_shapes((45, 67, 131), 16) == [(45, 67, 131), (22, 33, 65), (11, 16, 32), (5, 8, 16)]
    assert level_shapes((36, 206, 94), 64) == [(36, 206, 94), (18, 103, 47), (9, 51, 23)]
    assert level_shapes((10, 20, 30), 64) == [(10, 20, 30)]


def test_downsample_mean_truncates_toward_zero() -> None:
    block = np.array([[[-3, -4], [-4, -4]], [[-4, -4], [-4, -4]]], dtype=np.int8)  # mean -3.875
    assert downsample_mean_trunc(block, np.dtype(np.int8)).tolist() == [[[-3]]]
    up = np.array([7, 7, 7, 7, 7, 7, 7, 8], dtype=np.uint16).reshape(2, 2, 2)  # mean 7.125
    assert downsample_mean_trunc(up, np.dtype(np.uint16)).tolist() == [[[7]]]
    odd = np.arange(27, dtype=np.int16).reshape(3, 3, 3)  # trailing plane/row/column dropped
    assert downsample_mean_trunc(odd, np.dtype(np.int16)).tolist() == [[[6]]]  # (0+1+3+4+9+10+12+13)/8


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "float32", "uint8"])
def test_every_level_matches_reference(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    volume = make_volume(dtype, rng)
    out = write_streamed(tmp_path / "v.ome.zarr", volume, [7, 1, 20, 3])
    expected = reference_levels(volume, CHUNK)
    group = zarr.open_group(out, mode="r", zarr_format=2)
    assert sorted(group.array_keys(), key=int) == [str(k) for k in range(len(expected))] == ["0", "1", "2", "3"]
    for k, ref in enumerate(expected):
        got = group[str(k)][:]
        assert got.dtype == np.dtype(dtype) and got.shape == ref.shape
        if dtype == "float32":  # float32 sums in a different order than the float64 reference
            np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-5)
        else:
            np.testing.assert_array_equal(got, ref)


def test_zarray_and_ngff_metadata(tmp_path: Path, rng: np.random.Generator) -> None:
    volume = make_volume("int16", rng)
    out = write_streamed(tmp_path / "B.ome.zarr", volume, [64], voxel_nm=(2.0, 1.5, 1.25))
    assert json.loads((out / ".zgroup").read_text()) == {"zarr_format": 2}
    zarray = json.loads((out / "1" / ".zarray").read_text())
    assert zarray["shape"] == [22, 33, 65] and zarray["chunks"] == [16, 16, 16]
    assert zarray["dtype"] == "<i2" and zarray["zarr_format"] == 2 and zarray["order"] == "C"
    assert zarray["compressor"] == {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0}
    top = json.loads((out / "3" / ".zarray").read_text())
    assert top["shape"] == [5, 8, 16] and top["chunks"] == [5, 8, 16]  # one chunk per axis
    ms = json.loads((out / ".zattrs").read_text())["multiscales"]
    assert len(ms) == 1 and ms[0]["version"] == "0.4" and ms[0]["name"] == "B"
    assert ms[0]["axes"] == [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
    scales = [d["coordinateTransformations"] for d in ms[0]["datasets"]]
    assert scales == [[{"type": "scale", "scale": [2.0 * 2**k, 1.5 * 2**k, 1.25 * 2**k]}] for k in range(4)]
    # chunk files: level 0 has ceil(45/16) x ceil(67/16) x ceil(131/16) = 3 x 5 x 9
    assert len([p for p in (out / "0").rglob("*") if p.is_file() and p.name != ".zarray"]) == 3 * 5 * 9


def test_validates_against_ngff_04_models(tmp_path: Path, rng: np.random.Generator) -> None:
    pytest.importorskip("ome_zarr_models")
    from ome_zarr_models.v04.image import Image

    out = write_streamed(tmp_path / "v.ome.zarr", make_volume("uint16", rng), [9])
    image = Image.from_zarr(zarr.open_group(out, mode="r", zarr_format=2))
    assert [d.path for d in image.attributes.multiscales[0].datasets] == ["0", "1", "2", "3"]
    # the validator is not a rubber stamp: scales of the wrong length are rejected
    attrs = json.loads((out / ".zattrs").read_text())
    attrs["multiscales"][0]["datasets"][1]["coordinateTransformations"][0]["scale"] = [1.0, 1.0]
    (out / ".zattrs").write_text(json.dumps(attrs))
    with pytest.raises(ValueError):
        Image.from_zarr(zarr.open_group(out, mode="r", zarr_format=2))


def test_ome_zarr_reader_opens_every_level(tmp_path: Path, rng: np.random.Generator) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    volume = make_volume("int8", rng)
    out = write_streamed(tmp_path / "v.ome.zarr", volume, [45])
    nodes = list(Reader(parse_url(str(out)))())
    assert len(nodes) == 1
    data = nodes[0].data
    expected = reference_levels(volume, CHUNK)
    assert len(data) == len(expected)
    for level, ref in zip(data, expected):
        np.testing.assert_array_equal(np.asarray(level), ref)
    assert [ax["name"] for ax in nodes[0].metadata["axes"]] == ["z", "y", "x"]


def test_threads_write_the_same_bytes(tmp_path: Path, rng: np.random.Generator) -> None:
    volume = make_volume("uint16", rng)
    one = write_streamed(tmp_path / "1" / "v.ome.zarr", volume, [64], workers=1)
    four = write_streamed(tmp_path / "4" / "v.ome.zarr", volume, [5, 11], workers=4)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(four) for p in four.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (four / f).read_bytes() for f in files)


def test_memory_bounded_by_chunk_rows(tmp_path: Path) -> None:
    """512 sections of 64 x 64 int16 (4 MiB) streamed in slabs of 16: peak traced memory stays
    near one chunk row per level (16 x 64 x 64 x 2 = 128 KiB at level 0), far below the volume."""
    shape = (512, 64, 64)
    writer = ZarrPyramidWriter(tmp_path / "m.ome.zarr", shape, np.int16, (1, 1, 1), 16)
    ramp = np.arange(64 * 64, dtype=np.int16).reshape(1, 64, 64)
    tracemalloc.start()
    for z0 in range(0, shape[0], 16):
        writer.add_slab(z0, np.repeat(ramp + z0, 16, axis=0))
    writer.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20, peak
    assert np.array_equal(zarr.open_array(tmp_path / "m.ome.zarr" / "0", mode="r")[100], ramp[0] + 96)


def test_refuses_out_of_order_and_incomplete_input(tmp_path: Path) -> None:
    writer = ZarrPyramidWriter(tmp_path / "x.ome.zarr", (4, 3, 3), np.uint8, (1, 1, 1), 2)
    with pytest.raises(ValueError, match="expected z=0"):
        writer.add_slab(1, np.zeros((1, 3, 3), np.uint8))
    writer.add_slab(0, np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="only 2 of 4"):
        writer.close()
    writer.abort()
    assert list(tmp_path.iterdir()) == []  # no temp folder, no partial output


def test_abort_leaves_nothing_and_existing_output_is_kept(tmp_path: Path) -> None:
    from emflow.errors import EmflowInputError

    target = tmp_path / "y.ome.zarr"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(EmflowInputError, match="not empty"):
        ZarrPyramidWriter(target, (2, 2, 2), np.uint8, (1, 1, 1))
    with pytest.raises(RuntimeError):
        with ZarrPyramidWriter(target, (2, 2, 2), np.uint8, (1, 1, 1), overwrite=True) as writer:
            writer.add_slab(0, np.ones((1, 2, 2), np.uint8))
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.ome.zarr"]
    assert (target / "keep").read_text() == "x"
