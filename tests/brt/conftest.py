"""Fixtures for the batchruntomo step: the test double on PATH, or no batchruntomo at all."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from emflow.adoc import AdocParams, write_adoc

FAKE_BRT = Path(__file__).resolve().parents[1] / "fakes" / "batchruntomo"


@pytest.fixture
def fake_brt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put the batchruntomo TEST DOUBLE first on PATH (run with this interpreter); returns a setter
    for its behaviour (``EMFLOW_FAKE_BRT``)."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    wrapper = bindir / "batchruntomo"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BRT}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("EMFLOW_FAKE_BRT", "success")

    def behave(mode: str) -> None:
        monkeypatch.setenv("EMFLOW_FAKE_BRT", mode)

    return behave


@pytest.fixture
def no_brt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH on which no batchruntomo can be found."""
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def series(make_mrc, tmp_path: Path) -> tuple[Path, Path]:
    """A tiny tilt series ``in/ts.mrc`` (5 tilts, 16 x 24 px, 20 Å) and its ``adocs/ts.adoc`` (bin 4,
    thickness 32, pixel 2 nm), rendered in a folder other than the processing folder."""
    data = np.arange(5 * 16 * 24, dtype=np.int16).reshape(5, 16, 24)
    stack = make_mrc("ts.mrc", data, voxel_size_angstrom=(20.0, 20.0, 20.0), tilt_angles_deg=[-60, -30, 0, 30, 60],
                     folder=tmp_path / "in")
    adoc = write_adoc(stack, tmp_path / "adocs", AdocParams(pixel_size_nm=2.0, bin_factor=4, thickness_px=32))
    return stack, adoc
