"""Samplesheets: one tilt series per row, with its own parameters (nf-core style CSV/TSV).

Columns (``assets/schema_input.json`` holds the same rules for the pipeline): ``id`` (BASENAME),
``stack`` (``id.mrc``/``id.st``), and optional ``adoc``, ``tilt_angles`` (``.rawtlt``/``.tlt``/
``.mdoc``), ``pixel_size_nm``, ``tilt_axis_deg``, ``thickness``, ``bin``, ``recon``; an empty cell
means "not set for this series". ``tilt_angles`` names the file beside the stack that holds the
angles under IMOD's name (the reconstruction finds them there). Paths are relative to the sheet's folder (absolute paths are
accepted; ``..`` is not). ``.tsv``/``.tab`` sheets are tab-separated, others comma-separated.

The whole sheet is checked before any work: every problem is one line naming row and column
(row 1 is the header), and any problem refuses the sheet (EmflowProblemsError, exit 2). Values
follow the directive-file grammar of `emflow.adoc` (no quotes, ``$``, ``;``, spaces …), so no
value can inject a directive or a shell word into a task.

Public names
------------
COLUMNS, REQUIRED_COLUMNS, ROW_PARAMETERS
SheetRow                     one checked row (absolute paths, typed values)
is_samplesheet(path)         True for a file (a folder is the other kind of --input)
read_samplesheet(path)       -> list[SheetRow]  (raises EmflowProblemsError listing every problem)
sheet_for_folder(folder)     -> CSV text of a sheet for a folder, filled with detected metadata
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from pathlib import Path
from typing import Any

from emflow.errors import EmflowInputError, EmflowProblemsError

REQUIRED_COLUMNS = ("id", "stack")
PATH_COLUMNS = ("stack", "adoc", "tilt_angles")
# column -> (kind, low, high) inclusive bounds, as `emflow run`'s options take them
NUMBER_COLUMNS: dict[str, tuple[str, float, float]] = {
    "pixel_size_nm": ("float", 1e-4, 1000.0),
    "tilt_axis_deg": ("float", -360.0, 360.0),
    "thickness": ("int", 1, 10000),
    "bin": ("int", 1, 16),
}
RECON_VALUES = ("auto", "imod", "preview")
COLUMNS = ("id", "stack", "adoc", "tilt_angles", "pixel_size_nm", "tilt_axis_deg", "thickness", "bin", "recon")
# row column -> the RunOptions / AdocParams field it sets for its series
ROW_PARAMETERS = {"pixel_size_nm": "pixel_size_nm", "tilt_axis_deg": "tilt_axis_deg", "thickness": "thickness_px",
                  "bin": "bin_factor", "recon": "recon"}
TILT_ANGLE_SUFFIXES = (".rawtlt", ".tlt", ".mdoc")
MAX_SHEET_BYTES = 16 * 1024 * 1024
MAX_PROBLEMS = 50


@dataclasses.dataclass(frozen=True)
class SheetRow:
    """One checked row: ``line`` is its row number in the file (header = 1)."""

    line: int
    id: str
    stack: Path
    adoc: Path | None = None
    tilt_angles: Path | None = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict)  # column -> typed value (set cells only)
    paths: dict[str, str] = dataclasses.field(default_factory=dict)  # path column -> the cell as written

    def to_json(self, sheet_name: str) -> dict[str, Any]:
        """What the pipeline's head job builds a series from (paths as written in the sheet)."""
        return {"id": self.id, "line": self.line, **self.paths, "values": self.values,
                "source": f"{sheet_label(sheet_name)} row {self.line}"}


def sheet_label(name: str) -> str:
    """The sheet's name as records and task command lines show it: a plain name, else "samplesheet"."""
    import re

    return name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name) else "samplesheet"


