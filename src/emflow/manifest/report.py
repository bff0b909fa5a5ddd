"""``OUT/report.html``: one self-contained page per run (SPEC §8, issue 10).

A row per series: thumbnail, key image, the tilt and reconstruction movies in ``<video>``, the
visual min/max, the reconstruction backend (preview flagged), step timings, an "Open in
Neuroglancer" link (``neuroglancer/v/B/``, served by ``emflow view OUT``; opened as a file the page
says so), and for a failed series its message. Links are relative to OUT, so the page works opened as a file, and the CSS
is inline with a print layout. Built from the assets manifest alone.

Public functions
----------------
render_report(assets, title=...) -> str
write_report(out, assets) -> Path
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from emflow import __version__
from emflow.atomic import write_text_atomic

PREVIEW_NOTE = "preview reconstruction (no fiducial alignment)"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem;margin:0 0 .3rem} .meta{color:#555;margin-bottom:1rem}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}
th{background:#f2f2f2} img.thumb{width:100px;height:auto} img.key{width:180px;height:auto} a{overflow-wrap:anywhere}
video{width:180px;height:180px;background:#000} td.details{min-width:12rem;overflow-wrap:anywhere} .status-success{color:#176417;font-weight:600}
.status-error{color:#b00020;font-weight:600} .preview{background:#fff3cd;padding:.1rem .3rem;border-radius:3px}
.msg{font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere;color:#b00020}
.params{margin:0 0 .2rem;padding-left:1rem} .params li{list-style:none} .ng-note{color:#555;font-size:.9em}
@media print{body{margin:0} video{display:none} tr{page-break-inside:avoid} a{color:inherit}}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _href(path: str) -> str:
    return _e(quote(path, safe="/"))


def _assets_by_type(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for image in entry.get("imageSet", []):
        for asset in image.get("assets", []):
            found.setdefault(asset["type"], asset)
    return found


def _media_cells(assets: dict[str, dict[str, Any]], title: str) -> str:
    cells = []
    for kind, css in (("thumbnail", "thumb"), ("keyImage", "key")):
        a = assets.get(kind)
        cells.append(f'<td><img class="{css}" src="{_href(a["path"])}" alt="{_e(kind)} of {_e(title)}"></td>' if a else "<td></td>")
    for kind in ("tiltMovie", "recMovie"):
        a = assets.get(kind)
        if a:
            src = _href(a["path"])
            cells.append(f'<td><video class="{_e(kind)}" src="{src}" controls muted loop preload="metadata"></video>'
                         f'<br><a href="{src}">{_e(Path(a["path"]).name)}</a></td>')
        else:
            cells.append("<td></td>")
    return "".join(cells)


# parameter -> (label, unit) as the report shows them: "tilt axis 85.3° from TS_01.mrc.mdoc"
PARAMETER_LABELS = {"tilt_axis_deg": ("tilt axis", "°"), "pixel_size_nm": ("pixel size", " nm"),
                    "thickness_px": ("thickness", " px"), "bin_factor": ("bin", ""), "recon": ("recon", ""),
                    "adoc": ("directive file", "")}


def _parameters(params: dict[str, Any]) -> str:
    """One line of ``name value from source`` and a warning per disagreement between sources."""
    shown, warnings = [], []
    for key, item in params.items():
        label, unit = PARAMETER_LABELS.get(key, (key, ""))
        value = item.get("value")
        text = "unset" if value is None else (f"{value:g}{unit}" if isinstance(value, (int, float)) else f"{value}{unit}")
        shown.append(f'<li>{_e(label)} <b>{_e(text)}</b> <small>from {_e(item.get("source", ""))}</small></li>')
        warnings += [f"{label}: sources disagree: {c}" for c in item.get("conflicts", [])]
    html = f'<div>parameters:</div><ul class="params">{"".join(shown)}</ul>'
    return html + "".join(f'<div class="msg">{_e(w)}</div>' for w in warnings)


def _details(entry: dict[str, Any], assets: dict[str, dict[str, Any]]) -> str:
    meta = (entry.get("imageSet") or [{}])[0].get("imageMetadata", {})
    parts = []
    backend = meta.get("reconstruction")
    if backend:
        note = f' <span class="preview">{_e(PREVIEW_NOTE)}</span>' if backend == "preview" else ""
        parts.append(f"<div>reconstruction: <b>{_e(backend)}</b>{note}</div>")
    params = meta.get("parameters") or {}
    if params:
        parts.append(_parameters(params))
    ng = assets.get("neuroglancerPrecomputed")
    if ng and ng.get("metadata"):
        m = ng["metadata"]
        pairs = " ".join(f'<span class="pair"><b>{label}</b> {_e(m.get(key, ""))}</span>' for label, key in (
            ("min", "neuroglancerPrecomputedMin"), ("max", "neuroglancerPrecomputedMax"),
            ("floor", "neuroglancerPrecomputedFloor"), ("limit", "neuroglancerPrecomputedLimit")))
        parts.append(f'<div>visual min/max: {pairs} <a href="{_href(ng["path"])}/">pyramid</a></div>')
    viewer = _viewer_link(assets)
    if viewer:
        parts.append(viewer)
    for kind in ("averagedVolume", "volume", "neuroglancerZarr"):
        if kind in assets:
            parts.append(f'<div>{_e(kind)}: <a href="{_href(assets[kind]["path"])}">{_e(Path(assets[kind]["path"]).name)}</a></div>')
    images = entry.get("imageSet", [])
    if len(images) > 1:
        parts.append(f"<div>{len(images)} images (scenes); the first is shown</div>")
    seconds = meta.get("stepSeconds") or {}
    if seconds:
        total = sum(seconds.values())
        steps = ", ".join(f"{_e(k)} {v:.1f} s" for k, v in seconds.items())
        parts.append(f"<div>timings: {steps} (total {total:.1f} s)</div>")
    if entry.get("message"):
        parts.append(f'<div class="msg">{_e(entry["message"])}</div>')
    return "".join(parts)


def _viewer_link(assets: dict[str, dict[str, Any]]) -> str:
    """"Open in Neuroglancer" for a tomogram's pyramid or OME-Zarr (``B/neuro-B``, ``B/B.ome.zarr``):
    the viewer page of `emflow view`, relative to OUT; the note shows when the page is a file."""
    for kind, pattern in (("neuroglancerPrecomputed", "{B}/neuro-{B}"), ("neuroglancerZarr", "{B}/{B}.ome.zarr")):
        path = assets.get(kind, {}).get("path", "")
        series = path.split("/", 1)[0]
        if series and path == pattern.format(B=series):
            return (f'<div><a class="ng-link" href="{_href(f"neuroglancer/v/{series}/")}">Open in Neuroglancer</a>'
                    f' <span class="ng-note">(works when this report is served by <code>emflow view OUT</code>, '
                    f'OUT = the folder of this report: open the address it prints)</span></div>')
    return ""


def _row(entry: dict[str, Any]) -> str:
    assets = _assets_by_type(entry)
    status = entry.get("status", "error")
    head = (f'<tr class="series" data-status="{_e(status)}"><td><b>{_e(entry.get("title", ""))}</b><br>'
            f'<span class="status-{_e(status)}">{_e(status)}</span><br><small>{_e(entry.get("primaryFilePath", ""))}</small></td>')
    if not assets:  # a failed series: its message across the row
        return f'{head}<td colspan="5" class="details">{_details(entry, assets)}</td></tr>'
    return f'{head}{_media_cells(assets, entry.get("title", ""))}<td class="details">{_details(entry, assets)}</td></tr>'



def render_report(assets: dict[str, Any], title: str = "emflow run report") -> str:
    """The HTML page for a manifest (``assets.json`` as a dict)."""
    files = assets.get("files", [])
    ok = sum(f.get("status") == "success" for f in files)
    # "success" is the portal's any-file rule: say plainly when some files failed all the same
    verdict = "all succeeded" if files and ok == len(files) else "none succeeded" if not ok else f"{len(files) - ok} failed"
    css = "success" if files and ok == len(files) else "error"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(_row(f) for f in files) or '<tr><td colspan="6">no tilt series found</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body><h1>{_e(title)}</h1>
<div class="meta">status {_e(assets.get('status', ''))}: <b class="status-{css}">{ok} of {len(files)} series succeeded ({verdict})</b> &middot; emflow {_e(__version__)} &middot; {stamp} &middot;
<a href="assets.json">assets.json</a> &middot; <a href="run_log.txt">run_log.txt</a></div>
<table><thead><tr><th>series</th><th>thumbnail</th><th>key image</th><th>tilt movie</th><th>reconstruction movie</th><th>details</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
// served by `emflow view`: the viewer links work, so the note on how to get there goes
if (location.protocol !== "file:") document.querySelectorAll(".ng-note").forEach(e => e.remove());
</script></body></html>
"""


def write_report(out: str | Path, assets: dict[str, Any]) -> Path:
    """Write ``OUT/report.html`` atomically."""
    return write_text_atomic(Path(out) / "report.html", render_report(assets))
