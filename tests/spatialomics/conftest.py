"""Synthetic slide files: CZI written with pylibCZIrw, PNG with Pillow, and a session folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pylibCZIrw import czi as pyczi

# scene -> list of (channel, (x, y) location, tile array (h, w) or BGR (h, w, 3))
CziTiles = dict[int, list[tuple[int, tuple[int, int], np.ndarray]]]


def write_czi(path: Path, tiles: CziTiles, *, channel_names: dict[int, str] | None = None,
              pixel_size_m: float = 0.0) -> Path:
    """Write a CZI: each tile at its location in its scene and channel plane."""
    with pyczi.create_czi(str(path), exist_ok=True) as doc:
        for scene, items in tiles.items():
            for channel, location, data in items:
                arr = data if data.ndim == 3 else data[..., None]
                doc.write(np.ascontiguousarray(arr), plane={"C": channel, "T": 0, "Z": 0},
                          scene=scene, location=location)
        doc.write_metadata(document_name=path.stem, channel_names=channel_names,
                           scale_x=pixel_size_m, scale_y=pixel_size_m)
    return path


@pytest.fixture
def slides(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The pixel arrays the session fixture writes (so tests can compare against them)."""
    yy, xx = np.mgrid[0:120, 0:160]
    bgr = np.stack([(xx * 1.5) % 256, (yy * 2) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    return {
        "rgb_bgr": bgr,                                                        # 120 x 160 Bgr24
        "mosaic_left": rng.integers(100, 60000, (600, 550), dtype=np.uint16),  # 2-tile gray16
        "mosaic_right": rng.integers(100, 60000, (600, 550), dtype=np.uint16),
        "multi": rng.integers(0, 4096, (2, 2, 40, 50), dtype=np.uint16),     # scene, channel, y, x
    }


def rgba_png(path: Path) -> Path:
    """40 x 60 RGBA: left half opaque red, right half fully transparent blue, one row half-alpha."""
    data = np.zeros((40, 60, 4), dtype=np.uint8)
    data[:, :30] = (255, 0, 0, 255)
    data[:, 30:] = (0, 0, 255, 0)
    data[0, :] = (100, 50, 0, 128)
    Image.fromarray(data, "RGBA").save(path)
    return path


def la_png(path: Path) -> Path:
    """30 x 20 gray + alpha: value 40 everywhere, alpha 255 in the top half, 0 below."""
    data = np.zeros((30, 20, 2), dtype=np.uint8)
    data[..., 0] = 40
    data[:15, :, 1] = 255
    Image.fromarray(data, "LA").save(path)
    return path


@pytest.fixture
def make_session(tmp_path: Path, slides: dict[str, np.ndarray]) -> Callable[..., Path]:
    """Build ``tmp_path/session`` with HQ_Images (RGB + mosaic CZI), Pre_ROI_Selection (2 PNG),
    Heatmaps/x.png, ROI_Images/ and notes.txt; ``multi_scene=True`` adds a 2-scene 2-channel CZI."""

    def factory(multi_scene: bool = False) -> Path:
        session = tmp_path / "session"
        hq, pre = session / "HQ_Images", session / "Pre_ROI_Selection"
        for folder in (hq, pre, session / "Heatmaps", session / "ROI_Images"):
            folder.mkdir(parents=True, exist_ok=True)
        write_czi(hq / "slide_1.czi", {0: [(0, (0, 0), slides["rgb_bgr"])]}, pixel_size_m=0.5e-6)
        write_czi(hq / "slide_2.czi", {0: [(0, (0, 0), slides["mosaic_left"]),
                                           (0, (550, 0), slides["mosaic_right"])]},
                  channel_names={0: "EGFP"})
        if multi_scene:
            multi = slides["multi"]
            write_czi(hq / "slide_3.czi",
                      {s: [(c, (s * 1000, 0), multi[s, c]) for c in range(2)] for s in range(2)},
                      channel_names={0: "DAPI", 1: "GFP"}, pixel_size_m=0.25e-6)
        rgba_png(pre / "slide_1_Pre_ROI_a.png")
        la_png(pre / "slide_2_Pre_ROI_a.png")
        rgba_png(session / "Heatmaps" / "x.png")
        (session / "notes.txt").write_text("notes\n")
        return session

    return factory


@pytest.fixture
def czi_writer() -> Callable[..., Path]:
    """`write_czi` for tests that build their own CZI."""
    return write_czi


@pytest.fixture
def png_writers() -> dict[str, Callable[[Path], Path]]:
    """`rgba_png` and `la_png`."""
    return {"rgba": rgba_png, "la": la_png}
