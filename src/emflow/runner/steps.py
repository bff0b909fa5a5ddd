"""The per-series step chain of the local runner: check → adoc → brt → tilt movie → rec movie → pyramid.

Each step is a plain function ``(ctx) -> StepResult`` that calls one library function (imported
lazily, so a missing optional dependency only fails the step that needs it) and says which files
it read and wrote, for the status record. Paths follow SPEC §9.

Public names
------------
RunOptions, SeriesContext, StepResult, Step
STEPS            the chain, in order
intermediates(ctx)   files removed after the chain unless --save-intermediates
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError, EmflowStepError
from emflow.series import Series

MIN_TILTS = 3


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Everything `emflow run` passes to the series chain.

    ``adoc`` holds `emflow.adoc.AdocParams` field values (``bin_factor``, ``thickness_px`` ...).
    """

    recon: str = "auto"
    adoc: dict[str, Any] = dataclasses.field(default_factory=dict)
    workers: int = 1
    cpus_per_series: int = 1
    gpus: int = 0
    tilt_axis_deg: float | None = None
    resume: bool = False
    ng_source: str = "full_rec"
    ng_format: str = "precomputed"
    save_intermediates: bool = False
    tilt_fps: int = 4
    rec_fps: int = 8
    movie_size: int = 1024
    # fields given explicitly on the command line ("tilt_axis_deg", "thickness_px", ...): they win
    # over a samplesheet row; the others are run-wide defaults that a row replaces
    explicit: frozenset[str] = frozenset()
    # where each row-set field came from ("samplesheet row 3"), filled by series_options
    row_fields: tuple[str, ...] = ()
    row_source: str = ""


# Options that do not change any output (how the work is spread), left out of `options_key`.
SCHEDULING_FIELDS = ("workers", "cpus_per_series", "resume", "explicit", "row_source")
# Row fields that are RunOptions fields (the others are AdocParams fields in `adoc`).
RUN_FIELDS = ("tilt_axis_deg", "recon")


def series_options(options: RunOptions, series: Series) -> RunOptions:
    """``options`` for one series: its samplesheet row's values replace the run-wide ones,
    except where the run-wide value was given explicitly (explicit > row > metadata > default)."""
    used = {k: v for k, v in series.params.items() if k not in options.explicit}
    if not used:
        return options
    adoc = {**options.adoc, **{k: v for k, v in used.items() if k not in RUN_FIELDS}}
    run = {k: v for k, v in used.items() if k in RUN_FIELDS}
    return dataclasses.replace(options, adoc=adoc, row_fields=tuple(sorted(used)), row_source=series.source, **run)


def value_source(options: RunOptions, field: str) -> str:
    """Where a series' value of ``field`` came from (`emflow.parameters.value_source`)."""
    from emflow.parameters import value_source as source

    value = getattr(options, field) if field in RUN_FIELDS else options.adoc.get(field)
    return source(field, value, options.row_fields, options.row_source)


def options_key(options: RunOptions) -> str:
    """A short hash of the options that shape the outputs; --resume redoes steps when it changes."""
    import hashlib
    import json

    fields = {k: v for k, v in dataclasses.asdict(options).items() if k not in SCHEDULING_FIELDS}
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class SeriesContext:
    """One series' paths in OUT (SPEC §9)."""

    series: Series
    out: Path
    options: RunOptions

    @property
    def name(self) -> str:
        return self.series.basename

    @property
    def series_dir(self) -> Path:
        return self.out / self.name

    @property
    def brt_dir(self) -> Path:
        return self.series_dir / "brt"

    @property
    def status_dir(self) -> Path:
        return self.series_dir / ".emflow"

    @property
    def adoc_source(self) -> Path:
        """The directive file brt runs: the user's, else the one rendered in ``.emflow/adoc/``
        (brt stages its own copy as ``brt/B.adoc``, so the rendered one stays untouched)."""
        if self.series.user_adoc is not None:
            return self.series.user_adoc
        return self.status_dir / "adoc" / f"{self.name}.adoc"

    def brt_file(self, suffix: str) -> Path:
        return self.brt_dir / f"{self.name}{suffix}"


