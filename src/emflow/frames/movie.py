"""H.264 movies from raw gray frames piped to ffmpeg (no temp images, no quality loss).

ffmpeg_exe() -> str                       ffmpeg from PATH, else imageio-ffmpeg's binary
ffmpeg_args(width, height, fps, size, out) -> argv
MovieEncoder(path, width, height, fps, size)   context manager: .write(frame) per frame
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from emflow.atomic import CloseOrAbort, PendingFile
from emflow.errors import EmflowInputError, EmflowStepError


X264_THREADS = 4


def ffmpeg_exe() -> str:
    """The ffmpeg binary: ``ffmpeg`` on PATH, else the one shipped with imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise EmflowStepError("ffmpeg", f"not found on PATH and imageio-ffmpeg has none ({exc})") from exc


def check_movie_size(size: int) -> int:
    """The movie side in pixels must be even (yuv420p) and at least 16."""
    if size < 16 or size % 2:
        raise EmflowInputError("--size", f"{size} must be an even number of pixels >= 16")
    return size


def check_movie_options(fps: float, size: int) -> None:
    """Refuse a bad ``--fps`` or ``--size`` before any heavy work."""
    if not fps > 0:
        raise EmflowInputError("--fps", f"{fps:g} must be > 0")
    check_movie_size(size)


def ffmpeg_args(width: int, height: int, fps: float, size: int, out: str | os.PathLike[str]) -> list[str]:
    """ffmpeg argv: raw gray ``width x height`` frames on stdin -> ``size x size`` H.264 mp4.

    libx264, yuv420p, +faststart, bit-exact container, and a fixed number of x264 threads
    (x264's output depends on it), so equal frames give equal files on any machine.
    """
    return [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{width}x{height}", "-framerate", f"{fps:g}",
        "-i", "pipe:0",
        "-vf", f"scale={size}:{size}", "-c:v", "libx264", "-threads", str(X264_THREADS), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-map_metadata", "-1", "-f", "mp4", os.fspath(out),
    ]  # fmt: skip


class MovieEncoder(CloseOrAbort):
    """Stream ``(height, width)`` uint8 frames into ``path`` through an ffmpeg pipe, atomically.

    The movie appears at ``path`` only when ffmpeg succeeded; on an error nothing is left.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, size: int) -> None:
        self.path = Path(path)
        self.shape = (height, width)
        self.frames = 0
        self._done = False
        self._pending = PendingFile(self.path)
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            ffmpeg_args(width, height, fps, check_movie_size(size), self._pending.tmp),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip

    def write(self, frame: np.ndarray) -> None:
        """Append one frame (uint8, ``(height, width)``)."""
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} does not match {self.shape} uint8")
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            self._fail("ffmpeg stopped reading frames")
        self.frames += 1

    def _fail(self, problem: str) -> None:
        self._done = True
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        self._proc.kill()
        self._proc.wait()
        self._log.seek(0)
        tail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        self._log.close()
        exc = EmflowStepError(self.path, f"{problem}: {' | '.join(tail) or 'no message'}")
        self._pending.discard()
        raise exc

    def close(self) -> Path:
        """Finish the movie; raise EmflowStepError if ffmpeg failed."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        if self._proc.wait() != 0 or self.frames == 0:
            self._fail(f"ffmpeg failed (exit {self._proc.returncode}, {self.frames} frames)")
        self._log.close()
        self._done = True
        return self._pending.commit()

    def abort(self) -> None:
        """Stop ffmpeg and drop the partial movie."""
        if self._done:
            return
        self._done = True
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._proc.kill()
        self._proc.wait()
        self._log.close()
        self._pending.discard()

