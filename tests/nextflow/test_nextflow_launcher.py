"""scripts/nextflow: the pinned Nextflow runtime (one place: scripts/nextflow-runtime/pom.xml),
clear errors when java or mvn are missing (no Maven run, no network)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "scripts" / "nextflow"
POM = REPO / "scripts" / "nextflow-runtime" / "pom.xml"
TOOLS = ("bash", "env", "dirname", "sed", "head", "awk", "sha256sum", "cut", "mkdir", "cat", "rm", "mv",
         "ls", "wc", "grep", "flock")


def pinned_version() -> str:
    return re.search(r"<nextflow.version>([^<]+)</nextflow.version>", POM.read_text()).group(1)


def test_version_pinned_once_and_strict_parser_era():
    assert pinned_version() == "25.04.4"  # newest io.nextflow:nextflow whose runtime Maven Central serves
    assert LAUNCHER.read_text().count("25.04") == 0  # the launcher reads the pom, no second pin


def _path_with(tmp_path: Path, tools: tuple[str, ...]) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(tmp_path), "NXF_HOME": str(tmp_path / "nxf")}
    return subprocess.run([str(LAUNCHER), "-version"], capture_output=True, text=True, timeout=60, env=env)


def test_missing_java_is_a_clear_error(tmp_path):
    result = _run(tmp_path, _path_with(tmp_path, TOOLS))
    assert result.returncode == 3
    assert "java not found" in result.stderr and "openjdk-17-jre-headless" in result.stderr


def test_missing_mvn_is_a_clear_error(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("java is not installed")
    result = _run(tmp_path, _path_with(tmp_path, TOOLS + ("java",)))
    assert result.returncode == 3, result.stderr
    assert "mvn not found" in result.stderr and pinned_version() in result.stderr
    assert not (tmp_path / "nxf" / "emflow-runtime" / pinned_version() / "lib").exists()


def test_old_java_refused(tmp_path):
    fake = tmp_path / "fakejava"
    fake.mkdir()
    (fake / "java").write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    (fake / "java").chmod(0o755)
    result = _run(tmp_path, f"{fake}{os.pathsep}{_path_with(tmp_path, TOOLS)}")
    assert result.returncode == 3
    assert "Java 17 or newer is needed, found '11'" in result.stderr