@dataclasses.dataclass
class StepResult:
    inputs: list[Path]
    outputs: list[Path]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[SeriesContext], StepResult]
    needs: Callable[[SeriesContext], list[Path]]


def intermediates(ctx: SeriesContext) -> list[Path]:
    """``_ali.mrc`` and ``_full_rec.mrc``: removed after the chain unless --save-intermediates."""
    if ctx.options.save_intermediates:
        return []
    return [ctx.brt_file("_ali.mrc"), ctx.brt_file("_full_rec.mrc")]


def check_input(ctx: SeriesContext) -> StepResult:
    """Header, 3D and tilt angles of the stack, and the user's .adoc, before any heavy work; the
    series' tilt axis and pixel size with their sources (explicit > row > metadata > default)."""
    from emflow.mrc import read_info, require_3d
    from emflow.tilt_angles import find_tilt_angles

    info = read_info(ctx.series.stack)
    require_3d(info, MIN_TILTS, "a tilt series")
    angles = find_tilt_angles(info)
    if angles is None:
        raise EmflowInputError(ctx.series.stack, "no tilt angles found (.rawtlt, .tlt, extended header or .mdoc)")
    if len(angles) != info.nz:
        raise EmflowInputError(ctx.series.stack, f"{len(angles)} tilt angles ({angles.source}) for {info.nz} sections")
    inputs = [ctx.series.stack] + ([angles.path] if angles.path else [])
    if ctx.series.user_adoc is not None:
        from emflow.adoc import check_user_adoc

        check_user_adoc(ctx.series.user_adoc, ctx.series.stack)
        inputs.append(ctx.series.user_adoc)
    return StepResult(inputs=inputs, outputs=[], extra={"tilt_angle_source": angles.source})


def adoc_parameters(ctx: SeriesContext) -> dict[str, Any]:
    """The rendered .adoc's per-series values with their sources (as `emflow adoc` records them)."""
    from emflow.parameters import FIELD_DEFAULTS, adoc_parameters

    values = {field: ctx.options.adoc.get(field, FIELD_DEFAULTS[field])
              for field in ("pixel_size_nm", "thickness_px", "bin_factor")}
    return adoc_parameters(ctx.series.stack, values, lambda field: value_source(ctx.options, field))


def render_adoc(ctx: SeriesContext) -> StepResult:
    """Render ``.emflow/adoc/B.adoc`` from the options; nothing to do for a user's own file."""
    if ctx.series.user_adoc is not None:
        return StepResult([ctx.series.user_adoc], [], {"adoc": "user"})
    from emflow.adoc import AdocParams, write_adoc

    known = {f.name for f in dataclasses.fields(AdocParams)}
    params = {k: v for k, v in ctx.options.adoc.items() if k in known and v is not None}
    params.setdefault("dataset_dir", str(ctx.brt_dir))
    written = Path(write_adoc(ctx.series.stack, ctx.adoc_source.parent, AdocParams(**params)))
    return StepResult([ctx.series.stack], [written], {"adoc": "rendered", "parameters": adoc_parameters(ctx)})


def run_reconstruction(ctx: SeriesContext) -> StepResult:
    """batchruntomo (or the preview backend) in ``brt/``."""
    from emflow.brt import run_brt

    from emflow.parameters import given as explicit

    opts = ctx.options
    given = explicit(opts.tilt_axis_deg, value_source(opts, "tilt_axis_deg"))  # else run_brt reads the metadata
    result = run_brt(
        ctx.series.stack, ctx.adoc_source, ctx.brt_dir, recon=opts.recon, cpus=opts.cpus_per_series, gpus=opts.gpus,
        tilt_axis_deg=given.value if given else None, tilt_axis_source=given.source if given else "",
    )
    suffixes = (".adoc", "_ali.mrc", "_rec.mrc", "_full_rec.mrc", ".tlt", ".xf")
    outputs = [ctx.brt_file(s) for s in suffixes if ctx.brt_file(s).exists()]
    for required in ("_ali.mrc", "_rec.mrc"):
        if not ctx.brt_file(required).exists():
            raise EmflowStepError(ctx.brt_file(required), "reconstruction finished without writing this file")
    params = {"tilt_axis_deg": result.tilt_axis.to_json()} if result.tilt_axis is not None else {}
    params["recon"] = {"value": opts.recon, "source": value_source(opts, "recon")}
    return StepResult([ctx.series.stack, ctx.adoc_source], outputs, {"backend": str(result.backend), "parameters": params})


