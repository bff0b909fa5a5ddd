"""OME-NGFF 0.4 (zarr v2) writer for 2D multichannel images: 2 x 2 mean pyramid, omero metadata.

Public API: `write_ngff_image` (streamed, level by level) -> `NgffImage`; `level_shapes`,
`mean_2x2`; `channel_window`, `multiscales_metadata`, `omero_metadata`.
"""

from emflow.omezarr.downscale import level_shapes, mean_2x2
from emflow.omezarr.ngff import channel_window, multiscales_metadata, omero_channel, omero_metadata
from emflow.omezarr.writer import NgffImage, write_ngff_image

__all__ = [
    "NgffImage",
    "channel_window",
    "level_shapes",
    "mean_2x2",
    "multiscales_metadata",
    "omero_channel",
    "omero_metadata",
    "write_ngff_image",
]
