"""``OUT/assets.json`` (SPEC §8), built from a finished OUT folder and its step status records.

The local runner and the Nextflow pipeline's last task both call `build_assets`, so the manifest
only depends on what was published: the SPEC §9 files and ``OUT/<series>/.emflow/*.status.json``.
A series is ``success`` when no step recorded an error and every asset file exists; else
``error`` with the message ``"<step>: <reason>"`` and no assets.

Public functions
----------------
build_assets(out, input_dir, status_dirs=())   -> dict (top-level status: emflow.manifest.portal)
series_assets(out, name)                        -> list of {"type", "path"[, "metadata"]}
validate_assets(obj_or_path)                    raise EmflowInputError on the first problem
load_schema()                                   the JSON Schema kept beside this file
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emflow import __version__
from emflow.errors import EmflowInputError
from emflow.manifest.portal import manifest_of, neuroglancer_metadata
from emflow.series import Series, discover_series
from emflow.records import read_records

SCHEMA_PATH = Path(__file__).with_name("assets.schema.json")
PREVIEW_NOTE = "preview reconstruction (no fiducial alignment)"
STEP_ORDER = ("discover", "check", "adoc", "brt", "tilt_movie", "rec_movie", "pyramid")

# (asset type, file name pattern) in OUT/<B>/, SPEC §8/§9; the thumbnail comes first (index 0).
ASSET_FILES = (
    ("thumbnail", "keyimg_{B}_s.jpg"),
    ("keyImage", "keyimg_{B}.jpg"),
    ("tiltMovie", "tiltMov_{B}.mp4"),
    ("recMovie", "keyMov_{B}.mp4"),
    ("averagedVolume", "ave_{B}.mrc"),
    ("volume", "avebin8_{B}.mrc"),
    ("neuroglancerPrecomputed", "neuro-{B}"),
)
MINMAX_FILE = "{B}_min_max.json"
ZARR_FILE = "{B}.ome.zarr"


def series_assets(out: Path, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The asset list of one finished series and the names of missing files.

    The volume for Neuroglancer may be the precomputed pyramid, an OME-Zarr (``B.ome.zarr``,
    ``--ng-format zarr|both``) or both; at least one is required. Both carry the min/max JSON.
    """
    folder = out / name
    assets, missing = [], []
    zarr = folder / ZARR_FILE.format(B=name)
    for kind, pattern in ASSET_FILES + (("neuroglancerZarr", ZARR_FILE),):
        path = folder / pattern.format(B=name)
        if not path.exists():
            optional = kind == "neuroglancerZarr" or (kind == "neuroglancerPrecomputed" and zarr.exists())
            if not optional:
                missing.append(path.name)
            continue
        asset: dict[str, Any] = {"type": kind, "path": f"{name}/{path.name}"}
        if kind in ("neuroglancerPrecomputed", "neuroglancerZarr"):
            minmax = folder / MINMAX_FILE.format(B=name)
            try:
                metadata = json.loads(minmax.read_text(encoding="utf-8"))
                # the portal's two generations read the precomputed asset's metadata (SPEC §8)
                asset["metadata"] = neuroglancer_metadata(metadata) if kind == "neuroglancerPrecomputed" else metadata
            except (OSError, ValueError, TypeError):  # unreadable, or not a min/max JSON
                missing.append(minmax.name)
        assets.append(asset)
    return assets, sorted(set(missing), key=missing.index)


def _step_key(step: str) -> tuple[int, str]:
    return (STEP_ORDER.index(step) if step in STEP_ORDER else len(STEP_ORDER), step)


def _first_error(records: dict[tuple[str, str], dict[str, Any]]) -> str:
    errors = sorted((r for r in records.values() if r.get("status") == "error"), key=lambda r: _step_key(r["step"]))
    if not errors:
        return ""
    first = errors[0]
    return f"{first['step']}: {first.get('message') or 'failed'}"


