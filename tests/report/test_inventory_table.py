"""The trust inventory's section of the table report: what a person reads, with wire text made inert."""

from __future__ import annotations

import io

from rich.console import Console

from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.report.inventory_table import print_inventory


def _printed(inventory: Inventory) -> str:
    out = io.StringIO()
    print_inventory(Console(file=out, width=200, force_terminal=False, highlight=False), inventory)
    return out.getvalue()


def test_signers_challenges_and_rotation_are_listed(lab_results: list[ExchangeResult]) -> None:
    inventory = Inventory()
    for result in lab_results:
        inventory.observe(result)
    inventory.rotation = [
        {"thumbprint": "AB" * 20, "roles": ["auth config next"], "not_before": "2026-01-01T00:00:00Z",
         "not_after": "2028-01-01T00:00:00Z", "effective": "2026-12-01T00:00:00Z", "first_seen": None,
         "last_seen": None, "exchanges": 0, "on_service_principal": False},
    ]  # fmt: skip
    text = _printed(inventory)
    assert "Trust inventory: who signed tokens for whom" in text
    assert "00000004-0000-0ff1-ce00-000000000000@" in text and "servers EXCH01" in text
    assert "signatures: invalid 1, not-allowed 1, valid 7" in text
    assert "trusted_issuers: 00000001-0000-0000-c000-000000000000@" in text
    assert "authorization_uri: https://login.windows.net/common/oauth2/authorize" in text
    assert "ABABABAB" in text and "effective 2026-12-01" in text and "NOT on the service principal" in text


def test_nothing_to_show_prints_nothing() -> None:
    assert _printed(Inventory()) == ""
