"""The callback against a real HTTP server on 127.0.0.1: body, bearer header, retries, no token leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from manifest_helpers import TOKEN, grep_token, portal

from emflow.cli import main
from emflow.errors import EmflowInputError, EmflowStepError
from emflow.manifest.callback import get_token, post_assets, redact_url

@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("emflow.manifest.callback.BACKOFF_S", 0.01)


def test_manifest_cli_posts_assets_after_a_500(published, monkeypatch, capfd) -> None:
    inp, out = published
    monkeypatch.setenv("EMFLOW_TOKEN", TOKEN)
    with portal([500]) as (url, seen):
        assert main(["manifest", str(out), "--input-dir", str(inp), "--callback-url", url]) == 0
    assert len(seen) == 2  # a 500, then the retry that succeeded
    for request in seen:
        assert request["path"] == "/api/assets?run=7"
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["body"] == (out / "assets.json").read_bytes()
    captured = capfd.readouterr()
    assert "try 1 of 3: HTTP 500" in captured.err and "HTTP 200 (try 2)" in captured.err
    assert TOKEN not in captured.out + captured.err
    assert "run=7" not in captured.err  # the query string is not logged either
    assert grep_token(out) == []


def test_final_failure_is_one_clear_line(published, monkeypatch, capfd) -> None:
    inp, out = published
    monkeypatch.setenv("EMFLOW_TOKEN", TOKEN)
    with portal([500, 502, 503, 200]) as (url, seen):
        assert main(["manifest", str(out), "--input-dir", str(inp), "--callback-url", url]) == 1
    assert len(seen) == 3
    err = capfd.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("emflow: --callback-url: POST to http://127.0.0.1:") and "failed after 3 tries: HTTP 503" in last
    assert TOKEN not in err and grep_token(out) == []
    assert (out / "assets.json").exists()  # the manifest is written before the POST


def test_client_error_is_not_retried() -> None:
    with portal([401]) as (url, seen):
        with pytest.raises(EmflowStepError, match="failed after 1 tries: HTTP 401"):
            post_assets(url, b"{}", TOKEN)
    assert len(seen) == 1


def test_unreachable_portal(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EmflowStepError, match="failed after 3 tries: connection failed") as info:
        post_assets(f"http://127.0.0.1:{port}/x", b"{}", TOKEN, timeout_s=2)
    assert TOKEN not in str(info.value)


def test_token_and_url_checks(published, monkeypatch, capfd) -> None:
    inp, out = published
    monkeypatch.delenv("EMFLOW_TOKEN", raising=False)
    with pytest.raises(EmflowInputError, match="EMFLOW_TOKEN: is not set"):
        get_token()
    assert main(["manifest", str(out), "--input-dir", str(inp), "--callback-url", "http://127.0.0.1:9/"]) == 2
    assert not (out / "assets.json").exists()  # refused before any work
    monkeypatch.setenv("EMFLOW_TOKEN", TOKEN)
    assert main(["manifest", str(out), "--input-dir", str(inp), "--callback-url", "ftp://host/x"]) == 2
    assert "is not an http(s) URL" in capfd.readouterr().err
    assert redact_url("https://user:pw@portal.example:8443/api/cb?token=abc#f") == "https://portal.example:8443/api/cb"
