"""Spatialomics sessions (SPEC §7): CZI / PNG slides -> thumbnails, key images, OME-Zarr.

Public API: `process_session(session, outdir, *, workers=1) -> list[FileResult]`,
`process_file(path, group, file_outdir) -> FileResult` (one Nextflow task per file),
`FileResult.to_manifest_entry()` (one ``files[]`` entry of assets.json), `discover_session`,
`write_session_manifest` (assets.json + report.html + callback via `emflow.manifest`),
`collect_entries` (per-file records of a published OUT, for the Nextflow manifest task).
"""

from emflow.spatialomics.manifest import collect_entries, session_manifest, write_session_manifest
from emflow.spatialomics.process import process_file, process_session
from emflow.spatialomics.results import FileResult, ImageResult, record_path
from emflow.spatialomics.session import SessionPlan, discover_session

__all__ = [
    "FileResult",
    "ImageResult",
    "SessionPlan",
    "discover_session",
    "process_file",
    "process_session",
    "record_path",
    "session_manifest",
    "collect_entries",
    "write_session_manifest",
]
