"""Data shipped inside the package: the `emflow demo` sample (see demo/NOTICE)."""

from __future__ import annotations

from pathlib import Path

DEMO_BASENAME = "etspy_HAADF_bin2"


def demo_dir() -> Path:
    """Folder holding the demo tilt series (``etspy_HAADF_bin2.mrc`` + ``.rawtlt`` + NOTICE)."""
    return Path(__file__).resolve().parent / "demo"
