"""Benchmark: emflow's preview reconstruction on 1..N CPUs against ASTRA FBP alone (issues 8, 21).

A synthetic tilt series (-60..60 degrees, Gaussian blobs projected analytically, shifted by up
to 8 px, noisy; 512 x 512 x 61 by default, 1024 x 1024 x 121 at bin 2 with ``--large``) is
reconstructed in the same run:

1. ``emflow.preview.run_preview(..., cpus=N)`` for each N of ``--cpus``, each in a fresh
   process: read, bin, align (cross-correlation + projection matching), write _ali/.xf/.tlt,
   FBP slab by slab, write _full_rec and _rec;
2. ASTRA FBP alone (same algorithm, ASTRA objects reused) on the already-aligned stack, in
   memory, nothing written, in one process on one core.

Per N it prints wall-clock and CPU time (that process and its workers; on a shared machine the
CPU time is the stable number: it stays about constant when the scaling is real), CPU/wall (about
N on idle cores; near N = 1's value when other sessions keep the cores busy), the speedup
over N = 1 and the ratio to ASTRA FBP alone, the peak memory of the process tree (PSS: shared
pages counted once; and the parent's own peak RSS), and whether every output file is
byte-identical to N = 1's. With a CUDA GPU visible to ASTRA it also times the CUDA path.

    python3 benchmarks/recon.py --cpus 1,2 --large     # issue 21's case (about 2 min on 2 idle cores)
    python3 benchmarks/recon.py [--size 512] [--tilts 61] [--thickness 256] [--bin 1] [--cpus 1]
                                [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_series(size: int, n_tilts: int, thickness: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(n_tilts, size, size)`` projections of random Gaussian blobs, shifted and noisy."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(-60.0, 60.0, n_tilts)
    n_blobs = 300
    cx = rng.uniform(0.2, 0.8, n_blobs) * size - size / 2
    cy = rng.uniform(0.2, 0.8, n_blobs) * size
    cz = rng.uniform(-0.3, 0.3, n_blobs) * thickness
    sigma = rng.uniform(2.0, 6.0, n_blobs)
    amp = rng.uniform(0.5, 1.0, n_blobs) * sigma
    grid = np.arange(size, dtype=np.float64)
    gy = amp * np.exp(-((grid[:, None] - cy) ** 2) / (2 * sigma**2))  # (size, n_blobs)
    stack = np.empty((n_tilts, size, size), dtype=np.float32)
    shifts = rng.uniform(-8, 8, (n_tilts, 2))
    shifts[np.argmin(np.abs(angles))] = 0
    for i, theta in enumerate(np.deg2rad(angles)):
        u = cx * np.cos(theta) - cz * np.sin(theta) + size / 2 + shifts[i, 0]
        gx = np.exp(-((grid[None, :] - u[:, None]) ** 2) / (2 * sigma[:, None] ** 2))  # (n_blobs, size)
        stack[i] = np.roll(gy, int(round(shifts[i, 1])), axis=0) @ gx
    stack += rng.normal(0, 0.05 * stack.std(), stack.shape).astype(np.float32)
    return stack, angles


def fbp_alone(aligned: np.ndarray, angles: np.ndarray, thickness: int, use_cuda: bool) -> tuple[float, float]:
    """(wall, CPU) seconds for ASTRA FBP of every row of ``aligned`` (objects created once, reused)."""
    import astra

    start, cpu = time.perf_counter(), time.process_time()
    nz, ny, nx = aligned.shape
    vol_geom = astra.create_vol_geom(thickness, nx)
    proj_geom = astra.create_proj_geom("parallel", 1.0, nx, np.deg2rad(angles))
    sino = astra.data2d.create("-sino", proj_geom, 0)
    rec = astra.data2d.create("-vol", vol_geom, 0)
    cfg = astra.astra_dict("FBP_CUDA" if use_cuda else "FBP")
    if not use_cuda:
        proj = astra.create_projector("linear", proj_geom, vol_geom)
        cfg["ProjectorId"] = proj
    cfg.update(ProjectionDataId=sino, ReconstructionDataId=rec, option={"FilterType": "ram-lak"})
    alg = astra.algorithm.create(cfg)
    out = np.empty((ny, thickness, nx), dtype=np.float32)
    for y in range(ny):
        astra.data2d.store(sino, np.ascontiguousarray(aligned[:, y, :]))
        astra.algorithm.run(alg)
        out[y] = astra.data2d.get_shared(rec)
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    astra.algorithm.delete(alg)
    astra.data2d.delete([sino, rec])
    if not use_cuda:
        astra.projector.delete(proj)
    return elapsed


OUTPUTS = ("_ali.mrc", "_full_rec.mrc", "_rec.mrc", ".tlt", ".xf")


def _tree_memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) bytes of ``pid`` and its descendants (Linux /proc; zeros elsewhere)."""
    pss = rss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return pss, rss


