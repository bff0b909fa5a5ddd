from __future__ import annotations

from pathlib import Path

import pytest

from emflow.errors import EmflowInputError
from emflow.series import discover_series


def test_series_companions_and_ignored(tmp_path: Path) -> None:
    for name in ("b.ST", "a.mrc", "a.adoc", "a.rawtlt", "bad name.mrc", ".hidden.mrc", "notes.txt", "c.map"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.mrc").mkdir()
    series, ignored = discover_series(tmp_path)
    by_file = {s.stack.name: s for s in series}
    assert sorted(by_file) == [".hidden.mrc", "a.mrc", "b.ST", "bad name.mrc"]
    assert by_file["a.mrc"].ok and by_file["a.mrc"].user_adoc == tmp_path / "a.adoc"
    assert by_file["b.ST"].basename == "b" and by_file["b.ST"].user_adoc is None
    assert "not allowed" in by_file["bad name.mrc"].error and "bad name.mrc" in by_file["bad name.mrc"].error
    assert not by_file[".hidden.mrc"].ok
    assert sorted(p.name for p in ignored) == ["c.map", "notes.txt", "sub.mrc"]


def test_same_basename_twice_fails_the_second(tmp_path: Path) -> None:
    for name in ("x.mrc", "x.st"):
        (tmp_path / name).write_bytes(b"x")
    series, _ = discover_series(tmp_path)
    assert [s.ok for s in series] == [True, False]
    assert "already used by x.mrc" in series[1].error


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(EmflowInputError, match="is not a folder"):
        discover_series(tmp_path / "missing")


def test_shell_metacharacters_and_undecodable_names(tmp_path: Path) -> None:
    import os

    for name in ("a;rm -rf.mrc", "$(x).mrc", "café.mrc"):
        (tmp_path / name).write_bytes(b"x")
    (Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff.mrc"))).write_bytes(b"x")
    series, _ = discover_series(tmp_path)
    assert not any(s.ok for s in series)
    names = sorted(s.file_name for s in series)
    assert names == ["$(x).mrc", "a;rm -rf.mrc", "bad\\xff.mrc", "café.mrc"]
    bad = next(s for s in series if s.file_name == "bad\\xff.mrc")
    assert bad.error.startswith("bad\\xff.mrc: series name 'bad\\\\xff' is not allowed")
    bad.error.encode("utf-8")  # writable anywhere
