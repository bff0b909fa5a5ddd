"""emflow adoc: rendered directives, read back as batchruntomo reads them (SPEC §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emflow.adoc import AdocParams, parse_adoc, read_brt_settings, render_directives, write_adoc
from emflow.adoc.params import format_number
from emflow.cli import main

SPEC_KEYS_ETSPY = {
    "setupset.copyarg.name": "etspy_HAADF",
    "setupset.copyarg.stackext": "mrc",
    "setupset.copyarg.pixel": "3.36",
    "setupset.copyarg.gold": "10",
    "comparam.prenewst.newstack.BinByFactor": "4",
    "runtime.AlignedStack.any.binByFactor": "4",
    "comparam.track.beadtrack.LightBeads": "0",
    "comparam.tilt.tilt.THICKNESS": "256",
    "setupset.copyarg.montage": "0",
    "setupset.copyarg.dual": "0",
    "setupset.copyarg.extract": "1",
}


def brt_read(path: Path) -> list[tuple[str, str]]:
    """Independent reader, exactly BRT's rule (no validation): every (key, value) pair in order."""
    pairs = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            parts = text.split("=")
            pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


@pytest.mark.shared
def test_etspy_adoc_keys(shared_data, tmp_path, capsys):
    stack = shared_data / "tilt_series" / "etspy_HAADF.mrc"
    out = tmp_path / "o"
    assert main(["adoc", str(stack), "--pixel-size-nm", "3.36", "--outdir", str(out)]) == 0
    adoc = out / "etspy_HAADF.adoc"
    assert capsys.readouterr().out.strip() == str(adoc)
    directives = parse_adoc(adoc)
    assert {k: directives[k] for k in SPEC_KEYS_ETSPY} == SPEC_KEYS_ETSPY
    assert directives["setupset.datasetDirectory"] == str(out.resolve())
    assert Path(directives["setupset.datasetDirectory"]).is_absolute()
    pairs = brt_read(adoc)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)) == len(directives)
    assert dict(pairs) == directives


@pytest.mark.shared
def test_etspy_pixel_size_from_its_fei_extended_header(shared_data, tmp_path):
    # header voxel 1 Å (unset); the old-style FEI extended header says 3.36e-9 m (the log's 3.36 nm)
    stack = shared_data / "tilt_series" / "etspy_HAADF.mrc"
    assert main(["adoc", str(stack), "--outdir", str(tmp_path / "o")]) == 0
    assert "setupset.copyarg.pixel=3.36\n" in (tmp_path / "o" / "etspy_HAADF.adoc").read_text()


