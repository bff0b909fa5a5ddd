"""Neuroglancer JSON state of one series: its volume, voxel size, the portal's contrast, 4 panels.

Public names
------------
BASE_URL                               the placeholder for the series folder's URL in a state file
series_state(folder, name) -> dict     the state of ``folder``'s volume (sources under BASE_URL)
state_bytes(state) -> bytes            the state file's bytes (deterministic)
write_state(folder, name, path=None)   write ``folder/NAME_neuroglancer.json`` atomically
load_state(folder, name) -> dict       the state file if present, else `series_state`
fill_base_url(state, url) -> dict      the state with BASE_URL replaced by ``url``
contrast_from_minmax(minmax) / contrast_from_shader(shader)
                                       the invlerp control {"range": [Min, Max], "window": [Floor, Limit]}

The contrast is the portal's (niaid/image_portal_workflows ``api_schema/metadata.yml``):
"Floor/Limit is used for window, while Min/Max is used for range" of Neuroglancer's ``invlerp``
control, i.e. grey = clamp((v - Min) / (Max - Min)), the slider spanning [Floor, Limit]. The
precomputed volume takes them from ``B_min_max.json`` (converted domain, as the pyramid
stores it); the OME-Zarr (native values) from ``B_shader.json``, else from the min/max JSON
shifted back to native values (int8 -128, int16 -32768).

Sources are relative to the series folder: ``precomputed://{BASE_URL}/neuro-B`` or
``zarr://{BASE_URL}/B.ome.zarr``; `emflow view` fills BASE_URL with its own address, a facility
with the public URL of the folder (web server or bucket).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from emflow.atomic import write_bytes_atomic
from emflow.errors import EmflowInputError

BASE_URL = "{BASE_URL}"
STATE_FILE = "{B}_neuroglancer.json"
PRECOMPUTED_DIR = "neuro-{B}"
ZARR_DIR = "{B}.ome.zarr"
MINMAX_FILE = "{B}_min_max.json"
SHADER_FILE = "{B}_shader.json"
# Neuroglancer's default image shader; the portal's contrast goes in its ``normalized`` control
SHADER = "#uicontrol invlerp normalized\nvoid main() {\n  emitGrayscale(normalized());\n}\n"
# What the precomputed conversion (SPEC §6) adds to native values, by OME-Zarr dtype
NATIVE_OFFSET = {"|i1": 128, "<i2": 32768, "int8": 128, "int16": 32768}
# The panels of Neuroglancer's 4-panel layout are 400 to 600 pixels across in a usual window
PANEL_PX = 400


def contrast_from_minmax(minmax: dict[str, Any], offset: int = 0) -> dict[str, list[int]]:
    """The invlerp control of a SPEC §6 min/max dict (strings of integers), minus ``offset``."""
    try:
        lo, hi, floor, limit = (int(minmax[f"neuroglancerPrecomputed{k}"]) - offset
                                for k in ("Min", "Max", "Floor", "Limit"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a min/max JSON ({exc})") from exc
    return {"range": [lo, hi], "window": [floor, limit]}


def contrast_from_shader(shader: dict[str, Any]) -> dict[str, list[int]]:
    """The invlerp control of a ``B_shader.json`` dict (``shaderParameters`` window and range)."""
    try:
        params = shader["shaderParameters"]
        return {"range": [int(v) for v in params["range"]], "window": [int(v) for v in params["window"]]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a shader JSON ({exc})") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmflowInputError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise EmflowInputError(path, f"is not valid JSON ({exc})") from exc


def _precomputed_volume(folder: Path, name: str) -> dict[str, Any]:
    info_path = folder / PRECOMPUTED_DIR.format(B=name) / "info"
    info = _read_json(info_path)
    try:
        scale = info["scales"][0]
        size = [int(n) for n in scale["size"]]
        voxel_nm = [float(v) for v in scale["resolution"]]
        offset = [int(v) for v in scale.get("voxel_offset", [0, 0, 0])]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EmflowInputError(info_path, f"is not a precomputed volume info ({exc})") from exc
    minmax_path = folder / MINMAX_FILE.format(B=name)
    try:
        contrast = contrast_from_minmax(_read_json(minmax_path))
    except ValueError as exc:
        raise EmflowInputError(minmax_path, str(exc)) from exc
    # precomputed voxel i covers [i, i + 1): the middle voxel's centre (never a voxel boundary,
    # where the section shown would depend on rounding)
    centre = [o + n // 2 + 0.5 for o, n in zip(offset, size)]
    return {"source": f"precomputed://{BASE_URL}/{PRECOMPUTED_DIR.format(B=name)}", "size": size,
            "voxel_nm": voxel_nm, "centre": centre, "contrast": contrast}


def _zarr_array_meta(zarr_dir: Path, path: str) -> dict[str, Any]:
    for meta in (zarr_dir / path / ".zarray", zarr_dir / path / "zarr.json"):
        if meta.is_file():
            return _read_json(meta)
    raise EmflowInputError(zarr_dir / path, "has no .zarray or zarr.json")


def _zarr_volume(folder: Path, name: str) -> dict[str, Any]:
    zarr_dir = folder / ZARR_DIR.format(B=name)
    attrs_path = zarr_dir / ".zattrs" if (zarr_dir / ".zattrs").is_file() else zarr_dir / "zarr.json"
    attrs = _read_json(attrs_path)
    try:
        multiscale = (attrs.get("attributes", {}).get("ome", attrs) if "attributes" in attrs else attrs)["multiscales"][0]
        axes = [a["name"] for a in multiscale["axes"]]
        dataset = multiscale["datasets"][0]
        scale = next(t["scale"] for t in dataset["coordinateTransformations"] if t["type"] == "scale")
        units = [a.get("unit", "nanometer") for a in multiscale["axes"]]
    except (KeyError, IndexError, StopIteration, TypeError) as exc:
        raise EmflowInputError(attrs_path, f"is not OME-Zarr multiscales metadata ({exc})") from exc
    if sorted(axes) != ["x", "y", "z"] or set(units) != {"nanometer"}:
        raise EmflowInputError(attrs_path, f"axes {axes} in {sorted(set(units))}: expected z, y, x in nanometer")
    array = _zarr_array_meta(zarr_dir, dataset["path"])
    shape = dict(zip(axes, array["shape"]))
    voxel = dict(zip(axes, scale))
    dtype = str(array.get("dtype") or array.get("data_type"))
    shader_path = folder / SHADER_FILE.format(B=name)
    try:
        if shader_path.is_file():
            contrast = contrast_from_shader(_read_json(shader_path))
        else:  # the min/max JSON is in the precomputed (converted) domain
            contrast = contrast_from_minmax(_read_json(folder / MINMAX_FILE.format(B=name)), NATIVE_OFFSET.get(dtype, 0))
    except ValueError as exc:
        raise EmflowInputError(shader_path if shader_path.is_file() else folder / MINMAX_FILE.format(B=name), str(exc)) from exc
    size = [int(shape[a]) for a in "xyz"]
    # OME-Zarr coordinates name voxel centres (voxel i covers [i - 1/2, i + 1/2)): the same
    # middle voxel as the precomputed volume's
    centre = [float(n // 2) for n in size]
    return {"source": f"zarr://{BASE_URL}/{ZARR_DIR.format(B=name)}", "size": size,
            "voxel_nm": [float(voxel[a]) for a in "xyz"], "centre": centre, "contrast": contrast}


def series_state(folder: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """The Neuroglancer state of series ``name`` whose outputs are in ``folder``.

    The precomputed pyramid ``neuro-NAME`` (with ``NAME_min_max.json``) when present, else the
    OME-Zarr ``NAME.ome.zarr``; sources under `BASE_URL` (the folder's URL). The view: one image
    layer named NAME, position at the centre of the middle voxel (index n // 2 on each axis), 4 panels (xy, xz, yz, 3D) zoomed so
    the largest extent fits a panel of 400 pixels.
    """
    folder = Path(folder)
    if (folder / PRECOMPUTED_DIR.format(B=name) / "info").is_file():
        volume = _precomputed_volume(folder, name)
    elif (folder / ZARR_DIR.format(B=name)).is_dir():
        volume = _zarr_volume(folder, name)
    else:
        raise EmflowInputError(folder, f"has no Neuroglancer volume ({PRECOMPUTED_DIR.format(B=name)}/ or {ZARR_DIR.format(B=name)}/)")
    # dimensions in voxels (so the position is in voxels); Neuroglancer takes metres
    dimensions = {axis: [v * 1e-9, "m"] for axis, v in zip("xyz", volume["voxel_nm"])}
    extent = max(volume["size"])
    return {
        "dimensions": dimensions,
        "position": volume["centre"],
        "crossSectionScale": round(1.1 * extent / PANEL_PX, 6),
        "projectionScale": float(2 * extent),
        "layers": [{
            "type": "image",
            "source": volume["source"],
            "name": name,
            "shader": SHADER,
            "shaderControls": {"normalized": volume["contrast"]},
        }],
        "selectedLayer": {"layer": name},
        "layout": "4panel",
    }


def state_bytes(state: dict[str, Any]) -> bytes:
    """The state file: indented JSON, keys in the builder's order, a final newline (same bytes every run)."""
    return (json.dumps(state, indent=2) + "\n").encode("utf-8")


def state_path(folder: str | os.PathLike[str], name: str) -> Path:
    return Path(folder) / STATE_FILE.format(B=name)


def write_state(folder: str | os.PathLike[str], name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Write `series_state` to ``path`` (default ``folder/NAME_neuroglancer.json``) atomically."""
    return write_bytes_atomic(path if path is not None else state_path(folder, name), state_bytes(series_state(folder, name)))


def load_state(folder: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """``folder/NAME_neuroglancer.json`` when the pyramid step wrote it, else built from the folder."""
    path = state_path(folder, name)
    if path.is_file():
        state = _read_json(path)
        if not isinstance(state, dict) or not state.get("layers"):
            raise EmflowInputError(path, "is not a Neuroglancer state (no layers)")
        return state
    return series_state(folder, name)


def fill_base_url(state: dict[str, Any], url: str) -> dict[str, Any]:
    """A copy of ``state`` with every `BASE_URL` in a layer source replaced by ``url`` (no trailing slash)."""
    text = json.dumps(state).replace(BASE_URL, json.dumps(url.rstrip("/"))[1:-1])
    return json.loads(text)
