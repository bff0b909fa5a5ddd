"""Assets manifest (SPEC §8), its callback and the HTML report.

Public functions
----------------
build_assets(out, input_dir, status_dirs=())   the manifest dict
validate_assets(obj_or_path)                   against assets.schema.json
write_manifest(out, input_dir, ...)            assets.json + report.html (+ callback POST)
publish_manifest(out, assets, ...)             validate + write + POST an assets dict
post_assets(url, body, token, ...)             the callback
render_report / write_report                   report.html
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from emflow.atomic import write_bytes_atomic
from emflow.manifest.assets import build_assets, load_schema, validate_assets
from emflow.manifest.callback import get_token, post_assets
from emflow.manifest.report import render_report, write_report

__all__ = ["build_assets", "get_token", "load_schema", "post_assets", "render_report", "validate_assets",
           "publish_manifest", "write_manifest", "write_report"]


def write_manifest(
    out: str | os.PathLike[str],
    input_dir: str | os.PathLike[str],
    *,
    status_dirs: Iterable[str | os.PathLike[str]] = (),
    callback_url: str | None = None,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build, validate and write ``OUT/assets.json`` and ``OUT/report.html``; POST the exact
    bytes of assets.json to ``callback_url`` when given. Returns the manifest."""
    return publish_manifest(out, build_assets(Path(out), input_dir, status_dirs),
                            callback_url=callback_url, token=token, log=log)


def publish_manifest(
    out: str | os.PathLike[str],
    assets: dict[str, Any],
    *,
    callback_url: str | None = None,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Validate ``assets``, write ``OUT/assets.json`` + ``OUT/report.html`` and POST the exact
    bytes of assets.json to ``callback_url`` (token from ``$EMFLOW_TOKEN`` unless given).
    Shared by the tomography runner and spatialomics sessions. Returns the manifest."""
    out = Path(out)
    assets = validate_assets(assets)
    body = (json.dumps(assets, indent=2) + "\n").encode("utf-8")
    write_bytes_atomic(out / "assets.json", body)
    write_report(out, assets)
    if log:
        log(f"wrote {out / 'assets.json'} (status {assets['status']}) and {out / 'report.html'}")
    if callback_url:
        post_assets(callback_url, body, token if token is not None else get_token(), log=log)
    return assets
