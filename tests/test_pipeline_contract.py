"""Contract between the Nextflow layer and the emflow CLI (issue 4 item 9, issue 10).

Reads every process from `nflint processes .` (../shared/tools/nflint; skipped visibly when it is
absent) and checks: a tag, a label defined in conf/base.config, a container, a stub that creates
every declared output, a versions output on the `versions` topic, and that every
`emflow SUBCOMMAND --flag` in a module script (including flags the script builds from params)
exists in the Click command tree. Also: every process is reachable from main.nf.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest

from emflow.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
NFLINT = REPO.parent / "shared" / "tools" / "nflint"
SHELL_STOP = {">", "2>", ">>", "|", "&&", "||", ";", "2>&1"}


@pytest.fixture(scope="module")
def processes() -> list[dict]:
    if not NFLINT.is_file():
        pytest.skip(f"{NFLINT} is absent: the pipeline contract cannot be extracted")
    python = shutil.which("python3") or "python3"
    out = subprocess.run([python, str(NFLINT), "processes", str(REPO)], capture_output=True, text=True,
                         timeout=120, check=True)
    procs = json.loads(out.stdout)
    assert procs, "nflint found no process"
    return procs


def click_command(name: str) -> click.Command:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"emflow {name}: no such command"
    return command


def command_flags(name: str) -> set[str]:
    return {opt for param in click_command(name).params for opt in param.opts + param.secondary_opts
            if opt.startswith("--")}


def emflow_calls(script: str) -> list[tuple[str, list[str]]]:
    """``(subcommand, [--flags])`` of each `emflow ...` call in a script (record unwrapped)."""
    text = re.sub(r"\\+\n\s*", " ", script)
    calls = []
    for line in text.splitlines():
        tokens = line.split()
        for i, token in enumerate(tokens):
            if token != "emflow" or i + 1 >= len(tokens) or tokens[i + 1].startswith("-"):
                continue
            rest = tokens[i + 1:]
            if rest[0] == "record":
                record_flags = [t for t in rest[1:rest.index("--")] if t.startswith("--")]
                calls.append(("record", record_flags))
                rest = rest[rest.index("--") + 1:]
            words = []
            for t in rest[1:]:
                if t in SHELL_STOP:
                    break
                words.append(t)
            calls.append((rest[0], [w for w in words if w.startswith("--")]))
    return calls


def output_patterns(text: str) -> list[str]:
    return re.findall(r"""path\s*\(?\s*["']([^"']+)["']""", text)


def test_cli_call_parser_unwraps_record():
    script = "emflow record --series B --step brt --status-dir . -- \\\\\n    brt B.mrc --adoc a/B.adoc --cpus 2 > x\n"
    assert emflow_calls(script) == [("record", ["--series", "--step", "--status-dir"]),
                                    ("brt", ["--adoc", "--cpus"])]


def test_every_process_has_tag_label_container(processes):
    labels = set(re.findall(r"withLabel:\s*(\w+)", (REPO / "conf" / "base.config").read_text()))
    for proc in processes:
        assert proc["tag"], f"{proc['name']}: no tag"
        assert proc["labels"], f"{proc['name']}: no label"
        assert set(proc["labels"]) <= labels, f"{proc['name']}: label not in conf/base.config"
        assert proc["container"], f"{proc['name']}: no container"


def test_every_process_emits_versions(processes):
    for proc in processes:
        topics = [o.get("topic") for o in proc["outputs"]]
        yml = any("versions.yml" in o["text"] for o in proc["outputs"])
        assert "versions" in topics or yml, f"{proc['name']}: no versions output"


def test_stub_creates_every_declared_output(processes):
    for proc in processes:
        assert proc["has_stub"], f"{proc['name']}: no stub"
        stub = proc["stub"]
        for output in proc["outputs"]:
            for pattern in output_patterns(output["text"]):
                pieces = [p.strip("/") for p in re.split(r"\$\{[^}]*\}|\*", pattern) if p.strip("/")]
                literal = pieces[-1] if pieces else ""
                assert pattern in stub or (literal and literal in stub), \
                    f"{proc['name']}: stub does not create {pattern!r}"


def test_module_cli_calls_exist(processes):
    seen = set()
    for proc in processes:
        calls = emflow_calls(proc["script"])
        assert calls, f"{proc['name']}: calls no emflow command"
        for sub, flags in calls:
            assert sub in COMMANDS, f"{proc['name']}: emflow {sub} does not exist"
            unknown = set(flags) - command_flags(sub)
            assert not unknown, f"{proc['name']}: emflow {sub} has no {sorted(unknown)}"
            seen.add(sub)
    assert {"record", "adoc", "brt", "section-stats", "render-frames", "encode-movie", "rec-volumes",
            "pyramid", "manifest", "validate-params", "spatialomics-file"} <= seen


def test_every_flag_in_a_module_script_exists(processes):
    """Flags built in Groovy (e.g. the adoc options from params) too, not only the shell lines."""
    for proc in processes:
        subs = {sub for sub, _ in emflow_calls(proc["script"])}
        known = set().union(*(command_flags(sub) for sub in subs))
        used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", proc["script"]))
        assert used <= known, f"{proc['name']}: {sorted(used - known)} not options of emflow {sorted(subs)}"


def test_option_builders_use_existing_flags():
    """The workflows turn params into emflow options (task inputs): every flag must exist."""
    text = (REPO / "workflows" / "brt.nf").read_text() + (REPO / "main.nf").read_text()
    builders = {"adocOptions": ["adoc"], "reconOptions": ["brt"], "pyramidOptions": ["pyramid"],
                "callbackOption": ["manifest", "spatialomics-manifest"]}
    for name, commands in builders.items():
        body = re.search(rf"def {name}\(p\) \{{(.*?)\n\}}", text, re.S)
        assert body, f"no function {name}"
        used = set(re.findall(r"(--[a-z][a-z0-9-]*)", body.group(1)))
        assert used, name
        for command in commands:
            assert used <= command_flags(command), f"{name}: {sorted(used - command_flags(command))} not in emflow {command}"
    movie = set(re.findall(r'"(--fps) \$\{params\.\w+\} (--size) ', text)[0])
    assert movie <= command_flags("encode-movie")


def test_every_process_reachable_from_main(processes):
    main = (REPO / "main.nf").read_text()
    included_workflows = re.findall(r"from\s+'\./(workflows/\w+)'", main)
    texts = [main] + [(REPO / f"{w}.nf").read_text() for w in included_workflows]
    included = set()
    for text in texts:
        included |= set(re.findall(r"include\s*\{\s*(\w+)", text))
    for proc in processes:
        assert proc["name"] in included, f"{proc['name']} ({proc['file']}) is not used by main.nf"


def test_gpu_module_contract(processes):
    brt = next(p for p in processes if p["name"] == "BATCHRUNTOMO")
    assert "process_gpu" in brt["labels"]
    directives = {d["name"]: d["value"] for d in brt["directives"]}
    assert "params.gpus > 0" in directives["accelerator"]
    assert "--cpus ${task.cpus}" in brt["script"]
    assert "params.container_imod" in brt["container"] and "params.container_emflow" in brt["container"]


def test_meta_yml_documents_each_module(processes):
    yaml = pytest.importorskip("yaml", reason="PyYAML (pulled in by ome-zarr/dask) is needed to read meta.yml")

    for proc in processes:
        meta_yml = REPO / Path(proc["file"]).with_name("meta.yml")
        assert meta_yml.is_file(), f"{proc['name']}: no meta.yml"
        meta = yaml.safe_load(meta_yml.read_text())
        assert meta["name"] == proc["name"].lower()
        emits = {o["emit"] for o in proc["outputs"] if o.get("emit")}
        assert set(meta["output"]) == emits, f"{meta_yml}: outputs differ from main.nf"
        assert len(meta["input"]) == len(proc["inputs"]), f"{meta_yml}: inputs differ from main.nf"


def test_bin_commands_are_thin_wrappers_of_the_package_cli() -> None:
    """bin/ (on PATH in every Nextflow task) holds no logic: each file only calls emflow's CLI."""
    scripts = sorted((REPO / "bin").iterdir())
    assert scripts, "bin/ is empty"
    for script in scripts:
        code = [line for line in script.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", '"""'))]
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        # the __main__ guard: --workers > 1 spawns processes that re-import this file as __main__
        guarded = ["from emflow.cli import run_main", 'if __name__ == "__main__":', "    run_main()"]
        assert code == guarded, f"{script.name} holds more (or less) than the guarded CLI call"


def test_bin_emflow_runs_spawned_workers(make_mrc, tmp_path) -> None:
    """Tasks run bin/emflow with --workers N: its spawned workers must not start the CLI again."""
    volume = make_mrc("v.mrc", np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8))
    stats = tmp_path / "v.stats.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bin" / "emflow"), "section-stats", str(volume), "--output", str(stats),
         "--kind", "tilt", "--slab-size", "1", "--workers", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(stats.read_text())["shape"] == [3, 8, 8]
