"""A token or header value pasted by a person, judged by the same analyzer as captured traffic."""

from __future__ import annotations

import re
from datetime import datetime

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import Endpoint, HttpExchange, HttpRequest, Provenance

_HEADER_PREFIX = re.compile(r"^\s*(proxy-)?authorization\s*:\s*", re.IGNORECASE)


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


def judge_pasted(text: str, analyzer: Analyzer, *, at: datetime, host: str | None) -> ExchangeResult:
    headers: list[tuple[str, str]] = []
    if host:
        headers.append(("Host", host))
    headers.append(("Authorization", authorization_value(text)))
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
