"""OME-NGFF 0.4 metadata: multiscales (2D slide images and 3D volumes) and omero (viewer) blocks.

Public functions
----------------
multiscales_metadata(n_levels, name, axes, level0_scale, *, translate_centres, metadata)
                                                            the ``multiscales`` list (2D and 3D)
image_multiscales_metadata(n_levels, name, pixel_size_um)   the same for ``(c, y, x)`` slide images
channel_window(values, dtype, quantiles=(0.01, 0.99))       omero ``window`` of one channel
omero_channel(label, colour, window)                        one omero channel entry
omero_metadata(channels, name)                              the ``omero`` block

Level ``k`` is a 2 x 2 mean of level ``k - 1``: its pixel is ``2**k`` times larger and its
centre is shifted by ``(2**k - 1) / 2`` level-0 pixels, which the ``translation`` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NGFF_VERSION = "0.4"


def multiscales_metadata(
    n_levels: int,
    name: str,
    axes: list[dict[str, str]],
    level0_scale: Sequence[float],
    *,
    translate_centres: bool = False,
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The NGFF 0.4 ``multiscales`` list for ``n_levels`` arrays named ``"0"``, ``"1"``, ...

    Every axis of type ``space`` is halved per level (scale ``level0_scale * 2**level``); other
    axes (channels) keep their scale. With ``translate_centres`` each level also records the
    shift of its pixel centres, ``level0_scale * (2**level - 1) / 2`` on the space axes.
    Shared by the 2D slide images (``c, y, x``) and the 3D volumes (``z, y, x``).
    """
    spatial = [axis.get("type") == "space" for axis in axes]
    datasets = []
    for level in range(n_levels):
        f = 2**level
        transforms: list[dict[str, Any]] = [
            {"type": "scale", "scale": [float(v) * f if sp else float(v) for v, sp in zip(level0_scale, spatial)]}]
        if translate_centres:
            transforms.append({"type": "translation",
                               "translation": [float(v) * (f - 1) / 2 if sp else 0.0
                                               for v, sp in zip(level0_scale, spatial)]})
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    return [{"version": NGFF_VERSION, "name": name, "axes": axes, "datasets": datasets, "type": "mean",
             "metadata": dict(metadata or {})}]


def image_multiscales_metadata(
    n_levels: int, name: str, pixel_size_um: tuple[float, float] | None = None
) -> list[dict[str, Any]]:
    """``multiscales`` for a 2D ``(c, y, x)`` pyramid of 2 x 2 means (pixel centres translated).

    ``pixel_size_um`` is the level-0 ``(y, x)`` pixel size in micrometres; ``None`` when unknown
    (scale 1, no unit).
    """
    size_y, size_x = pixel_size_um if pixel_size_um else (1.0, 1.0)
    space: dict[str, str] = {"type": "space"}
    if pixel_size_um:
        space["unit"] = "micrometer"
    axes = [{"name": "c", "type": "channel"}, {"name": "y", **space}, {"name": "x", **space}]
    return multiscales_metadata(n_levels, name, axes, (1.0, size_y, size_x), translate_centres=True,
                                metadata={"method": "2x2 mean", "edge": "replicate"})


def dtype_range(dtype: np.dtype, values: np.ndarray) -> tuple[float, float]:
    """The ``(min, max)`` a viewer's slider should span: the dtype's range, or the data's for floats."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def channel_window(
    values: np.ndarray, dtype: np.dtype, quantiles: tuple[float, float] = (0.01, 0.99)
) -> dict[str, float]:
    """Contrast window of one channel from the given quantiles of ``values``.

    Parameters
    ----------
    values : ndarray
        Pixel values of the channel (any shape; non-finite values are ignored).
    dtype : numpy dtype
        Stored dtype; sets ``min``/``max`` (the slider range).
    quantiles : (float, float)
        Lower and upper quantile of ``start`` and ``end``.

    Returns
    -------
    dict
        ``{"start", "end", "min", "max"}`` with ``min <= start <= end <= max``; when the quantiles
        coincide (a flat channel) ``end`` is ``start + 1`` within the range where possible.
    """
    lo, hi = dtype_range(dtype, values)
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values.ravel()
    if finite.size == 0:
        return {"start": lo, "end": hi, "min": lo, "max": hi}
    start, end = (float(v) for v in np.quantile(finite, quantiles))
    if end <= start:  # flat channel: open a window of one unit inside the range
        if start + 1.0 <= hi:
            end = start + 1.0
        else:
            start, end = max(start - 1.0, lo), hi
    return {"start": start, "end": end, "min": lo, "max": hi}


def omero_channel(label: str, colour: str, window: dict[str, float]) -> dict[str, Any]:
    """One omero channel entry (``colour`` as ``RRGGBB`` hex, no ``#``)."""
    return {"label": label, "color": colour.upper(), "window": dict(window), "active": True,
            "coefficient": 1, "family": "linear", "inverted": False}


def omero_metadata(channels: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The ``omero`` block: channels plus a default ``rdefs`` (colour composite)."""
    model = "color" if len(channels) != 1 else "greyscale"
    return {"name": name, "version": NGFF_VERSION, "channels": channels,
            "rdefs": {"defaultT": 0, "defaultZ": 0, "model": model}}
