"""An entry whose time is unusable is kept with its time unknown (unknown beats wrong): every per-exchange rule
judges it, the time-dependent ones do not, and a notice says so. Before the fix, a HAR entry with an unparsable
``startedDateTime`` was skipped, so a Basic password in it gave exit 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.writers import har_document
from tests.builders import BEARER_CHALLENGE, basic, exchange, unsigned_jwt

PASSWORD = "S3cret!"


def _har(tmp_path: Path, *entries: tuple[Any, str | None]) -> Path:
    """A HAR of the builders' exchanges; each with the ``startedDateTime`` given (``None``: as written)."""
    document = har_document([item for item, _ in entries])
    for entry, (_, started) in zip(document["log"]["entries"], entries, strict=True):
        if started is not None:
            entry["startedDateTime"] = started
    path = tmp_path / "trace.har"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _analyze(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["analyze", str(path), "--format", "json", "-q", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("started", ["yesterday", "2026-11-02T09:30:00", "", "9999-12-31T23:59:59-23:59"])
def test_a_basic_password_in_an_entry_of_unknown_time_fails_the_run(tmp_path: Path, started: str) -> None:
    code, report = _analyze(_har(tmp_path, (exchange(basic("CONTOSO\\svc", PASSWORD)), started)))
    assert code == 1
    [judged] = report["exchanges"]
    assert judged["time"] is None
    rules = {f["rule"] for f in report["findings"]}
    assert {"basic-credentials", "input-malformed"} <= rules
    [notice] = [f for f in report["findings"] if f["rule"] == "input-malformed"]
    assert notice["exchange"] == judged["id"] and "time is unknown" in notice["message"]
    assert PASSWORD not in json.dumps(report)


def test_the_time_dependent_rules_are_not_applied_and_the_others_are(tmp_path: Path) -> None:
    """An expired token sent at an unknown time is not called expired (nor valid: its times are not judged); a
    Basic attempt of unknown time after a refused OAuth attempt is not called a fallback (the window cannot be
    judged); the close case, the same with known times, raises both."""
    expired = unsigned_jwt({"aud": "x", "iss": "y", "nbf": 1_000_000_000, "exp": 1_000_003_600})
    refused = exchange(f"Bearer {expired}", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    fallback = exchange(basic("CONTOSO\\svc", PASSWORD), after=5)
    _, unknown = _analyze(_har(tmp_path, (refused, "garbage"), (fallback, "garbage")))
    rules = {f["rule"] for f in unknown["findings"]}
    assert "basic-credentials" in rules and "token-unsigned" in rules  # per-exchange rules still judge
    assert not {"token-expired", "basic-fallback"} & rules
    _, known = _analyze(_har(tmp_path, (refused, None), (fallback, None)))
    assert {"token-expired", "basic-fallback", "basic-credentials"} <= {f["rule"] for f in known["findings"]}


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_flow_whose_request_time_is_missing_is_kept_and_judged(tmp_path: Path, missing: float | None) -> None:
    """A .mitm flow with ``timestamp_start`` null (mitmproxy's own loader refuses it; found by review: the flow was
    dropped and a Basic password in it gave exit 0) or NaN."""
    from mitmproxy import io

    from inspector.lab.writers import flow_from_exchange

    flow = flow_from_exchange(exchange(basic("CONTOSO\\svc", "Secret1!")))
    flow.request.timestamp_start = missing  # type: ignore[assignment]
    path = tmp_path / "no-time.mitm"
    with path.open("wb") as out:
        io.FlowWriter(out).add(flow)
    result = CliRunner().invoke(main, ["analyze", str(path), "--format", "json", "-q"])
    assert result.exit_code == 1, result.stderr
    document = json.loads(result.stdout)
    (only,) = document["exchanges"]
    assert only["time"] is None
    assert {"basic-credentials", "input-malformed"} <= set(document["summary"]["rules"])
