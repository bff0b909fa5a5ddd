"""Tilt and reconstruction movies, key images and averaged volumes, IMOD-exact (SPEC §4-5).

Public API
----------
make_tilt_movie(ali_path, outdir, *, fps=4, size=1024, slab_size=64, workers=1) -> dict[str, Path]
    keys tiltMovie, keyImage, thumbnail
make_rec_movie(rec_path, outdir, *, fps=8, size=1024, slab_size=64, workers=1) -> dict[str, Path]
    keys recMovie, averagedVolume, volume
make_rec_volumes(rec_path, outdir, *, slab_size=64, workers=1) -> dict[str, Path]

The pieces (newstack.py, mrc2tif.py, clipavg.py, binvol.py) are pure functions over sections;
stats.py, render.py and encode.py are the fan-out stages (section-stats -> render-frames per
slab -> encode-movie) that the Nextflow modules run as separate tasks.
"""

from emflow.frames.rec import make_rec_movie, make_rec_volumes
from emflow.frames.tilt import make_tilt_movie

__all__ = ["make_rec_movie", "make_rec_volumes", "make_tilt_movie"]
