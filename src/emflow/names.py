"""Series names (SPEC §1): what a BASENAME may be, and how a stack file maps to it.

A BASENAME starts with a letter or digit and holds only letters, digits and ``._+-``; anything
else (spaces, quotes, ``$``, ``;``, newlines, non-UTF-8, non-ASCII look-alikes) is refused,
because the name ends up in shell commands, IMOD directive files and URLs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from emflow.errors import EmflowInputError

BASENAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
STACK_SUFFIXES = (".mrc", ".st")


def basename_of(stack: str | os.PathLike[str]) -> str:
    """BASENAME = file name before the last dot (``a.b.mrc`` -> ``a.b``)."""
    name = Path(stack).name
    return name.rsplit(".", 1)[0] if "." in name[1:] else name


def check_basename(name: str, subject: str | os.PathLike[str] | None = None) -> str:
    """Return ``name`` when it is a valid BASENAME, else raise EmflowInputError naming ``subject``."""
    if not BASENAME_RE.fullmatch(name) or not name.isascii():
        shown = name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        raise EmflowInputError(
            subject if subject is not None else name,
            f"series name {shown!r} is not allowed: it must start with a letter or digit and "
            "contain only letters, digits and ._+-",
        )
    return name


def series_name(stack: str | os.PathLike[str]) -> str:
    """Checked BASENAME of a stack file (raises EmflowInputError naming the file)."""
    return check_basename(basename_of(stack), stack)


def is_stack_file(path: Path) -> bool:
    """True for ``*.mrc`` / ``*.st`` (any case): one tilt series each (SPEC §1)."""
    return path.suffix.lower() in STACK_SUFFIXES
