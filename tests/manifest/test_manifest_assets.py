from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from manifest_helpers import MINMAX, publish_series

from emflow.errors import EmflowInputError
from emflow.manifest import build_assets, validate_assets, write_manifest
from emflow.records import write_record


def test_manifest_of_a_partial_run(published: tuple[Path, Path]) -> None:
    inp, out = published
    assets = validate_assets(build_assets(out, inp))
    assert (assets["status"], assets["failedFiles"]) == ("success", 2)  # the portal's any-file rule
    a, b, bad = assets["files"]
    assert (a["primaryFilePath"], a["status"], a["message"], a["title"]) == ("a.mrc", "success", "", "a")
    image = a["imageSet"][0]
    assert [(x["type"], x["path"]) for x in image["assets"]] == [
        ("thumbnail", "a/keyimg_a_s.jpg"), ("keyImage", "a/keyimg_a.jpg"), ("tiltMovie", "a/tiltMov_a.mp4"),
        ("recMovie", "a/keyMov_a.mp4"), ("averagedVolume", "a/ave_a.mrc"), ("volume", "a/avebin8_a.mrc"),
        ("neuroglancerPrecomputed", "a/neuro-a")]
    # both of the portal's forms (metadata.yml): the legacy strings, and integers with
    # window == [Floor, Limit], range == [Min, Max]
    assert image["assets"][-1]["metadata"] == {**MINMAX, "shader": "Grayscale", "dimensions": "XYZ",
                                               "shaderParameters": {"window": [0, 65535], "range": [30000, 34000]}}
    assert image["imageMetadata"]["stepSeconds"] == {"check": 0.5, "adoc": 1.5, "brt": 2.5, "tilt_movie": 3.5,
                                                     "rec_movie": 4.5, "pyramid": 5.5}
    assert image["imageMetadata"]["reconstruction"] == "preview"
    assert (b["status"], b["message"], b["imageSet"][0]["assets"]) == ("error", "brt: b.mrc: ABORT SET: tiltalign", [])
    assert bad["status"] == "error" and bad["message"].startswith("discover: bad name.mrc: series name 'bad name'")


def test_missing_output_makes_the_series_incomplete(published: tuple[Path, Path]) -> None:
    inp, out = published
    (out / "a" / "keyMov_a.mp4").unlink()
    a = build_assets(out, inp)["files"][0]
    assert a["status"] == "error" and a["message"].startswith("incomplete: missing keyMov_a.mp4")


def test_status_success_and_error_and_extra_status_dir(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "a.st").write_bytes(b"")
    publish_series(out, "a", backend=None)
    assert build_assets(out, inp)["status"] == "success"
    assert build_assets(out, inp)["files"][0]["imageSet"][0]["imageMetadata"]["reconstruction"] is None  # no rec file
    write_record(tmp_path / "status", "a", "pyramid", "error", message="x.mrc: section 3 contains NaN values")
    assert build_assets(out, inp, [tmp_path / "status"])["files"][0]["message"] == "pyramid: x.mrc: section 3 contains NaN values"
    assert build_assets(tmp_path / "out", tmp_path / "out")["status"] == "error"  # no series at all


def test_write_manifest_files(published: tuple[Path, Path]) -> None:
    inp, out = published
    lines: list[str] = []
    assets = write_manifest(out, inp, log=lines.append)
    assert json.loads((out / "assets.json").read_text()) == assets
    assert "report.html" in lines[0]
    html = (out / "report.html").read_text()
    assert 'src="a/keyimg_a_s.jpg"' in html and 'src="a/tiltMov_a.mp4"' in html
    assert "brt: b.mrc: ABORT SET: tiltalign" in html and "preview reconstruction (no fiducial alignment)" in html
    assert "bad name.mrc" in html and "30000" in html


@pytest.mark.parametrize("path, value, where", [
    (("status",), "done", "status"),
    (("files", 0, "imageSet", 0, "assets", 0, "type"), "picture", "files/0/imageSet/0/assets/0/type"),
    (("files", 0, "imageSet", 0, "assets", 0, "path"), "/abs/keyimg.jpg", "files/0/imageSet/0/assets/0/path"),
    (("files", 0, "imageSet", 0, "assets", 0, "path"), "../up.jpg", "files/0/imageSet/0/assets/0/path"),
    (("files", 1, "message"), "", "files/1/message"),
    (("files", 0, "message"), "two\nlines", "files/0/message"),
    (("files", 0, "imageSet", 0, "assets", 6, "metadata", "neuroglancerPrecomputedMin"), 3, "files/0/imageSet/0/assets/6"),
])
def test_schema_refuses(published: tuple[Path, Path], path: tuple, value: object, where: str) -> None:
    inp, out = published
    assets = copy.deepcopy(build_assets(out, inp))
    target = assets
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(EmflowInputError, match=f"at {where}"):
        validate_assets(assets)


def test_schema_refuses_assets_on_a_failed_series(published: tuple[Path, Path]) -> None:
    inp, out = published
    assets = build_assets(out, inp)
    assets["files"][1]["imageSet"][0]["assets"] = [{"type": "thumbnail", "path": "b/x.jpg"}]
    with pytest.raises(EmflowInputError, match="files/1"):
        validate_assets(assets)


def test_ome_zarr_volume_replaces_or_joins_the_pyramid(published: tuple[Path, Path]) -> None:
    import shutil

    inp, out = published
    (out / "a" / "a.ome.zarr").mkdir()
    kinds = [x["type"] for x in build_assets(out, inp)["files"][0]["imageSet"][0]["assets"]]
    assert kinds[-2:] == ["neuroglancerPrecomputed", "neuroglancerZarr"]
    shutil.rmtree(out / "a" / "neuro-a")
    a = validate_assets(build_assets(out, inp))["files"][0]
    assert a["status"] == "success"
    assert a["imageSet"][0]["assets"][-1] == {"type": "neuroglancerZarr", "path": "a/a.ome.zarr", "metadata": MINMAX}
    shutil.rmtree(out / "a" / "a.ome.zarr")
    assert build_assets(out, inp)["files"][0]["message"].startswith("incomplete: missing neuro-a")
