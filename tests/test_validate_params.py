"""`emflow validate-params`: the pipeline's first task checks params against nextflow_schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emflow.cli import main
from emflow.cli.validate_params import check_params, schema_properties

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "nextflow_schema.json"


@pytest.fixture
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def _write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    return path


def test_schema_is_draft_2020_12_with_defs_groups(schema):
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert [ref["$ref"].split("/")[-1] for ref in schema["allOf"]] == list(schema["$defs"])
    props = schema_properties(schema)
    # every parameter of nextflow.config is documented, with the same default
    config = (REPO / "nextflow.config").read_text().split("params {")[1].split("\n}")[0]
    names = {line.split("=")[0].strip() for line in config.splitlines() if "=" in line and not line.strip().startswith("//")}
    assert names <= set(props)
    assert props["bin"]["default"] == 4 and props["slab_size"]["default"] == 64


def test_valid_params_with_cli_strings_and_nulls(tmp_path, schema, capsys):
    params = {"input": str(tmp_path), "outdir": "out", "bin": "2", "save_intermediates": "false",
              "pixel_size_nm": None, "recon": "preview", "trace_report_suffix": "x"}
    assert check_params(params, schema) == []
    assert main([
        "validate-params", str(_write(tmp_path, params)), "--schema", str(SCHEMA)]) == 0
    assert "parameters valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"bin": 99}, "--bin: 99 is greater than the maximum of 16"),
        ({"recon": "fast"}, "--recon: 'fast' is not one of ['auto', 'imod', 'preview']"),
        ({"thickness": 0}, "--thickness: 0 is less than the minimum of 1"),
        ({"adoc_set": "a=1;rm -rf x"}, "--adoc_set: 'a=1;rm -rf x' does not match"),
        ({"input": "/no/such/folder"}, "--input: '/no/such/folder' does not exist"),
    ],
)
def test_bad_params_one_line_exit_2(tmp_path, capsys, change, expected):
    params = {"input": str(tmp_path), "outdir": "out", **change}
    code = main(["validate-params", str(_write(tmp_path, params)), "--schema", str(SCHEMA)])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1


def test_missing_outdir_and_unknown_param_warning(tmp_path, capsys):
    code = main(["validate-params", str(_write(tmp_path, {"input": str(tmp_path)})), "--schema", str(SCHEMA)])
    assert code == 2 and "'outdir' is a required property" in capsys.readouterr().err
    params = {"input": str(tmp_path), "outdir": "o", "binn": 2}
    assert main(["validate-params", str(_write(tmp_path, params)), "--schema", str(SCHEMA)]) == 0
    assert "unknown parameter --binn" in capsys.readouterr().err


def test_not_json(tmp_path, capsys):
    bad = tmp_path / "p.json"
    bad.write_text("{nope")
    assert main(["validate-params", str(bad), "--schema", str(SCHEMA)]) == 2
    assert "parameters is not valid JSON" in capsys.readouterr().err


def test_site_caps_accept_nextflow_units_and_refuse_others(schema):
    """--max_cpus/--max_memory/--max_time (process.resourceLimits) take Nextflow's units."""
    required = {"input": str(REPO), "outdir": "results"}
    good = {"max_cpus": "2", "max_memory": "6.GB", "max_time": "1.h", "site_config": "site.config"}
    assert check_params(required | good, schema) == []
    bad = check_params(required | {"max_cpus": "0", "max_memory": "6 gigs", "max_time": "soon"}, schema)
    assert [problem.split(":")[0] for problem in bad] == ["--max_cpus", "--max_memory", "--max_time"]
    props = schema_properties(schema)
    assert (props["max_cpus"]["default"], props["max_memory"]["default"], props["max_time"]["default"]) \
        == (16, "128.GB", "240.h")
