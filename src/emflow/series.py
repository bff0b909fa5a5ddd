"""Series discovery in a BRT input folder or samplesheet (SPEC §1); used by the runner, the
manifest and the CLI, so it lies below all three.

Every ``*.mrc`` / ``*.st`` (any case) directly in the folder is one tilt series; BASENAME is the
name before the last dot; ``BASENAME.adoc`` beside it is the user's own directive file. A stack
whose name breaks the BASENAME rules is still listed, with its error, so that it fails on its
own and the others continue. Other files are listed as ignored.

Public names
------------
Series              stack, basename, user_adoc, error, tilt_angles, params, source
discover_series(input) -> (list[Series], list[Path] ignored)   a folder, or a samplesheet (CSV/TSV)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError
from emflow.names import basename_of, check_basename, is_stack_file

# Files beside a stack that belong to it (directive file, tilt angles): not listed as ignored.
COMPANIONS = (".adoc", ".rawtlt", ".tlt", ".mdoc")


@dataclasses.dataclass(frozen=True)
class Series:
    """One tilt series found in the input folder.

    ``error`` is the one-line reason this series cannot run (bad name), else ``""``.
    ``basename`` is the name before the last dot; for a refused name it is shown safely
    (bytes that are not UTF-8 as ``\\xff`` escapes), as is ``file_name``.
    """

    stack: Path
    basename: str
    user_adoc: Path | None = None
    error: str = ""
    # from a samplesheet row: its tilt-angle file, its parameters (AdocParams/RunOptions field ->
    # value, set cells only) and where they came from ("sheet.csv row 3")
    tilt_angles: Path | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def file_name(self) -> str:
        """The stack's file name as text that can always be written (JSON, HTML, logs)."""
        return printable(self.stack.name)


def printable(name: str) -> str:
    """``name`` with undecodable bytes (surrogate escapes) shown as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _series_for(stack: Path) -> Series:
    raw = basename_of(stack)
    try:
        check_basename(printable(raw), printable(stack.name))  # undecodable bytes never pass
    except EmflowInputError as exc:
        return Series(stack=stack, basename=printable(raw), error=exc.one_line())
    adoc = stack.with_name(f"{raw}.adoc")
    return Series(stack=stack, basename=raw, user_adoc=adoc if adoc.is_file() else None)


def sheet_series(sheet: str | os.PathLike[str]) -> list[Series]:
    """The series of a samplesheet, in row order (every row checked: EmflowProblemsError)."""
    from emflow.samplesheet import ROW_PARAMETERS, read_samplesheet, sheet_label

    sheet = Path(sheet)
    label = sheet_label(sheet.name)
    return [
        Series(stack=row.stack, basename=row.id, user_adoc=row.adoc, tilt_angles=row.tilt_angles,
               params={ROW_PARAMETERS[k]: v for k, v in row.values.items()}, source=f"{label} row {row.line}")
        for row in read_samplesheet(sheet)
    ]


def discover_series(input_dir: str | os.PathLike[str]) -> tuple[list[Series], list[Path]]:
    """The tilt series of ``input_dir`` and the files ignored: every stack directly in a folder
    (sorted by name), or the rows of a samplesheet file (nothing ignored).

    Raises
    ------
    EmflowInputError
        When ``input_dir`` is neither a readable folder nor a valid samplesheet.
    """
    folder = Path(input_dir)
    if folder.is_file() and is_stack_file(folder):
        raise EmflowInputError(folder, "is a tilt series; give its folder, or a samplesheet (CSV/TSV) that lists it")
    if folder.is_file():
        return sheet_series(folder), []
    if not folder.is_dir():
        raise EmflowInputError(folder, "is not a folder or a samplesheet (emflow run takes a folder of tilt series or a CSV/TSV sheet)")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
    except OSError as exc:
        raise EmflowInputError(folder, f"cannot list: {exc.strerror}") from exc
    series, ignored = [], []
    stacks = [p for p in entries if is_stack_file(p) and p.is_file()]
    claimed = {p.with_name(f"{basename_of(p)}{ext}") for p in stacks for ext in COMPANIONS}
    claimed |= {p.with_name(f"{p.name}.mdoc") for p in stacks}
    for path in entries:
        if path in stacks:
            series.append(_series_for(path))
        elif path not in claimed:
            ignored.append(path)
    seen: dict[str, Series] = {}
    for i, s in enumerate(series):
        if s.ok and s.basename in seen:
            series[i] = dataclasses.replace(
                s, error=f"{s.stack.name}: series name {s.basename!r} is already used by {seen[s.basename].stack.name}"
            )
        elif s.ok:
            seen[s.basename] = s
    return series, ignored
