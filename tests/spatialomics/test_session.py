"""The spatialomics pipeline end to end: outputs, OME-Zarr contents, manifest entries, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from PIL import Image

from emflow.cli import main
from emflow.manifest.portal import manifest_status
from emflow.spatialomics import process_file, process_session


def _levels(zarr_path: Path) -> list[np.ndarray]:
    nodes = list(Reader(parse_url(str(zarr_path)))())
    return [np.asarray(level) for level in nodes[0].data]


def _assets(entry: dict, image: int = 0) -> dict[str, dict]:
    return {a["type"]: a for a in entry["imageSet"][image]["assets"]}


def _check_image_outputs(out: Path, entry: dict, source_yx: tuple[int, int]) -> list[np.ndarray]:
    """Thumbnail longest side 300, key image fit 1024, zarr levels halving to <= 512 px."""
    assets = _assets(entry)
    with Image.open(out / assets["thumbnail"]["path"]) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 300
    with Image.open(out / assets["keyImage"]["path"]) as key:
        assert key.format == "JPEG" and max(key.size) == min(1024, max(source_yx))
    levels = _levels(out / assets["neuroglancerZarr"]["path"])
    shape = source_yx
    for level in levels:
        assert level.shape[1:] == shape
        shape = (-(-shape[0] // 2), -(-shape[1] // 2))
    assert max(levels[-1].shape[1:]) <= 512 and (len(levels) == 1 or max(levels[-2].shape[1:]) > 512)
    for channel in assets["neuroglancerZarr"]["metadata"]["channels"]:
        w = channel["window"]
        assert w["min"] <= w["start"] < w["end"] <= w["max"]
    return levels


def test_session_four_files_processed_others_ignored(make_session, slides, tmp_path, caplog):
    session, out = make_session(), tmp_path / "out"
    caplog.set_level("INFO")
    results = process_session(session, out)
    assert [r.status for r in results] == ["success"] * 4
    assert "ignored: Heatmaps/" in caplog.text and "ignored: notes.txt" in caplog.text
    assert "ignored: ROI_Images/" in caplog.text
    assert not (out / "Heatmaps").exists()
    entries = [r.to_manifest_entry() for r in results]
    assert [e["primaryFilePath"] for e in entries] == [
        "HQ_Images/slide_1.czi", "HQ_Images/slide_2.czi",
        "Pre_ROI_Selection/slide_1_Pre_ROI_a.png", "Pre_ROI_Selection/slide_2_Pre_ROI_a.png"]
    rgb, mosaic, rgba, gray = entries
    assert _assets(rgb)["thumbnail"]["path"] == "HQ_Images/slide_1/thumb_slide_1.jpg"
    assert _assets(rgb)["keyImage"]["path"] == "HQ_Images/slide_1/keyimg_slide_1.jpg"
    assert _assets(rgb)["neuroglancerZarr"]["path"] == "HQ_Images/slide_1/slide_1.ome.zarr"

    levels = _check_image_outputs(out, rgb, (120, 160))
    assert np.array_equal(levels[0], np.moveaxis(slides["rgb_bgr"][..., ::-1], -1, 0))
    levels = _check_image_outputs(out, mosaic, (600, 1100))
    stitched = np.hstack([slides["mosaic_left"], slides["mosaic_right"]])
    assert np.array_equal(levels[0][0], stitched)
    level1 = np.rint(stitched.astype(np.float64).reshape(300, 2, 550, 2).mean(axis=(1, 3)))
    assert np.array_equal(levels[1][0], level1.astype(np.uint16))
    window = _assets(mosaic)["neuroglancerZarr"]["metadata"]["channels"][0]["window"]
    assert window["start"] == pytest.approx(np.quantile(stitched, 0.01))
    assert window["end"] == pytest.approx(np.quantile(stitched, 0.99))
    levels = _check_image_outputs(out, rgba, (40, 60))
    assert levels[0][:, 20, 59].tolist() == [255, 255, 255]  # transparent -> white
    levels = _check_image_outputs(out, gray, (30, 20))
    assert levels[0].shape == (1, 30, 20)

    with Image.open(out / _assets(rgba)["thumbnail"]["path"]) as thumb:
        red = np.asarray(thumb.convert("RGB"))[150, 75].astype(int)   # left half: red
        white = np.asarray(thumb.convert("RGB"))[150, 225].astype(int)  # right half: white
    assert np.abs(red - [255, 0, 0]).max() < 12 and np.abs(white - 255).max() < 12
    record = json.loads((out / "HQ_Images" / "slide_2" / "slide_2.asset.json").read_text())
    assert record == mosaic
    assert mosaic["fileMetadata"]["format"] == "CZI" and mosaic["imageSet"][0]["imageMetadata"]["levels"] == [
        [600, 1100], [300, 550], [150, 275]]


def test_multi_scene_czi_one_image_per_scene(make_session, slides, tmp_path):
    session = make_session(multi_scene=True)
    result = process_file(session / "HQ_Images" / "slide_3.czi", "HQ_Images", tmp_path / "o")
    entry = result.to_manifest_entry()
    assert entry["status"] == "success"
    assert [im["imageName"] for im in entry["imageSet"]] == ["slide_3_s0", "slide_3_s1"]
    zarr_path = _assets(entry, 1)["neuroglancerZarr"]["path"]
    assert zarr_path == "HQ_Images/slide_3/slide_3_s1.ome.zarr"
    levels = _levels(tmp_path / "o" / "slide_3_s1.ome.zarr")
    assert np.array_equal(levels[0], slides["multi"][1])
    channels = _assets(entry, 1)["neuroglancerZarr"]["metadata"]["channels"]
    assert [c["label"] for c in channels] == ["DAPI", "GFP"]
    assert entry["imageSet"][1]["imageMetadata"]["pixelSizeUm"] == pytest.approx([0.25, 0.25])


def test_bad_files_fail_alone_and_cli_writes_manifest(make_session, tmp_path):
    session, out = make_session(), tmp_path / "out"
    (session / "HQ_Images" / "broken.czi").write_bytes(b"ZISRAWFILE" + bytes(300))
    (session / "Pre_ROI_Selection" / "fake.png").write_text("just text, not pixels\n")
    assert main(["spatialomics", str(session), "--outdir", str(out), "--workers", "2"]) == 1
    manifest = json.loads((out / "assets.json").read_text())
    assert manifest["status"] == "success" and manifest["failedFiles"] > 0
    by_path = {f["primaryFilePath"]: f for f in manifest["files"]}
    assert len(by_path) == 6
    broken, fake = by_path["HQ_Images/broken.czi"], by_path["Pre_ROI_Selection/fake.png"]
    for entry in (broken, fake):
        assert entry["status"] == "error" and entry["imageSet"] == []
        assert "\n" not in entry["message"]
    assert broken["message"].startswith("spatialomics: HQ_Images/broken.czi: not a readable CZI file")
    assert fake["message"] == "spatialomics: Pre_ROI_Selection/fake.png: not a PNG image (Pillow cannot identify it)"
    assert sum(f["status"] == "success" for f in manifest["files"]) == 4
    assert (out / "HQ_Images" / "slide_2" / "slide_2.ome.zarr" / ".zattrs").is_file()


def test_manifest_matches_assets_schema(make_session, tmp_path):
    assets = pytest.importorskip("emflow.manifest.assets")
    out = tmp_path / "out"
    assert main(["spatialomics", str(make_session()), "--outdir", str(out)]) == 0
    assets.validate_assets(out / "assets.json")


def test_spatialomics_file_cli_records_error_and_exits_0(tmp_path, capsys):
    fake = tmp_path / "fake.png"
    fake.write_text("text\n")
    outdir = tmp_path / "out" / "Pre_ROI_Selection" / "fake"
    assert main(["spatialomics-file", str(fake), "--group", "Pre_ROI_Selection", "--outdir", str(outdir)]) == 0
    record = json.loads((outdir / "fake.asset.json").read_text())
    assert record["status"] == "error" and record["primaryFilePath"] == "Pre_ROI_Selection/fake.png"
    assert main(["spatialomics-file", str(tmp_path / "missing.czi"), "--group", "HQ_Images",
                 "--outdir", str(outdir)]) == 2
    assert "missing.czi: file not found" in capsys.readouterr().err


def test_manifest_status_rules():
    """The portal's rule (PipelineCallback.yaml): success when ANY file succeeded."""
    cases = (["success"], ["success", "error"], ["error", "success"], ["error"], ["error", "error"], [])
    assert [manifest_status(c) for c in cases] == ["success", "success", "success", "error", "error", "error"]


