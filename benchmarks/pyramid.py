"""Benchmark: emflow pyramid (+ min/max, one pass) against the facility's reference chain.

Reference: mrc2nifti + volume-to-precomputed-pyramid --downscaling-method=average --no-gzip --flat
+ mrc_visual_min_max --mad 5 (tomojs-pytools 1.3.6, neuroglancer-scripts 1.1.0, in the cached venv
of tests/reference_env.py). Each command runs in its own measuring process, so the peak RSS is
the child's own (``ru_maxrss``); the chain's peak is the largest of its three steps, its time the sum.

Volumes (synthetic, generated once under ~/.cache/emflow/bench): 1024 x 1024 x 256 int16 and
2048 x 2048 x 500 uint8 (x, y, z); ``--small`` uses 512 x 512 x 128 int16 and 1024 x 1024 x 100 uint8.

Usage: python benchmarks/pyramid.py [--small] [--workers N] [--skip-reference] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from reference_env import MINMAX, MRC2NIFTI, PYRAMID, reference_python  # noqa: E402

CACHE = Path(os.environ.get("EMFLOW_BENCH_CACHE", Path.home() / ".cache" / "emflow" / "bench"))
FULL = [("int16", (256, 1024, 1024)), ("uint8", (500, 2048, 2048))]
SMALL = [("int16", (128, 512, 512)), ("uint8", (100, 1024, 1024))]

MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
if rc.returncode:
    sys.stderr.write(rc.stderr.decode()[-2000:])
    sys.exit(rc.returncode)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": r.ru_utime + r.ru_stime, "peak_rss_mb": r.ru_maxrss / 1024}))
"""


def synthetic(dtype: str, shape_zyx: tuple[int, int, int]) -> Path:
    """A cached MRC: smooth blobs plus noise (so chunks and histograms are not trivial)."""
    from emflow.mrc import MrcWriter

    nz, ny, nx = shape_zyx
    path = CACHE / f"bench_{dtype}_{nx}x{ny}x{nz}.mrc"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.ogrid[:ny, :nx]
    base = np.sin(x / 37.0) * np.cos(y / 53.0)
    info = np.iinfo(dtype)
    centre, spread = (info.max + info.min) / 2, (info.max - info.min) / 8
    with MrcWriter(path, shape_zyx, dtype, (10.0, 10.0, 10.0), step="benchmark volume") as writer:
        for z0 in range(0, nz, 16):
            n = min(16, nz - z0)
            slab = base[None] * np.cos((np.arange(z0, z0 + n) / 29.0))[:, None, None]
            slab = centre + spread * slab + rng.normal(0, spread / 4, (n, ny, nx))
            writer.write_slab(np.clip(np.rint(slab), info.min, info.max).astype(dtype))
        writer.set_stats(info.min, info.max, centre)
    return path


def measure(argv: list[str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{argv[:3]} failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout)


def run_emflow(mrc: Path, work: Path, workers: int) -> dict[str, float]:
    return measure([sys.executable, "-c", "from emflow.cli import run_main; run_main()", "pyramid", str(mrc), str(work / "emflow"),
                    "--minmax-json", str(work / "emflow_min_max.json"), "--workers", str(workers)])


def run_reference(mrc: Path, work: Path) -> dict[str, float]:
    py = str(reference_python())
    nii, neuro = work / "v.nii", work / "reference"
    steps = [
        measure([py, "-c", MRC2NIFTI, str(mrc), str(nii)]),
        measure([py, "-c", PYRAMID, "--downscaling-method=average", "--no-gzip", "--flat", str(nii), str(neuro)]),
        measure([py, "-c", MINMAX, str(nii), "--mad", "5", "--output-json", str(work / "ref_min_max.json")]),
    ]
    return {"wall_s": sum(s["wall_s"] for s in steps), "cpu_s": sum(s["cpu_s"] for s in steps),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
            "steps": steps}  # type: ignore[dict-item]


def same_output(work: Path) -> bool:
    """Byte-compare every file of the two pyramids and the two min/max JSON files."""
    a, b = work / "reference", work / "emflow"
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return False
    same = all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    return same and (work / "emflow_min_max.json").read_bytes() == (work / "ref_min_max.json").read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="smaller volumes (a quick run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-reference", action="store_true", help="time emflow only")
    parser.add_argument("--check", action="store_true", help="also byte-compare the outputs")
    args = parser.parse_args(argv)
    for dtype, shape in SMALL if args.small else FULL:
        mrc = synthetic(dtype, shape)
        size_mb = mrc.stat().st_size / 2**20
        work = Path(tempfile.mkdtemp(prefix="emflow-bench-", dir=CACHE))
        try:
            mine = run_emflow(mrc, work, args.workers)
            line = (f"{mrc.name} ({size_mb:.0f} MiB): emflow {mine['wall_s']:.1f} s wall, {mine['cpu_s']:.1f} s CPU,"
                    f" {mine['peak_rss_mb']:.0f} MB peak RSS (workers={args.workers})")
            if not args.skip_reference:
                ref = run_reference(mrc, work)
                line += (f"; reference chain {ref['wall_s']:.1f} s wall, {ref['cpu_s']:.1f} s CPU, {ref['peak_rss_mb']:.0f} MB"
                         f"; speed-up x{ref['wall_s'] / mine['wall_s']:.1f} wall, x{ref['cpu_s'] / mine['cpu_s']:.1f} CPU"
                         f"; RSS ratio {mine['peak_rss_mb'] / ref['peak_rss_mb']:.2f}")
                if args.check:
                    line += f"; identical: {same_output(work)}"
            print(line, flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
