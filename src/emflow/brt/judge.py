"""Judge a batchruntomo run (SPEC §3.1): exit status, ABORT lines, valid output MRCs.

Public names
------------
find_abort_line(lines) -> str | None          first ``ABORT SET:``/``ABORT AXIS:``/``ABORT AXIS AND SET:`` line
abort_in_logs(folder, before) -> tuple[Path, str] | None   the same over the folder's ``*.log`` files
check_outputs(outputs, post_processing, before)   each required MRC exists, is new, opens with sane dims
judge_run(returncode, outputs, post_processing, before)   raise EmflowStepError with one clear line
snapshot(folder) -> dict                     (inode, mtime_ns, size) of every file, taken before a run

``before`` (a snapshot) lets a re-run in the same folder ignore logs and outputs an earlier run
left there unchanged: an old ABORT line does not fail a new run, an old ``_rec.mrc`` does not
pass one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from emflow.brt.outputs import BrtOutputs
from emflow.errors import EmflowInputError, EmflowStepError

ABORT_PREFIXES = ("ABORT SET:", "ABORT AXIS:", "ABORT AXIS AND SET:")


def find_abort_line(lines: Iterable[str]) -> str | None:
    """The first line that starts (after leading blanks) with one of ABORT_PREFIXES, stripped."""
    for line in lines:
        text = line.strip()
        if text.startswith(ABORT_PREFIXES):
            return text
    return None


Snapshot = Mapping[str, tuple[int, int, int]]


def _signature(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """``name -> (inode, mtime_ns, size)`` of the regular files in ``folder`` (empty if absent)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.name: _signature(p) for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


def _unchanged(path: Path, before: Snapshot | None) -> bool:
    return before is not None and before.get(path.name) == _signature(path)


def abort_in_logs(folder: Path, before: Snapshot | None = None) -> tuple[Path, str] | None:
    """(log file, line) of the first ABORT line in the folder's ``*.log`` files (brt_run.log first),
    skipping logs unchanged since ``before``."""
    logs = sorted(Path(folder).glob("*.log"), key=lambda p: (p.name != "brt_run.log", p.name))
    for path in logs:
        if not path.is_file() or _unchanged(path, before):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            line = find_abort_line(fh)
        if line is not None:
            return path, line
    return None


def check_outputs(outputs: BrtOutputs, post_processing: bool = True, before: Snapshot | None = None) -> None:
    """Each required MRC exists, was written by this run (not unchanged since ``before``), opens
    as a valid MRC and has nx, ny, nz >= 1.

    Raises
    ------
    EmflowStepError naming the missing or broken file.
    """
    from emflow.mrc import read_info

    for path in outputs.required(post_processing):
        if not path.is_file():
            raise EmflowStepError(path, "required output is missing (batchruntomo did not write it)")
        if _unchanged(path, before):
            raise EmflowStepError(path, "required output was not written by this run (left from an earlier one)")
        try:
            info = read_info(path)
        except EmflowInputError as exc:
            raise EmflowStepError(path, f"required output is not a valid MRC: {exc.problem}") from exc
        if min(info.nx, info.ny, info.nz) < 1:
            raise EmflowStepError(path, f"required output has empty dimensions {info.nx} x {info.ny} x {info.nz}")


def judge_run(returncode: int, outputs: BrtOutputs, post_processing: bool = True,
              before: Snapshot | None = None) -> None:
    """Raise EmflowStepError unless the run succeeded by all of SPEC §3.1's tests.

    The message quotes the first ABORT line when there is one (console output first, then
    BRT's own logs), else names the exit status, else the missing or broken output.
    """
    found = abort_in_logs(outputs.folder, before)
    if found is not None:
        path, line = found
        raise EmflowStepError("batchruntomo", f"{line} (in {path.name})")
    if returncode != 0:
        raise EmflowStepError(
            "batchruntomo", f"exited with status {returncode}; see {outputs.run_log}"
        )
    check_outputs(outputs, post_processing, before)
