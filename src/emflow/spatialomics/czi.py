"""Zeiss CZI slides read with pylibCZIrw (LGPL-3.0), region by region.

Public functions
----------------
open_czi_images(path) -> context manager yielding list[SourceImage]   one image per scene

Each `SourceImage` reads ``(c, y, x)`` regions of its scene at full resolution on demand, so a
whole-slide plane is never decoded at once. Bgr24/Bgr48 planes become three channels (R, G, B);
gray planes one channel each; channels of different depths are refused. Mosaics are stitched by
libCZI (tiles composed into the requested region; gaps filled with black, white for RGB).
Only the first Z and T plane is read (whole-slide scans have one).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pylibCZIrw import czi as pyczi

from emflow.errors import EmflowInputError
from emflow.spatialomics.source import DEFAULT_COLOURS, RGB_COLOURS, SourceImage

log = logging.getLogger(__name__)

# pylibCZIrw pixel type -> (numpy dtype, samples per pixel)
PIXEL_TYPES: dict[str, tuple[str, int]] = {
    "Gray8": ("uint8", 1), "Gray16": ("uint16", 1), "Gray32Float": ("float32", 1),
    "Bgr24": ("uint8", 3), "Bgr48": ("uint16", 3), "Bgr96Float": ("float32", 3),
}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _metadata(doc: pyczi.CziReader) -> dict[str, Any]:
    try:
        return dict(doc.metadata.get("ImageDocument", {}).get("Metadata") or {})
    except Exception:  # noqa: BLE001 - metadata is optional; pixels decide readability
        return {}


def _pixel_size_um(meta: dict[str, Any]) -> tuple[float, float] | None:
    sizes = {}
    items = (meta.get("Scaling") or {}).get("Items") or {}
    for dist in _as_list(items.get("Distance")):
        try:
            sizes[dist.get("@Id")] = float(dist.get("Value")) * 1e6
        except (TypeError, ValueError):
            continue
    if sizes.get("X", 0) > 0 and sizes.get("Y", 0) > 0:
        return sizes["Y"], sizes["X"]
    return None


def _channel_info(meta: dict[str, Any], n: int) -> list[tuple[str, str | None]]:
    """``(name, RRGGBB or None)`` per CZI channel from Information and DisplaySetting."""
    dims = ((meta.get("Information") or {}).get("Image") or {}).get("Dimensions") or {}
    info = _as_list((dims.get("Channels") or {}).get("Channel"))
    shown = _as_list(((meta.get("DisplaySetting") or {}).get("Channels") or {}).get("Channel"))
    out = []
    for i in range(n):
        entry = info[i] if i < len(info) and isinstance(info[i], dict) else {}
        display = shown[i] if i < len(shown) and isinstance(shown[i], dict) else {}
        name = entry.get("@Name") or display.get("@Name") or f"C{i}"
        colour = display.get("Color") or entry.get("Color")
        if isinstance(colour, str) and colour.startswith("#") and len(colour) in (7, 9):
            colour = colour[-6:].upper()  # #AARRGGBB or #RRGGBB
        else:
            colour = None
        out.append((str(name), colour))
    return out


def _channels(doc: pyczi.CziReader, path: Path) -> tuple[np.dtype, list[tuple[int, int]], list[str], list[str]]:
    """Dtype, (CZI channel, samples) per CZI channel, output labels and colours."""
    c0, c1 = doc.total_bounding_box.get("C", (0, 1))
    types = [doc.get_channel_pixel_type(c) for c in range(c0, c1)]
    unknown = [t for t in types if t not in PIXEL_TYPES]
    if unknown:
        raise EmflowInputError(path, f"unsupported CZI pixel type {unknown[0]}")
    dtypes = {PIXEL_TYPES[t][0] for t in types}
    if len(dtypes) != 1:
        raise EmflowInputError(path, f"channels of different pixel types {sorted(set(types))}")
    info = _channel_info(_metadata(doc), len(types))
    planes, labels, colours = [], [], []
    for i, (c, ptype) in enumerate(zip(range(c0, c1), types, strict=True)):
        samples = PIXEL_TYPES[ptype][1]
        planes.append((c, samples))
        if samples == 3:
            prefix = f"{info[i][0]} " if len(types) > 1 else ""
            labels += [f"{prefix}{band}" for band in ("R", "G", "B")]
            colours += RGB_COLOURS
        else:
            labels.append(info[i][0])
            fallback = "FFFFFF" if len(types) == 1 else DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)]
            colours.append(info[i][1] or fallback)
    return np.dtype(dtypes.pop()), planes, labels, colours


class _CziRegionReader:
    """``read_region(y0, y1, x0, x1)`` of one scene: one libCZI read per CZI channel."""

    def __init__(self, doc: pyczi.CziReader, path: Path, scene: int | None,
                 rect: pyczi.Rectangle, planes: list[tuple[int, int]], dtype: np.dtype,
                 first_zt: dict[str, int]) -> None:
        self.doc, self.path, self.scene, self.rect = doc, path, scene, rect
        self.planes, self.dtype, self.first_zt = planes, dtype, first_zt

    def __call__(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        roi = (self.rect.x + x0, self.rect.y + y0, x1 - x0, y1 - y0)
        parts = []
        for c, samples in self.planes:
            background = (1.0, 1.0, 1.0) if samples == 3 else (0.0, 0.0, 0.0)
            try:
                tile = self.doc.read(roi=roi, plane={"C": c, **self.first_zt}, scene=self.scene,
                                     background_pixel=background)
            except Exception as exc:  # noqa: BLE001 - libCZI raises bare RuntimeErrors
                raise EmflowInputError(self.path, f"cannot read CZI pixels: {exc}") from exc
            tile = np.moveaxis(np.asarray(tile), -1, 0)
            parts.append(tile[::-1] if samples == 3 else tile)  # BGR -> RGB
        return np.concatenate(parts, axis=0).astype(self.dtype, copy=False)


@contextlib.contextmanager
def open_czi_images(path: str | os.PathLike[str]) -> Iterator[list[SourceImage]]:
    """Open a CZI file and yield one `SourceImage` per scene (one for a file without scenes).

    Raises
    ------
    EmflowInputError
        The file is not a readable CZI, is empty, or mixes pixel types.
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            doc = stack.enter_context(pyczi.open_czi(str(path)))
        except Exception as exc:  # noqa: BLE001 - libCZI raises bare RuntimeErrors
            raise EmflowInputError(path, f"not a readable CZI file ({exc})") from exc
        try:
            dtype, planes, labels, colours = _channels(doc, path)
            scenes = dict(doc.scenes_bounding_rectangle) or {None: doc.total_bounding_rectangle}
        except EmflowInputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EmflowInputError(path, f"cannot read CZI layout ({exc})") from exc
        pixel_size = _pixel_size_um(_metadata(doc))
        box = doc.total_bounding_box
        first_zt = {dim: int(box.get(dim, (0, 1))[0]) for dim in ("Z", "T")}
        if any(box.get(dim, (0, 1))[1] - box.get(dim, (0, 1))[0] > 1 for dim in ("Z", "T")):
            log.info("%s: several Z/T planes; using the first (%s)", path, first_zt)
        images = []
        for scene, rect in sorted(scenes.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
            if rect.w < 1 or rect.h < 1:
                raise EmflowInputError(path, "no pixel data" if scene is None else f"scene {scene} has no pixels")
            images.append(SourceImage(
                scene=scene, shape_cyx=(len(labels), rect.h, rect.w), dtype=dtype,
                channel_labels=labels, channel_colours=colours, pixel_size_um=pixel_size,
                is_rgb=labels == ["R", "G", "B"],
                read_region=_CziRegionReader(doc, path, scene, rect, planes, dtype, first_zt),
            ))
        yield images
