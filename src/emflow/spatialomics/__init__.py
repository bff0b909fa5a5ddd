"""Spatialomics sessions (SPEC §7): CZI / PNG slides -> thumbnails, key images, OME-Zarr.

Public API: `process_session(session, outdir, *, workers=1) -> list[FileResult]`,
`process_file(path, group, file_outdir) -> FileResult` (one Nextflow task per file),
`FileResult.to_manifest_entry()` (one ``files[]`` entry of assets.json), `discover_session`.
"""

from emflow.spatialomics.process import process_file, process_session
from emflow.spatialomics.results import FileResult, ImageResult, manifest_status, write_assets_json
from emflow.spatialomics.session import SessionPlan, discover_session

__all__ = [
    "FileResult",
    "ImageResult",
    "SessionPlan",
    "discover_session",
    "manifest_status",
    "process_file",
    "process_session",
    "write_assets_json",
]
