from __future__ import annotations

import re

from emflow.manifest import render_report


def _entry(**overrides) -> dict:
    entry = {"primaryFilePath": "x.mrc", "status": "success", "message": "", "thumbnailIndex": 0, "title": "x",
             "fileMetadata": {}, "imageSet": [{"imageName": "x", "imageMetadata": {"reconstruction": "imod",
                                                                                   "stepSeconds": {"brt": 61.25, "pyramid": 2.0}},
                                               "assets": [{"type": "keyImage", "path": "x/keyimg_x.jpg"}]}]}
    entry.update(overrides)
    return entry


def test_text_is_escaped_and_links_are_relative() -> None:
    evil = _entry(primaryFilePath="<script>alert(1)</script>.mrc", status="error",
                  message='check: "<img src=x onerror=alert(1)>" & more', imageSet=[])
    html = render_report({"status": "success", "files": [_entry(), evil]})
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;.mrc" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&amp; more" in html
    assert 'src="x/keyimg_x.jpg"' in html
    assert not re.search(r'(src|href)="(/|[a-z]+://)', html)  # relative links only
    assert "timings: brt 61.2 s, pyramid 2.0 s (total 63.2 s)" in html
    assert "reconstruction: <b>imod</b></div>" in html  # IMOD results carry no preview flag
    assert "@media print" in html and "<style>" in html  # self-contained, printable


def test_spaces_in_paths_are_url_encoded_and_scenes_counted() -> None:
    entry = _entry(imageSet=[{"imageName": f"s{i}", "imageMetadata": {},
                              "assets": [{"type": "thumbnail", "path": "HQ Images/slide 1/thumb.jpg"}]} for i in range(3)])
    html = render_report({"status": "success", "files": [entry]})
    assert 'src="HQ%20Images/slide%201/thumb.jpg"' in html and "3 images (scenes)" in html
    assert render_report({"status": "error", "files": []}).count("no tilt series found") == 1


def test_open_in_neuroglancer_link_per_tomogram_series() -> None:
    def series(name: str, kind: str, path: str) -> dict:
        return _entry(title=name, imageSet=[{"imageName": name, "imageMetadata": {},
                                             "assets": [{"type": kind, "path": path, "metadata": {}}]}])

    html = render_report({"status": "success", "files": [
        series("B 1", "neuroglancerPrecomputed", "B 1/neuro-B 1"),
        series("C", "neuroglancerZarr", "C/C.ome.zarr"),
        series("slide", "neuroglancerZarr", "HQ_Images/slide.ome.zarr"),  # spatialomics: not a tomogram
    ]})
    assert re.findall(r'class="ng-link" href="([^"]+)"', html) == ["neuroglancer/v/B%201/", "neuroglancer/v/C/"]
    # opened as a file the page says how to get there; served (http) a script removes the note
    assert html.count('class="ng-note"') == 2 and "<code>emflow view OUT</code>" in html
    assert 'location.protocol !== "file:"' in html
