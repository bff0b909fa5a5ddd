from __future__ import annotations

import json
from pathlib import Path

from emflow.cli import main


def test_manifest_and_validate_assets(published: tuple[Path, Path], capfd) -> None:
    inp, out = published
    assert main(["manifest", str(out), "--input-dir", str(inp)]) == 0
    assert capfd.readouterr().out.strip() == "success: 1 of 3 series succeeded"
    assert main(["manifest", str(out), "--input-dir", str(inp), "--strict"]) == 1
    capfd.readouterr()
    assert main(["validate-assets", str(out / "assets.json")]) == 0
    assert capfd.readouterr().out.strip() == f"{out / 'assets.json'}: valid (status success, 3 files, 2 failed)"
    broken = json.loads((out / "assets.json").read_text())
    broken["files"][0]["imageSet"][0]["assets"][0]["type"] = "poster"
    (out / "bad.json").write_text(json.dumps(broken))
    assert main(["validate-assets", str(out / "bad.json")]) == 2
    err = capfd.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not match the assets schema at files/0/imageSet/0/assets/0/type" in err
    (out / "text.json").write_text("{oops")
    assert main(["validate-assets", str(out / "text.json")]) == 2
    assert "not valid JSON" in capfd.readouterr().err


def test_run_refuses_bad_parameters_before_work(tmp_path: Path, capfd, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-imod-here"))
    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    for args, message in ((["--bin", "0"], "--bin"), (["--set", "comparam.x.y.z=a b"], "comparam.x.y.z"),
                          (["--workers", "0"], "--workers: 0 is not a positive number"),
                          (["--recon", "imod"], "--recon imod: batchruntomo not found on PATH")):
        assert main(["run", str(tmp_path / "in"), "--outdir", str(out), *args]) == 2
        err = capfd.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert main(["run", str(tmp_path / "missing"), "--outdir", str(out)]) == 2
    assert "is not a folder" in capfd.readouterr().err
    assert not out.exists()
