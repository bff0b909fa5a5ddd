"""emflow's assets.json and callback body against the portal's own published contract
(PipelineCallback.yaml and friends, transcribed in portal_pipeline_callback.schema.json)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from manifest_helpers import TOKEN, portal

from emflow.cli import main
from emflow.manifest.portal import every_file_succeeded, manifest_of, neuroglancer_metadata

PORTAL_SCHEMA = json.loads(Path(__file__).with_name("portal_pipeline_callback.schema.json").read_text())


def portal_errors(body: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(PORTAL_SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def _manifest_and_callback(inp: Path, out: Path, monkeypatch) -> tuple[int, dict, dict]:
    """Run `emflow manifest` with a callback; (exit code, assets.json, the POSTed body)."""
    monkeypatch.setenv("EMFLOW_TOKEN", TOKEN)
    with portal([]) as (url, seen):
        code = main(["manifest", str(out), "--input-dir", str(inp), "--callback-url", url, "--strict"])
    assert len(seen) == 1
    return code, json.loads((out / "assets.json").read_text()), json.loads(seen[0]["body"])


def test_mixed_run_is_a_success_for_the_portal(published, monkeypatch) -> None:
    inp, out = published  # a succeeded, b failed at brt, 'bad name.mrc' refused
    code, assets, body = _manifest_and_callback(inp, out, monkeypatch)
    assert body == assets
    assert portal_errors(body) == []
    assert (body["status"], body["failedFiles"]) == ("success", 2)
    assert [f["status"] for f in body["files"]] == ["success", "error", "error"]
    assert code == 1  # --strict: not every file succeeded (the exit codes keep SPEC §10)


def test_all_good_and_all_bad_runs(published, monkeypatch, tmp_path: Path) -> None:
    inp, out = published
    good_in = tmp_path / "good"
    good_in.mkdir()
    shutil.copy(inp / "a.mrc", good_in / "a.mrc")
    code, _, body = _manifest_and_callback(good_in, out, monkeypatch)
    assert (code, body["status"], body["failedFiles"], portal_errors(body)) == (0, "success", 0, [])

    bad_in = tmp_path / "bad"
    bad_in.mkdir()
    for name in ("b.mrc", "bad name.mrc"):
        shutil.copy(inp / name, bad_in / name)
    code, _, body = _manifest_and_callback(bad_in, out, monkeypatch)
    assert (code, body["status"], body["failedFiles"], portal_errors(body)) == (1, "error", 2, [])

    empty_in = tmp_path / "empty"
    empty_in.mkdir()
    code, _, body = _manifest_and_callback(empty_in, out, monkeypatch)
    assert (code, body, portal_errors(body)) == (1, {"status": "error", "failedFiles": 0, "files": []}, [])


def test_the_transcribed_schema_refuses_what_the_portal_refuses(published) -> None:
    inp, out = published
    assert main(["manifest", str(out), "--input-dir", str(inp)]) == 0
    good = json.loads((out / "assets.json").read_text())
    partial = dict(good, status="partial")
    assert any("'partial' is not one of" in e for e in portal_errors(partial))
    legacy_only = copy.deepcopy(good)
    ng = legacy_only["files"][0]["imageSet"][0]["assets"][-1]
    assert ng["type"] == "neuroglancerPrecomputed"
    for key in ("shader", "dimensions", "shaderParameters"):
        del ng["metadata"][key]
    assert any("'dimensions' is a required property" in e for e in portal_errors(legacy_only))


def test_precomputed_metadata_holds_both_forms() -> None:
    # metadata.yml's own example numbers: Floor/Limit -> window, Min/Max -> range
    minmax = {"neuroglancerPrecomputedMin": "-53", "neuroglancerPrecomputedMax": "58",
              "neuroglancerPrecomputedFloor": "-571", "neuroglancerPrecomputedLimit": "370"}
    metadata = neuroglancer_metadata(minmax)
    assert {k: metadata[k] for k in minmax} == minmax  # legacy strings untouched
    assert (metadata["shader"], metadata["dimensions"]) == ("Grayscale", "XYZ")
    assert metadata["shaderParameters"] == {"window": [-571, 370], "range": [-53, 58]}
    assert all(type(v) is int for pair in metadata["shaderParameters"].values() for v in pair)


def test_published_series_metadata_numbers(published) -> None:
    inp, out = published
    minmax = {"neuroglancerPrecomputedMin": "31000", "neuroglancerPrecomputedMax": "33999",
              "neuroglancerPrecomputedFloor": "12", "neuroglancerPrecomputedLimit": "60001"}
    (out / "a" / "a_min_max.json").write_text(json.dumps(minmax))
    assert main(["manifest", str(out), "--input-dir", str(inp)]) == 0
    assets = json.loads((out / "assets.json").read_text())
    ng = assets["files"][0]["imageSet"][0]["assets"][-1]["metadata"]
    assert ng["shaderParameters"] == {"window": [12, 60001], "range": [31000, 33999]}


@pytest.mark.parametrize(("statuses", "status", "failed", "all_ok"), [
    (["success", "success"], "success", 0, True),
    (["error", "success"], "success", 1, False),
    (["error", "error"], "error", 2, False),
    ([], "error", 0, False),
])
def test_top_level_status_rule(statuses, status, failed, all_ok) -> None:
    manifest = manifest_of([{"status": s} for s in statuses])
    assert (manifest["status"], manifest["failedFiles"], every_file_succeeded(manifest)) == (status, failed, all_ok)