def is_samplesheet(path: str | os.PathLike[str]) -> bool:
    """A file given as input is a samplesheet; a folder is a folder of tilt series."""
    return Path(path).is_file()


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_SHEET_BYTES:
            raise EmflowInputError(path, f"is {size} bytes; a samplesheet is a small text file (at most {MAX_SHEET_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read: {exc.strerror}") from exc
    if b"\x00" in data:
        raise EmflowInputError(path, "is not a text file (holds NUL bytes)")
    try:
        text = data.decode("utf-8-sig")  # a BOM (spreadsheet export) is fine
    except UnicodeDecodeError as exc:
        raise EmflowInputError(path, f"is not UTF-8 text (byte {exc.start})") from exc
    return text


def _where(line: int, column: str | None = None) -> str:
    return f"row {line}, column {column}" if column else f"row {line}"


def _check_text(value: str, line: int, column: str, is_path: bool) -> str | None:
    """The directive-file grammar of emflow.adoc (values never hold shell or adoc syntax)."""
    from emflow.adoc.params import PATH_RE, VALUE_RE

    pattern = PATH_RE if is_path else VALUE_RE
    if pattern.fullmatch(value):
        return None
    bad = sorted({c for c in value if not pattern.fullmatch(c)})
    shown = "".join(bad).encode("unicode_escape").decode("ascii")
    allowed = "letters, digits and ._/+-" if is_path else "letters, digits and ._,+-"
    return f"{_where(line, column)}: {value!r} holds {shown!r}; only {allowed} are allowed"


def _number(value: str, line: int, column: str) -> tuple[Any, str | None]:
    kind, low, high = NUMBER_COLUMNS[column]
    try:
        number: float = int(value) if kind == "int" else float(value)
    except ValueError:
        return None, f"{_where(line, column)}: {value!r} is not {'a whole number' if kind == 'int' else 'a number'}"
    if not math.isfinite(number):
        return None, f"{_where(line, column)}: {value!r} is not a finite number"
    if not low <= number <= high:
        return None, f"{_where(line, column)}: {value} is out of range ({low:g}..{high:g})"
    return number, None


def _resolve(folder: Path, value: str, line: int, column: str, check_files: bool = True) -> tuple[Path | None, str | None]:
    relative = Path(value)
    if ".." in relative.parts:
        return None, f"{_where(line, column)}: {value!r} leaves the samplesheet's folder ('..' is not allowed)"
    path = relative if relative.is_absolute() else folder / relative
    if not check_files:
        return path, None
    if not path.exists():
        return None, f"{_where(line, column)}: {value!r} does not exist (paths are relative to {folder})"
    if not path.is_file():
        return None, f"{_where(line, column)}: {value!r} is not a file"
    return path, None


