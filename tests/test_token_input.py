"""What people paste into ``oauth-inspector token``: bare tokens, headers, whole requests; and what is refused."""

import json
from pathlib import Path

import pytest

from inspector.lab.tokens import LAB_HOST
from inspector.model import ConfigError
from inspector.token_input import Paste, host_of, read_paste
from tests.test_cli import invoke

AT = "2026-11-02T09:31:00Z"


def test_a_bare_token_in_quotes_wrapped_over_lines() -> None:
    assert read_paste('  "eyJhbGc.eyJzdWIi\n  OiJ4In0.sig"  ') == Paste("Bearer eyJhbGc.eyJzdWIiOiJ4In0.sig")
    assert read_paste("“Bearer abc.def.ghi”") == Paste("Bearer abc.def.ghi")


def test_a_raw_request_copied_from_fiddler_gives_its_authorization_and_host() -> None:
    raw = (
        "POST https://mail.contoso.com/EWS/Exchange.asmx HTTP/1.1\r\n"
        "Content-Type: text/xml; charset=utf-8\r\n"
        "Authorization: Bearer eyJ0eXAi.eyJhdWQi\r\n"
        "   OiJ4In0.\r\n"
        "Host: mail.contoso.com\r\n"
        "\r\n"
        "<soap:Envelope>Authorization: not-this</soap:Envelope>"
    )
    assert read_paste(raw) == Paste("Bearer eyJ0eXAi.eyJhdWQiOiJ4In0.", "mail.contoso.com")


def test_headers_copied_from_a_browser_over_http2_name_the_host_authority() -> None:
    copied = ":authority: outlook.office365.com\n:method: GET\n:path: /api/v2.0/me\nauthorization: Bearer a.b.c\n"
    assert read_paste(copied) == Paste("Bearer a.b.c", "outlook.office365.com")


def test_an_authorization_line_followed_by_other_headers() -> None:
    assert read_paste("Authorization: Bearer a.b.c\nUser-Agent: Exchange\nX-Other: 1") == Paste("Bearer a.b.c")


def test_a_request_without_authorization_or_with_two_is_refused() -> None:
    with pytest.raises(ConfigError, match="no Authorization header"):
        read_paste("GET /ews HTTP/1.1\nHost: mail.contoso.com\n")
    with pytest.raises(ConfigError, match="2 Authorization headers"):
        read_paste("GET /ews HTTP/1.1\nAuthorization: Bearer a\nAuthorization: Basic b\n")


def test_an_empty_paste_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        read_paste(" \n\t ")
    with pytest.raises(ConfigError, match="empty"):
        read_paste('""')


def test_a_file_path_given_as_the_token_is_refused_saying_how(tmp_path: Path) -> None:
    path = tmp_path / "token.txt"
    path.write_text("eyJ...")
    with pytest.raises(ConfigError, match=r"is a file, not a token; .*token - <"):
        read_paste(str(path))


@pytest.mark.parametrize(
    ("given", "host"),
    [
        ("https://mail.contoso.com/EWS/Exchange.asmx", "mail.contoso.com"),
        ("https://user:pw@mail.contoso.com:444/x", "mail.contoso.com:444"),
        ("mail.contoso.com", "mail.contoso.com"),
        ("mail.contoso.com/EWS", "mail.contoso.com"),
    ],
)
def test_host_accepts_a_url(given: str, host: str) -> None:
    assert host_of(given) == host


def test_the_token_command_takes_the_host_from_a_pasted_request(lab_kit) -> None:  # type: ignore[no-untyped-def]
    token = lab_kit.healthy_user().value
    request = f"GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: {LAB_HOST}\r\nAuthorization: Bearer {token}\r\n\r\n"
    code, out, _ = invoke("token", "-", "--at", AT, "--format", "json", input=request)
    assert code == 0
    assert [f["rule"] for f in json.loads(out)["findings"] if f["severity"] == "error"] == []
    wrong = request.replace(f"Host: {LAB_HOST}", "Host: exchange.fabrikam.com")
    code, out, _ = invoke("token", "-", "--at", AT, "--format", "json", input=wrong)
    assert code == 1
    assert "audience-mismatch" in {f["rule"] for f in json.loads(out)["findings"]}


def test_the_token_command_host_option_accepts_a_url(lab_kit) -> None:  # type: ignore[no-untyped-def]
    token = lab_kit.healthy_user().value
    code, out, _ = invoke(
        "token", token, "--at", AT, "--host", f"https://{LAB_HOST}/EWS/Exchange.asmx", "--format", "json"
    )
    assert code == 0, out
    code, out, _ = invoke("token", token, "--at", AT, "--host", "https://exchange.fabrikam.com/EWS", "--format", "json")
    assert code == 1


def test_the_token_command_refuses_an_empty_paste_and_a_path(tmp_path: Path) -> None:
    code, _, err = invoke("token", "-", input="   \n")
    assert code == 2 and "empty" in err and "Traceback" not in err
    path = tmp_path / "t.jwt"
    path.write_text("x")
    code, _, err = invoke("token", str(path))
    assert code == 2 and "is a file, not a token" in err
