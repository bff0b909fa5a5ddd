"""IMOD ``clip avg -2d -iz (i-2)-(i+2) -m 1`` running average of 5 sections (SPEC §5.1).

average_sections(stack) -> int16     one output section from its 5 input sections
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emflow.frames.newstack import imod_values

F32 = np.float32
WINDOW = 5


def average_sections(stack: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Average a ``(5, ny, nx)`` window (or 5 ``(ny, nx)`` sections) the way clip does.

    Float32 running sum in z order, ``f32(sum * f32(1/5))``, clamped to [-32768, 32767] and
    truncated toward zero to int16. Mode-0 input is taken as 0..255 like IMOD.
    """
    if len(stack) != WINDOW:
        raise ValueError(f"clip avg needs {WINDOW} sections, got {len(stack)}")
    total = np.add(imod_values(stack[0]), imod_values(stack[1]), dtype=F32)
    for z in range(2, WINDOW):
        total += imod_values(stack[z])
    total *= F32(1.0 / WINDOW)
    np.clip(total, F32(-32768), F32(32767), out=total)
    return np.trunc(total).astype(np.int16)
