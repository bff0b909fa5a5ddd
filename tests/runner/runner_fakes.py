"""Fake heavy steps for orchestration tests: same names, inputs and outputs as the real chain
(SPEC §9 file names), tiny placeholder contents, and a shared call log that works across
worker processes. The real ``check`` step is kept (it is cheap and reads the real inputs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emflow.atomic import write_text_atomic
from emflow.errors import EmflowStepError
from emflow.runner import steps as real
from emflow.runner.steps import SeriesContext, Step, StepResult


class FakeChain:
    """Build a STEPS tuple whose heavy steps write placeholder files.

    ``fail``: {(series, step): exception to raise, or a function to call}; ``calls``: file with one "series step" line
    per call.
    """

    def __init__(self, calls: Path, fail: dict[tuple[str, str], Any] | None = None) -> None:
        self.calls = calls
        self.fail = fail or {}

    def _called(self, ctx: SeriesContext, step: str) -> None:
        with open(self.calls, "a", encoding="utf-8") as fh:
            fh.write(f"{ctx.name} {step}\n")
        exc = self.fail.get((ctx.name, step))
        if isinstance(exc, BaseException):
            raise exc
        if exc is not None:
            exc()  # e.g. os._exit: a crashing process

    def adoc(self, ctx: SeriesContext) -> StepResult:
        if ctx.series.user_adoc is not None:
            return real.render_adoc(ctx)
        self._called(ctx, "adoc")
        target = write_text_atomic(ctx.adoc_source, f"setupset.copyarg.name={ctx.name}\n")
        return StepResult([ctx.series.stack], [target])

    def brt(self, ctx: SeriesContext) -> StepResult:
        self._called(ctx, "brt")
        suffixes = (".adoc", "_ali.mrc", "_rec.mrc", "_full_rec.mrc", ".tlt", ".xf")
        outs = [write_text_atomic(ctx.brt_file(s), f"{ctx.name}{s}") for s in suffixes]
        return StepResult([ctx.series.stack, ctx.adoc_source], outs, {"backend": "preview"})

    def tilt_movie(self, ctx: SeriesContext) -> StepResult:
        ali = ctx.brt_file("_ali.mrc")
        assert ali.exists(), "tilt movie needs _ali.mrc"
        self._called(ctx, "tilt_movie")
        names = (f"tiltMov_{ctx.name}.mp4", f"keyimg_{ctx.name}.jpg", f"keyimg_{ctx.name}_s.jpg")
        return StepResult([ali], [write_text_atomic(ctx.series_dir / n, n) for n in names])

    def rec_movie(self, ctx: SeriesContext) -> StepResult:
        self._called(ctx, "rec_movie")
        names = (f"keyMov_{ctx.name}.mp4", f"ave_{ctx.name}.mrc", f"avebin8_{ctx.name}.mrc")
        return StepResult([ctx.brt_file("_rec.mrc")], [write_text_atomic(ctx.series_dir / n, n) for n in names])

    def pyramid(self, ctx: SeriesContext) -> StepResult:
        source = real.pyramid_source(ctx)
        assert source.exists(), "pyramid needs its source"
        self._called(ctx, "pyramid")
        neuro = ctx.series_dir / f"neuro-{ctx.name}"
        neuro.mkdir(parents=True, exist_ok=True)
        (neuro / "info").write_text("{}")
        minmax = {"neuroglancerPrecomputedMin": "1", "neuroglancerPrecomputedMax": "9",
                  "neuroglancerPrecomputedFloor": "0", "neuroglancerPrecomputedLimit": "10"}
        path = write_text_atomic(ctx.series_dir / f"{ctx.name}_min_max.json", json.dumps(minmax))
        return StepResult([source], [neuro, path])

    def steps(self) -> tuple[Step, ...]:
        fakes = {"adoc": self.adoc, "brt": self.brt, "tilt_movie": self.tilt_movie,
                 "rec_movie": self.rec_movie, "pyramid": self.pyramid}
        return tuple(Step(s.name, fakes.get(s.name, s.run), s.needs) for s in real.STEPS)

    def call_list(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


def step_error(message: str) -> EmflowStepError:
    return EmflowStepError("B_rec.mrc", message)


def tree(folder: Path) -> dict[str, int]:
    """Relative path -> size of every file below ``folder``."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def checksums(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


__all__ = ["FakeChain", "checksums", "step_error", "tree"]
