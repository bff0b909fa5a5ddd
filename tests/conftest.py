"""Shared fixtures: a synthetic MRC factory and the optional ../shared/data folder.

Tests never need ../shared: they build tiny inputs here. Tests that use the real sample data
take the ``shared_data`` fixture, which skips visibly when the folder is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from emflow.mrc import write_volume


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``forks`` run first: the preview forks its workers only in a process with no
    other thread alive, and libraries used by other tests (zarr 3's I/O loop) leave threads
    running for the rest of the session."""
    items.sort(key=lambda item: item.get_closest_marker("forks") is None)  # stable: order kept otherwise

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (or $EMFLOW_SHARED_DATA); skips the test visibly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"sample data folder {SHARED_DATA} is absent")
    return SHARED_DATA


MakeMrc = Callable[..., Path]


@pytest.fixture
def make_mrc(tmp_path: Path) -> MakeMrc:
    """Factory: ``make_mrc(name, data, voxel_size_angstrom=(x,y,z), tilt_angles_deg=None)``.

    ``data`` is a ``(nz, ny, nx)`` (or ``(ny, nx)``) array written with emflow's MRC writer
    (int8 is flagged signed with the IMOD stamp). With ``tilt_angles_deg`` a ``BASENAME.rawtlt``
    is written beside it. Returns the path, inside ``tmp_path``.
    """

    def factory(
        name: str,
        data: np.ndarray,
        voxel_size_angstrom: Sequence[float] = (10.0, 10.0, 10.0),
        tilt_angles_deg: Sequence[float] | None = None,
        folder: Path | None = None,
        space_group: int = 1,
    ) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_volume(path, np.asarray(data), voxel_size_angstrom, space_group=space_group)
        if tilt_angles_deg is not None:
            path.with_suffix(".rawtlt").write_text("".join(f"{a:.2f}\n" for a in tilt_angles_deg))
        return path

    return factory


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