def run_child(args: argparse.Namespace) -> None:
    """``--child``: one preview run; prints a JSON line with its times and peak RSS."""
    import resource

    from emflow.preview import run_preview

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    start, cpu_start = time.perf_counter(), cpu()
    run_preview(args.workdir / "bench.mrc", args.out, "bench", bin_factor=args.bin, thickness_px=args.thickness,
                pixel_size_nm=1.0, use_cuda=args.cuda, cpus=args.child)
    wall, cpus_s = time.perf_counter() - start, cpu() - cpu_start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "cpu": cpus_s, "maxrss": own}))


def timed_preview(args: argparse.Namespace, cpus: int, out: Path, cuda: bool) -> dict[str, float]:
    """Run the preview with ``cpus`` in a fresh process, sampling its tree's memory every 50 ms."""
    argv = [sys.executable, __file__, "--child", str(cpus), "--out", str(out), "--workdir", str(args.workdir),
            "--bin", str(args.bin), "--thickness", str(args.thickness)] + (["--cuda"] if cuda else [])
    peak_pss = peak_rss = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        while proc.poll() is None:
            pss, rss = _tree_memory(proc.pid)
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(0.05)
        lines = (proc.stdout.read() if proc.stdout else "").splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"preview with --cpus {cpus} failed (exit {proc.returncode})")
    result = json.loads(lines[-1])
    result.update(pss=peak_pss, rss=peak_rss)
    return result


def digests(folder: Path) -> list[str]:
    return [hashlib.sha256((folder / f"bench{suffix}").read_bytes()).hexdigest() for suffix in OUTPUTS]


def make_series(args: argparse.Namespace) -> Path:
    """``WORKDIR/bench.mrc`` (+ .rawtlt), reused when it already has this size and tilt count."""
    from emflow.mrc import read_info, write_volume

    path = args.workdir / "bench.mrc"
    if path.is_file() and read_info(path).shape == (args.tilts, args.size, args.size):
        return path
    stack, angles = synthetic_series(args.size, args.tilts, args.thickness)
    write_volume(path, stack, (10.0, 10.0, 10.0), space_group=0)
    path.with_suffix(".rawtlt").write_text("".join(f"{a:.2f}\n" for a in angles))
    return path


def main() -> None:
    from emflow.mrc import open_volume
    from emflow.preview.fbp import cuda_available

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tilts", type=int, default=61)
    parser.add_argument("--thickness", type=int, default=256, help="unbinned pixels")
    parser.add_argument("--bin", type=int, default=1)
    parser.add_argument("--large", action="store_true", help="issue 21's case: 1024 x 1024 x 121, bin 2")
    parser.add_argument("--cpus", default="1", help="comma-separated worker counts, e.g. 1,2,4")
    parser.add_argument("--workdir", type=Path, default=None, help="kept (and its series reused) when given")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cuda", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return
    if args.large:
        args.size, args.tilts, args.bin = 1024, 121, 2
    counts = sorted({int(n) for n in args.cpus.split(",")} | {1})
    keep = args.workdir is not None
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="emflow-bench-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        make_series(args)
        print(f"series {args.size} x {args.size} x {args.tilts} ready in {time.perf_counter() - start:.1f} s")
        thickness_binned = max(1, round(args.thickness / args.bin))
        for name, cuda in (("cpu", False), ("cuda", True)):
            if cuda and not cuda_available():
                print("cuda: no CUDA GPU visible to ASTRA, skipped")
                continue
            runs = {n: timed_preview(args, n, args.workdir / f"{name}{n}", cuda) for n in (counts if not cuda else [1])}
            aligned = open_volume(args.workdir / f"{name}1" / "bench_ali.mrc").read_slab(0, args.tilts)
            t_fbp, c_fbp = fbp_alone(aligned, np.linspace(-60.0, 60.0, args.tilts), thickness_binned, cuda)
            del aligned
            reference = digests(args.workdir / f"{name}1")
            print(f"{name}: {args.size} x {args.size} x {args.tilts}, bin {args.bin}, thickness {thickness_binned}; "
                  f"ASTRA FBP alone (1 core): {t_fbp:.2f} s wall, {c_fbp:.2f} s CPU")
            print(" cpus   wall s    CPU s  CPU/wall  speedup  efficiency  vs FBP alone  peak PSS MiB  "
                  "peak RSS MiB (parent)  identical to 1")
            for n, r in runs.items():
                speedup = runs[1]["wall"] / r["wall"]
                same = digests(args.workdir / f"{name}{n}") == reference
                print(f"{n:5d} {r['wall']:8.2f} {r['cpu']:8.2f} {r['cpu'] / r['wall']:9.2f} {speedup:8.2f} "
                      f"{speedup / n:10.0%} {r['wall'] / t_fbp:12.2f}x {r['pss'] / 2**20:13.0f} "
                      f"{r['rss'] / 2**20:8.0f} ({r['maxrss'] / 2**20:.0f}) {'yes' if same else 'NO':>13}")
            if runs[1]["cpu"] / runs[1]["wall"] < 0.9:
                print(f"note: N = 1 got {runs[1]['cpu'] / runs[1]['wall']:.0%} of a core: the machine is busy, so the "
                      "wall-clock speedups say little (with sched_autogroup all processes of one session share one "
                      "CPU share); compare CPU s, which stays about constant when the scaling is real")
    finally:
        if not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
