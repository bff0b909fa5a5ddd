"""A user's own ``BASENAME.adoc`` beside the stack (SPEC §1): validated like a rendered one, used as is.

Public names
------------
user_adoc_beside(stack) -> Path | None     ``BASENAME.adoc`` next to the stack, if present
check_user_adoc(path, stack=None) -> dict  strict parse; name (and stackext) must match the stack
"""

from __future__ import annotations

import os
from pathlib import Path

from emflow.adoc.parse import parse_adoc, read_brt_settings
from emflow.errors import EmflowInputError
from emflow.names import basename_of, series_name


def user_adoc_beside(stack: str | os.PathLike[str]) -> Path | None:
    """The user's ``BASENAME.adoc`` beside ``stack``, or None."""
    candidate = Path(stack).with_name(f"{basename_of(stack)}.adoc")
    return candidate if candidate.is_file() else None


def check_user_adoc(path: str | os.PathLike[str], stack: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Parse ``path`` as BRT does (every line, duplicates refused) and check it names ``stack``.

    Raises
    ------
    EmflowInputError
        naming the file and line of a bad directive, or a name/extension that does not match.
    """
    directives = parse_adoc(path)
    settings = read_brt_settings(path)
    if stack is not None:
        name = series_name(stack)
        if settings.name != name:
            raise EmflowInputError(path, f"setupset.copyarg.name is {settings.name}, but the stack is {name}")
        if settings.stackext != Path(stack).suffix[1:]:
            raise EmflowInputError(
                path, f"setupset.copyarg.stackext is {settings.stackext}, but the stack is {Path(stack).name}"
            )
    return directives
