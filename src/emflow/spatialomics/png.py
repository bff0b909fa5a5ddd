"""PNG images (Pre_ROI_Selection) read with Pillow; transparency flattened on white.

Public functions
----------------
open_png_image(path) -> SourceImage
flatten_on_white(values, alpha) -> ndarray

PNG cannot be decoded by region, so the image is decoded once (Pillow's decompression-bomb
limit still applies) and `SourceImage.read_region` slices it. Gray PNGs give one channel
(8 or 16 bit), colour PNGs three (R, G, B, 8 bit).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from emflow.errors import EmflowInputError
from emflow.spatialomics.source import RGB_COLOURS, SourceImage


def flatten_on_white(values: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite 8-bit ``values`` (``(y, x)`` or ``(y, x, n)``) over white with 8-bit ``alpha`` (y, x).

    ``out = v * a / 255 + 255 * (1 - a / 255)``, rounded to nearest, as uint8.
    """
    a = alpha.astype(np.float64) / 255.0
    if values.ndim == 3:
        a = a[..., None]
    out = values.astype(np.float64) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pixels(img: Image.Image) -> np.ndarray:
    """``(y, x)`` or ``(y, x, 3)`` array of a decoded image, transparency flattened on white."""
    has_key = "transparency" in img.info
    if img.mode in ("LA", "La") or (img.mode in ("L", "1") and has_key):
        la = np.asarray(img.convert("LA"))
        return flatten_on_white(la[..., 0], la[..., 1])
    if img.mode in ("RGBA", "RGBa", "PA") or (img.mode in ("P", "RGB") and has_key):
        rgba = np.asarray(img.convert("RGBA"))
        return flatten_on_white(rgba[..., :3], rgba[..., 3])
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)
    if img.mode == "I":
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    if img.mode in ("L", "1"):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))


def open_png_image(path: str | os.PathLike[str]) -> SourceImage:
    """Decode a PNG file into a `SourceImage` (no scene, no pixel size).

    Raises
    ------
    EmflowInputError
        The file is not a PNG image, or its pixel data cannot be decoded.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise EmflowInputError(path, f"not a PNG image (Pillow reads it as {img.format})")
            pixels = _pixels(img)
    except UnidentifiedImageError as exc:
        raise EmflowInputError(path, "not a PNG image (Pillow cannot identify it)") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise EmflowInputError(path, f"cannot decode PNG: {exc}") from exc
    planes = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
    rgb = planes.shape[0] == 3
    return SourceImage(
        scene=None, shape_cyx=planes.shape, dtype=planes.dtype,
        channel_labels=["R", "G", "B"] if rgb else ["gray"],
        channel_colours=RGB_COLOURS if rgb else ["FFFFFF"],
        pixel_size_um=None, is_rgb=rgb,
        read_region=lambda y0, y1, x0, x1: planes[:, y0:y1, x0:x1],
    )
