"""Key images and thumbnails (JPEG, quality 90) from a reduced ``(c, y, x)`` preview.

Public functions
----------------
fit_size(shape_yx, box_px, upscale) -> (width, height)
display_image(preview, channels, is_rgb) -> uint8 (y, x) or (y, x, 3)
save_fitted_jpeg(image, target, box_px, upscale, quality=90) -> Path

Colour (RGB 8-bit) images are shown as they are; other images map each channel through its
omero window (start -> 0, end -> 255) and, when there are several, add the channels in their
colours (clipped at 255). A single gray channel stays gray.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from emflow.atomic import atomic_path

THUMBNAIL_PX = 300
KEY_IMAGE_PX = 1024
JPEG_QUALITY = 90


def fit_size(shape_yx: tuple[int, int], box_px: int, upscale: bool) -> tuple[int, int]:
    """``(width, height)`` of an image of ``shape_yx`` fitted into a ``box_px`` square.

    The aspect ratio is kept and the longest side becomes ``box_px`` (or stays as it is when
    it is smaller and ``upscale`` is false); each side is at least 1 pixel.
    """
    ny, nx = shape_yx
    scale = box_px / max(ny, nx)
    if scale >= 1 and not upscale:
        return nx, ny
    return max(1, round(nx * scale)), max(1, round(ny * scale))


def _windowed(plane: np.ndarray, window: dict[str, float]) -> np.ndarray:
    start, end = window["start"], window["end"]
    span = end - start if end > start else 1.0
    return np.clip((plane.astype(np.float64) - start) / span, 0.0, 1.0)


def display_image(preview: np.ndarray, channels: list[dict[str, Any]], is_rgb: bool) -> np.ndarray:
    """8-bit display image of a ``(c, y, x)`` preview.

    Parameters
    ----------
    preview : ndarray, shape (c, y, x)
    channels : list of dict
        omero channel entries (``color`` as RRGGBB, ``window`` with start/end), one per channel.
    is_rgb : bool
        The channels are R, G, B; 8-bit RGB is shown unchanged.

    Returns
    -------
    ndarray of uint8, shape (y, x) for one channel, (y, x, 3) otherwise.
    """
    if is_rgb and preview.dtype == np.uint8:
        return np.ascontiguousarray(np.moveaxis(preview, 0, -1))
    if preview.shape[0] == 1:
        return np.rint(_windowed(preview[0], channels[0]["window"]) * 255).astype(np.uint8)
    out = np.zeros((*preview.shape[1:], 3), dtype=np.float64)
    for plane, channel in zip(preview, channels, strict=True):
        rgb = np.array([int(channel["color"][i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)
        out += _windowed(plane, channel["window"])[..., None] * rgb
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_fitted_jpeg(image: np.ndarray, target: str | os.PathLike[str], box_px: int, upscale: bool,
                     quality: int = JPEG_QUALITY) -> Path:
    """Resize an 8-bit ``(y, x)`` / ``(y, x, 3)`` image to fit ``box_px`` (Lanczos) and save it as JPEG."""
    pil = Image.fromarray(image)
    size = fit_size(image.shape[:2], box_px, upscale)
    if size != pil.size:
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    with atomic_path(target) as tmp:
        pil.save(tmp, format="JPEG", quality=quality)
    return Path(target)
