"""`SourceImage`: one 2D ``(c, y, x)`` image of a slide file, read region by region.

A CZI scene or a PNG becomes one `SourceImage`; the pipeline (`emflow.spatialomics.process`)
only uses this interface, so it never needs to know the file format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emflow.omezarr.writer import RegionReader

RGB_COLOURS = ["FF0000", "00FF00", "0000FF"]
# Colours of fluorescence channels that carry none: blue, green, red, magenta, cyan, yellow.
DEFAULT_COLOURS = ["0000FF", "00FF00", "FF0000", "FF00FF", "00FFFF", "FFFF00"]


@dataclass(frozen=True)
class SourceImage:
    """One image (a scene) of a slide file.

    Attributes
    ----------
    scene : int or None
        CZI scene index; ``None`` for a file without scenes (and for PNG).
    shape_cyx : (int, int, int)
        Channels, rows, columns at full resolution.
    dtype : numpy dtype
        Pixel dtype (uint8 for RGB and 8-bit, uint16 for 16-bit).
    channel_labels, channel_colours : list of str
        One name and one ``RRGGBB`` colour per channel.
    pixel_size_um : (float, float) or None
        ``(y, x)`` pixel size in micrometres, if the file records it.
    is_rgb : bool
        True when the three channels are the R, G, B of a colour image.
    read_region : callable
        ``read_region(y0, y1, x0, x1)`` -> ``(c, y1 - y0, x1 - x0)`` full-resolution pixels.
    """

    scene: int | None
    shape_cyx: tuple[int, int, int]
    dtype: np.dtype
    channel_labels: list[str]
    channel_colours: list[str]
    pixel_size_um: tuple[float, float] | None
    is_rgb: bool
    read_region: RegionReader
