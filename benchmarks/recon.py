"""Benchmark: emflow's preview reconstruction against ASTRA FBP alone (issue 8).

A synthetic 512 x 512 x 61 tilt series (-60..60 degrees, Gaussian blobs projected analytically,
shifted by up to 8 px, noisy) is reconstructed twice in the same run:

1. ``emflow.preview.run_preview`` — read, bin, align (cross-correlation + projection matching),
   write _ali/.xf/.tlt, FBP slab by slab, write _full_rec and _rec;
2. ASTRA FBP alone (same algorithm, ASTRA objects reused) on the already-aligned stack, in
   memory, nothing written.

Prints both times and the ratio (target <= 1.5), wall-clock and CPU (process) time: on a
shared machine the CPU ratio is the stable one. With a CUDA GPU visible to ASTRA it also
times the CUDA path of both.

    python benchmarks/recon.py [--size 512] [--tilts 61] [--thickness 256] [--bin 1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    from emflow.mrc import open_volume, write_volume
    from emflow.preview import run_preview
    from emflow.preview.fbp import cuda_available

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tilts", type=int, default=61)
    parser.add_argument("--thickness", type=int, default=256, help="unbinned pixels")
    parser.add_argument("--bin", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="emflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stack, angles = synthetic_series(args.size, args.tilts, args.thickness)
    path = work / "bench.mrc"
    write_volume(path, stack, (10.0, 10.0, 10.0), space_group=0)
    path.with_suffix(".rawtlt").write_text("".join(f"{a:.2f}\n" for a in angles))
    del stack
    thickness_binned = max(1, round(args.thickness / args.bin))
    paths = ("cpu", False), ("cuda", True)
    for name, cuda in paths:
        if cuda and not cuda_available():
            print("cuda: no CUDA GPU visible to ASTRA, skipped")
            continue
        start, cpu_start = time.perf_counter(), time.process_time()
        out = run_preview(path, work / name, "bench", bin_factor=args.bin, thickness_px=args.thickness,
                          pixel_size_nm=1.0, use_cuda=cuda)
        t_preview, c_preview = time.perf_counter() - start, time.process_time() - cpu_start
        aligned = open_volume(out.ali).read_slab(0, args.tilts)
        t_fbp, c_fbp = fbp_alone(aligned, angles, thickness_binned, cuda)
        print(f"{name}: {args.size} x {args.size} x {args.tilts}, bin {args.bin}, thickness {thickness_binned}: "
              f"emflow preview {t_preview:.2f} s wall ({c_preview:.2f} s CPU), ASTRA FBP alone {t_fbp:.2f} s wall "
              f"({c_fbp:.2f} s CPU); ratio {t_preview / t_fbp:.2f} wall, {c_preview / c_fbp:.2f} CPU")


if __name__ == "__main__":
    main()
