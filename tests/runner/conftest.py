"""Fixtures for the runner tests: small valid tilt series and the fake step chain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runner_fakes import FakeChain

ANGLES = [-6.0, -3.0, 0.0, 3.0, 6.0]


@pytest.fixture
def tilt_folder(tmp_path: Path, make_mrc, rng) -> Path:
    """``input/`` with two valid 5-tilt series (``alpha.mrc``, ``beta.st``) and a notes file."""
    folder = tmp_path / "input"
    for name in ("alpha.mrc", "beta.st"):
        data = rng.integers(-100, 100, size=(5, 8, 8)).astype(np.int16)
        make_mrc(name, data, voxel_size_angstrom=(20.0, 20.0, 20.0), tilt_angles_deg=ANGLES, folder=folder)
    (folder / "notes.txt").write_text("not a tilt series\n")
    return folder


@pytest.fixture
def fake_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a FakeChain as the runner's STEPS; returns a function to set failures."""
    chain = FakeChain(tmp_path / "calls.txt")
    monkeypatch.setattr("emflow.runner.local.STEPS", chain.steps())
    return chain
