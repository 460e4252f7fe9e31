"""What every configuration check does first: no Exchange configuration is a SKIP naming the options, an unusable one
a FAIL with the source's remedy, a section the collector could not read a FAIL, one not carried a SKIP."""

from __future__ import annotations

from datetime import UTC, datetime

from inspector.remote.errors import SourceError
from inspector.verifyoauth.bundle import ExchangeConfig
from inspector.verifyoauth.context import Context, Loaded
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.prelude import EXPORT_AGAIN, NO_EXCHANGE, PERMISSION, exchange_config, section_absent

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def _context(exchange: Loaded[ExchangeConfig] | None) -> Context:
    return Context(now=NOW, principals=("p",), realms=frozenset(), realms_given=False, exchange=exchange)


def test_no_unusable_and_usable_configuration() -> None:
    absent = exchange_config(_context(None), "exchange.roles")
    assert isinstance(absent, Check) and (absent.status, absent.reason) == ("SKIP", NO_EXCHANGE)
    broken = exchange_config(_context(Loaded(error=SourceError("truncated JSON"))), "exchange.roles")
    assert isinstance(broken, Check) and broken.status == "FAIL"
    assert "truncated JSON" in broken.reason and broken.remedy == EXPORT_AGAIN
    config = ExchangeConfig(source="bundle.json")
    assert exchange_config(_context(Loaded(value=config)), "exchange.roles") is config


def test_a_section_the_collector_could_not_read_fails_one_not_carried_is_skipped() -> None:
    denied = ExchangeConfig(source="bundle.json", errors={"AuthServers": "Access denied"})
    failed = section_absent(denied, "exchange.auth-server", "AuthServers", "Get-AuthServer")
    assert (failed.status, failed.remedy) == ("FAIL", PERMISSION)
    assert "could not run Get-AuthServer: Access denied" in failed.reason
    old = section_absent(ExchangeConfig(source="old.json"), "exchange.auth-server", "AuthServers", "Get-AuthServer")
    assert old.status == "SKIP" and "old.json carries no AuthServers" in old.reason
