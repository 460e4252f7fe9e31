"""Captures for traffic.s2s: minted lab tokens sent to EWS, written as HAR (a format the engine reads)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from inspector.lab.tokens import Minted, TokenKit
from inspector.lab.writers import write_har
from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, Provenance


def write_capture(path: Path, kit: TokenKit, tokens: list[Minted], *, status: int = 200) -> Path:
    exchanges = [
        HttpExchange(
            id=f"cap:{index}",
            request=HttpRequest(
                "POST",
                "/EWS/Exchange.asmx",
                headers=(
                    ("Host", kit.host),
                    ("Authorization", f"Bearer {minted.value}"),
                    ("Content-Type", "text/xml; charset=utf-8"),
                ),
            ),
            response=HttpResponse(status, "OK" if status == 200 else "Unauthorized"),
            time=kit.now + timedelta(seconds=index),
            provenance=Provenance(kind="lab", source=path.name),
            client=Endpoint("10.0.0.10", 50110 + index),
            server=Endpoint("10.0.0.9", 443),
            scheme="https",
        )
        for index, minted in enumerate(tokens)
    ]
    return write_har(exchanges, path)
