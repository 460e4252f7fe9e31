"""One definition of "the same host": what the fallback rule and the audience checks compare."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.hosts import bare_host, origin_host


def test_origin_host_drops_case_a_trailing_dot_and_the_default_port_only() -> None:
    assert origin_host("MAIL.contoso.com.:443", "https") == "mail.contoso.com"
    assert origin_host("mail.contoso.com:80", "http") == "mail.contoso.com"
    assert origin_host("mail.contoso.com:443", "http") == "mail.contoso.com:443"
    assert origin_host("mail.contoso.com:8443", "https") == "mail.contoso.com:8443"
    assert origin_host("[2001:DB8::1]:443", "https") == "[2001:db8::1]"
    assert origin_host("[2001:db8::1]:8443", "https") == "[2001:db8::1]:8443"
    assert origin_host(None, "https") == origin_host("", "https") == "?"


def test_bare_host_drops_any_port() -> None:
    assert bare_host(" Mail.Contoso.com.:8443 ") == "mail.contoso.com"
    assert bare_host("[2001:db8::1]:443") == "[2001:db8::1]"
    assert bare_host("2001:db8::1") == "2001:db8::1"  # an unbracketed IPv6 address has no port


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["http", "https", "ftp"]))
def test_hostile_hosts_never_raise(value: str, scheme: str) -> None:
    assert isinstance(origin_host(value, scheme), str)
    assert isinstance(bare_host(value), str)