def test_unset_pixel_size_without_metadata_fails(make_mrc, tmp_path, capsys):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16), voxel_size_angstrom=(1.0, 1.0, 1.0))
    assert main(["adoc", str(stack), "--outdir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "header voxel size is 1 Å" in err and "--pixel-size-nm" in err
    assert not (tmp_path / "o").exists()


def test_pixel_size_from_header(make_mrc, tmp_path):
    stack = make_mrc("ts.st", np.zeros((3, 8, 8), np.int16), voxel_size_angstrom=(33.6, 33.6, 33.6))
    d = render_directives(stack, tmp_path / "o", AdocParams())
    assert d["setupset.copyarg.pixel"] == "3.36"
    assert d["setupset.copyarg.stackext"] == "st"
    assert d["setupset.copyarg.name"] == "ts"
    assert d["runtime.Positioning.any.thickness"] == "384"  # 1.5 x 256


def test_every_option_reaches_its_directive(make_mrc, tmp_path):
    stack = make_mrc("a.b-1.mrc", np.zeros((3, 8, 8), np.int16))
    scope = tmp_path / "scope.adoc"
    scope.write_text("comparam.tilt.tilt.RADIAL=0.35,0.05\n")
    params = AdocParams(pixel_size_nm=0.5, bead_size_nm=6, bin_factor=2, light_beads=1, thickness_px=101,
                        montage=1, dataset_dir="/data/proc/x", scope_template=scope)
    d = render_directives(stack, tmp_path / "o", params)
    assert {k: d[k] for k in SPEC_KEYS_ETSPY} == {
        "setupset.copyarg.name": "a.b-1",
        "setupset.copyarg.stackext": "mrc",
        "setupset.copyarg.pixel": "0.5",
        "setupset.copyarg.gold": "6",
        "comparam.prenewst.newstack.BinByFactor": "2",
        "runtime.AlignedStack.any.binByFactor": "2",
        "comparam.track.beadtrack.LightBeads": "1",
        "comparam.tilt.tilt.THICKNESS": "101",
        "setupset.copyarg.montage": "1",
        "setupset.copyarg.dual": "0",
        "setupset.copyarg.extract": "1",
    }
    assert d["setupset.datasetDirectory"] == "/data/proc/x"
    assert d["setupset.scopeTemplate"] == str(scope.resolve())
    assert "setupset.userTemplate" not in d
    assert d["runtime.Positioning.any.thickness"] == "152"  # ceil(1.5 x 101)


def test_set_replaces_or_appends(make_mrc, tmp_path):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    extra = {"comparam.align.tiltalign.LocalAlignments": "1", "runtime.Trimvol.any.thickness": "0.8",
             "comparam.tilt.tilt.LOG": ""}
    path = write_adoc(stack, tmp_path, AdocParams(pixel_size_nm=1.2, extra=extra))
    d = parse_adoc(path)
    assert d["comparam.align.tiltalign.LocalAlignments"] == "1"
    assert d["runtime.Trimvol.any.thickness"] == "0.8"
    assert d["comparam.tilt.tilt.LOG"] == ""
    assert list(d)[-2:] == ["runtime.Trimvol.any.thickness", "comparam.tilt.tilt.LOG"]
    default = render_directives(stack, tmp_path, AdocParams(pixel_size_nm=1.2))
    assert default["comparam.align.tiltalign.LocalAlignments"] == "0"
    assert len(d) == len(default) + 2


@pytest.mark.parametrize(
    ("template", "key", "value"),
    [
        ("default", "comparam.align.tiltalign.SurfacesToAnalyze", "1"),
        ("plastic", "comparam.align.tiltalign.LocalAlignments", "1"),
        ("plastic", "runtime.TiltAlignment.any.enableStretching", "1"),
        ("cryo", "comparam.track.beadtrack.KernelSigmaForSobel", "1.5"),
        ("cryo", "runtime.AlignedStack.any.eraseGold", "1"),
    ],
)
def test_shipped_templates(make_mrc, tmp_path, template, key, value):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    d = render_directives(stack, tmp_path, AdocParams(pixel_size_nm=2, bin_factor=3, thickness_px=90, template=template))
    assert d[key] == value
    assert d["comparam.tilt.tilt.THICKNESS"] == "90"
    assert d["runtime.AlignedStack.any.binByFactor"] == d["comparam.prenewst.newstack.BinByFactor"] == "3"
    assert d["setupset.copyarg.pixel"] == "2"
    assert d["runtime.Postprocess.any.doTrimvol"] == "1"


def test_user_template_file(make_mrc, tmp_path, capsys):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    mine = tmp_path / "mine.adoc.j2"
    mine.write_text('{% extends "default.adoc.j2" %}{% block reconstruction %}'
                    "runtime.Reconstruction.any.useSirt=1\n{% endblock %}")
    d = render_directives(stack, tmp_path, AdocParams(pixel_size_nm=2, template=str(mine)))
    assert d["runtime.Reconstruction.any.useSirt"] == "1"
    broken = tmp_path / "broken.adoc.j2"
    broken.write_text("setupset.copyarg.name={{ nmae }}\n")
    code = main(["adoc", str(stack), "--outdir", str(tmp_path / "o"), "--pixel-size-nm", "2", "--template", str(broken)])
    assert code == 2
    assert "--template" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_read_brt_settings(make_mrc, tmp_path):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    path = write_adoc(stack, tmp_path, AdocParams(pixel_size_nm=3.36, bin_factor=2, thickness_px=64))
    s = read_brt_settings(path)
    assert (s.name, s.stackext, s.bin_factor, s.thickness_px, s.pixel_size_nm, s.post_processing) == (
        "ts", "mrc", 2, 64, 3.36, True)


@pytest.mark.parametrize(("x", "text"), [(3.36, "3.36"), (33.6 / 10, "3.36"), (10.0, "10"), (0.5, "0.5"),
                                         (np.float32(3.36), "3.36"), (1e-7, "0"), (12345.0, "12345")])
def test_format_number(x, text):
    assert format_number(x) == text
