"""Run the reconstruction in a processing folder: batchruntomo (IMOD) or the preview backend.

Public names
------------
run_brt(stack, adoc, workdir, recon="auto", cpus=1, gpus=0, tilt_axis_deg=None) -> BrtResult
BrtResult(backend: "imod" | "preview", outputs: BrtOutputs)
stage_stack(stack, workdir) -> Path     link (symlink, else hardlink) or copy; never modifies it
stage_adoc(adoc, workdir, basename, log) -> Path   copy with setupset.datasetDirectory = workdir
BrtLog                                  lines to ``brt_run.log`` and the console
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from emflow.adoc import check_user_adoc, read_brt_settings, rewrite_dataset_dir
from emflow.atomic import atomic_path, write_text_atomic
from emflow.brt.command import brt_argv
from emflow.brt.judge import check_outputs, judge_run, snapshot
from emflow.brt.outputs import BrtOutputs
from emflow.errors import EmflowInputError, EmflowStepError
from emflow.names import series_name

logger = logging.getLogger(__name__)

RECON_CHOICES = ("auto", "imod", "preview")
NOT_FOUND = "batchruntomo not found on PATH; use a container profile or --recon preview"


@dataclass(frozen=True)
class BrtResult:
    """Which backend made the reconstruction, and where its files are."""

    backend: Literal["imod", "preview"]
    outputs: BrtOutputs
    tilt_axis: Any = None  # emflow.acquisition.Choice the preview used (None for IMOD)


class BrtLog:
    """Writes lines to ``brt_run.log`` and to the console (stderr).

    Callable with one line (``log("text")``), and also offers ``info``/``warning`` (logger
    style) and ``write`` (file style), so a backend may use whichever it prefers.
    """

    def __init__(self, path: Path, console: TextIO | None = None) -> None:
        self.path = Path(path)
        self.path.write_text("", encoding="utf-8")
        # append mode: a backend that appends to the same file itself (preview) interleaves safely
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._console = console

    def __call__(self, line: str) -> None:
        text = line.rstrip("\n")
        self._file.write(text + "\n")
        self._file.flush()
        self.console(text)

    def console(self, line: str) -> None:
        """Show ``line`` on the console only (for a backend that writes brt_run.log itself)."""
        console = self._console or sys.stderr
        console.write(line.rstrip("\n") + "\n")
        console.flush()

    def info(self, msg: str, *args: object) -> None:
        self(msg % args if args else msg)

    def warning(self, msg: str, *args: object) -> None:
        self("WARNING: " + (msg % args if args else msg))

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self(line)

    def close(self) -> None:
        self._file.close()


def stage_stack(stack: Path, workdir: Path) -> Path:
    """Make ``workdir/stack.name`` refer to ``stack`` (and its ``.rawtlt``/``.mdoc`` beside it).

    Symlink, else hardlink, else copy. Nothing is written to ``stack`` itself; an existing
    entry of that name that is not the same file is replaced.
    """
    for side in (stack.with_suffix(".rawtlt"), stack.with_suffix(".mdoc"), stack.with_name(stack.name + ".mdoc")):
        if side.is_file():
            stage_file(side, workdir)
    return stage_file(stack, workdir)


def stage_file(source: Path, workdir: Path) -> Path:
    """``workdir/source.name`` as a symlink, else hardlink, else copy of ``source``; returns it."""
    target = workdir / source.name
    if target.exists() and target.samefile(source):
        return target
    if target.is_symlink() or target.exists():
        target.unlink()
    source = source.resolve()
    for link in (os.symlink, os.link):
        try:
            link(source, target)
            return target
        except OSError:
            continue
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def stage_adoc(adoc: Path, workdir: Path, basename: str, log: BrtLog) -> Path:
    """Write ``workdir/BASENAME.adoc``: the user's text with only setupset.datasetDirectory changed."""
    folder = str(workdir.resolve())
    text = adoc.read_text(encoding="ascii")
    new_text, old = rewrite_dataset_dir(text, folder)
    target = workdir / f"{basename}.adoc"
    if old is None:
        log(f"emflow: {target.name}: added setupset.datasetDirectory={folder}")
    elif old != folder:
        log(f"emflow: {target.name}: setupset.datasetDirectory {old} -> {folder} (the only line changed)")
    write_text_atomic(target, new_text)
    return target


def _choose_backend(recon: str) -> Literal["imod", "preview"]:
    if recon not in RECON_CHOICES:
        raise EmflowInputError("--recon", f"value {recon!r} must be one of {', '.join(RECON_CHOICES)}")
    found = shutil.which("batchruntomo") is not None
    if recon == "imod" and not found:
        raise EmflowInputError("--recon imod", NOT_FOUND)
    if recon == "preview" or not found:
        if recon == "auto":
            logger.warning(
                "WARNING: batchruntomo not found on PATH: using the PREVIEW reconstruction "
                "(no fiducial alignment); use an IMOD container profile or --recon imod for a real one"
            )
        return "preview"
    return "imod"


def run_batchruntomo(argv: list[str], workdir: Path, log: BrtLog, timeout_s: float | None = None) -> int:
    """Run ``argv`` in ``workdir``, streaming its merged output line by line to ``log``; return the status.

    The process runs in its own session; on a timeout or an interrupt the whole group is killed.
    """
    log("emflow: running " + " ".join(argv) + f" in {workdir}")
    timed_out = threading.Event()
    with subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", start_new_session=True) as proc:

        def kill() -> None:
            timed_out.set()
            _kill_group(proc)

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        try:
            if timer:
                timer.start()
            for line in proc.stdout or ():
                log(line)
            returncode = proc.wait()
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            if timer:
                timer.cancel()
    if timed_out.is_set():
        raise EmflowStepError("batchruntomo", f"timed out after {timeout_s:g} s and was stopped")
    log(f"emflow: batchruntomo exited with status {returncode}")
    return returncode


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()


