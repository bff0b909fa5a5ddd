"""Progress of a run: a per-series/step line display on a terminal, plain log lines otherwise,
and every line (with a UTC time stamp) in ``OUT/run_log.txt``.

Public names
------------
Event            series, step, state (started|done|skipped|error|finished), seconds, message
Progress         handle(event) / log(text) / close()
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import time
from pathlib import Path
from typing import TextIO

STATES = ("started", "done", "skipped", "error", "finished")


@dataclasses.dataclass(frozen=True)
class Event:
    series: str
    step: str
    state: str
    seconds: float = 0.0
    message: str = ""

    def text(self) -> str:
        if self.state == "started":
            return f"[{self.series}] {self.step}: started"
        if self.state == "done":
            return f"[{self.series}] {self.step}: done in {self.seconds:.1f} s"
        if self.state == "skipped":
            return f"[{self.series}] {self.step}: already done (--resume), skipped"
        if self.state == "error":
            return f"[{self.series}] {self.step}: ERROR {self.message}"
        return f"[{self.series}] {self.message or 'finished'}"


class Progress:
    """Write events and log lines to ``log_path`` and to ``stream`` (stderr).

    On a terminal (``tty``) the stream shows one line per series, redrawn in place; else every
    event is one plain line.
    """

    def __init__(self, log_path: Path, series: list[str], stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "a", encoding="utf-8", errors="backslashreplace")
        self._rows = {name: "waiting" for name in series}
        self.running: dict[str, str] = {}  # series -> step started and not yet finished
        self._drawn = 0
        self._width = max([len(s) for s in series] + [6])
        self._start = time.monotonic()

    def log(self, text: str, show: bool = False) -> None:
        """One line into run_log.txt (and on the stream when not a terminal, or when ``show``)."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for line in str(text).splitlines() or [""]:
            self._log.write(f"{stamp} {line}\n")
        self._log.flush()
        if not self.tty or show:
            self._clear()
            self.stream.write(f"{text}\n")
            self._draw()
        self.stream.flush()

    def handle(self, event: Event) -> None:
        if event.state == "started":
            self.running[event.series] = event.step
        else:
            self.running.pop(event.series, None)
        self._rows[event.series] = self._row(event)
        self.log(event.text())
        self._draw()

    def _row(self, event: Event) -> str:
        if event.state == "started":
            return f"running {event.step} ..."
        if event.state == "error":
            return f"FAILED at {event.step}: {event.message}"[:160]
        if event.state == "finished":
            return event.message or "finished"
        return f"{event.step} {event.state}"

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if not self.tty:
            return
        self._clear()
        elapsed = time.monotonic() - self._start
        lines = [f"emflow run: {len(self._rows)} series, {elapsed:.0f} s"]
        lines += [f"  {name:<{self._width}}  {row}" for name, row in self._rows.items()]
        self.stream.write("\n".join(lines) + "\n")
        self._drawn = len(lines)
        self.stream.flush()

    def close(self) -> None:
        self._log.close()
