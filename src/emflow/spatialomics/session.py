"""Discover the slide files of a spatialomics session folder (SPEC §7).

Public functions
----------------
discover_session(session) -> SessionPlan

Groups are the folders one level down: ``HQ_Images/*.czi`` and ``Pre_ROI_Selection/*.png``
(extensions in any case). Everything else is ignored and listed: other folders (``Heatmaps/``),
files beside the groups (``notes.txt``), subfolders and files of other types inside a group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from emflow.errors import EmflowInputError

GROUPS: dict[str, str] = {"HQ_Images": ".czi", "Pre_ROI_Selection": ".png"}


@dataclass(frozen=True)
class SessionFile:
    """One slide file: its group folder, absolute path and path relative to the session."""

    group: str
    path: Path
    relative: str

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class SessionPlan:
    """Files to process (group order, then name order) and ignored items (``/`` after folders)."""

    files: list[SessionFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _label(entry: Path, session: Path) -> str:
    rel = entry.relative_to(session).as_posix()
    return rel + "/" if entry.is_dir() else rel


def discover_session(session: str | os.PathLike[str]) -> SessionPlan:
    """List the slide files of a session folder and the items it ignores.

    Raises
    ------
    EmflowInputError
        ``session`` is not a folder.
    """
    session = Path(session)
    if not session.is_dir():
        raise EmflowInputError(session, "not a folder (expected a spatialomics session folder)")
    plan = SessionPlan()
    for entry in sorted(session.iterdir(), key=lambda p: p.name):
        suffix = GROUPS.get(entry.name)
        if suffix is None or not entry.is_dir():
            plan.ignored.append(_label(entry, session))
            continue
        for item in sorted(entry.iterdir(), key=lambda p: p.name):
            if item.is_file() and item.suffix.lower() == suffix and not item.name.startswith("."):
                plan.files.append(SessionFile(entry.name, item, _label(item, session)))
            else:
                plan.ignored.append(_label(item, session))
    return plan
