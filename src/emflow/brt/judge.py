"""Judge a batchruntomo run (SPEC §3.1): exit status, ABORT lines, valid output MRCs.

Public names
------------
find_abort_line(lines) -> str | None          first ``ABORT SET:``/``ABORT AXIS:``/``ABORT AXIS AND SET:`` line
abort_in_logs(folder) -> tuple[Path, str] | None   the same over the folder's ``*.log`` files
check_outputs(outputs, post_processing)      each required MRC exists and opens with sane dims
judge_run(returncode, outputs, post_processing)   raise EmflowStepError with one clear line, else None
"""

from __future__ import annotations

from collections.abc import Iterable
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


def abort_in_logs(folder: Path) -> tuple[Path, str] | None:
    """(log file, line) of the first ABORT line in the folder's ``*.log`` files (brt_run.log first)."""
    logs = sorted(Path(folder).glob("*.log"), key=lambda p: (p.name != "brt_run.log", p.name))
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as fh:
            line = find_abort_line(fh)
        if line is not None:
            return path, line
    return None


def check_outputs(outputs: BrtOutputs, post_processing: bool = True) -> None:
    """Each required MRC exists, opens as a valid MRC and has nx, ny, nz >= 1.

    Raises
    ------
    EmflowStepError naming the missing or broken file.
    """
    from emflow.mrc import read_info

    for path in outputs.required(post_processing):
        if not path.is_file():
            raise EmflowStepError(path, "required output is missing (batchruntomo did not write it)")
        try:
            info = read_info(path)
        except EmflowInputError as exc:
            raise EmflowStepError(path, f"required output is not a valid MRC: {exc.problem}") from exc
        if min(info.nx, info.ny, info.nz) < 1:
            raise EmflowStepError(path, f"required output has empty dimensions {info.nx} x {info.ny} x {info.nz}")


def judge_run(returncode: int, outputs: BrtOutputs, post_processing: bool = True) -> None:
    """Raise EmflowStepError unless the run succeeded by all of SPEC §3.1's tests.

    The message quotes the first ABORT line when there is one (console output first, then
    BRT's own logs), else names the exit status, else the missing or broken output.
    """
    found = abort_in_logs(outputs.folder)
    if found is not None:
        path, line = found
        raise EmflowStepError("batchruntomo", f"{line} (in {path.name})")
    if returncode != 0:
        raise EmflowStepError(
            "batchruntomo", f"exited with status {returncode}; see {outputs.run_log}"
        )
    check_outputs(outputs, post_processing)
