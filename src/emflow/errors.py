"""Errors that emflow reports to the user as one line.

`EmflowInputError(path, problem)` is raised for bad input (a file or a parameter);
its message is always ``"FILE: problem"`` (or ``"--param: problem"``) so the CLI can
print it on one line and exit 2 (or record it in the manifest) without a traceback.
"""

from __future__ import annotations

import os


def _one_line(text: str) -> str:
    """Fold newlines so that a message never spans several lines."""
    return " ".join(str(text).split())


class EmflowError(Exception):
    """Base class of every error emflow reports as one line: ``"SUBJECT: problem"``.

    Parameters
    ----------
    subject : str or os.PathLike
        The file path or parameter name (e.g. ``"--bin"``) the problem is about.
    problem : str
        What is wrong, in words a user understands (folded onto one line).
    """

    exit_code = 2

    def __init__(self, subject: str | os.PathLike[str], problem: str) -> None:
        self.subject = os.fspath(subject)
        self.problem = _one_line(problem)
        super().__init__(f"{self.subject}: {self.problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Rebuild from (subject, problem) so the error crosses process pools intact.
        return (type(self), (self.subject, self.problem))

    def one_line(self) -> str:
        return _one_line(str(self))

    def lines(self) -> list[str]:
        """The problems, one line each (one for most errors; a samplesheet lists every bad cell)."""
        return [self.one_line()]


class EmflowInputError(EmflowError):
    """Bad input: a file that cannot be used, or a parameter with a bad value (exit 2)."""

    exit_code = 2


class EmflowStepError(EmflowError):
    """A processing step ran but failed (e.g. batchruntomo aborted): exit 1."""

    exit_code = 1


class EmflowProblemsError(EmflowInputError):
    """Several problems of one input found together (every bad cell of a samplesheet): exit 2.

    ``problems`` are lines ``"row 3, column stack: problem"``; ``lines()`` gives each as
    ``"SUBJECT: line"``, ``one_line()`` joins them with ``"; "``.
    """

    def __init__(self, subject: str | os.PathLike[str], problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else [_one_line(p) for p in problems]
        super().__init__(subject, "; ".join(self.problems))

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:  # type: ignore[override]
        return (type(self), (self.subject, self.problems))

    def lines(self) -> list[str]:
        return [f"{self.subject}: {p}" for p in self.problems]