def _check_row(folder: Path, line: int, cells: dict[str, str], check_files: bool = True) -> tuple[SheetRow | None, list[str]]:
    from emflow.names import basename_of, check_basename, is_stack_file

    problems: list[str] = []
    for column, value in cells.items():
        if value and (problem := _check_text(value, line, column, column in PATH_COLUMNS)):
            problems.append(problem)
    if problems:  # further checks would only repeat the refusal of a suspicious value
        return None, problems
    for column in REQUIRED_COLUMNS:
        if not cells.get(column):
            problems.append(f"{_where(line, column)}: is empty (required)")
    series_id = cells.get("id", "")
    if series_id:
        try:
            check_basename(series_id, "id")
        except EmflowInputError as exc:
            problems.append(f"{_where(line, 'id')}: {exc.problem}")
    paths: dict[str, Path | None] = {}
    for column in PATH_COLUMNS:
        if cells.get(column):
            paths[column], problem = _resolve(folder, cells[column], line, column, check_files)
            if problem:
                problems.append(problem)
    stack = paths.get("stack")
    if cells.get("stack"):
        name = Path(cells["stack"])
        if not is_stack_file(name):
            problems.append(f"{_where(line, 'stack')}: {cells['stack']!r} is not a tilt series (*.mrc or *.st)")
        elif series_id and basename_of(name) != series_id:
            problems.append(f"{_where(line, 'stack')}: {name.name!r} does not match id {series_id!r} "
                            f"(the stack must be named {series_id}.mrc or {series_id}.st)")
    if cells.get("adoc") and not cells["adoc"].lower().endswith(".adoc"):
        problems.append(f"{_where(line, 'adoc')}: {cells['adoc']!r} is not a directive file (*.adoc)")
    angles = cells.get("tilt_angles", "")
    if angles and Path(angles).suffix.lower() not in TILT_ANGLE_SUFFIXES:
        problems.append(f"{_where(line, 'tilt_angles')}: {angles!r} is not a .rawtlt, .tlt or .mdoc file")
    values: dict[str, Any] = {}
    for column in NUMBER_COLUMNS:
        if cells.get(column):
            number, problem = _number(cells[column], line, column)
            if problem:
                problems.append(problem)
            else:
                values[column] = number
    if cells.get("recon"):
        if cells["recon"] not in RECON_VALUES:
            problems.append(f"{_where(line, 'recon')}: {cells['recon']!r} is not one of {', '.join(RECON_VALUES)}")
        else:
            values["recon"] = cells["recon"]
    names = (f"{series_id}.rawtlt", f"{series_id}.tlt", f"{series_id}.mdoc", f"{Path(cells.get('stack', '')).name}.mdoc")
    tilt_file = paths.get("tilt_angles")
    if tilt_file is not None and stack is not None and (tilt_file.parent != stack.parent or tilt_file.name not in names):
        # the reconstruction (IMOD or preview) finds the angles by name beside the stack
        problems.append(f"{_where(line, 'tilt_angles')}: {angles!r} must lie beside the stack and be named "
                        f"{', '.join(names)}")
    if problems or stack is None:
        return None, problems
    written = {c: cells[c] for c in PATH_COLUMNS if cells.get(c)}
    return SheetRow(line, series_id, stack, paths.get("adoc"), paths.get("tilt_angles"), values, written), []


def _header(path: Path, fields: list[str], delimiter: str) -> tuple[list[str], list[str]]:
    """Checked column names and the problems of the header row."""
    names = [f.strip() for f in fields]
    problems = []
    if len(names) == 1 and any(d in names[0] for d in ",;\t|" if d != delimiter):
        used = next(d for d in ",;\t|" if d in names[0])
        expected = "tabs" if delimiter == "\t" else "commas"
        return names, [f"{_where(1)}: columns are separated by {used!r}, but a {path.suffix or 'csv'} sheet "
                       f"uses {expected} (name it .tsv for tabs, .csv for commas)"]
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name:
            problems.append(f"{_where(1)}: column {index} has no name")
        elif name not in COLUMNS:
            problems.append(f"{_where(1, repr(name)[1:-1])}: unknown column (known: {', '.join(COLUMNS)})")
        elif name in seen:
            problems.append(f"{_where(1, name)}: column appears twice")
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            problems.append(f"{_where(1)}: required column {name!r} is missing")
    return names, problems


