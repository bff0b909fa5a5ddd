"""What emflow adoc / adoc-check refuse: exit 2, the parameter named, nothing written (SPEC §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emflow.adoc import parse_adoc, rewrite_dataset_dir
from emflow.cli import main
from emflow.errors import EmflowInputError

REFUSED = [
    (["--dataset-dir", "/a b"], "--dataset-dir", "'/a b'"),
    (["--dataset-dir", "/x#y"], "--dataset-dir", "'/x#y'"),
    (["--dataset-dir", "relative/dir"], "--dataset-dir", "absolute"),
    (["--dataset-dir", "/a\u2013b"], "--dataset-dir", "\\u2013"),
    (["--set", "comparam.tilt.tilt.THICKNESS=1=2"], "--set 'comparam.tilt.tilt.THICKNESS'", "'1=2'"),
    (["--set", "setupset.copyarg.name=a;rm -rf x"], "--set 'setupset.copyarg.name'", "'a;rm -rf x'"),
    (["--set", "bad key=1"], "--set 'bad key'", "directive name"),
    (["--set", "comparam.tilt.tilt.LOG=1\n2"], "--set 'comparam.tilt.tilt.LOG'", "'1\\n2'"),
    (["--set", "comparam.tilt.tilt.LOG=$(x)"], "--set 'comparam.tilt.tilt.LOG'", "'$(x)'"),
    (["--set", "comparam.tilt.tilt.LOG=`x`"], "--set 'comparam.tilt.tilt.LOG'", "'`x`'"),
    (["--set", "comparam.tilt.tilt.LOG='1'"], "--set 'comparam.tilt.tilt.LOG'", "not allowed"),
    (["--set", "comparam.tilt.tilt.THICKNESS=100"], "--set 'comparam.tilt.tilt.THICKNESS'", "--thickness"),
    (["--set", "comparam.tilt.tilt.LOG"], "--set", "not key=value"),
    (["--set", "other.tilt.tilt.LOG=1"], "--set 'other.tilt.tilt.LOG'", "directive name"),
    (["--set", "runtime.a.b.c.d=1"], "--set 'runtime.a.b.c.d'", "directive name"),
    (["--thickness", "0"], "--thickness", "'0'"),
    (["--thickness", "10001"], "--thickness", "'10001'"),
    (["--bin", "99"], "--bin", "'99'"),
    (["--bin", "0"], "--bin", "'0'"),
    (["--bead-size-nm", "-1"], "--bead-size-nm", "'-1.0'"),
    (["--bead-size-nm", "nan"], "--bead-size-nm", "'nan'"),
    (["--pixel-size-nm", "0"], "--pixel-size-nm", "'0.0'"),
    (["--light-beads", "2"], "--light-beads", "'2'"),
    (["--montage", "-1"], "--montage", "'-1'"),
    (["--template", "nope"], "--template", "'nope'"),
    (["--user-template", "missing.adoc"], "--user-template", "not found"),
]


@pytest.mark.parametrize(("args", "subject", "shown"), REFUSED)
def test_refused_parameter(make_mrc, tmp_path, capsys, args, subject, shown):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    out = tmp_path / "out"
    assert main(["adoc", str(stack), "--outdir", str(out), "--pixel-size-nm", "2", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"emflow: {subject}: "), err
    assert shown in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("name", ["my stack.mrc", "a$(x).mrc", "a;b.mrc", ".hidden.mrc", "a\u2013b.mrc", "x'y.mrc"])
def test_refused_stack_name(make_mrc, tmp_path, capsys, name):
    stack = make_mrc(name, np.zeros((3, 8, 8), np.int16))
    out = tmp_path / "out"
    assert main(["adoc", str(stack), "--outdir", str(out), "--pixel-size-nm", "2"]) == 2
    err = capsys.readouterr().err
    assert "series name" in err and str(stack) in err
    assert not out.exists()


@pytest.mark.parametrize("voxel", [0.0, 1.0])
def test_unset_header_voxel_needs_pixel_size(make_mrc, tmp_path, capsys, voxel):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16), voxel_size_angstrom=(voxel,) * 3)
    assert main(["adoc", str(stack), "--outdir", str(tmp_path / "o")]) == 2
    assert "--pixel-size-nm" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_outdir_with_space_needs_dataset_dir(make_mrc, tmp_path, capsys):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    out = tmp_path / "out dir"
    assert main(["adoc", str(stack), "--outdir", str(out), "--pixel-size-nm", "2"]) == 2
    assert capsys.readouterr().err.startswith("emflow: --outdir: ")
    assert main(["adoc", str(stack), "--outdir", str(out), "--pixel-size-nm", "2", "--dataset-dir", "/proc/ts"]) == 0
    assert parse_adoc(out / "ts.adoc")["setupset.datasetDirectory"] == "/proc/ts"


BAD_FILES = [
    ("setupset.copyarg.name=ts\ncomparam.tilt.tilt.THICKNESS=1=2\n", 2, "second '='"),
    ("setupset.copyarg.name=ts\ncomparam.tilt.tilt.THICKNESS=100 # thick\n", 2, "not allowed"),
    ("setupset.copyarg.name=ts\n\n# c\ncomparam.tilt.tilt.THICKNESS\n", 4, "not a 'key=value'"),
    ("setupset.copyarg.name=ts\nsetupset.copyarg.name = ts\n", 2, "duplicate directive setupset.copyarg.name (first given on line 1)"),
    ("setupset.copyarg.name=ts\nsetupset.copyarg.gold=-3\n", 2, "must be a number > 0"),
    ("setupset.copyarg.name=ts\nruntime.AlignedStack.any.binByFactor=2.5\n", 2, "whole number in 1..16"),
    ("setupset.copyarg.name=ts\ncomparam.track.beadtrack.LightBeads=yes\n", 2, "0 or 1"),
    ("setupset.copyarg.name=ts\nsetupset.datasetDirectory=/a b\n", 2, "'/a b'"),
    ("setupset.copyarg.name=ts\nrun.x.y=1\n", 2, "directive name"),
    ("setupset.copyarg.name=ts\nsetupset.copyarg.gold=1\u20130\n", 2, "non-ASCII"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD_FILES)
def test_parse_adoc_refuses(tmp_path, text, line, problem):
    path = tmp_path / "ts.adoc"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(EmflowInputError) as info:
        parse_adoc(path)
    assert str(info.value).startswith(f"{path} line {line}")
    assert problem in str(info.value)


def test_parse_adoc_reads_as_brt(tmp_path):
    path = tmp_path / "ts.adoc"
    path.write_text("# comment = with # signs\n\n  setupset.copyarg.name = ts  \nsetupset.copyarg.pixel=\n"
                    "comparam.align.tiltalign.TargetPatchSizeXandY=700,700\nruntime.Reconstruction.a.useSirt=0\n")
    assert parse_adoc(path) == {
        "setupset.copyarg.name": "ts",
        "setupset.copyarg.pixel": "",
        "comparam.align.tiltalign.TargetPatchSizeXandY": "700,700",
        "runtime.Reconstruction.a.useSirt": "0",
    }


def test_adoc_check_cli(tmp_path, make_mrc, capsys):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    good = tmp_path / "ts.adoc"
    good.write_text("setupset.copyarg.name=ts\nsetupset.copyarg.stackext=mrc\nsetupset.copyarg.gold=10\n")
    assert main(["adoc-check", str(good), "--stack", str(stack)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: 3 directives, OK"
    other = make_mrc("other.mrc", np.zeros((3, 8, 8), np.int16))
    assert main(["adoc-check", str(good), "--stack", str(other)]) == 2
    assert "setupset.copyarg.name is ts, but the stack is other" in capsys.readouterr().err
    dup = tmp_path / "dup.adoc"
    dup.write_text("setupset.copyarg.name=ts\n#\nsetupset.copyarg.gold=10\nsetupset.copyarg.gold=5\n")
    assert main(["adoc-check", str(dup)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"emflow: {dup} line 4: duplicate directive setupset.copyarg.gold (first given on line 3)")


@pytest.mark.shared
def test_facility_files(shared_data, capsys):
    folder = shared_data / "imod_adoc"
    assert main(["adoc-check", str(folder / "niaid_SARsCoV2_1.adoc")]) == 2
    assert "line 42: duplicate directive comparam.autofidseed.autofidseed.TwoSurfaces" in capsys.readouterr().err
    assert main(["adoc-check", str(folder / "niaid_plastic_brt.adoc")]) == 2  # un-rendered Jinja
    assert "line 8 (setupset.copyarg.name): value '{{ name }}' is not allowed" in capsys.readouterr().err


def test_rewrite_dataset_dir_changes_one_line():
    text = "# head\nsetupset.copyarg.name=ts\nsetupset.datasetDirectory = /old/place\r\ncomparam.x.y.Z=1\n"
    new, old = rewrite_dataset_dir(text, "/new/place")
    assert old == "/old/place"
    before, after = text.splitlines(keepends=True), new.splitlines(keepends=True)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [2]
    assert after[2] == "setupset.datasetDirectory=/new/place\r\n"
    appended, none = rewrite_dataset_dir("setupset.copyarg.name=ts", "/p")
    assert (appended, none) == ("setupset.copyarg.name=ts\nsetupset.datasetDirectory=/p\n", None)
    with pytest.raises(EmflowInputError, match="--workdir"):
        rewrite_dataset_dir(text, "/with space")


def test_stack_is_read_only_input(make_mrc, tmp_path):
    stack = make_mrc("ts.mrc", np.zeros((3, 8, 8), np.int16))
    before = Path(stack).read_bytes()
    assert main(["adoc", str(stack), "--outdir", str(tmp_path), "--pixel-size-nm", "2"]) == 0
    assert Path(stack).read_bytes() == before
