"""The reconstruction step: batchruntomo (IMOD) or the preview backend, judged per SPEC §3.1.

Public API
----------
run_brt(stack, adoc, workdir, recon="auto", cpus=1, gpus=0, tilt_axis_deg=None) -> BrtResult
BrtResult(backend: "imod" | "preview", outputs: BrtOutputs)
BrtOutputs(basename, folder)   output paths by basename (.ali .rec .full_rec .tlt .xf ... .kept())
brt_argv(adoc_name, cpus, gpus) -> list[str]
"""

from emflow.brt.command import brt_argv
from emflow.brt.outputs import BrtOutputs
from emflow.brt.run import BrtResult, run_brt

__all__ = ["BrtOutputs", "BrtResult", "brt_argv", "run_brt"]