def _paths(result: dict[str, Any]) -> list[Path]:
    return [Path(p) for p in result.values()]


def tilt_movie(ctx: SeriesContext) -> StepResult:
    from emflow.frames import make_tilt_movie

    ali = ctx.brt_file("_ali.mrc")
    made = make_tilt_movie(ali, ctx.series_dir, fps=ctx.options.tilt_fps, size=ctx.options.movie_size,
                           workers=ctx.options.cpus_per_series)
    return StepResult([ali], _paths(made))


def rec_movie(ctx: SeriesContext) -> StepResult:
    from emflow.frames import make_rec_movie

    rec = ctx.brt_file("_rec.mrc")
    made = make_rec_movie(rec, ctx.series_dir, fps=ctx.options.rec_fps, size=ctx.options.movie_size,
                          workers=ctx.options.cpus_per_series)
    return StepResult([rec], _paths(made))


def pyramid_source(ctx: SeriesContext) -> Path:
    return ctx.brt_file("_full_rec.mrc" if ctx.options.ng_source == "full_rec" else "_rec.mrc")


def pyramid(ctx: SeriesContext) -> StepResult:
    """``neuro-B/`` (and/or ``B.ome.zarr`` + ``B_shader.json`` with --ng-format zarr|both),
    ``B_min_max.json`` and the viewer state ``B_neuroglancer.json`` (as NG_PYRAMID writes them)."""
    from emflow.pyramid import make_pyramid
    from emflow.pyramid.shader import write_shader_json
    from emflow.view.state import write_state

    source, fmt = pyramid_source(ctx), ctx.options.ng_format
    neuro = ctx.series_dir / f"neuro-{ctx.name}"
    zarr = ctx.series_dir / f"{ctx.name}.ome.zarr"
    minmax = ctx.series_dir / f"{ctx.name}_min_max.json"
    result = make_pyramid(source, neuro, minmax_json=minmax, overwrite=True, workers=ctx.options.cpus_per_series,
                          ng_format=fmt, zarr_out=zarr if fmt != "precomputed" else None)
    shader = [write_shader_json(zarr, result.stats, source)[0]] if result.zarr_out is not None else []
    state = write_state(ctx.series_dir, ctx.name)
    outputs = ([neuro] if fmt != "zarr" else []) + ([zarr] if fmt != "precomputed" else []) + [minmax] + shader + [state]
    return StepResult([source], outputs)


def _none(ctx: SeriesContext) -> list[Path]:
    return []


STEPS: tuple[Step, ...] = (
    Step("check", check_input, _none),
    Step("adoc", render_adoc, _none),
    Step("brt", run_reconstruction, lambda ctx: [ctx.adoc_source]),
    Step("tilt_movie", tilt_movie, lambda ctx: [ctx.brt_file("_ali.mrc")]),
    Step("rec_movie", rec_movie, lambda ctx: [ctx.brt_file("_rec.mrc")]),
    Step("pyramid", pyramid, lambda ctx: [pyramid_source(ctx)]),
)

# The step that writes each intermediate (re-run when a later step needs a removed one).
PRODUCER = "brt"


def remove_intermediates(ctx: SeriesContext) -> list[Path]:
    """Delete the intermediates of a finished series and make ``brt/`` self-contained: the link
    to the input stack goes, other links to inputs (``.rawtlt``) become copies. Returns the
    paths removed."""
    removed = []
    for path in intermediates(ctx):
        if path.exists():
            os.unlink(path)
            removed.append(path)
    for path in sorted(ctx.brt_dir.iterdir()) if ctx.brt_dir.is_dir() else []:
        if not path.is_symlink():
            continue
        target = path.resolve()
        path.unlink()
        if path.name == ctx.series.stack.name or not target.is_file():
            removed.append(path)
        else:
            shutil.copyfile(target, path)
    return removed
