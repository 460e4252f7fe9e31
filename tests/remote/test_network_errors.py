"""Network failures explained in words, never urllib3's text: a real pypsrp session to a closed loopback port,
and the exception chains requests and urllib3 build."""

from __future__ import annotations

import socket

import pytest

from inspector.provision.exchange import exchange_shell
from inspector.provision.state import TargetUnavailable
from inspector.remote.network_errors import explain_network_error
from inspector.remote.psrp import PsrpSettings

LIBRARY_TEXT = ("urllib3", "MaxRetryError", "HTTPConnectionPool", "HTTPSConnectionPool", "NewConnectionError", "<")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_remoting_to_a_closed_port_says_connection_refused() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/PowerShell"
    settings = PsrpSettings(url, auth="ntlm", username="CONTOSO\\admin", password="x", timeout=5)
    with pytest.raises(TargetUnavailable) as raised, exchange_shell(settings) as shell:
        shell.run("Get-AuthConfig", {})  # type: ignore[attr-defined]
    message = str(raised.value)
    assert "connection refused" in message and url in message
    for text in LIBRARY_TEXT:
        assert text not in message


def test_the_wrapped_causes_are_found() -> None:
    import requests
    import urllib3

    def wrapped(cause: BaseException) -> BaseException:
        new = urllib3.exceptions.NewConnectionError(None, f"Failed to establish a new connection: {cause}")  # type: ignore[arg-type]
        new.__cause__ = cause
        retry = urllib3.exceptions.MaxRetryError(None, "/PowerShell", new)  # type: ignore[arg-type]
        return requests.exceptions.ConnectionError(retry)

    dns = explain_network_error(wrapped(socket.gaierror(-2, "Name or service not known")), "https://ex01.contoso.com")
    assert dns is not None and "does not resolve (DNS)" in dns
    timeout = explain_network_error(requests.exceptions.ConnectTimeout("x"), "https://login.microsoftonline.com")
    assert timeout is not None and "did not answer in time" in timeout
    assert explain_network_error(ValueError("not the network"), "x") is None