def reconstruction_backend(out: Path, name: str, records: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    """``"imod"`` or ``"preview"``: from the brt record, else from B_rec.mrc's labels / brt_run.log."""
    record = records.get((name, "brt"), {})
    if record.get("backend"):
        return str(record["backend"])
    rec = out / name / "brt" / f"{name}_rec.mrc"
    if not rec.exists():
        return None
    texts = []
    try:
        from emflow.mrc import read_info

        texts += list(read_info(rec).labels)
    except EmflowInputError:
        pass
    run_log = rec.with_name("brt_run.log")
    if run_log.exists():
        texts.append(run_log.read_text(encoding="utf-8", errors="replace")[:20000])
    return "preview" if any("preview" in t.lower() for t in texts) else "imod"


def _file_metadata(series: Series) -> dict[str, Any]:
    meta: dict[str, Any] = {"emflowVersion": __version__}
    try:
        from emflow.mrc import read_info

        info = read_info(series.stack)
    except EmflowInputError:
        return meta
    meta.update(dims_xyz=[info.nx, info.ny, info.nz], mode=info.mode,
                voxel_size_angstrom=[round(v, 6) for v in info.voxel_size_angstrom])
    return meta


def _timings(records: dict[tuple[str, str], dict[str, Any]]) -> dict[str, float]:
    ordered = sorted(records.values(), key=lambda r: _step_key(r["step"]))
    return {r["step"]: float(r.get("seconds", 0.0)) for r in ordered if r.get("status") == "done"}


def series_parameters(records: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """The per-series parameters the steps recorded (``{name: {"value", "source"[, "conflicts"]}}``),
    later steps' entries replacing earlier ones (brt's tilt axis is the one the preview used)."""
    merged: dict[str, Any] = {}
    for record in sorted(records.values(), key=lambda r: _step_key(r["step"])):
        params = record.get("parameters")
        if isinstance(params, dict) and record.get("status") == "done":
            merged.update({str(k): v for k, v in params.items() if isinstance(v, dict)})
    return merged


def _entry(series: Series, out: Path, records: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    name = series.basename
    entry: dict[str, Any] = {
        "primaryFilePath": series.file_name, "status": "error", "message": "", "thumbnailIndex": 0,
        "title": name, "fileMetadata": _file_metadata(series),
    }
    image_meta: dict[str, Any] = {"stepSeconds": _timings(records)}
    if params := series_parameters(records):
        image_meta["parameters"] = params
    assets: list[dict[str, Any]] = []
    if series.error:
        entry["message"] = f"discover: {series.error}"
    elif message := _first_error(records):
        entry["message"] = message
    else:
        assets, missing = series_assets(out, name)
        if missing:
            entry["message"] = f"incomplete: missing {', '.join(missing)} (interrupted, or a step did not run)"
            assets = []
        else:
            entry["status"] = "success"
            backend = reconstruction_backend(out, name, records)
            image_meta["reconstruction"] = backend
            if backend == "preview":
                image_meta["note"] = PREVIEW_NOTE
    entry["imageSet"] = [{"imageName": name, "imageMetadata": image_meta, "assets": assets}]
    return entry


def _records_for(name: str, folders: Iterable[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in folders:
        found.update({k: v for k, v in read_records(folder).items() if k[0] == name})
    return found


def build_assets(out: str | os.PathLike[str], input_dir: str | os.PathLike[str],
                 status_dirs: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """The SPEC §8 manifest of ``out`` for the series of ``input_dir``.

    Status records are read from ``OUT/<series>/.emflow/`` and from each of ``status_dirs``.
    """
    out = Path(out)
    series, _ignored = discover_series(input_dir)
    extra = [Path(d) for d in status_dirs]
    files = []
    for s in series:
        dirs = ([] if s.error else [out / s.basename / ".emflow"]) + extra
        files.append(_entry(s, out, _records_for(s.basename, dirs)))
    return manifest_of(files)


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_assets(manifest: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Check a manifest (dict or file) against the schema; return it, or raise EmflowInputError."""
    import jsonschema

    subject = "assets.json"
    if not isinstance(manifest, dict):
        subject = os.fspath(manifest)
        try:
            manifest = json.loads(Path(manifest).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise EmflowInputError(subject, "file not found") from exc
        except (OSError, ValueError) as exc:
            raise EmflowInputError(subject, f"not valid JSON: {exc}") from exc
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise EmflowInputError(subject, f"does not match the assets schema at {where}: {errors[0].message}")
    return manifest
