"""CZI (pylibCZIrw) and PNG (Pillow) readers, session discovery, display images."""

from __future__ import annotations

import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.spatialomics import discover_session
from emflow.spatialomics.czi import open_czi_images
from emflow.spatialomics.images import display_image, fit_size
from emflow.spatialomics.png import flatten_on_white, open_png_image


def test_czi_rgb_becomes_three_rgb_channels(tmp_path, slides, czi_writer):
    bgr = slides["rgb_bgr"]
    path = czi_writer(tmp_path / "rgb.czi", {0: [(0, (0, 0), bgr)]}, pixel_size_m=0.5e-6)
    with open_czi_images(path) as images:
        (image,) = images
        assert image.shape_cyx == (3, 120, 160) and image.dtype == np.uint8 and image.is_rgb
        assert image.pixel_size_um == pytest.approx((0.5, 0.5))
        region = image.read_region(10, 30, 20, 70)
    assert np.array_equal(region, np.moveaxis(bgr[10:30, 20:70, ::-1], -1, 0))


def test_czi_mosaic_is_stitched(tmp_path, slides, czi_writer):
    left, right = slides["mosaic_left"], slides["mosaic_right"]
    path = czi_writer(tmp_path / "m.czi", {0: [(0, (0, 0), left), (0, (550, 0), right)]},
                     channel_names={0: "EGFP"})
    with open_czi_images(path) as (image,):
        assert image.shape_cyx == (1, 600, 1100) and image.dtype == np.uint16
        assert image.channel_labels == ["EGFP"] and image.pixel_size_um is None
        region = image.read_region(100, 200, 500, 600)  # straddles the seam at x = 550
    assert np.array_equal(region[0], np.hstack([left, right])[100:200, 500:600])


def test_czi_multi_scene_multi_channel(tmp_path, slides, czi_writer):
    multi = slides["multi"]
    tiles = {s: [(c, (s * 1000, 0), multi[s, c]) for c in range(2)] for s in range(2)}
    path = czi_writer(tmp_path / "ms.czi", tiles, channel_names={0: "DAPI", 1: "GFP"})
    with open_czi_images(path) as images:
        assert [im.scene for im in images] == [0, 1]
        assert images[1].channel_labels == ["DAPI", "GFP"]
        assert images[1].shape_cyx == (2, 40, 50)
        assert np.array_equal(images[1].read_region(0, 40, 0, 50), multi[1])
        assert np.array_equal(images[0].read_region(5, 9, 3, 4), multi[0][:, 5:9, 3:4])


def test_corrupt_czi_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.czi"
    bad.write_bytes(b"ZISRAWFILE" + bytes(200))
    with pytest.raises(EmflowInputError, match="bad.czi: not a readable CZI file"):
        with open_czi_images(bad):
            pass


def test_flatten_on_white_by_hand():
    out = flatten_on_white(np.array([[100, 0]], np.uint8), np.array([[128, 0]], np.uint8))
    # 100*128/255 + 255*127/255 = 50.196 + 127 = 177.196 -> 177; alpha 0 -> white
    assert out.tolist() == [[177, 255]]


def test_png_rgba_and_la_flattened_on_white(tmp_path, png_writers):
    rgba = open_png_image(png_writers["rgba"](tmp_path / "a.png"))
    assert rgba.shape_cyx == (3, 40, 60) and rgba.is_rgb
    pixels = rgba.read_region(0, 40, 0, 60)
    assert pixels[:, 5, 0].tolist() == [255, 0, 0]
    assert pixels[:, 5, 59].tolist() == [255, 255, 255]
    # (100, 50, 0) at alpha 128 over white: 50.2 + 127, 25.1 + 127, 0 + 127
    assert pixels[:, 0, 0].tolist() == [177, 152, 127]
    gray = open_png_image(png_writers["la"](tmp_path / "g.png"))
    assert gray.shape_cyx == (1, 30, 20) and not gray.is_rgb
    plane = gray.read_region(0, 30, 0, 20)[0]
    assert plane[0, 0] == 40 and plane[29, 0] == 255


def test_png_that_is_text_is_an_input_error(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("this is not an image\n")
    with pytest.raises(EmflowInputError, match="fake.png: not a PNG image"):
        open_png_image(bad)


def test_discover_session_lists_ignored(make_session):
    plan = discover_session(make_session())
    assert [f.relative for f in plan.files] == [
        "HQ_Images/slide_1.czi", "HQ_Images/slide_2.czi",
        "Pre_ROI_Selection/slide_1_Pre_ROI_a.png", "Pre_ROI_Selection/slide_2_Pre_ROI_a.png",
    ]
    assert plan.ignored == ["Heatmaps/", "ROI_Images/", "notes.txt"]


def test_fit_size():
    assert fit_size((624, 924), 300, upscale=True) == (300, 203)  # 624 * 300 / 924 = 202.6
    assert fit_size((70, 90), 1024, upscale=False) == (90, 70)
    assert fit_size((70, 90), 300, upscale=True) == (300, 233)


def test_display_image_composites_channel_colours():
    preview = np.array([[[0, 100]], [[50, 50]]], dtype=np.uint16)  # 2 channels, 1 x 2
    channels = [{"color": "FF0000", "window": {"start": 0, "end": 100}},
                {"color": "00FF00", "window": {"start": 0, "end": 200}}]
    out = display_image(preview, channels, is_rgb=False)
    # pixel 0: red 0, green 50/200*255 = 63.75 -> 64; pixel 1: red 255, green 64
    assert out.tolist() == [[[0, 64, 0], [255, 64, 0]]]


def test_czi_with_z_stack_reads_the_first_plane(tmp_path):
    from pylibCZIrw import czi as pyczi

    planes = np.arange(2 * 6 * 8, dtype=np.uint8).reshape(2, 6, 8)
    path = tmp_path / "z.czi"
    with pyczi.create_czi(str(path), exist_ok=True) as doc:
        for z in range(2):
            doc.write(planes[z][..., None], plane={"C": 0, "T": 0, "Z": z})
    with open_czi_images(path) as (image,):
        assert np.array_equal(image.read_region(0, 6, 0, 8)[0], planes[0])
