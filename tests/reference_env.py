"""The facility's reference chain (tomojs-pytools 1.3.6 + neuroglancer-scripts 1.1.0) in a cached venv.

The reference tools need numpy < 2 and SimpleITK 2.2, so they live in a virtual environment of
their own, built once with ``python -m venv`` + ``pip install`` and cached under
``$EMFLOW_REF_VENV`` (default ``~/.cache/emflow/ref-venv-1``). The tomojs-pytools wheel is not
on PyPI: it comes from ``../shared/vendor`` (or ``$EMFLOW_VENDOR``); without it the reference
tests skip visibly.

Public names
------------
reference_python()                    path of the venv's python (builds the venv on first use)
run_reference_chain(py, mrc, out)     mrc2nifti -> volume-to-precomputed-pyramid -> mrc_visual_min_max
run_reference_minmax(py, image, mad)  mrc_visual_min_max alone, returns the parsed JSON
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENDOR = Path(os.environ.get("EMFLOW_VENDOR", REPO_ROOT.parent / "shared" / "vendor"))
WHEEL = "tomojs_pytools-1.3.6-py3-none-any.whl"
PINNED = ["numpy<2", "SimpleITK==2.2.1", "neuroglancer-scripts==1.1.0"]
VENV = Path(os.environ.get("EMFLOW_REF_VENV", Path.home() / ".cache" / "emflow" / "ref-venv-1"))

# Each tool is run through `python -c` so the venv keeps working after it is renamed into place.
MRC2NIFTI = "import sys; from pytools.ng.mrc2nifti import main; sys.argv[0] = 'mrc2nifti'; main()"
PYRAMID = (
    "import sys; from neuroglancer_scripts.scripts.volume_to_precomputed_pyramid import main; "
    "sys.argv[0] = 'volume-to-precomputed-pyramid'; sys.exit(main(sys.argv))"
)
MINMAX = "import sys; from pytools.ng.build_histogram import main; sys.argv[0] = 'mrc_visual_min_max'; main()"


class ReferenceUnavailable(RuntimeError):
    """The reference venv cannot be built here (no vendored wheel, no network)."""


def _python_in(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def reference_python(venv: Path = VENV) -> Path:
    """Return the reference venv's python, building the venv on first use.

    Raises
    ------
    ReferenceUnavailable
        When the vendored wheel is absent or pip cannot install the pinned packages.
    """
    python = _python_in(venv)
    marker = venv / ".emflow-complete"
    if marker.is_file() and python.exists():
        return python
    wheel = VENDOR / WHEEL
    if not wheel.is_file():
        raise ReferenceUnavailable(f"{wheel} is absent (the reference wheel is vendored in ../shared/vendor)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time (parallel test sessions)
        if marker.is_file() and python.exists():
            return python
        _build(venv, wheel)
    return python


def _build(venv: Path, wheel: Path) -> None:
    """Create the venv under a temp name, install the pinned tools, rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=venv.name + ".building-", dir=venv.parent))
    try:
        made = subprocess.run([sys.executable, "-m", "venv", str(tmp)], capture_output=True, text=True, timeout=600)
        if made.returncode != 0:
            raise RuntimeError(f"python -m venv failed (Debian needs python3-venv): {made.stderr.strip()[-500:]}")
        cmd = [str(_python_in(tmp)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINNED, str(wheel)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise ReferenceUnavailable(f"pip install of the reference tools failed: {done.stderr.strip()[-500:]}")
        (tmp / ".emflow-complete").write_text(" ".join(PINNED + [WHEEL]) + "\n")
        if venv.exists():
            shutil.rmtree(venv)
        os.replace(tmp, venv)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _run(python: Path, code: str, args: list[str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}
    done = subprocess.run([str(python), "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"reference {args} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def run_reference_chain(python: Path, mrc: Path, workdir: Path, mad: float = 5.0) -> tuple[Path, dict[str, str]]:
    """Run the facility's chain on ``mrc`` inside ``workdir``.

    Returns the precomputed folder (``workdir/neuro``) and the min/max JSON as parsed.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    nii = workdir / "v.nii"
    neuro = workdir / "neuro"
    out_json = workdir / "min_max.json"
    _run(python, MRC2NIFTI, [str(mrc), str(nii)], workdir)
    _run(python, PYRAMID, ["--downscaling-method=average", "--no-gzip", "--flat", str(nii), str(neuro)], workdir)
    _run(python, MINMAX, [str(nii), "--mad", repr(float(mad)), "--output-json", str(out_json)], workdir)
    return neuro, json.loads(out_json.read_text())


def run_reference_minmax(python: Path, image: Path, workdir: Path, mad: float = 5.0) -> tuple[dict[str, str], bytes]:
    """``mrc_visual_min_max IMAGE --mad MAD --output-json``: the parsed JSON and its raw bytes."""
    out_json = workdir / f"{image.name}.min_max.json"
    _run(python, MINMAX, [str(image), "--mad", repr(float(mad)), "--output-json", str(out_json)], workdir)
    raw = out_json.read_bytes()
    return json.loads(raw), raw
