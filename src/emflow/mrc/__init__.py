"""MRC reading and writing to IMOD's conventions (SPEC §0).

Public API
----------
read_info(path) -> MrcInfo            check a file's header against its size, one-line errors
open_volume(path) -> MrcVolume        explicit-read section/slab access (no mmap residency)
iter_slabs(volume, slab_size)         yield (z0, array) slabs of at most slab_size sections
MrcWriter(path, ...)                  streaming, atomic writer that sets stats and a label
write_volume(path, data, ...)         write a whole (small) array atomically
require_3d(info, min_nz)              2D-where-3D-is-needed errors
"""

from emflow.mrc.header import IMOD_STAMP, MrcInfo, mode0_is_signed
from emflow.mrc.io import (
    MrcVolume,
    MrcWriter,
    iter_slabs,
    open_volume,
    read_info,
    require_3d,
    require_finite,
    write_volume,
)

__all__ = [
    "IMOD_STAMP",
    "MrcInfo",
    "MrcVolume",
    "MrcWriter",
    "iter_slabs",
    "mode0_is_signed",
    "open_volume",
    "read_info",
    "require_3d",
    "require_finite",
    "write_volume",
]
