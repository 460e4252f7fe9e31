"""A token or header value pasted by a person, judged by the same analyzer as captured traffic.

People paste what they have: a bare token, a header value, an ``Authorization:`` line with the headers around it,
or a whole request copied from Fiddler, Burp or a browser's developer tools (HTTP/2 copies name the host
``:authority``). :func:`read_paste` takes the Authorization value and the Host out of any of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import ConfigError, Endpoint, HttpExchange, HttpRequest, Provenance

_HEADER_PREFIX = re.compile(r"^\s*(proxy-)?authorization\s*:\s*", re.IGNORECASE)
_REQUEST_LINE = re.compile(r"[A-Z][A-Z-]{1,20} \S+ HTTP/\d(\.\d)?")
_HEADER_LINE = re.compile(r"(:?[!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:(.*)")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`"}


@dataclass(frozen=True, slots=True)
class Paste:
    """What a paste says: the Authorization value to judge and, when the paste names it, the Host it went to."""

    authorization: str
    host: str | None = None


def authorization_value(text: str) -> str:
    """Accept ``Authorization: Bearer x``, ``Bearer x`` or a bare token; whitespace inside a token is dropped
    (tokens pasted from logs and e-mails arrive wrapped over several lines)."""
    value = _HEADER_PREFIX.sub("", text.strip(), count=1)
    scheme, _, rest = value.partition(" ")
    if (
        rest
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*", scheme)
        and "." not in scheme
        and not scheme.startswith("eyJ")
    ):
        return f"{scheme} {''.join(rest.split())}"
    return "Bearer " + "".join(value.split())


def read_paste(text: str) -> Paste:
    """The Authorization value (and Host) in what a person pasted; :class:`ConfigError` for a paste that holds none."""
    stripped = _unquote(text.strip().lstrip("\ufeff"))
    if not stripped:
        raise ConfigError("nothing to judge: the token given is empty (paste a token, a header or a whole request)")
    _refuse_a_file_path(stripped)
    lines = stripped.splitlines()
    first = lines[0].strip()
    if _REQUEST_LINE.fullmatch(first) or (len(lines) > 1 and _is_header_block(lines)):
        return _from_header_block(lines[1:] if _REQUEST_LINE.fullmatch(first) else lines)
    return Paste(authorization_value(stripped))


def host_of(value: str) -> str:
    """``--host`` as a Host value: a bare ``host[:port]``, or the authority of a URL (``https://mail.contoso.com/EWS``)."""
    text = value.strip()
    if "://" in text:
        authority = urlsplit(text).netloc.rpartition("@")[2]
        if not authority:
            raise ConfigError(f"--host {value!r} is a URL without a host name")
        return authority
    return text.split("/", 1)[0]


def judge_pasted(text: str, analyzer: Analyzer, *, at: datetime, host: str | None) -> ExchangeResult:
    """Judge a paste; ``host`` (the ``--host`` option) wins over a Host the paste itself names."""
    paste = read_paste(text)
    chosen_host = host_of(host) if host else paste.host
    headers: list[tuple[str, str]] = []
    if chosen_host:
        headers.append(("Host", chosen_host))
    headers.append(("Authorization", paste.authorization))
    exchange = HttpExchange(
        id="token",
        request=HttpRequest(method="-", target="-", headers=tuple(headers)),
        response=None,
        time=at,
        provenance=Provenance(kind="token", source="token"),
        client=Endpoint("pasted"),
    )
    result = analyzer.feed(exchange)
    assert isinstance(result, ExchangeResult)
    return result


def _unquote(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def _refuse_a_file_path(text: str) -> None:
    if "\n" in text or len(text) > 4096:
        return
    try:
        is_file = Path(text).expanduser().is_file()
    except (OSError, ValueError):
        return
    if is_file:
        raise ConfigError(
            f"{text!r} is a file, not a token; to judge the token in a file: oauth-inspector token - < {text}"
        )


def _is_header_block(lines: list[str]) -> bool:
    """Several lines whose first is ``Name: value``: headers copied with the Authorization among them."""
    return _HEADER_LINE.fullmatch(lines[0].strip()) is not None and any(_HEADER_PREFIX.match(line) for line in lines)


def _from_header_block(lines: list[str]) -> Paste:
    """Headers, one per line; a line that is not ``Name: value`` continues the previous one (a wrapped token: token
    characters never include ':')."""
    fields: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            if fields:
                break  # the blank line that ends a head: what follows is a body
            continue
        match = _HEADER_LINE.fullmatch(line)
        if match:
            fields.append((match.group(1).lower(), match.group(2).strip()))
        elif fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + line)
    authorizations = [value for name, value in fields if name == "authorization"]
    if not authorizations:
        authorizations = [value for name, value in fields if name == "proxy-authorization"]
    if not authorizations:
        raise ConfigError("the pasted request has no Authorization header: there is no token to judge")
    if len(authorizations) > 1:
        raise ConfigError(f"the pasted request has {len(authorizations)} Authorization headers; paste the one to judge")
    host = next((value for name, value in fields if name in ("host", ":authority")), None)
    return Paste(authorization_value(authorizations[0]), host or None)
