"""emflow.omezarr: 2 x 2 mean pyramid, NGFF 0.4 metadata, streamed writing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader

from emflow.omezarr import channel_window, level_shapes, mean_2x2, write_ngff_image


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((512, 512), [(512, 512)]),
        ((513, 100), [(513, 100), (257, 50)]),
        ((1300, 1100), [(1300, 1100), (650, 550), (325, 275)]),
        ((624, 1756), [(624, 1756), (312, 878), (156, 439)]),
    ],
)
def test_level_shapes_halve_until_512(shape, expected):
    assert level_shapes(shape) == expected


def test_mean_2x2_even_and_odd_by_hand():
    block = np.arange(15, dtype=np.uint8).reshape(1, 3, 5)
    # rows 0-1 | row 2 (replicated); columns 0-1 | 2-3 | 4 (replicated); rint halves to even:
    # (0+1+5+6)/4=3  (2+3+7+8)/4=5  (4+4+9+9)/4=6.5->6
    # (10+11)/2=10.5->10  (12+13)/2=12.5->12  14
    expected = np.array([[[3, 5, 6], [10, 12, 14]]], dtype=np.uint8)
    out = mean_2x2(block)
    assert out.dtype == np.uint8
    assert np.array_equal(out, expected)


def test_mean_2x2_uint16_matches_reshape_mean(rng):
    block = rng.integers(0, 65535, (2, 6, 8), dtype=np.uint16)
    reference = np.rint(block.astype(np.float64).reshape(2, 3, 2, 4, 2).mean(axis=(2, 4)))
    assert np.array_equal(mean_2x2(block), reference.astype(np.uint16))


def test_channel_window_quantiles_and_flat_channel(rng):
    values = rng.integers(0, 1000, 5000).astype(np.uint16)
    window = channel_window(values, np.uint16)
    assert window["start"] == pytest.approx(np.quantile(values, 0.01))
    assert window["end"] == pytest.approx(np.quantile(values, 0.99))
    assert (window["min"], window["max"]) == (0.0, 65535.0)
    flat = channel_window(np.full(10, 255, np.uint8), np.uint8)
    assert flat == {"start": 254.0, "end": 255.0, "min": 0.0, "max": 255.0}


def test_write_streams_bounded_blocks_and_reads_back(tmp_path, rng):
    image = rng.integers(0, 60000, (2, 700, 1100), dtype=np.uint16)
    calls = []

    def read_region(y0, y1, x0, x1):
        calls.append((y1 - y0, x1 - x0))
        return image[:, y0:y1, x0:x1]

    target = tmp_path / "img.ome.zarr"
    result = write_ngff_image(target, read_region, image.shape, image.dtype, name="img",
                              channel_labels=["DAPI", "GFP"], channel_colours=["0000ff", "00FF00"],
                              pixel_size_um=(0.5, 0.25), chunk_px=256, block_chunks=1,
                              read_chunks=(1, 1))
    assert max(h for h, _ in calls) <= 256 and max(w for _, w in calls) <= 256
    assert sum(h * w for h, w in calls) == 700 * 1100  # every pixel read exactly once
    assert result.level_shapes == [(700, 1100), (350, 550), (175, 275)]

    nodes = list(Reader(parse_url(str(target)))())
    data = [np.asarray(level) for level in nodes[0].data]
    assert [d.shape for d in data] == [(2, 700, 1100), (2, 350, 550), (2, 175, 275)]
    assert np.array_equal(data[0], image)
    level1 = np.rint(image.astype(np.float64).reshape(2, 350, 2, 550, 2).mean(axis=(2, 4)))
    assert np.array_equal(data[1], level1.astype(np.uint16))
    assert nodes[0].metadata["channel_names"] == ["DAPI", "GFP"]

    attrs = json.loads((target / ".zattrs").read_text())
    assert attrs["multiscales"][0]["version"] == "0.4"
    assert [a["name"] for a in attrs["multiscales"][0]["axes"]] == ["c", "y", "x"]
    assert attrs["multiscales"][0]["datasets"][2]["coordinateTransformations"][0]["scale"] == [1.0, 2.0, 1.0]
    assert [c["color"] for c in attrs["omero"]["channels"]] == ["0000FF", "00FF00"]
    zarray = json.loads((target / "0" / ".zarray").read_text())
    assert zarray["chunks"] == [1, 256, 256] and zarray["dimension_separator"] == "/"
    assert (zarray["compressor"]["id"], zarray["compressor"]["cname"]) == ("blosc", "zstd")
    assert zarray["zarr_format"] == 2
    # windows come from the preview level (level 0 here: 1100 < 2 * 1024 and no level >= 1024)
    assert result.preview_level == 0
    start = attrs["omero"]["channels"][1]["window"]["start"]
    assert start == pytest.approx(np.quantile(image[1], 0.01))


def test_preview_is_coarsest_level_at_least_1024(tmp_path):
    image = np.zeros((1, 300, 4200), dtype=np.uint8)
    result = write_ngff_image(tmp_path / "w.ome.zarr", lambda y0, y1, x0, x1: image[:, y0:y1, x0:x1],
                              image.shape, image.dtype, name="w", channel_labels=["g"],
                              channel_colours=["FFFFFF"])
    assert [s[1] for s in result.level_shapes] == [4200, 2100, 1050, 525, 263]
    assert result.preview_level == 2 and result.preview.shape == (1, 75, 1050)
