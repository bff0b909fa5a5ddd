"""IMOD text files written by the preview backend: ``BASENAME.xf`` and ``BASENAME.tlt``.

``.xf``: one line per tilt, ``a11 a12 a21 a22 dx dy`` in IMOD's ``%12.7f`` x 4 + ``%12.3f`` x 2
format. The transform maps a raw-stack point (relative to the image centre, unbinned pixels) to
the aligned stack: ``x' = a11 x + a12 y + dx``, ``y' = a21 x + a22 y + dy``. The preview rotates
by ``-tilt_axis_deg`` and then moves the content by ``-d``: ``A = R(-tilt_axis_deg)``,
``(dx, dy) = -d`` (``d`` measured in the rotated frame).

``.tlt``: one angle per line, ``%7.2f`` as IMOD writes tilt files.

Public functions
----------------
xf_lines(tilt_axis_deg, shifts_xy_px) -> list[str]
write_xf(path, tilt_axis_deg, shifts_xy_px) ; write_tlt(path, angles_deg)
read_xf(path) -> (n, 6) array
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from emflow.atomic import atomic_path


def xf_lines(tilt_axis_deg: float, shifts_xy_px: np.ndarray) -> list[str]:
    """Text lines of a ``.xf`` for rotation ``-tilt_axis_deg`` and content shifts ``-d`` (px)."""
    a = math.radians(-tilt_axis_deg)
    ca, sa = math.cos(a), math.sin(a)
    lines = []
    for dx, dy in np.asarray(shifts_xy_px, dtype=float).reshape(-1, 2):
        values = (ca, -sa, sa, ca)
        text = "".join(f"{round(v, 7) + 0.0:12.7f}" for v in values) + f"{round(-dx, 3) + 0.0:12.3f}{round(-dy, 3) + 0.0:12.3f}"
        lines.append(text)
    return lines


def _write_text(path: Path, lines: list[str]) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return path


def write_xf(path: str | Path, tilt_axis_deg: float, shifts_xy_px: np.ndarray) -> Path:
    """Write ``path`` (atomically); see `xf_lines`."""
    return _write_text(Path(path), xf_lines(tilt_axis_deg, shifts_xy_px))


def write_tlt(path: str | Path, angles_deg: np.ndarray) -> Path:
    """Write one ``%7.2f`` angle per line (atomically)."""
    return _write_text(Path(path), [f"{round(float(a), 2) + 0.0:7.2f}" for a in angles_deg])


def read_xf(path: str | Path) -> np.ndarray:
    """``(n, 6)`` array of ``a11 a12 a21 a22 dx dy`` from an IMOD ``.xf`` file."""
    rows = [[float(v) for v in line.split()] for line in Path(path).read_text().splitlines() if line.strip()]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)
