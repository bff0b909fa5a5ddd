"""The spatialomics pipeline: per file thumbnail, key image and OME-Zarr; per session all files.

Public functions
----------------
process_file(path, group, file_outdir, *, primary_file_path=None) -> FileResult
process_session(session, outdir, *, workers=1) -> list[FileResult]

Per image (one per CZI scene; a PNG is one image) ``file_outdir`` receives
``<name>.ome.zarr`` (streamed, level by level), ``keyimg_<name>.jpg`` (fit 1024 x 1024, never
enlarged) and ``thumb_<name>.jpg`` (fit 300 x 300); ``<name>`` is the file stem, or
``<stem>_s<scene>`` when a CZI holds several scenes; ``<stem>.asset.json`` holds the file's
manifest entry. Key images come from a pyramid level of
at most ~2048 px, never from the full-resolution plane. A file that cannot be read gets status
``error`` and a one-line message; the other files still finish.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from emflow.atomic import write_json_atomic
from emflow.errors import EmflowError
from emflow.omezarr import write_ngff_image
from emflow.spatialomics.czi import open_czi_images
from emflow.spatialomics.images import KEY_IMAGE_PX, THUMBNAIL_PX, display_image, save_fitted_jpeg
from emflow.spatialomics.png import open_png_image
from emflow.spatialomics.results import FileResult, ImageResult, record_path
from emflow.spatialomics.session import SessionFile, discover_session
from emflow.spatialomics.source import SourceImage

log = logging.getLogger(__name__)


@contextmanager
def _open_images(path: Path):
    if path.suffix.lower() == ".czi":
        with open_czi_images(path) as images:
            yield images, "CZI"
    else:
        yield [open_png_image(path)], "PNG"


def _image_name(stem: str, source: SourceImage, n_images: int) -> str:
    return stem if n_images == 1 or source.scene is None else f"{stem}_s{source.scene}"


def process_image(source: SourceImage, name: str, outdir: Path, rel_dir: str) -> ImageResult:
    """Write the OME-Zarr, key image and thumbnail of one image; return its manifest record.

    ``rel_dir`` is ``outdir`` relative to OUT (``<group>/<stem>``), used for asset paths.
    """
    ngff = write_ngff_image(
        outdir / f"{name}.ome.zarr", source.read_region, source.shape_cyx, source.dtype,
        name=name, channel_labels=source.channel_labels, channel_colours=source.channel_colours,
        pixel_size_um=source.pixel_size_um,
    )
    shown = display_image(ngff.preview, ngff.channels, source.is_rgb)
    save_fitted_jpeg(shown, outdir / f"keyimg_{name}.jpg", KEY_IMAGE_PX, upscale=False)
    save_fitted_jpeg(shown, outdir / f"thumb_{name}.jpg", THUMBNAIL_PX, upscale=True)
    c, ny, nx = source.shape_cyx
    metadata = {
        "scene": source.scene, "sizeC": c, "sizeY": ny, "sizeX": nx, "dtype": str(source.dtype),
        "pixelSizeUm": list(source.pixel_size_um) if source.pixel_size_um else None,
        "levels": [list(s) for s in ngff.level_shapes],
    }
    assets = [
        {"type": "thumbnail", "path": f"{rel_dir}/thumb_{name}.jpg"},
        {"type": "keyImage", "path": f"{rel_dir}/keyimg_{name}.jpg"},
        {"type": "neuroglancerZarr", "path": f"{rel_dir}/{name}.ome.zarr",
         "metadata": {"channels": ngff.channels}},
    ]
    return ImageResult(name=name, metadata=metadata, assets=assets)


def process_file(path: str | os.PathLike[str], group: str, file_outdir: str | os.PathLike[str], *,
                 primary_file_path: str | None = None) -> FileResult:
    """Process one CZI or PNG file into ``file_outdir`` (= ``OUT/<group>/<stem>``).

    Parameters
    ----------
    path : path
        The slide file (``.czi`` or ``.png``).
    group : str
        Its group folder name; asset paths are ``<group>/<stem>/...`` (relative to OUT).
    file_outdir : path
        Where the outputs go.
    primary_file_path : str, optional
        Path relative to the session folder; default ``<group>/<file name>``.

    Its manifest entry is also written to ``file_outdir/<stem>.asset.json`` (`record_path`), so
    a manifest can be rebuilt from a published OUT folder.

    Returns
    -------
    FileResult
        ``status "error"`` with a one-line message when the file cannot be read (EmflowError);
        other exceptions propagate.
    """
    path, outdir = Path(path), Path(file_outdir)
    stem = path.stem
    result = FileResult(primary_file_path or f"{group}/{path.name}", group, "success", "", stem)
    try:
        result.file_metadata = {"group": group, "fileSizeBytes": path.stat().st_size}
        with _open_images(path) as (sources, fmt):
            result.file_metadata.update(format=fmt, images=len(sources))
            for source in sources:
                name = _image_name(stem, source, len(sources))
                result.images.append(process_image(source, name, outdir, f"{group}/{stem}"))
    except (EmflowError, OSError) as exc:
        problem = getattr(exc, "problem", None) or f"{type(exc).__name__}: {exc}"
        result.status, result.images = "error", []
        result.message = " ".join(f"spatialomics: {result.primary_file_path}: {problem}".split())
        log.warning("%s", result.message)
    write_json_atomic(record_path(outdir, stem), result.to_manifest_entry())
    return result


def _process_safely(item: SessionFile, outdir: Path) -> FileResult:
    """`process_file` for a session: an unexpected failure fails this file only."""
    try:
        return process_file(item.path, item.group, outdir / item.group / item.stem,
                            primary_file_path=item.relative)
    except Exception as exc:  # noqa: BLE001 - one bad slide must not stop the session
        log.debug("%s failed", item.relative, exc_info=True)
        message = f"spatialomics: {item.relative}: internal error {type(exc).__name__}: {exc}"
        return FileResult(item.relative, item.group, "error", " ".join(message.split()), item.stem)


def process_session(session: str | os.PathLike[str], outdir: str | os.PathLike[str], *,
                    workers: int = 1) -> list[FileResult]:
    """Process every CZI/PNG of a session folder into ``outdir/<group>/<stem>/``.

    Ignored items are logged (INFO). Files run in ``workers`` processes; results come back in
    discovery order (group, then file name). The caller writes the manifest.
    """
    plan = discover_session(session)
    for item in plan.ignored:
        log.info("ignored: %s", item)
    log.info("%d slide file(s) to process, %d item(s) ignored", len(plan.files), len(plan.ignored))
    outdir = Path(outdir)
    if workers <= 1 or len(plan.files) <= 1:
        return [_process_safely(item, outdir) for item in plan.files]
    # spawn: workers never inherit the parent's threads (HTTP servers, blosc) through fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_process_safely, item, outdir) for item in plan.files]
        return [f.result() for f in futures]
