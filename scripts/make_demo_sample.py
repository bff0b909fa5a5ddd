"""Make the sample tilt series that `emflow demo` runs on (src/emflow/data/demo/).

Source: ../shared/data/tilt_series/etspy_HAADF.mrc (+ .rawtlt), a real STEM-HAADF tilt series
from the NIST `etspy` package (public domain in the US; see the NOTICE written beside it).
The copy is binned by 2 in x and y as IMOD's ``newstack -bin 2`` does: the plain mean of each
2x2 block computed in floating point, rounded to the nearest integer (``floor(v + 0.5)``) and
kept int16 (mode 1). The source header says 1 Å per pixel, which is wrong; the acquisition log
says 3.36 nm, so the binned copy carries 67.2 Å (2 x 33.6 Å) in x, y and z. The old-style FEI
extended header is not copied; the tilt angles travel in ``etspy_HAADF_bin2.rawtlt``.

Usage: python scripts/make_demo_sample.py [SOURCE_DIR] [--outdir src/emflow/data/demo]
The result is byte-for-byte reproducible except for the date in the MRC label.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from emflow.mrc import MrcWriter, read_info, open_volume

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO.parent / "shared" / "data" / "tilt_series"
NAME = "etspy_HAADF"
DEMO_NAME = "etspy_HAADF_bin2"
VOXEL_ANGSTROM = 33.6 * 2


def bin2_xy(stack: np.ndarray) -> np.ndarray:
    """2x2 mean in (y, x) of a (z, y, x) stack, odd trailing row/column dropped, rounded as IMOD."""
    nz, ny, nx = stack.shape
    blocks = stack[:, : ny // 2 * 2, : nx // 2 * 2].astype(np.float64)
    mean = blocks.reshape(nz, ny // 2, 2, nx // 2, 2).mean(axis=(2, 4))
    return np.floor(mean + 0.5)


def make_sample(source_dir: Path, outdir: Path) -> Path:
    info = read_info(source_dir / f"{NAME}.mrc")
    with open_volume(info.path) as vol:
        data = vol.read_slab(0, info.nz)
    binned = np.clip(bin2_xy(data), -32768, 32767)
    out = outdir / f"{DEMO_NAME}.mrc"
    outdir.mkdir(parents=True, exist_ok=True)
    labels = ["etspy HAADF.mrc (NIST, public domain) binned 2x2 in x,y", "voxel 67.2 A from the log"]
    with MrcWriter(out, binned.shape, np.int16, (VOXEL_ANGSTROM,) * 3, labels=labels,
                   step="demo sample", space_group=0) as writer:
        writer.write_slab(binned.astype(np.int16))
        writer.set_stats(float(binned.min()), float(binned.max()), float(binned.mean()))
    shutil.copyfile(source_dir / f"{NAME}.rawtlt", outdir / f"{DEMO_NAME}.rawtlt")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", type=Path, default=SOURCE_DIR)
    parser.add_argument("--outdir", type=Path, default=REPO / "src" / "emflow" / "data" / "demo")
    args = parser.parse_args()
    print(make_sample(args.source_dir, args.outdir))


if __name__ == "__main__":
    main()
