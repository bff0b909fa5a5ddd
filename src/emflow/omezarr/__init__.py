"""OME-NGFF 0.4 (zarr v2): one package for emflow's two writers and their shared metadata.

- 2D multichannel slide images (spatialomics): `write_ngff_image` (streamed, level by level)
  -> `NgffImage`; 2 x 2 mean pyramid, omero metadata (`writer`, `downscale`).
- 3D volumes (tomograms): `emflow.omezarr.volume` (`ZarrPyramidWriter`, `ZarrBand`), driven by
  the pyramid pass (`emflow.pyramid.write_zarr`).
- `ngff`: the multiscales and omero blocks both write.
"""

from emflow.omezarr.downscale import level_shapes, mean_2x2
from emflow.omezarr.ngff import (
    channel_window,
    image_multiscales_metadata,
    multiscales_metadata,
    omero_channel,
    omero_metadata,
)
from emflow.omezarr.writer import NgffImage, write_ngff_image

__all__ = [
    "NgffImage",
    "channel_window",
    "level_shapes",
    "mean_2x2",
    "image_multiscales_metadata",
    "multiscales_metadata",
    "omero_channel",
    "omero_metadata",
    "write_ngff_image",
]
