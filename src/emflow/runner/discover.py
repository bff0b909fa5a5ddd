"""Series discovery in a BRT input folder (SPEC §1).

Every ``*.mrc`` / ``*.st`` (any case) directly in the folder is one tilt series; BASENAME is the
name before the last dot; ``BASENAME.adoc`` beside it is the user's own directive file. A stack
whose name breaks the BASENAME rules is still listed, with its error, so that it fails on its
own and the others continue. Other files are listed as ignored.

Public names
------------
Series              stack, basename, user_adoc, error
discover_series(input_dir) -> (list[Series], list[Path] ignored)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

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


def discover_series(input_dir: str | os.PathLike[str]) -> tuple[list[Series], list[Path]]:
    """The tilt series directly in ``input_dir`` (sorted by name) and the files ignored.

    Raises
    ------
    EmflowInputError
        When ``input_dir`` is not a readable folder.
    """
    folder = Path(input_dir)
    if not folder.is_dir():
        raise EmflowInputError(folder, "is not a folder (emflow run takes a folder of tilt series)")
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
