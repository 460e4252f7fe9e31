"""The key a client is remembered by: its address and the host as one origin."""

from __future__ import annotations

from dataclasses import replace

from inspector.checks.clients import client_key
from tests.builders import exchange


def test_the_host_is_one_origin_and_the_client_its_address() -> None:
    plain = exchange(None, host="mail.contoso.com")
    for spelled in ("MAIL.contoso.com.", "mail.contoso.com:443"):
        assert client_key(exchange(None, host=spelled), spelled) == client_key(plain, "mail.contoso.com")
    assert client_key(plain, "mail.contoso.com:8443") != client_key(plain, "mail.contoso.com")
    assert client_key(exchange(None, client="10.0.0.8"), "h")[0] == "10.0.0.8"
    assert client_key(replace(plain, client=None), "h")[0] == "?"