def read_samplesheet(path: str | os.PathLike[str], check_files: bool = True) -> list[SheetRow]:
    """Read and check a samplesheet; the rows in file order. ``check_files=False`` leaves out
    the checks that need the referenced files (the pipeline's head job checks those).

    Raises
    ------
    EmflowInputError      the file cannot be read, or is not UTF-8 text
    EmflowProblemsError   every problem of the sheet, one line each (row and column named)
    """
    path = Path(path).absolute()
    text = _read_text(path)
    delimiter = _delimiter(path)
    if not text.strip():
        raise EmflowProblemsError(path, ["is empty (a header row with id and stack, then one row per series)"])
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise EmflowProblemsError(path, [f"is not a valid {'TSV' if delimiter == chr(9) else 'CSV'} file: {exc}"]) from exc
    numbered = [(i, r) for i, r in enumerate(records, start=1)]
    # rows are numbered as a spreadsheet shows them: blank lines keep their number but are skipped
    numbered = [(i, r) for i, r in numbered if any(cell.strip() for cell in r)]
    if not numbered:
        raise EmflowProblemsError(path, ["is empty (a header row with id and stack, then one row per series)"])
    header_line, header_fields = numbered[0]
    names, problems = _header(path, header_fields, delimiter)
    if header_line != 1:
        problems.insert(0, f"{_where(header_line)}: the header must be the first line (blank lines before it)")
    body = numbered[1:]
    if not body and not problems:
        problems.append(f"{_where(header_line)}: header only, no series rows")
    rows: list[SheetRow] = []
    if not problems:
        folder = path.parent
        ids: dict[str, int] = {}
        stacks: dict[Path, int] = {}
        for line, fields in body:
            if len(fields) != len(names):
                problems.append(f"{_where(line)}: {len(fields)} fields, the header has {len(names)} "
                                f"(a value holding {delimiter!r} must be quoted)")
                continue
            cells = {name: value.strip() for name, value in zip(names, fields)}
            row, row_problems = _check_row(folder, line, cells, check_files)
            problems += row_problems
            if row is None:
                continue
            if row.id in ids:
                problems.append(f"{_where(line, 'id')}: duplicate id {row.id!r} (also row {ids[row.id]})")
                continue
            real = row.stack.resolve() if check_files else row.stack
            if real in stacks:
                problems.append(f"{_where(line, 'stack')}: the same stack as row {stacks[real]}")
                continue
            ids[row.id], stacks[real] = line, line
            rows.append(row)
            if len(problems) > MAX_PROBLEMS:
                break
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"... and {more} more problems"] if more > 0 else [])
        raise EmflowProblemsError(path, shown)
    return rows


def parse_row_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``--row column=value`` pairs (a samplesheet row's values handed to one step) -> the
    AdocParams/RunOptions field -> typed value, checked like a sheet's cells."""
    values: dict[str, Any] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or column not in ROW_PARAMETERS:
            raise EmflowInputError("--row", f"{pair!r} is not COLUMN=VALUE with COLUMN one of {', '.join(ROW_PARAMETERS)}")
        if problem := _check_text(value, 0, column, False):
            raise EmflowInputError("--row", problem.partition(": ")[2])
        if column == "recon":
            if value not in RECON_VALUES:
                raise EmflowInputError("--row", f"recon {value!r} is not one of {', '.join(RECON_VALUES)}")
            values["recon"] = value
            continue
        number, problem = _number(value, 0, column)
        if problem:
            raise EmflowInputError("--row", problem.partition(": ")[2])
        values[ROW_PARAMETERS[column]] = number
    return values


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def sheet_for_folder(folder: str | os.PathLike[str]) -> tuple[str, list[str]]:
    """CSV text of a samplesheet for every valid series of ``folder`` (paths relative to it),
    with the detected tilt axis and pixel size filled in, and one note per series whose
    metadata could not be read or whose sources disagree."""
    from emflow.acquisition import read_acquisition, resolve_pixel_size, resolve_tilt_axis
    from emflow.series import discover_series

    series, _ignored = discover_series(folder)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    notes = []
    for s in series:
        if not s.ok:
            notes.append(f"left out: {s.error}")
            continue
        axis = pixel = None
        try:
            found = read_acquisition(s.stack)
        except EmflowInputError as exc:
            notes.append(f"{s.basename}: no metadata ({exc.problem})")
        else:
            axis = found.tilt_axis_deg[0].value if found.tilt_axis_deg else None
            pixel_choice = resolve_pixel_size(s.stack, acquisition=found)
            pixel = pixel_choice.value
            axis_choice = resolve_tilt_axis(s.stack, acquisition=found)
            notes += [f"{s.basename}: {c}" for c in axis_choice.conflicts + pixel_choice.conflicts]
        adoc = s.user_adoc.name if s.user_adoc is not None else ""
        sides = [s.stack.with_name(f"{s.basename}{ext}") for ext in (".rawtlt", ".tlt")] + [
            s.stack.with_name(f"{s.stack.name}.mdoc"), s.stack.with_name(f"{s.basename}.mdoc")]
        angles = next((p.name for p in sides if p.is_file()), "")
        writer.writerow([s.basename, s.stack.name, adoc, angles, _cell(pixel), _cell(axis), "", "", ""])
    return out.getvalue(), notes
