"""Benchmark: emflow tilt-movie / rec-movie end to end against ffmpeg alone.

The bare reference is ffmpeg encoding the very same frames (rendered beforehand and held in
memory) with the same settings (raw gray pipe, scale to 1024 x 1024, libx264, yuv420p,
+faststart). emflow runs as ``emflow tilt-movie`` / ``emflow rec-movie`` in a measuring child
process, so its peak RSS is its own (``ru_maxrss`` of the emflow process; ffmpeg's is shown
apart). The rec movie includes writing ave_ and avebin8_, which the bare encode does not do.

Inputs (synthetic, generated once under ~/.cache/emflow/bench): a 1024 x 1024 x 121 int16
``_ali`` and a 1024 x 1024 x 256 int16 ``_rec`` (x, y, z); ``--small`` uses 512 x 512 x 41 and
512 x 512 x 64. Target: ratio <= 1.3, emflow peak RSS < 500 MB. Wall and CPU ratios are
both printed: on a shared machine the CPU ratio (emflow + its ffmpeg against ffmpeg alone) is
the steadier measure of emflow's own cost.

Usage: python benchmarks/movies.py [--small] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("EMFLOW_BENCH_CACHE", Path.home() / ".cache" / "emflow" / "bench"))
FULL = {"ali": (121, 1024, 1024), "rec": (256, 1024, 1024)}
SMALL = {"ali": (41, 512, 512), "rec": (64, 512, 512)}

MEASURE = """
import json, resource, sys, time
from emflow.cli import main
t = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall_s": wall,
                  "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ffmpeg_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def synthetic(kind: str, shape: tuple[int, int, int]) -> Path:
    """A cached int16 stack: smooth blobs drifting with z plus noise (realistic work for x264)."""
    from emflow.mrc import MrcWriter

    nz, ny, nx = shape
    path = CACHE / f"movies_{kind}_{nx}x{ny}x{nz}" / f"bench_{kind}.mrc"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32) / max(nx, ny)
    with MrcWriter(path, shape, np.int16, (10.0, 10.0, 10.0)) as writer:
        for z in range(nz):
            phase = z / nz * 6.0
            base = 800 * np.sin(9 * xx + phase) * np.cos(7 * yy - phase) + 300 * np.sin(40 * (xx + yy) + z)
            noise = rng.normal(0, 120, size=(ny, nx)).astype(np.float32)
            writer.write_slab((base + noise + 200 * z / nz).astype(np.int16))
        writer.set_stats(-2000, 2000, 0)
    return path


def run_emflow(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"emflow failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"]:
        sys.exit(f"emflow exited {result['code']}: {out.stderr[-2000:]}")
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bare_encode(frames: np.ndarray, fps: float, out: Path) -> tuple[float, float]:
    """``(wall, cpu)`` seconds for ffmpeg alone to encode in-memory frames with emflow's settings."""
    from emflow.frames.movie import ffmpeg_args

    _, ny, nx = frames.shape
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.Popen(ffmpeg_args(nx, ny, fps, 1024, out), stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(frame.data)
    proc.stdin.close()
    if proc.wait():
        sys.exit("bare ffmpeg failed")
    return time.perf_counter() - t, _children_cpu() - cpu


def frames_of(volume: Path, stats: dict) -> np.ndarray:
    from emflow.frames.render import render_slab

    return render_slab(volume, stats, 0, stats["shape"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="512 x 512 inputs for a quick check")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    from emflow.frames.stats import header_stats, tilt_stats

    sizes = SMALL if args.small else FULL
    load = os.getloadavg()
    ali, rec = synthetic("ali", sizes["ali"]), synthetic("rec", sizes["rec"])
    with tempfile.TemporaryDirectory(prefix="emflow-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "b_ali.mrc").symlink_to(ali)
        (tmp / "b_rec.mrc").symlink_to(rec)
        workers = ["--workers", str(args.workers)]
        tilt = run_emflow(["tilt-movie", str(tmp / "b_ali.mrc"), "--outdir", str(tmp / "out"), *workers])
        recm = run_emflow(["rec-movie", str(tmp / "b_rec.mrc"), "--outdir", str(tmp / "out"), *workers])
        tilt_frames = frames_of(ali, tilt_stats(ali))
        tilt_bare = bare_encode(tilt_frames, 4, tmp / "bare_tilt.mp4")
        del tilt_frames
        ave = tmp / "out" / "ave_b.mrc"
        rec_bare = bare_encode(frames_of(ave, header_stats(ave)), 8, tmp / "bare_rec.mp4")
    bare_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"inputs: _ali {sizes['ali'][::-1]} int16, _rec {sizes['rec'][::-1]} int16 (x, y, z); workers {args.workers}")
    print(f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f} (wall times on a shared machine vary; CPU times less)")
    for name, res, (wall, cpu) in (("tilt-movie", tilt, tilt_bare), ("rec-movie", recm, rec_bare)):
        print(f"{name:11s} wall: emflow {res['wall_s']:7.2f} s  bare ffmpeg {wall:7.2f} s  ratio {res['wall_s'] / wall:5.2f} | "
              f"CPU: emflow+its ffmpeg {res['cpu_s']:7.2f} s  bare {cpu:7.2f} s  ratio {res['cpu_s'] / cpu:5.2f} | "
              f"emflow peak RSS {res['peak_rss_mb']:4.0f} MB (its ffmpeg {res['ffmpeg_peak_rss_mb']:.0f} MB)")  # fmt: skip
    print(f"bare ffmpeg peak RSS {bare_rss:.0f} MB")


if __name__ == "__main__":
    main()
