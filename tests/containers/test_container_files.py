"""Container build inputs that can be checked without a container engine (the engine runs are in
scripts/ci/containers.sh): the lock file, the output comparison CI relies on, the IMOD installer
stand-in and build.sh's argument checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "ci"))
from compare_outputs import differences  # noqa: E402


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_dependency_exactly_once():
    lines = [line for line in (REPO / "containers/emflow/requirements.lock").read_text().splitlines()
             if line and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line) for line in lines), lines
    names = [canonical(n) for n in pins]
    assert len(names) == len(set(names))
    assert "emflow" not in names
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {canonical(re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0]) for d in deps} | {"pip", "setuptools", "wheel"}
    assert wanted <= set(names), wanted - set(names)


def write_run(root: Path, seconds: float, chunk: bytes) -> Path:
    (root / "S/neuro-S/64").mkdir(parents=True)
    (root / "S/neuro-S/64/0-64_0-64_0-64").write_bytes(chunk)
    (root / "S/.emflow").mkdir()
    (root / "S/.emflow/S.brt.status.json").write_text(json.dumps({"seconds": seconds}))
    (root / "S/brt").mkdir()
    (root / "S/brt/brt_run.log").write_text(f"ran in {root}\n")
    assets = {"files": [{"path": str(root / "S/x.mrc"), "stepSeconds": seconds, "status": "success"}]}
    (root / "assets.json").write_text(json.dumps(assets))
    return root


def test_compare_outputs_ignores_timings_and_paths_not_data(tmp_path):
    a = write_run(tmp_path / "a", 1.5, b"\x00\x01")
    assert differences(a, write_run(tmp_path / "b", 9.0, b"\x00\x01")) == (2, [])
    compared, problems = differences(a, write_run(tmp_path / "c", 1.5, b"\x00\x02"))
    assert problems == ["differs: S/neuro-S/64/0-64_0-64_0-64"]
    d = write_run(tmp_path / "d", 1.5, b"\x00\x01")
    (d / "assets.json").write_text((d / "assets.json").read_text().replace("success", "error"))
    (d / "S/extra.jpg").write_bytes(b"jpg")
    assert differences(a, d)[1] == [f"only in {d}: S/extra.jpg", "differs: assets.json"]


def test_imod_installer_standin_installs_the_test_double_like_imod(tmp_path):
    make = REPO / "tests/fakes/make-imod-installer-standin.sh"
    subprocess.run([make, tmp_path / "one.sh"], check=True)
    subprocess.run([make, tmp_path / "two.sh"], check=True)
    assert (tmp_path / "one.sh").read_bytes() == (tmp_path / "two.sh").read_bytes()  # a stable SHA-256
    ran = subprocess.run(["sh", tmp_path / "one.sh", "-yes", "-skip", "-debian", "-dir", tmp_path / "opt"],
                         capture_output=True, text=True, check=True)
    assert "NOT IMOD" in ran.stdout
    home = tmp_path / "opt/imod_0.0-standin"
    assert (tmp_path / "opt/IMOD").resolve() == home
    assert (home / "bin/batchruntomo").read_bytes() == (REPO / "tests/fakes/batchruntomo").read_bytes()
    assert f"IMOD_DIR:-{tmp_path}/opt/IMOD" in (home / "IMOD-linux.sh").read_text()
    bad = subprocess.run(["sh", tmp_path / "one.sh", "-bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option -bogus" in bad.stderr


@pytest.mark.parametrize("args, message", [
    (["--base", "x", "--debian-base"], "--base and --debian-base exclude each other"),
    (["--engine", "lxc"], "--engine must be podman or docker"),
    (["--from", "img", "--imod-installer", "/nonexistent.sh"], "needs --imod-sha256"),
    (["--colour"], "unknown option --colour"),
])
def test_build_sh_refuses_bad_arguments(args, message):
    ran = subprocess.run([REPO / "containers/build.sh", *args], capture_output=True, text=True)
    assert ran.returncode == 2 and message in ran.stderr, ran.stderr
