"""Messages read as people write them: no Python reprs (doubled backslashes, quotes around None), no "sent to ?"."""

from __future__ import annotations

from dataclasses import replace

from inspector.analyze import Analyzer
from inspector.policy import Policy
from inspector.text import quoted, sent_to
from inspector.trust import Trust
from tests.builders import CLOCK, basic, exchange


def _messages(*items: object) -> list[str]:
    analyzer = Analyzer(Trust(), Policy(now=CLOCK))
    out: list[str] = []
    for item in items:
        result = analyzer.feed(item)  # type: ignore[arg-type]
        out += [f.message for f in getattr(result, "findings", ())]
    return out


def test_a_domain_user_shows_one_backslash_and_a_missing_host_is_said_in_words() -> None:
    with_host = exchange(basic("CONTOSO\\svc-sfb", "pw"))
    without_host = replace(
        with_host,
        id="t:nohost",
        request=replace(with_host.request, headers=(("Authorization", basic("CONTOSO\\svc-sfb", "pw")),)),
    )
    messages = _messages(with_host, without_host)
    basic_messages = [m for m in messages if m.startswith("Basic credentials")]
    assert basic_messages[0] == 'Basic credentials for user "CONTOSO\\svc-sfb" sent to mail.contoso.com'
    assert basic_messages[1] == 'Basic credentials for user "CONTOSO\\svc-sfb" sent (the request named no Host)'
    for message in messages:
        assert "\\\\" not in message and "None" not in message and " ?" not in message and "'" not in message


def test_quoted_and_sent_to() -> None:
    assert quoted("CONTOSO\\svc") == '"CONTOSO\\svc"'
    assert quoted(None) == "(none)"
    assert quoted("\x1b[31m") == '"\\x1b[31m"'  # still inert for a terminal
    assert sent_to(None) == "(the request named no Host)"
