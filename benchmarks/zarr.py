"""Benchmark: `emflow pyramid --ng-format both` (precomputed + OME-Zarr in one pass) against the
precomputed-only run on the same volume, in the same run (issue 11's target: <= 1.3x).

Uses the cached synthetic volumes of benchmarks/pyramid.py (1024 x 1024 x 256 int16; ``--small``:
512 x 512 x 128 int16). Prints wall time, CPU time and peak RSS of each and the ratios.

Usage: python benchmarks/zarr.py [--small] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

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
    print(f"{mrc.name}: precomputed only {only['wall_s']:.2f} s wall, {only['cpu_s']:.2f} s CPU, "
          f"{only['peak_rss_mb']:.0f} MB; both {both['wall_s']:.2f} s wall, {both['cpu_s']:.2f} s CPU, "
          f"{both['peak_rss_mb']:.0f} MB; ratio x{both['wall_s'] / only['wall_s']:.2f} wall, "
          f"x{both['cpu_s'] / only['cpu_s']:.2f} CPU (target <= 1.3); same min/max JSON: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
