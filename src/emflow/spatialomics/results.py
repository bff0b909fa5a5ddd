"""Per-file results of the spatialomics pipeline and their assets-manifest entries (SPEC §8).

`FileResult.to_manifest_entry()` gives one ``files[]`` entry of ``OUT/assets.json``:
``{"primaryFilePath", "status", "message", "thumbnailIndex", "title", "fileMetadata",
"imageSet": [{"imageName", "imageMetadata", "assets": [{"type", "path", "metadata"?}]}]}``
with asset paths relative to OUT and ``primaryFilePath`` relative to the session folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_SUFFIX = ".asset.json"


@dataclass
class ImageResult:
    """One image (scene) of a file: its name, metadata and assets (``type``, ``path``, ``metadata``?)."""

    name: str
    metadata: dict[str, Any]
    assets: list[dict[str, Any]]


@dataclass
class FileResult:
    """Outcome of one slide file.

    Attributes
    ----------
    primary_file_path : str
        Path relative to the session folder (``HQ_Images/slide_1.czi``).
    group : str
        Group folder (``HQ_Images`` or ``Pre_ROI_Selection``).
    status : str
        ``"success"`` or ``"error"``.
    message : str
        Empty on success; on error one line, ``"<step>: FILE: problem"``.
    title : str
        The file's stem.
    file_metadata : dict
        Format, size in bytes, number of scenes.
    images : list of ImageResult
        Empty on error.
    """

    primary_file_path: str
    group: str
    status: str
    message: str
    title: str
    file_metadata: dict[str, Any] = field(default_factory=dict)
    images: list[ImageResult] = field(default_factory=list)

    def to_manifest_entry(self) -> dict[str, Any]:
        """The SPEC §8 ``files[]`` entry of this file."""
        return {
            "primaryFilePath": self.primary_file_path,
            "status": self.status,
            "message": self.message,
            "thumbnailIndex": 0,
            "title": self.title,
            "fileMetadata": dict(self.file_metadata),
            "imageSet": [
                {"imageName": im.name, "imageMetadata": dict(im.metadata),
                 "assets": [dict(a) for a in im.assets]}
                for im in self.images
            ],
        }



def record_path(file_outdir: str | os.PathLike[str], stem: str) -> Path:
    """Where a file's manifest entry is kept: ``OUT/<group>/<stem>/<stem>.asset.json``."""
    return Path(file_outdir) / f"{stem}{RECORD_SUFFIX}"

