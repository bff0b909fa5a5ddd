"""Benchmark: `emflow pyramid --ng-format both` (precomputed + OME-Zarr in one pass) against the
precomputed-only run on the same volume, in the same run (issue 11's target: <= 1.3x).

Uses the cached synthetic volumes of benchmarks/pyramid.py (1024 x 1024 x 256 int16; ``--small``:
512 x 512 x 128 int16). Prints wall time, CPU time and peak RSS of each and the ratios, then the
floor set by the codec alone: the CPU time of compressing every chunk of the written OME-Zarr
once more with its codec (blosc zstd 5, shuffle; one thread), and the best wall time ``both``
could reach on this machine's cores if that work were added to the precomputed-only run's CPU
time and spread perfectly: ``(precomputed CPU + codec CPU) / cores``.

Usage: python benchmarks/zarr.py [--small] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pyramid import FULL, SMALL, measure, synthetic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    dtype, shape = (SMALL if args.small else FULL)[0]
    mrc = synthetic(dtype, shape)
    with tempfile.TemporaryDirectory(prefix="emflow-bench-zarr-") as tmp:
        work = Path(tmp)
        common = ["emflow", "pyramid", str(mrc), "--workers", str(args.workers), "--force", "--mad", "5"]
        only = measure([*common, str(work / "p"), "--minmax-json", str(work / "p.json")])
        both = measure([*common, str(work / "b"), "--minmax-json", str(work / "b.json"),
                        "--ng-format", "both", "--zarr-out", str(work / "b.ome.zarr")])
        same = (work / "p.json").read_bytes() == (work / "b.json").read_bytes()
        codec_s = codec_cpu_seconds(work / "b.ome.zarr")
    print(f"{mrc.name}: precomputed only {only['wall_s']:.2f} s wall, {only['cpu_s']:.2f} s CPU, "
          f"{only['peak_rss_mb']:.0f} MB; both {both['wall_s']:.2f} s wall, {both['cpu_s']:.2f} s CPU, "
          f"{both['peak_rss_mb']:.0f} MB; ratio x{both['wall_s'] / only['wall_s']:.2f} wall, "
          f"x{both['cpu_s'] / only['cpu_s']:.2f} CPU (target <= 1.3); same min/max JSON: {same}")
    cores = os.cpu_count() or 1
    floor_s = (only["cpu_s"] + codec_s) / cores
    print(f"codec alone: {codec_s:.2f} s CPU; on {cores} cores `both` cannot beat {floor_s:.2f} s wall "
          f"= x{floor_s / only['wall_s']:.2f} the precomputed-only run")
    return 0 if same else 1


def codec_cpu_seconds(zarr_path: Path) -> float:
    """CPU seconds to compress every chunk of an OME-Zarr again with its own codec, one thread."""
    import numcodecs
    import numcodecs.blosc

    numcodecs.blosc.use_threads = False
    total = 0.0
    for zarray in sorted(zarr_path.glob("*/.zarray")):
        meta = json.loads(zarray.read_text())
        codec, dtype = numcodecs.get_codec(meta["compressor"]), np.dtype(meta["dtype"])
        for chunk in (p for p in zarray.parent.rglob("*") if p.is_file() and p.name != ".zarray"):
            raw = np.frombuffer(codec.decode(chunk.read_bytes()), dtype=dtype)
            start = time.process_time()
            codec.encode(raw)
            total += time.process_time() - start
    return total


if __name__ == "__main__":
    sys.exit(main())
