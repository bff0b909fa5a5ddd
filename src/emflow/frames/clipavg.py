"""IMOD ``clip avg -2d -iz (i-2)-(i+2) -m 1`` running average of 5 sections (SPEC §5.1).

average_sections(stack) -> int16     one output section from its 5 input sections
RunningAverage().push(section)        the same, fed one input section at a time (streaming)
"""

from __future__ import annotations

from collections import deque
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


class RunningAverage:
    """`average_sections` of every 5 consecutive sections, fed one section at a time in z order.

    Integer sections (every IMOD integer mode) keep an int32 running sum: add the section that
    enters the window, subtract the one that leaves. Every partial sum of 5 such values is an
    integer below 2**24, exact in float32, so this gives clip's float32 sums bit for bit in two
    array operations instead of four. Float sections are summed in z order, as clip does.
    """

    def __init__(self) -> None:
        self.window: deque[np.ndarray] = deque()
        self.total: np.ndarray | None = None  # int32 sum of the window's raw integer values

    def push(self, section: np.ndarray) -> np.ndarray | None:
        """Add the next section; returns the average of the last 5 once 5 have been added."""
        self.window.append(section)
        if len(self.window) > WINDOW:
            left = self.window.popleft()
            if self.total is not None:
                np.subtract(self.total, left, out=self.total)
        if section.dtype.kind == "f":
            return average_sections(self.window) if len(self.window) == WINDOW else None
        if self.total is None:
            self.total = np.zeros(section.shape, dtype=np.int32)
        np.add(self.total, section, out=self.total)
        if len(self.window) < WINDOW:
            return None
        mean = self.total.astype(F32)
        if section.dtype == np.int8:  # IMOD reads signed bytes shifted to 0..255
            mean += F32(WINDOW * 128)
        mean *= F32(1.0 / WINDOW)
        np.clip(mean, F32(-32768), F32(32767), out=mean)
        return mean.astype(np.int16)  # float -> int casts truncate toward zero, as clip does