def _preview(stack: Path, workdir: Path, adoc: Path, cpus: int, gpus: int, tilt_axis_deg: float | None,
             log: BrtLog, before: dict[str, tuple[int, int, int]]) -> BrtOutputs:
    """The preview backend (SPEC §3.2) with bin, thickness and pixel size from the .adoc.

    ``stack`` is the original (its tilt-angle files lie beside it); preview appends its own
    lines to brt_run.log, so it gets a console-only log callable.
    """
    from emflow.mrc import read_info
    from emflow.preview import run_preview

    settings = read_brt_settings(adoc)
    pixel_size_nm = settings.pixel_size_nm
    if pixel_size_nm is None:
        voxel_angstrom = float(read_info(stack).voxel_size_angstrom[0])
        if voxel_angstrom <= 0 or abs(voxel_angstrom - 1.0) < 1e-6:
            raise EmflowInputError(adoc, f"setupset.copyarg.pixel is empty and the header voxel size "
                                         f"({voxel_angstrom:g} Å) is unset")
        pixel_size_nm = voxel_angstrom / 10.0
    log("emflow: preview reconstruction (no fiducial alignment)")
    result = run_preview(stack, workdir, settings.name, bin_factor=settings.bin_factor,
                         thickness_px=settings.thickness_px or 256, pixel_size_nm=pixel_size_nm,
                         tilt_axis_deg=tilt_axis_deg or 0.0, gpus=gpus, log=log.console, cpus=max(1, int(cpus)))
    outputs = result if isinstance(result, BrtOutputs) else BrtOutputs(settings.name, workdir)
    check_outputs(outputs, post_processing=True, before=before)
    return outputs


def run_brt(stack: str | os.PathLike[str], adoc: str | os.PathLike[str], workdir: str | os.PathLike[str],
            recon: str = "auto", cpus: int = 1, gpus: int = 0, tilt_axis_deg: float | None = None,
            *, timeout_s: float | None = None, tilt_axis_source: str = "--tilt-axis-deg") -> BrtResult:
    """Reconstruct ``stack`` in ``workdir`` with batchruntomo or the preview backend.

    Parameters
    ----------
    stack : tilt series (``BASENAME.mrc``/``.st``); linked or copied into ``workdir``, never modified
    adoc : directive file (rendered or the user's); a copy whose setupset.datasetDirectory is
        ``workdir`` (absolute) is written as ``workdir/BASENAME.adoc``
    workdir : processing folder (created)
    recon : ``imod`` (batchruntomo must be on PATH), ``preview``, or ``auto`` (IMOD when found)
    cpus : ``-cpus`` for batchruntomo, or the preview's worker processes; gpus : 0 or 1 (``-gpus 1``)
    tilt_axis_deg : preview only: tilt-axis angle from the y axis in degrees (IMOD reads the header);
        None: from the acquisition metadata (emflow.acquisition), else 0
    tilt_axis_source : where ``tilt_axis_deg`` came from (logged and returned with it)
    timeout_s : stop batchruntomo after this many seconds (None: no limit)

    Raises
    ------
    EmflowInputError  bad input or parameters, or IMOD asked for and absent (exit 2)
    EmflowStepError   the reconstruction ran and failed: quotes the ABORT line or names the file (exit 1)
    """
    stack, adoc, workdir = Path(stack), Path(adoc), Path(workdir)
    basename = series_name(stack)
    check_user_adoc(adoc, stack)
    settings = read_brt_settings(adoc)
    argv = brt_argv(f"{basename}.adoc", cpus, gpus)
    if not stack.is_file():
        raise EmflowInputError(stack, "file not found")
    backend = _choose_backend(recon)
    before = snapshot(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log = BrtLog(workdir / "brt_run.log")
    try:
        why = " (batchruntomo not found on PATH)" if recon == "auto" and backend == "preview" else ""
        log(f"emflow: --recon {recon}: using the {backend} backend{why}")
        staged_adoc = stage_adoc(adoc, workdir, basename, log)
        stage_stack(stack, workdir)
        if backend == "preview":
            from emflow.acquisition import Sourced, resolve_tilt_axis

            given = Sourced(tilt_axis_deg, tilt_axis_source) if tilt_axis_deg is not None else None
            axis = resolve_tilt_axis(stack, explicit=given)
            log(f"emflow: {axis.describe('tilt axis', '°')}")
            for conflict in axis.conflicts:
                log(f"emflow: tilt axis sources disagree: {conflict}")
            return BrtResult("preview", _preview(stack, workdir, staged_adoc, cpus, gpus, axis.value, log, before), axis)
        if tilt_axis_deg is not None:
            log("emflow: --tilt-axis-deg is ignored by IMOD (it reads the header or setupset.copyarg.rotation)")
        returncode = run_batchruntomo(argv, workdir, log, timeout_s)
    finally:
        log.close()
    outputs = BrtOutputs(basename, workdir)
    judge_run(returncode, outputs, settings.post_processing, before)
    return BrtResult("imod", outputs)