@pytest.mark.shared
def test_shared_session(shared_data, tmp_path):
    session, out = tmp_path / "session", tmp_path / "out"
    (session / "HQ_Images").mkdir(parents=True)
    (session / "Pre_ROI_Selection").mkdir()
    for name in ("aicspylibczi_RGB-8bit.czi", "aicspylibczi_mosaic_test.czi"):
        (session / "HQ_Images" / name).symlink_to(shared_data / "czi" / name)
    for name in ("aicspylibczi_colony.png", "aicspylibczi_histo.png"):
        (session / "Pre_ROI_Selection" / name).symlink_to(shared_data / "png" / name)
    (session / "Heatmaps").mkdir()
    (session / "Heatmaps" / "x.png").symlink_to(shared_data / "png" / "aicspylibczi_colony.png")
    (session / "ROI_Images").mkdir()
    (session / "notes.txt").write_text("n\n")
    results = process_session(session, out)
    assert [r.status for r in results] == ["success"] * 4
    entries = {r.primary_file_path: r.to_manifest_entry() for r in results}
    rgb = entries["HQ_Images/aicspylibczi_RGB-8bit.czi"]
    levels = _check_image_outputs(out, rgb, (624, 924))
    from pylibCZIrw import czi as pyczi

    with pyczi.open_czi(str(shared_data / "czi" / "aicspylibczi_RGB-8bit.czi")) as doc:
        whole_bgr = doc.read()  # one whole-plane read, as a reference for the region reads
    assert levels[0].dtype == np.uint8
    assert np.array_equal(levels[0], np.moveaxis(whole_bgr[..., ::-1], -1, 0))
    mosaic = entries["HQ_Images/aicspylibczi_mosaic_test.czi"]
    levels = _check_image_outputs(out, mosaic, (624, 1756))
    assert [lv.shape for lv in levels] == [(1, 624, 1756), (1, 312, 878), (1, 156, 439)]
    colour = _assets(mosaic)["neuroglancerZarr"]["metadata"]["channels"][0]["color"]
    assert colour == "00FF5B"  # DisplaySetting #FF00FF5B (ARGB)
    for name in ("aicspylibczi_colony.png", "aicspylibczi_histo.png"):
        levels = _check_image_outputs(out, entries[f"Pre_ROI_Selection/{name}"], (500, 500))
        with Image.open(shared_data / "png" / name) as png:
            assert np.array_equal(levels[0][0], np.asarray(png.convert("L")))


