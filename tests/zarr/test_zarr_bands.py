"""OME-Zarr level 0 written by the pyramid's band jobs (issue 11 item 3: one read of the file
serves both formats, chunk compression runs in the worker processes): the very bytes of the
slab-fed `ZarrPyramidWriter` (itself checked against the numpy reference of rule 1), whatever the
shape, dtype, worker count and ``--ng-format``."""

from __future__ import annotations


import numpy as np
import pytest
from folder_bytes import folder_bytes
from test_zarr_writer import make_volume, write_streamed

from emflow.pyramid import make as make_module
from emflow.pyramid import make_pyramid
from emflow.omezarr.volume import ZarrPyramidWriter

CHUNK = 16


def no_slab_pass(*args, **kwargs):
    raise AssertionError("the slab pass ran: band jobs were expected")


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        ("int16", (33, 65, 20)),   # last z-row and last y-band one voxel thick: empty level-1 pieces
        ("uint8", (45, 67, 131)),  # the odd shape
        ("float32", (40, 48, 36)),
        ("int8", (17, 9, 300)),    # y shorter than a chunk: one band per z-row
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_band_jobs_write_the_slab_writers_bytes(make_mrc, rng, tmp_path, monkeypatch, dtype, shape, workers):
    volume = make_volume(dtype, rng, shape)
    mrc = make_mrc("v.mrc", volume, (10.0, 10.0, 10.0))
    expected = folder_bytes(write_streamed(tmp_path / "slabs" / "v.ome.zarr", volume, [7], chunk=CHUNK, voxel_nm=(1.0, 1.0, 1.0)))
    assert len(expected) > 10

    monkeypatch.setattr(make_module, "_stream", no_slab_pass)
    both = make_pyramid(mrc, tmp_path / "neuro", ng_format="both", zarr_out=tmp_path / "both" / "v.ome.zarr",
                        chunk=CHUNK, workers=workers)
    only = make_pyramid(mrc, tmp_path / "unused", ng_format="zarr", zarr_out=tmp_path / "only" / "v.ome.zarr",
                        chunk=CHUNK, workers=workers)
    assert folder_bytes(tmp_path / "both" / "v.ome.zarr") == expected
    assert folder_bytes(tmp_path / "only" / "v.ome.zarr") == expected
    assert only.outdir is None and not (tmp_path / "unused").exists()

    # the precomputed half of `both` is the precomputed-only pyramid, and the statistics agree
    alone = make_pyramid(mrc, tmp_path / "alone", chunk=CHUNK, workers=workers)
    assert folder_bytes(tmp_path / "neuro") == folder_bytes(tmp_path / "alone")
    assert both.minmax == only.minmax == alone.minmax


def test_anisotropic_precomputed_chunks_fall_back_to_slabs(make_mrc, rng, tmp_path, monkeypatch):
    # z voxels 1.5x larger: precomputed level 0 is chunked 16 x 16 x 8 (x, y, z), so its bands
    # split zarr's 16-deep chunks; `both` streams slabs, `zarr` alone still uses its own bands
    volume = make_volume("uint16", rng, (45, 67, 131))
    mrc = make_mrc("v.mrc", volume, (8.0, 8.0, 12.0))
    expected = folder_bytes(write_streamed(tmp_path / "slabs" / "v.ome.zarr", volume, [5], chunk=CHUNK, voxel_nm=(1.2, 0.8, 0.8)))
    calls = []
    slab_pass = make_module._stream
    monkeypatch.setattr(make_module, "_stream", lambda *a, **k: calls.append(1) or slab_pass(*a, **k))
    make_pyramid(mrc, tmp_path / "neuro", ng_format="both", zarr_out=tmp_path / "both" / "v.ome.zarr", chunk=CHUNK, workers=2)
    assert calls == [1]
    make_pyramid(mrc, tmp_path / "unused", ng_format="zarr", zarr_out=tmp_path / "only" / "v.ome.zarr", chunk=CHUNK)
    assert calls == [1]
    assert folder_bytes(tmp_path / "both" / "v.ome.zarr") == expected == folder_bytes(tmp_path / "only" / "v.ome.zarr")
    make_pyramid(mrc, tmp_path / "alone", chunk=CHUNK)
    assert folder_bytes(tmp_path / "neuro") == folder_bytes(tmp_path / "alone")


def test_band_intake_refuses_misuse(tmp_path):
    writer = ZarrPyramidWriter(tmp_path / "a.ome.zarr", (8, 40, 40), np.uint8, (1, 1, 1), 16)
    with pytest.raises(ValueError, match="band_writer first"):
        writer.add_band(np.zeros((4, 8, 20), np.uint8), row_done=False)
    band = writer.band_writer()
    assert (band.chunks, band.dtype, band.downsample) == ((8, 16, 16), "|u1", True)
    with pytest.raises(ValueError, match="written by band jobs"):
        writer.add_slab(0, np.zeros((8, 40, 40), np.uint8))
    with pytest.raises(ValueError, match="does not fit"):
        writer.add_band(np.zeros((4, 8, 20), np.uint8), row_done=True)  # a row of 8, not 20, rows
    writer.add_band(np.zeros((2, 20, 20), np.uint8), row_done=True)
    with pytest.raises(ValueError, match="only 2 of 4 level-1 sections"):
        writer.close()
    writer.abort()

    slabs = ZarrPyramidWriter(tmp_path / "b.ome.zarr", (8, 40, 40), np.uint8, (1, 1, 1), 16)
    slabs.add_slab(0, np.zeros((2, 40, 40), np.uint8))
    with pytest.raises(ValueError, match="already added"):
        slabs.band_writer()
    slabs.abort()
    assert list(tmp_path.iterdir()) == []
