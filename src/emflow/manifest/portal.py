"""The data portal's side of the manifest (SPEC §8): its top-level status rule and its
Neuroglancer metadata forms, as the portal publishes them in niaid/image_portal_workflows
(``api_schema/PipelineCallback.yaml``, ``api_schema/metadata.yml``).

Public functions
----------------
manifest_status(file_statuses)      "success" when ANY file succeeded, else "error"
manifest_of(files)                  {"status", "failedFiles", "files"} for a list of file entries
every_file_succeeded(manifest)      True when there were files and none failed (exit code 0)
neuroglancer_metadata(minmax)       the four legacy keys + the portal's preferred shader form
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

def manifest_status(file_statuses: Iterable[str]) -> str:
    """The portal's rule: "success is considered true if ANY conversion is successful"; "error"
    when none did or there was nothing to convert. ("partial" is not in the portal's enum: a
    run with one bad file of many would have its whole callback refused.)"""
    return "success" if any(status == "success" for status in file_statuses) else "error"


def manifest_of(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest dict for file entries, in their order. ``failedFiles`` (allowed: the schema
    takes extra top-level fields) keeps "some failed" visible now that status says "success"."""
    statuses = [f["status"] for f in files]
    return {
        "status": manifest_status(statuses),
        "failedFiles": sum(status != "success" for status in statuses),
        "files": files,
    }


def every_file_succeeded(manifest: Mapping[str, Any]) -> bool:
    """Exit 0 (SPEC §10) only when there were files and none failed."""
    files = manifest.get("files", [])
    return bool(files) and all(f.get("status") == "success" for f in files)


def neuroglancer_metadata(minmax: Mapping[str, Any]) -> dict[str, Any]:
    """Asset metadata for the portal's two generations from a SPEC §6 min/max JSON.

    The legacy keys stay strings exactly as in the min/max JSON; the preferred form
    (``metadata.yml``: "Floor/Limit is used for window, while Min/Max is used for range") holds
    the same four numbers as integers: the invlerp control `emflow view` applies. Other keys of
    the min/max JSON are kept. Raises ValueError for a dict that is not a min/max JSON.
    """
    from emflow.view.state import contrast_from_minmax

    contrast = contrast_from_minmax(dict(minmax))
    return {
        **minmax,
        "shader": "Grayscale",
        "dimensions": "XYZ",
        "shaderParameters": {"window": contrast["window"], "range": contrast["range"]},
    }
