"""Movie commands (SPEC §4-5): ``tilt-movie``, ``rec-movie`` and their fan-out pieces.

Whole steps: ``tilt-movie``, ``rec-movie``. Nextflow fan-out (same bytes as the whole steps):
``section-stats`` -> ``render-frames`` (one task per slab) -> ``encode-movie``; for the
reconstruction ``rec-volumes`` first, then the three pieces on ``ave_BASENAME.mrc``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from emflow.atomic import write_json_atomic, write_text_atomic
from emflow.frames.encode import Progress, encode_frame_files
from emflow.frames.movie import check_movie_options
from emflow.mrc import read_info

log = logging.getLogger("emflow.movies")

SLAB = click.option("--slab-size", default=64, show_default=True, type=click.IntRange(min=1),
                    help="Sections per task (memory and fan-out unit); the output does not depend on it.")  # fmt: skip
WORKERS = click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                       help="Local worker processes; the output does not depend on it.")  # fmt: skip
OUTDIR = click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
SIZE = click.option("--size", default=1024, show_default=True, type=int, help="Movie width = height in pixels (even).")


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Progress | None]:
    """A bar on stderr when it is a terminal; otherwise one line when work starts and one at the end.

    The start line waits for the first progress report, so input checks that fail first leave
    their one-line error alone on stderr (SPEC §10).
    """
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar.update
        return
    started = False

    def announce(_steps: int) -> None:
        nonlocal started
        if not started:
            started = True
            log.info("%s ...", label)

    yield announce
    log.info("%s: done", label)


@click.command("tilt-movie")
@click.argument("ali", type=click.Path(dir_okay=False, path_type=Path))
@OUTDIR
@click.option("--fps", default=4.0, show_default=True, type=float, help="Frames per second.")
@SIZE
@SLAB
@WORKERS
def tilt_movie(ali: Path, outdir: Path, fps: float, size: int, slab_size: int, workers: int) -> None:
    """Tilt movie + key image + thumbnail from BASENAME_ali.mrc (SPEC §4).

    Writes OUTDIR/tiltMov_BASENAME.mp4 (all sections, H.264 yuv420p), keyimg_BASENAME.jpg
    (section nz/2) and keyimg_BASENAME_s.jpg (300 px thumbnail).

    Example: emflow tilt-movie run1_ali.mrc --outdir out/run1 --workers 4
    """
    from emflow.frames import make_tilt_movie

    check_movie_options(fps, size)
    with progress_bar(2 * read_info(ali).nz, f"tilt movie {ali.name}") as bar:
        make_tilt_movie(ali, outdir, fps=fps, size=size, slab_size=slab_size, workers=workers, progress=bar)


@click.command("rec-movie")
@click.argument("rec", type=click.Path(dir_okay=False, path_type=Path))
@OUTDIR
@click.option("--fps", default=8.0, show_default=True, type=float, help="Frames per second.")
@SIZE
@SLAB
@WORKERS
def rec_movie(rec: Path, outdir: Path, fps: float, size: int, slab_size: int, workers: int) -> None:
    """Reconstruction movie + averaged volumes from BASENAME_rec.mrc (SPEC §5; nz >= 5).

    Writes OUTDIR/ave_BASENAME.mrc (5-section running average, newstack -float 3),
    avebin8_BASENAME.mrc (binned by 2) and keyMov_BASENAME.mp4 (nz - 4 frames, mrc2tif -C 100,255).

    Example: emflow rec-movie run1_rec.mrc --outdir out/run1 --workers 4
    """
    from emflow.frames import make_rec_movie

    check_movie_options(fps, size)
    with progress_bar(2 * max(0, read_info(rec).nz - 4), f"reconstruction movie {rec.name}") as bar:
        make_rec_movie(rec, outdir, fps=fps, size=size, slab_size=slab_size, workers=workers, progress=bar)


@click.command("rec-volumes")
@click.argument("rec", type=click.Path(dir_okay=False, path_type=Path))
@OUTDIR
@SLAB
@WORKERS
def rec_volumes(rec: Path, outdir: Path, slab_size: int, workers: int) -> None:
    """ave_BASENAME.mrc + avebin8_BASENAME.mrc from BASENAME_rec.mrc (fan-out step 0 of rec-movie).

    Then: section-stats ave_BASENAME.mrc --kind rec, render-frames per slab, encode-movie --fps 8.
    """
    from emflow.frames import make_rec_volumes

    with progress_bar(2 * max(0, read_info(rec).nz - 4), f"averaged volumes {rec.name}") as bar:
        make_rec_volumes(rec, outdir, slab_size=slab_size, workers=workers, progress=bar)


@click.command("section-stats")
@click.argument("volume", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Statistics JSON to write.")
@click.option("--kind", type=click.Choice(["tilt", "rec"]), default="tilt", show_default=True,
              help="tilt: BASENAME_ali.mrc (newstack -float 3, -C 0,255); rec: ave_BASENAME.mrc (header, -C 100,255).")  # fmt: skip
@click.option("--slabs", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the render-frames ranges, one 'START,STOP' line per slab of --slab-size sections.")  # fmt: skip
@SLAB
@WORKERS
def section_stats(volume: Path, output: Path, kind: str, slabs: Path | None, slab_size: int, workers: int) -> None:
    """Fan-out step 1: the global statistics the frame rendering needs, as JSON.

    With --slabs, also a CSV of section ranges (START,STOP; STOP exclusive) for one
    render-frames task each.

    Example: emflow section-stats run1_ali.mrc --output run1.stats.json --kind tilt --slabs run1.slabs.csv --slab-size 64
    """
    from emflow.frames.pool import slab_ranges
    from emflow.frames.stats import header_stats, tilt_stats

    stats = tilt_stats(volume, slab_size, workers) if kind == "tilt" else header_stats(volume)
    write_json_atomic(output, stats, indent=None)
    if slabs is not None:
        write_text_atomic(slabs, "".join(f"{a},{b}\n" for a, b in slab_ranges(stats["shape"][0], slab_size)))


@click.command("render-frames")
@click.argument("volume", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stats", "stats_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON from section-stats.")
@click.option("--start", required=True, type=click.IntRange(min=0), help="First section (0-based).")
@click.option("--stop", required=True, type=click.IntRange(min=1), help="One past the last section (capped at nz).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".frames file to write.")
def render_frames(volume: Path, stats_path: Path, start: int, stop: int, output: Path) -> None:
    """Fan-out step 2: frames of sections START..STOP-1 (one Nextflow task per slab).

    Example: emflow render-frames run1_ali.mrc --stats run1.stats.json --start 64 --stop 128 --output s64.frames
    """
    from emflow.frames.render import render_slab, write_frames
    from emflow.frames.stats import load_stats

    stats = load_stats(stats_path)
    write_frames(output, start, render_slab(volume, stats, start, min(stop, stats["shape"][0])))


@click.command("encode-movie")
@click.argument("frames", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stats", "stats_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON from section-stats.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Movie (.mp4) to write.")
@click.option("--fps", default=4.0, show_default=True, type=float, help="Frames per second (tilt 4, rec 8).")
@SIZE
@click.option("--key-image", type=click.Path(dir_okay=False, path_type=Path), help="Also write the key image (section nz/2).")
@click.option("--thumbnail", type=click.Path(dir_okay=False, path_type=Path), help="Also write the 300 px thumbnail.")
def encode_movie(frames: tuple[Path, ...], stats_path: Path, output: Path, fps: float, size: int,
                 key_image: Path | None, thumbnail: Path | None) -> None:  # fmt: skip
    """Fan-out step 3: gather .frames files (any order, must cover every section) into the movie.

    Example: emflow encode-movie --stats run1.stats.json --output tiltMov_run1.mp4 --key-image keyimg_run1.jpg --thumbnail keyimg_run1_s.jpg *.frames
    """
    from emflow.frames.stats import load_stats

    check_movie_options(fps, size)
    stats = load_stats(stats_path)
    encode_frame_files(stats, frames, output, fps=fps, size=size, key_image=key_image, thumbnail=thumbnail)
