"""``emflow validate-params PARAMS.json [--schema nextflow_schema.json]``: the Nextflow pipeline's
first task checks its parameters against the pipeline's JSON Schema (draft 2020-12, nf-core
layout with ``$defs`` groups), so no validation plugin is needed.

Rules beyond plain JSON Schema, as nf-schema applies them: parameters that are ``null`` are
unset (skipped); a string given for an integer/number/boolean parameter on the command line is
converted first; ``"format": "directory-path"|"file-path"`` with ``"exists": true`` must exist.
Unknown parameters are reported as a warning, not an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from emflow.errors import EmflowInputError


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read {what}: {exc.strerror}") from exc
    except ValueError as exc:
        raise EmflowInputError(path, f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EmflowInputError(path, f"{what} must be a JSON object")
    return data


def schema_properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every parameter's schema: top-level ``properties`` plus those of each ``$defs`` group."""
    props = dict(schema.get("properties", {}))
    for group in schema.get("$defs", {}).values():
        props.update(group.get("properties", {}))
    return props


def _coerce(value: Any, spec: dict[str, Any]) -> Any:
    """A command-line string for a typed parameter -> that type (unchanged if it does not parse)."""
    if not isinstance(value, str):
        return value
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def prepare(params: dict[str, Any], props: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Drop unset (null) parameters and convert command-line strings to the schema's types."""
    return {k: _coerce(v, props.get(k, {})) for k, v in params.items() if v is not None}


def _path_problems(params: dict[str, Any], props: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name, spec in props.items():
        value = params.get(name)
        if not isinstance(value, str) or not spec.get("exists"):
            continue
        if spec.get("format") == "path" and not Path(value).exists():
            problems.append(f"--{name}: {value!r} does not exist")
        elif spec.get("format") == "directory-path" and not Path(value).is_dir():
            problems.append(f"--{name}: {value!r} is not an existing folder")
        elif spec.get("format") == "file-path" and not Path(value).is_file():
            problems.append(f"--{name}: {value!r} is not an existing file")
    return problems


def check_params(params: dict[str, Any], schema: dict[str, Any], check_paths: bool = True) -> list[str]:
    """One message per problem (``--name: problem``), schema order; empty when valid.
    ``check_paths=False``: leave ``exists`` to the caller (the pipeline's head job checks paths
    where they are, so this check never needs the host's filesystem)."""
    from jsonschema import Draft202012Validator

    props = schema_properties(schema)
    values = prepare(params, props)
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(values), key=lambda e: list(e.absolute_path)):
        name = ".".join(str(p) for p in error.absolute_path)
        problems.append(f"--{name}: {error.message}" if name else error.message)
    if check_paths:
        problems += _path_problems(values, props)
    return problems


@click.command("validate-params")
@click.argument("params_file", metavar="PARAMS.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--schema", "schema_file", default="nextflow_schema.json", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The pipeline's parameter JSON Schema.")
@click.option("--no-path-checks", is_flag=True,
              help="Skip the \"exists\" checks of path parameters (the pipeline's head job made them).")
@click.option("--samplesheet", "sheet", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also check this samplesheet (--input), without its referenced files.")
@click.option("--series-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the checked samplesheet rows here as JSON ([] without --samplesheet).")
def validate_params(params_file: Path, schema_file: Path, no_path_checks: bool, sheet: Path | None,
                    series_json: Path | None) -> None:
    """Check the Nextflow pipeline's parameters (PARAMS.json) against its JSON Schema.

    Exit 0 and a one-line summary when valid; exit 2 and one line listing every problem.

    Example: emflow validate-params params.json --schema nextflow_schema.json
    """
    params = _load_json(params_file, "parameters")
    schema = _load_json(schema_file, "schema")
    problems = check_params(params, schema, check_paths=not no_path_checks)
    rows = []
    if sheet is not None and not problems:
        from emflow.samplesheet import read_samplesheet

        rows = [row.to_json(sheet.name) for row in read_samplesheet(sheet, check_files=False)]
    if series_json is not None:
        from emflow.atomic import write_json_atomic

        write_json_atomic(series_json, rows)
    if problems:
        raise EmflowInputError(params_file, "; ".join(problems))
    known = schema_properties(schema)
    for name in sorted(set(params) - set(known)):
        click.echo(f"emflow: unknown parameter --{name} (not in {schema_file.name}; ignored)", err=True)
    click.echo(f"{params_file}: {len(prepare(params, known))} parameters valid against {schema_file.name}")
