"""POST ``assets.json`` to the portal's callback URL (SPEC §8).

``Authorization: Bearer $EMFLOW_TOKEN``; 3 tries with exponential backoff on connection errors,
HTTP 5xx and 429; other HTTP errors fail at once. The token is only ever put in the request
header: never logged, never written, never part of an error message (the URL is shown without
user info or query string).

Public functions
----------------
get_token(environ=os.environ)                  $EMFLOW_TOKEN or a one-line error
post_assets(url, body, token, *, tries=3, backoff_s=BACKOFF_S, timeout_s=30.0, log=None) -> int status
redact_url(url)                                scheme://host[:port]/path
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from emflow.errors import EmflowInputError, EmflowStepError

TOKEN_ENV = "EMFLOW_TOKEN"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_S = 1.0  # first wait between tries; doubled each time (1 s, 2 s)


def get_token(environ: Mapping[str, str] = os.environ) -> str:
    """The bearer token from ``$EMFLOW_TOKEN``; EmflowInputError when unset or empty."""
    token = environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise EmflowInputError(TOKEN_ENV, "is not set; --callback-url needs the bearer token in this environment variable")
    if any(c in token for c in "\r\n"):
        raise EmflowInputError(TOKEN_ENV, "contains a line break")
    return token.strip()


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment (what may appear in logs)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EmflowInputError("--callback-url", f"{redact_url(url)!r} is not an http(s) URL")
    return url


def _attempt(url: str, body: bytes, token: str, timeout_s: float) -> tuple[int | None, str]:
    """One POST: (HTTP status or None, short reason)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
            return response.status, "OK"
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"connection failed: {reason}"


def post_assets(url: str, body: bytes, token: str, *, tries: int = 3, backoff_s: float | None = None,
                timeout_s: float = 30.0, log: Callable[[str], None] | None = None) -> int:
    """POST ``body`` (the bytes of assets.json); return the final HTTP status (2xx).

    Raises
    ------
    EmflowStepError
        ``"--callback-url: POST to URL failed after N tries: REASON"`` (no token in it).
    """
    check_url(url)
    shown = redact_url(url)
    reason = ""
    for attempt in range(1, tries + 1):
        status, reason = _attempt(url, body, token, timeout_s)
        reason = reason.replace(token, "***")
        if status is not None and 200 <= status < 300:
            if log:
                log(f"callback: POST assets.json to {shown}: HTTP {status} (try {attempt})")
            return status
        if log:
            log(f"callback: POST to {shown} try {attempt} of {tries}: {reason}")
        if status is not None and status not in RETRY_STATUS:
            break
        if attempt < tries:
            time.sleep((BACKOFF_S if backoff_s is None else backoff_s) * 2 ** (attempt - 1))
    raise EmflowStepError("--callback-url", f"POST to {shown} failed after {attempt} tries: {reason}")
