"""Read a directive file the way batchruntomo reads it, strictly (SPEC §2).

BRT: strip the line; skip blank and ``#`` lines; key = text before the first ``=``; value = text
between the first and a second ``=`` (the rest is silently dropped); an inline ``#`` is part of
the value. emflow refuses every line BRT would read differently from what it looks like: no
``=``, a second ``=``, a bad key, a value outside the grammar, or a key given twice.

Public names
------------
parse_adoc(path) -> dict[str, str]           key -> value in file order
parse_adoc_text(text, source) -> dict        the same for text (``source`` names it in errors)
read_brt_settings(path) -> BrtSettings       what emflow needs from a (possibly user's) file
rewrite_dataset_dir(text, folder) -> str     the one line ``emflow brt`` changes
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emflow.adoc.params import check_key, check_value, shown
from emflow.errors import EmflowInputError

DATASET_DIR_KEY = "setupset.datasetDirectory"


def _split_line(line: str, where: str) -> tuple[str, str] | None:
    """(key, value) of one directive line as BRT reads it; None for blank/comment lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if "=" not in text:
        raise EmflowInputError(where, f"line {shown(text)} is not a 'key=value' directive")
    key, _, rest = text.partition("=")
    if "=" in rest:
        raise EmflowInputError(
            where, f"line {shown(text)} has a second '=': batchruntomo would silently drop the rest"
        )
    return key.strip(), rest.strip()


def parse_adoc_text(text: str, source: str | os.PathLike[str]) -> dict[str, str]:
    """Parse directive text strictly; errors name ``source`` and the line number.

    Raises
    ------
    EmflowInputError
        ``"FILE line N: problem"`` for a line BRT would misread or a duplicate key.
    """
    directives: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{os.fspath(source)} line {number}"
        pair = _split_line(line, where)
        if pair is None:
            continue
        key, value = pair
        check_key(key, where)
        check_value(key, value, f"{where} ({key})")
        if key in directives:
            raise EmflowInputError(where, f"duplicate directive {key} (first given on line {first_line[key]})")
        directives[key] = value
        first_line[key] = number
    return directives


def parse_adoc(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``path`` as batchruntomo does, refusing anything it would misread (see module doc)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise EmflowInputError(path, "directive file not found") from exc
    except OSError as exc:
        raise EmflowInputError(path, f"cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EmflowInputError(f"{path} line {line}", "non-ASCII byte: directive files must be plain ASCII") from exc
    return parse_adoc_text(text, path)


@dataclass(frozen=True)
class BrtSettings:
    """What emflow reads back from a directive file.

    Attributes
    ----------
    name : BASENAME (``setupset.copyarg.name``)
    stackext : stack extension without dot (``setupset.copyarg.stackext``, default ``st``)
    bin_factor : aligned-stack binning (``runtime.AlignedStack.any.binByFactor``, default 1)
    thickness_px : unbinned reconstruction thickness (``comparam.tilt.tilt.THICKNESS``; None if unset)
    pixel_size_nm : ``setupset.copyarg.pixel`` in nm; None when empty (header value is used)
    post_processing : False when ``runtime.Postprocess.any.doTrimvol=0`` (then no ``_full_rec`` is required)
    """

    name: str
    stackext: str
    bin_factor: int
    thickness_px: int | None
    pixel_size_nm: float | None
    post_processing: bool = True


def read_brt_settings(adoc_path: str | os.PathLike[str]) -> BrtSettings:
    """Parse ``adoc_path`` strictly and return the settings emflow needs (see BrtSettings)."""
    from emflow.names import check_basename

    directives = parse_adoc(adoc_path)
    name = directives.get("setupset.copyarg.name", "")
    if not name:
        raise EmflowInputError(adoc_path, "setupset.copyarg.name is missing or empty")
    check_basename(name, f"{os.fspath(adoc_path)} (setupset.copyarg.name)")
    bin_text = directives.get("runtime.AlignedStack.any.binByFactor") or "1"
    thickness = directives.get("comparam.tilt.tilt.THICKNESS") or None
    pixel = directives.get("setupset.copyarg.pixel") or None
    return BrtSettings(
        name=name,
        stackext=directives.get("setupset.copyarg.stackext") or "st",
        bin_factor=int(bin_text),
        thickness_px=int(thickness) if thickness is not None else None,
        pixel_size_nm=float(pixel) if pixel is not None else None,
        post_processing=directives.get("runtime.Postprocess.any.doTrimvol", "1") != "0",
    )


def rewrite_dataset_dir(text: str, folder: str) -> tuple[str, str | None]:
    """Set ``setupset.datasetDirectory`` to ``folder``; every other line is kept byte for byte.

    Returns the new text and the old value (None when the directive was absent and was appended).
    """
    check_value(DATASET_DIR_KEY, folder, "--workdir")
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        if key.strip() == DATASET_DIR_KEY:
            ending = line[len(line.rstrip("\r\n")):] or "\n"
            lines[i] = f"{DATASET_DIR_KEY}={folder}{ending}"
            return "".join(lines), value.strip()
    tail = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{tail}{DATASET_DIR_KEY}={folder}\n", None
