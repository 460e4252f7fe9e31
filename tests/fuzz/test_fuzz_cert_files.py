"""Any bytes given as a certificate: loaded, or refused with a plain description; never a crash or parser text."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.cert_files import admin_forms, describe
from inspector.model import ConfigError
from inspector.trust import parse_certificates


def _message(data: bytes) -> str:
    try:
        parse_certificates(data, "x.cer")
    except ConfigError as exc:
        return str(exc)
    return ""


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=400).map(base64.b64encode),
        st.binary(max_size=300).map(lambda b: b"\x30\x82" + b),
        st.text(max_size=200).map(lambda t: t.encode("utf-16")),
    )
)
def test_any_bytes_are_a_certificate_or_a_plain_refusal(data: bytes) -> None:
    admin_forms(data)
    assert describe(data)
    message = _message(data)
    assert "ParseError" not in message and "asn1" not in message.lower()
