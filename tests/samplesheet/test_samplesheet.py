"""Samplesheets (issue 19): every kind of bad sheet is refused before any work, one line per
problem naming row and column; a good two-row sheet runs each series with its own values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emflow.cli import main
from emflow.errors import EmflowInputError
from emflow.samplesheet import read_samplesheet, sheet_for_folder

HEADER = "id,stack,tilt_axis_deg,thickness,bin\n"


@pytest.fixture
def folder(make_mrc, tmp_path) -> Path:
    for name in ("A", "B"):
        make_mrc(f"{name}.mrc", np.zeros((3, 8, 8), np.int16), tilt_angles_deg=[-30, 0, 30])
    (tmp_path / "sub").mkdir()
    return tmp_path


def problems(folder: Path, text: str | bytes, name: str = "sheet.csv") -> list[str]:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(EmflowInputError) as info:
        read_samplesheet(path)
    return [line.split(": ", 1)[1] for line in info.value.lines()]


def test_good_sheet_bom_crlf_quotes_blank_lines(folder):
    text = '\ufeffid,stack,tilt_axis_deg,thickness,bin,recon\r\n"A","A.mrc",85.3,300,2,preview\r\n\r\nB,B.mrc,,,,\r\n'
    (folder / "s.csv").write_text(text, encoding="utf-8", newline="")
    rows = read_samplesheet(folder / "s.csv")
    assert [(r.id, r.line, r.values) for r in rows] == [
        ("A", 2, {"tilt_axis_deg": 85.3, "thickness": 300, "bin": 2, "recon": "preview"}), ("B", 4, {})]
    assert rows[0].stack == folder / "A.mrc"
    (folder / "s.tsv").write_text("id\tstack\nA\tA.mrc\n")
    assert [r.id for r in read_samplesheet(folder / "s.tsv")] == ["A"]


@pytest.mark.parametrize("text, expected", [
    ("", ["is empty (a header row with id and stack, then one row per series)"]),
    ("\n\n", ["is empty (a header row with id and stack, then one row per series)"]),
    (HEADER, ["row 1: header only, no series rows"]),
    ("id;stack\nA;A.mrc\n", ["row 1: columns are separated by ';', but a .csv sheet uses commas (name it .tsv for tabs, .csv for commas)"]),
    ("id,stack,colour\nA,A.mrc,red\n", ["row 1, column colour: unknown column (known: id, stack, adoc, tilt_angles, pixel_size_nm, tilt_axis_deg, thickness, bin, recon)"]),
    ("id,stack,id\nA,A.mrc,A\n", ["row 1, column id: column appears twice"]),
    ("id\nA\n", ["row 1: required column 'stack' is missing"]),
    ("id,stack\nA,A.mrc,extra\n", ["row 2: 3 fields, the header has 2 (a value holding ',' must be quoted)"]),
    ("id,stack\nA,missing.mrc\n", ["row 2, column stack: 'missing.mrc' does not exist (paths are relative to {})",
                                   "row 2, column stack: 'missing.mrc' does not match id 'A' (the stack must be named A.mrc or A.st)"]),
    ("id,stack\nA,A.mrc\nA,A.mrc\n", ["row 3, column id: duplicate id 'A' (also row 2)"]),
    ("id,stack\nA,B.mrc\n", ["row 2, column stack: 'B.mrc' does not match id 'A' (the stack must be named A.mrc or A.st)"]),
    ("id,stack\n-A,-A.mrc\n", None),
    ("id,stack\nA,../A.mrc\n", ["row 2, column stack: '../A.mrc' leaves the samplesheet's folder ('..' is not allowed)"]),
    ("id,stack\nA,sub\n", ["row 2, column stack: 'sub' is not a file", "row 2, column stack: 'sub' is not a tilt series (*.mrc or *.st)"]),
    ("id,stack,thickness\nA,A.mrc,abc\n", ["row 2, column thickness: 'abc' is not a whole number"]),
    ("id,stack,tilt_axis_deg\nA,A.mrc,nan\n", ["row 2, column tilt_axis_deg: 'nan' is not a finite number"]),
    ("id,stack,pixel_size_nm\nA,A.mrc,inf\n", ["row 2, column pixel_size_nm: 'inf' is not a finite number"]),
    ("id,stack,bin\nA,A.mrc,-2\n", ["row 2, column bin: -2 is out of range (1..16)"]),
    ("id,stack,bin\nA,A.mrc,17\n", ["row 2, column bin: 17 is out of range (1..16)"]),
    ("id,stack,recon\nA,A.mrc,gpu\n", ["row 2, column recon: 'gpu' is not one of auto, imod, preview"]),
    ("id,stack,thickness\nA,A.mrc,256;rm -rf /\n", None),
    ('id,stack\nA,"A.mrc\nsetupset.copyarg.rotation=0"\n', None),
    ("id,stack\n,\n", ["row 1: header only, no series rows"]),  # a row of empty cells is a blank line
    ("id,stack,bin\n,A.mrc,2\n", ["row 2, column id: is empty (required)"]),
])
def test_bad_sheets(folder, text, expected):
    found = problems(folder, text)
    if expected is None:  # the message names the characters; what matters is row, column and refusal
        assert len(found) >= 1 and found[0].startswith("row 2, column ")
        return
    assert found == [e.replace("{}", str(folder)) for e in expected]


def test_not_utf8_and_nul(folder):
    assert problems(folder, b"id,stack\nA\xff,A.mrc\n") == ["is not UTF-8 text (byte 10)"]
    assert problems(folder, b"id,stack\x00\n") == ["is not a text file (holds NUL bytes)"]


def test_emflow_run_bad_sheet_exit_2_writes_nothing(folder, tmp_path, capsys):
    (folder / "s.csv").write_text("id,stack,bin,colour\nA,A.mrc,0,x\n")
    out = tmp_path / "out"
    assert main(["run", str(folder / "s.csv"), "--outdir", str(out), "--recon", "preview"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"emflow: {folder / 's.csv'}: row 1, column colour: unknown column "
                   "(known: id, stack, adoc, tilt_angles, pixel_size_nm, tilt_axis_deg, thickness, bin, recon)"]
    assert not out.exists()


def test_sheet_for_folder_fills_metadata(folder):
    (folder / "A.mrc.mdoc").write_text("PixelSpacing = 5.4\n[T = Tilt axis angle = 85.3, binning = 4]\n")
    text, notes = sheet_for_folder(folder)
    assert text == ("id,stack,adoc,tilt_angles,pixel_size_nm,tilt_axis_deg,thickness,bin,recon\n"
                    "A,A.mrc,,A.rawtlt,1,85.3,,,\nB,B.mrc,,B.rawtlt,1,,,,\n")
    assert notes == ["A: A.mrc.mdoc says 0.54 nm, A.mrc header voxel size says 1 nm"]
    (folder / "s.csv").write_text(text)
    assert [r.id for r in read_samplesheet(folder / "s.csv")] == ["A", "B"]


def test_two_row_sheet_each_series_its_own_values(folder, tmp_path):
    (folder / "A.mrc.mdoc").write_text("[T = Tilt axis angle = 85.3, binning = 4]\n")
    (folder / "s.csv").write_text("id,stack,tilt_axis_deg,thickness,bin\nA,A.mrc,,96,1\nB,B.mrc,12,64,2\n")
    out = tmp_path / "out"
    assert main(["run", str(folder / "s.csv"), "--outdir", str(out), "--recon", "preview", "--pixel-size-nm", "1"]) == 0
    adoc = {name: (out / name / "brt" / f"{name}.adoc").read_text() for name in "AB"}
    assert "comparam.tilt.tilt.THICKNESS=96\n" in adoc["A"] and "comparam.tilt.tilt.THICKNESS=64\n" in adoc["B"]
    assert "comparam.prenewst.newstack.BinByFactor=1\n" in adoc["A"] and "BinByFactor=2\n" in adoc["B"]
    assets = json.loads((out / "assets.json").read_text())
    params = {f["title"]: f["imageSet"][0]["imageMetadata"]["parameters"] for f in assets["files"]}
    assert params["A"]["tilt_axis_deg"] == {"value": 85.3, "source": "A.mrc.mdoc"}
    assert params["B"]["tilt_axis_deg"] == {"value": 12.0, "source": "s.csv row 3"}
    assert params["A"]["thickness_px"] == {"value": 96, "source": "s.csv row 2"}
    assert params["B"]["pixel_size_nm"] == {"value": 1.0, "source": "--pixel-size-nm"}
    report = (out / "report.html").read_text()
    assert "tilt axis <b>85.3°</b> <small>from A.mrc.mdoc</small>" in report
    assert "tilt axis <b>12°</b> <small>from s.csv row 3</small>" in report
    assert "emflow: tilt axis 85.3° from A.mrc.mdoc" in (out / "A" / "brt" / "brt_run.log").read_text()
    record = json.loads((out / "B" / ".emflow" / "B.adoc.status.json").read_text())
    assert record["parameters"]["bin_factor"] == {"value": 2, "source": "s.csv row 3"}
    # edit one row, --resume: only that series runs again
    before = {n: (out / n / "brt" / f"{n}_rec.mrc").stat().st_mtime_ns for n in "AB"}
    (folder / "s.csv").write_text("id,stack,tilt_axis_deg,thickness,bin\nA,A.mrc,,96,1\nB,B.mrc,12,32,2\n")
    assert main(["run", str(folder / "s.csv"), "--outdir", str(out), "--recon", "preview", "--pixel-size-nm", "1",
                 "--resume"]) == 0
    after = {n: (out / n / "brt" / f"{n}_rec.mrc").stat().st_mtime_ns for n in "AB"}
    assert after["A"] == before["A"] and after["B"] != before["B"]
    # an explicit option wins over every row
    assert main(["run", str(folder / "s.csv"), "--outdir", str(tmp_path / "o2"), "--recon", "preview",
                 "--pixel-size-nm", "1", "--thickness", "48"]) == 0
    assert "THICKNESS=48\n" in (tmp_path / "o2" / "B" / "brt" / "B.adoc").read_text()


def test_run_refuses_a_stack_given_as_input(folder, tmp_path, capsys):
    assert main(["run", str(folder / "A.mrc"), "--outdir", str(tmp_path / "out")]) == 2
    assert "is a tilt series; give its folder, or a samplesheet (CSV/TSV) that lists it" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_wrong_delimiter_for_tsv_and_unquoted_tab(folder):
    assert problems(folder, "id,stack\nA,A.mrc\n", "s.tsv") == [
        "row 1: columns are separated by ',', but a .tsv sheet uses tabs (name it .tsv for tabs, .csv for commas)"]
    assert problems(folder, 'id,stack\nA,"A.mrc"x\n')[0].startswith("is not a valid CSV file: ")


def test_pipeline_commands_take_row_values_and_record_sources(folder, tmp_path):
    # what BRT_ADOC runs for a samplesheet row: the row's value replaces the option, its source is recorded
    st = tmp_path / "st"
    assert main(["record", "--series", "A", "--step", "adoc", "--status-dir", str(st), "--",
                 "adoc", str(folder / "A.mrc"), "--outdir", str(tmp_path / "o"), "--thickness", "256",
                 "--row", "thickness=96", "--row", "tilt_axis_deg=12", "--row-source", "s.csv row 2"]) == 0
    assert "comparam.tilt.tilt.THICKNESS=96\n" in (tmp_path / "o" / "A.adoc").read_text()
    record = json.loads((st / "A.adoc.status.json").read_text())
    assert record["status"] == "done"
    assert record["parameters"] == {"pixel_size_nm": {"value": 1.0, "source": "A.mrc header voxel size"},
                                    "thickness_px": {"value": 96, "source": "s.csv row 2"},
                                    "bin_factor": {"value": 4, "source": "default"}}
    assert main(["adoc", str(folder / "A.mrc"), "--outdir", str(tmp_path / "p"), "--row", "bin=0"]) == 2
    assert not (tmp_path / "p").exists()


def test_validate_params_checks_the_sheet_without_its_files(tmp_path, capsys):
    # VALIDATE_PARAMS sees only the staged sheet: rows are checked, files are the head job's business
    schema = Path(__file__).resolve().parents[2] / "nextflow_schema.json"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"input": "/elsewhere/sheet.csv", "outdir": "out"}))
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,stack,bin\nA,data/A.mrc,2\n")
    rows = tmp_path / "series.json"
    args = ["validate-params", str(params), "--schema", str(schema), "--no-path-checks"]
    assert main([*args, "--samplesheet", str(sheet), "--series-json", str(rows)]) == 0
    assert json.loads(rows.read_text()) == [
        {"id": "A", "line": 2, "stack": "data/A.mrc", "values": {"bin": 2}, "source": "sheet.csv row 2"}]
    sheet.write_text("id,stack,bin\nA,data/B.mrc,99\n")
    assert main([*args, "--samplesheet", str(sheet), "--series-json", str(rows)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"emflow: {sheet}: row 2, column stack: 'B.mrc' does not match id 'A' "
                   "(the stack must be named A.mrc or A.st)", f"emflow: {sheet}: row 2, column bin: 99 is out of range (1..16)"]
