"""The local runner: every series of an input folder through the step chain, in parallel.

Series run in up to ``workers`` processes (steps of one series in order); a failing series never
stops the others. Each step leaves a status record in ``OUT/<series>/.emflow/``; with
``--resume`` a step whose ``done`` record still matches its inputs and outputs is skipped, and a
step that needs an intermediate removed after an earlier run re-runs its producer first.
Then ``assets.json`` and ``report.html`` are built from OUT (the same code as `emflow manifest`).

Public functions
----------------
run_series(ctx, emit)                       one series; returns "success" or "error"
run_folder(input_dir, out, options, ...)    everything; returns the exit code (0 or 1)
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue
import shutil
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from emflow.atomic import write_text_atomic
from emflow.errors import EmflowError
from emflow.series import Series, discover_series, printable
from emflow.runner.progress import Event, Progress
from emflow.records import is_done, read_records, record_path, write_record
from emflow.runner.steps import (
    PRODUCER,
    STEPS,
    RunOptions,
    SeriesContext,
    intermediates,
    options_key,
    remove_intermediates,
    series_options,
)

Emit = Callable[[Any], None]


def _reset_series(ctx: SeriesContext) -> None:
    """Without --resume: forget this series' old status records."""
    for step in STEPS:
        record_path(ctx.status_dir, ctx.name, step.name).unlink(missing_ok=True)


def _running_marker(ctx: SeriesContext) -> Path:
    return ctx.status_dir / f"{ctx.name}.running"


def _relative_paths(message: str, ctx: SeriesContext) -> str:
    """Show paths in a message relative to the input folder / OUT (the portal sees it)."""
    for folder in (ctx.series.stack.parent, ctx.out):
        message = message.replace(f"{folder}/", "")
    return message


def _run_step(ctx: SeriesContext, index: int, emit: Emit) -> bool:
    """Run ``STEPS[index]``, write its record, emit events; True when it succeeded."""
    step = STEPS[index]
    write_text_atomic(_running_marker(ctx), step.name)  # read back if this process dies (_future_result)
    emit(Event(ctx.name, step.name, "started"))
    start = time.monotonic()
    try:
        result = step.run(ctx)
    except EmflowError as exc:
        message = exc.one_line()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # an unexpected bug in a step: record it, keep the other series going
        message = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"
        emit(("log", f"[{ctx.name}] {step.name}: traceback\n{traceback.format_exc()}"))
    else:
        seconds = time.monotonic() - start
        write_record(ctx.status_dir, ctx.name, step.name, "done", seconds=seconds, inputs=result.inputs,
                     outputs=result.outputs, extra={**result.extra, "options": options_key(ctx.options)})
        emit(Event(ctx.name, step.name, "done", seconds))
        return True
    seconds = time.monotonic() - start
    message = _relative_paths(message, ctx)
    write_record(ctx.status_dir, ctx.name, step.name, "error", message=message, seconds=seconds)
    emit(Event(ctx.name, step.name, "error", seconds, message))
    return False


def run_series(ctx: SeriesContext, emit: Emit) -> str:
    """Run the chain for one series; ``"success"`` or ``"error"`` (the record says why)."""
    ctx.status_dir.mkdir(parents=True, exist_ok=True)
    if not ctx.options.resume:
        _reset_series(ctx)
    records = read_records(ctx.status_dir) if ctx.options.resume else {}
    removable = [str(p) for p in intermediates(ctx)]
    forced: set[str] = set()
    names = [s.name for s in STEPS]
    key = options_key(ctx.options)
    i = 0
    while i < len(STEPS):
        step = STEPS[i]
        record = records.get((ctx.name, step.name))
        if ctx.options.resume and step.name not in forced and is_done(record, removable) \
                and record.get("options") == key:
            emit(Event(ctx.name, step.name, "skipped"))
            i += 1
            continue
        gone = [p for p in step.needs(ctx) if not p.exists() and str(p) in removable]
        if gone and PRODUCER not in forced:
            forced.update(names[names.index(PRODUCER):])
            i = names.index(PRODUCER)
            continue
        # a re-run step's new outputs no longer match the inputs recorded by the steps that read
        # them, so those are redone too; the others stay skipped
        try:
            if not _run_step(ctx, i, emit):
                return "error"
        finally:
            _running_marker(ctx).unlink(missing_ok=True)
        i += 1
    remove_intermediates(ctx)
    emit(Event(ctx.name, "", "finished", message="all steps done"))
    return "success"


# --- process pool plumbing: workers send events and log lines through a queue ----------------
_QUEUE: Any = None


class _QueueLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _QUEUE.put(("log", self.format(record)))
        except Exception:  # never let logging break a step
            pass


def _worker_init(events: Any) -> None:
    global _QUEUE
    _QUEUE = events
    root = logging.getLogger()
    root.handlers = [_QueueLogHandler()]
    root.setLevel(logging.INFO)


def _worker_run(ctx: SeriesContext) -> str:
    return run_series(ctx, _QUEUE.put)


def _handle(progress: Progress, item: Any) -> None:
    if isinstance(item, Event):
        progress.handle(item)
    elif isinstance(item, tuple) and item and item[0] == "log":
        progress.log(str(item[1]))


class _ProgressLogHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.log(self.format(record))


