"""Key image and thumbnail JPEGs (SPEC §4.4).

write_key_image(frame, path)    full-size frame, JPEG quality 75, 100 dpi
thumbnail_size(ny, nx) -> (w, h)  fit 300 x 300, aspect kept, longest side exactly 300
write_thumbnail(frame, path)    fitted, Gaussian-sharpened (sigma 2), JPEG quality 70
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from emflow.atomic import write_bytes_atomic

THUMB_SIDE = 300


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, dpi=(100, 100))
    return buf.getvalue()


def write_key_image(frame: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Save a ``(ny, nx)`` uint8 frame (already row-flipped) as a grey JPEG, quality 75, 100 dpi."""
    return write_bytes_atomic(path, _jpeg(Image.fromarray(np.ascontiguousarray(frame)), 75))


def thumbnail_size(ny: int, nx: int, side: int = THUMB_SIDE) -> tuple[int, int]:
    """``(width, height)`` fitting ``side x side`` with the aspect kept, as ``gm -resize 300x300``."""
    if nx >= ny:
        return side, max(1, round(ny * side / nx))
    return max(1, round(nx * side / ny)), side


def write_thumbnail(frame: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Fitted (Lanczos), sharpened like ``gm -sharpen 2`` (unsharp, sigma 2), JPEG quality 70."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    image = image.resize(thumbnail_size(*frame.shape), Image.Resampling.LANCZOS)
    image = image.filter(ImageFilter.UnsharpMask(radius=2, percent=100, threshold=0))
    return write_bytes_atomic(path, _jpeg(image, 70))
