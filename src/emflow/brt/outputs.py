"""BrtOutputs: every file batchruntomo (or the preview backend) leaves, by BASENAME and folder.

Public names
------------
BrtOutputs(basename, folder)   .ali .rec .full_rec .adoc .tlt .xf .rawtlt .fid .prexf .run_log,
                               .required(post_processing) and .kept() (what SPEC §3.1 keeps)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUN_LOG_NAME = "brt_run.log"


@dataclass(frozen=True)
class BrtOutputs:
    """Paths of a reconstruction's outputs in ``folder`` (they need not exist)."""

    basename: str
    folder: Path

    def _path(self, suffix: str) -> Path:
        return Path(self.folder) / f"{self.basename}{suffix}"

    @property
    def ali(self) -> Path:
        """Aligned, binned tilt stack (nz = tilts)."""
        return self._path("_ali.mrc")

    @property
    def rec(self) -> Path:
        """Tomogram after trimvol (z = thickness)."""
        return self._path("_rec.mrc")

    @property
    def full_rec(self) -> Path:
        """Tomogram as tilt writes it (y = thickness)."""
        return self._path("_full_rec.mrc")

    @property
    def adoc(self) -> Path:
        return self._path(".adoc")

    @property
    def tlt(self) -> Path:
        return self._path(".tlt")

    @property
    def xf(self) -> Path:
        return self._path(".xf")

    @property
    def rawtlt(self) -> Path:
        return self._path(".rawtlt")

    @property
    def fid(self) -> Path:
        return self._path(".fid")

    @property
    def prexf(self) -> Path:
        return self._path(".prexf")

    @property
    def run_log(self) -> Path:
        """batchruntomo's console output, as emflow captured it."""
        return Path(self.folder) / RUN_LOG_NAME

    def required(self, post_processing: bool = True) -> list[Path]:
        """MRCs that must exist for success: ali, rec (+ full_rec when post-processing is on)."""
        return [self.ali, self.rec, self.full_rec] if post_processing else [self.ali, self.rec]

    def logs(self) -> list[Path]:
        """Every ``*.log`` in the folder (brt_run.log and BRT's own logs), sorted."""
        return sorted(p for p in Path(self.folder).glob("*.log") if p.is_file())

    def kept(self) -> list[Path]:
        """Files SPEC §3.1 keeps that exist: the MRCs, .adoc, logs, .xf, .tlt, .rawtlt, .fid, .prexf."""
        candidates = [self.ali, self.rec, self.full_rec, self.adoc, self.xf, self.tlt, self.rawtlt,
                      self.fid, self.prexf, *self.logs()]
        return [p for p in dict.fromkeys(candidates) if p.is_file()]
