"""Fixtures of the pyramid tests: the reference venv (session-scoped, built on first use)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_env import ReferenceUnavailable, reference_python  # noqa: E402


@pytest.fixture(scope="session")
def ref_python() -> Path:
    """Python of the cached reference venv (tomojs-pytools 1.3.6 + neuroglancer-scripts 1.1.0).

    Built inside the test session on first use (needs PyPI and ../shared/vendor); skips
    visibly when the vendored wheel is absent, or when pip fails outside CI (under CI=true a
    failed install fails the tests).
    """
    try:
        return reference_python()
    except ReferenceUnavailable as exc:
        if os.environ.get("CI") == "true" and "pip install" in str(exc):
            pytest.fail(f"reference tools could not be installed: {exc}")
        pytest.skip(f"reference tools unavailable: {exc}")