def test_per_file_tasks_then_manifest_task(make_session, tmp_path):
    """The Nextflow shape: spatialomics-file per file, then spatialomics-manifest over OUT."""
    session, out = make_session(), tmp_path / "out"
    (session / "HQ_Images" / "never_ran.czi").write_bytes(b"x")  # no task output for this one
    for group, name in [("HQ_Images", "slide_2.czi"), ("Pre_ROI_Selection", "slide_1_Pre_ROI_a.png")]:
        path = session / group / name
        assert main(["spatialomics-file", str(path), "--group", group,
                     "--outdir", str(out / group / path.stem)]) == 0
    assert main(["spatialomics-manifest", str(out), "--session", str(session)]) == 0
    manifest = json.loads((out / "assets.json").read_text())
    assert (out / "report.html").is_file()
    assert manifest["status"] == "success" and manifest["failedFiles"] > 0
    assert [(f["primaryFilePath"], f["status"]) for f in manifest["files"]] == [
        ("HQ_Images/never_ran.czi", "error"), ("HQ_Images/slide_1.czi", "error"),
        ("HQ_Images/slide_2.czi", "success"), ("Pre_ROI_Selection/slide_1_Pre_ROI_a.png", "success"),
        ("Pre_ROI_Selection/slide_2_Pre_ROI_a.png", "error")]
    assert manifest["files"][1]["message"] == (
        "spatialomics: HQ_Images/slide_1.czi: no result record (the task did not finish)")
    assert _assets(manifest["files"][2])["neuroglancerZarr"]["path"] == "HQ_Images/slide_2/slide_2.ome.zarr"


def test_callback_posts_the_written_assets_json(make_session, tmp_path, monkeypatch):
    import http.server
    import threading

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Authorization"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("EMFLOW_TOKEN", "s3cret-token")
    out = tmp_path / "out"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert main(["spatialomics", str(make_session()), "--outdir", str(out), "--callback-url", url]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert received == [("Bearer s3cret-token", (out / "assets.json").read_bytes())]
    assert "s3cret-token" not in (out / "report.html").read_text()


def test_missing_and_empty_sessions(tmp_path, capsys):
    assert main(["spatialomics", str(tmp_path / "nope"), "--outdir", str(tmp_path / "o1")]) == 2
    assert "nope: not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "Heatmaps").mkdir(parents=True)
    assert main(["spatialomics", str(empty), "--outdir", str(tmp_path / "o2")]) == 1
    assert json.loads((tmp_path / "o2" / "assets.json").read_text()) == {"status": "error", "failedFiles": 0, "files": []}
