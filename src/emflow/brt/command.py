"""The batchruntomo command line (pure).

Public names
------------
brt_argv(adoc_name, cpus, gpus, executable="batchruntomo") -> list[str]
"""

from __future__ import annotations

from emflow.errors import EmflowInputError


def brt_argv(adoc_name: str, cpus: int = 1, gpus: int = 0, executable: str = "batchruntomo") -> list[str]:
    """``batchruntomo -di ADOC -cpus N [-gpus 1]`` (SPEC §3.1; ``-gpus 1`` only with a GPU allotted).

    Parameters
    ----------
    adoc_name : directive file name, relative to the processing folder (the command's cwd)
    cpus : number of local CPUs for parallel processing (>= 1)
    gpus : 0 or 1; with 1 batchruntomo runs tilt (and others) on GPU 1
    """
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        raise EmflowInputError("--cpus", f"value {cpus!r} must be a whole number >= 1")
    if gpus not in (0, 1) or isinstance(gpus, bool):
        raise EmflowInputError("--gpus", f"value {gpus!r} must be 0 or 1")
    argv = [executable, "-di", adoc_name, "-cpus", str(cpus)]
    if gpus:
        argv += ["-gpus", "1"]
    return argv