def _run_in_process(contexts: list[SeriesContext], progress: Progress) -> dict[str, str]:
    handler = _ProgressLogHandler(progress)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    try:
        return {ctx.name: run_series(ctx, lambda item: _handle(progress, item)) for ctx in contexts}
    finally:
        root.handlers = saved


def _run_in_pool(contexts: list[SeriesContext], progress: Progress, workers: int) -> dict[str, str]:
    mp = multiprocessing.get_context("spawn" if os.name != "posix" else "fork")
    events = mp.Queue()
    results: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp, initializer=_worker_init, initargs=(events,)) as pool:
        pending: dict[Future[str], SeriesContext] = {pool.submit(_worker_run, ctx): ctx for ctx in contexts}
        try:
            while pending:
                _drain(events, progress, timeout=0.2)
                done, _ = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
                for future in done:
                    ctx = pending.pop(future)
                    _drain(events, progress, timeout=0)
                    results[ctx.name] = _future_result(future, ctx, progress)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            _drain(events, progress, timeout=0)
    return results


def _future_result(future: Future[str], ctx: SeriesContext, progress: Progress) -> str:
    """The series' result; when its worker process died, an error record for the running step."""
    try:
        return future.result()
    except (Exception, SystemExit) as exc:
        marker = _running_marker(ctx)
        step = marker.read_text().strip() if marker.exists() else progress.running.get(ctx.name, "")
        marker.unlink(missing_ok=True)
        message = f"the worker process died ({type(exc).__name__}: {' '.join(str(exc).split())})"
        if step:  # else no step was running: the manifest judges the series by its records and files
            write_record(ctx.status_dir, ctx.name, step, "error", message=message)
            progress.handle(Event(ctx.name, step, "error", message=message))
        else:
            progress.log(f"[{ctx.name}] {message}", show=True)
        return "error"


def _drain(events: Any, progress: Progress, timeout: float) -> None:
    try:
        item = events.get(timeout=timeout) if timeout else events.get_nowait()
        while True:
            _handle(progress, item)
            item = events.get_nowait()
    except queue.Empty:
        return


def remove_temp_files(out: Path) -> None:
    """Remove ``.emflow-tmp-*`` leftovers of an interrupted run below OUT."""
    from emflow.atomic import TMP_PREFIX

    for path in sorted(out.rglob(f"{TMP_PREFIX}*"), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _contexts(series: list[Series], out: Path, options: RunOptions, progress: Progress) -> list[SeriesContext]:
    contexts = []
    for s in series:
        if s.ok:
            contexts.append(SeriesContext(s, out, series_options(options, s)))
        else:
            progress.handle(Event(s.basename, "discover", "error", message=s.error))
    return contexts


def spread_cpus(options: RunOptions, n_series: int) -> RunOptions:
    """``options`` with the CPUs of unused series slots given to the series that run: fewer
    series than ``workers`` share all ``workers * cpus_per_series`` CPUs (one series, --workers
    2 on 2 cores: the preview's FBP gets both)."""
    running = max(1, min(options.workers, n_series))
    if running >= options.workers:
        return options
    return dataclasses.replace(options, cpus_per_series=options.cpus_per_series * options.workers // running)


def run_folder(
    input_dir: str | os.PathLike[str],  # a folder of tilt series or a samplesheet
    out: str | os.PathLike[str],
    options: RunOptions,
    *,
    callback_url: str | None = None,
    token: str | None = None,
    stream: Any = None,
    tty: bool | None = None,
) -> int:
    """Run every series of ``input_dir`` into ``out``; write assets.json, report.html, run_log.txt.

    Returns 0 when every series succeeded, 1 otherwise (assets.json says which and why).
    Raises EmflowInputError for a bad input folder, EmflowStepError when the callback fails.
    """
    from emflow import __version__
    from emflow.manifest import write_manifest
    from emflow.manifest.portal import every_file_succeeded

    input_dir, out = Path(input_dir).absolute(), Path(out).absolute()
    series, ignored = discover_series(input_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out)
    progress = Progress(out / "run_log.txt", [s.basename for s in series], stream, tty)
    try:
        progress.log(f"emflow {__version__} run: {input_dir} -> {out}, {len(series)} series, "
                     f"recon={options.recon}, workers={options.workers}, resume={options.resume}")
        for path in ignored:
            progress.log(f"ignored (not a tilt series): {printable(path.name)}")
        if not series:
            progress.log(f"no tilt series (*.mrc, *.st) found in {input_dir}", show=True)
        contexts = _contexts(series, out, spread_cpus(options, sum(s.ok for s in series)), progress)
        if options.workers > 1 and len(contexts) > 1:
            _run_in_pool(contexts, progress, min(options.workers, len(contexts)))
        else:
            _run_in_process(contexts, progress)
        assets = write_manifest(out, input_dir, callback_url=callback_url, token=token, log=progress.log)
        failed = [f for f in assets["files"] if f["status"] != "success"]
        progress.log(f"finished: {len(assets['files']) - len(failed)} of {len(assets['files'])} series "
                     f"succeeded; status {assets['status']}; see {out / 'report.html'}", show=True)
    finally:
        progress.close()
    return 0 if every_file_succeeded(assets) else 1
