"""Atomic outputs: write to a temporary name beside the target, rename when complete.

Public functions
----------------
PendingFile(target)      temp file with commit()/discard(), for streaming writers
CloseOrAbort             mixin: `with` calls close() on success, abort() on an exception
atomic_path(target)      context manager yielding a temp path; renamed onto target on success
atomic_dir(target)       the same for a directory (the temp dir is renamed as a whole)
write_bytes_atomic(target, data)
write_text_atomic(target, text)
write_json_atomic(target, obj)

Temp names start with ``.emflow-tmp-`` so an interrupted run never leaves a file that looks
complete, and a later run (or a test) can find and remove leftovers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

TMP_PREFIX = ".emflow-tmp-"


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class PendingFile:
    """A temporary file beside ``target``: `commit` renames it onto the target, `discard` drops it.

    For writers that stream into a file over several calls (MRC sections, ffmpeg output) and
    decide only at the end whether the result is complete.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=self.target.suffix, dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(tmp_name)
        os.chmod(self.tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions

    def commit(self) -> Path:
        """Rename the temporary file onto the target; return the target."""
        os.replace(self.tmp, self.target)
        return self.target

    def discard(self) -> None:
        """Remove the temporary file (the target is left as it was)."""
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class CloseOrAbort:
    """Mixin for streaming writers with ``close()`` (finish, rename into place) and ``abort()``
    (drop the partial output): ``with`` closes on success and aborts on any exception."""

    def close(self) -> Any:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path in the target's folder; rename it onto ``target`` on success.

    On an exception (including KeyboardInterrupt) the temporary file is removed and ``target``
    is left as it was.
    """
    pending = PendingFile(target)
    try:
        yield pending.tmp
        pending.commit()
    except BaseException:
        pending.discard()
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; rename it to ``target`` on success.

    With ``overwrite`` an existing ``target`` is replaced (removed just before the rename).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if target.exists() and overwrite:
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically; return the target path."""
    return write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``target`` atomically; return the target path."""
    return write_text_atomic(target, json.dumps(obj, indent=indent) + "\n")
