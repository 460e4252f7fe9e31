"""Fiddler session archives written the way Fiddler writes them, for tests and samples.

``classic``: as Fiddler Classic 5 writes (the corpus archive): a ``raw/`` directory entry, session numbers
zero-padded to the width of the largest, ``NN_c.txt``/``NN_s.txt`` holding the messages as sent (chunked coding and
content coding kept), ``NN_m.xml`` in UTF-8 with a BOM whose ``SessionTimers`` carry the capturing machine's local
offset and 7-digit fractions (``0001-01-01T00:00:00`` for timers that never fired), ``SessionFlags`` with
``x-clientip``/``x-clientport``/``x-hostip``/``x-egressport``, plus ``[Content_Types].xml``, ``_index.htm`` and a
zip comment naming Fiddler. Request lines carry the whole URL (``POST https://mail.contoso.com/EWS/…``), as
Fiddler writes them for proxied and decrypted sessions.

``everywhere``: the same ``raw/`` members, as Telerik documents Fiddler Everywhere 4.2+ writing them (``raw/``
with ``sessid#_c.txt``/``_s.txt``/``_m.xml``, whole URLs in request lines); the details that page does not give are
assumed to differ (no real Everywhere export was available to compare): unpadded session numbers, no BOM, UTC times
with ``Z`` and 3-digit fractions, no ``_index.htm`` and no comment.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from inspector.lab.pcap_writer import request_bytes, response_bytes
from inspector.model import HttpExchange, HttpRequest

Style = Literal["classic", "everywhere"]
LOCAL_OFFSET = timezone(timedelta(hours=-6))
_UNSET = "0001-01-01T00:00:00"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="utf-8" ?>\r\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\r\n'
    '<Default Extension="htm" ContentType="text/html" />\r\n'
    '<Default Extension="xml" ContentType="application/xml" />\r\n'
    '<Default Extension="txt" ContentType="text/plain" />\r\n</Types>'
)


def _time(moment: datetime | None, style: Style) -> str:
    if moment is None:
        return _UNSET
    if style == "classic":
        local = moment.astimezone(LOCAL_OFFSET)
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0" + local.strftime("%z")[:3] + ":00"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def metadata_xml(exchange: HttpExchange, number: int, style: Style) -> bytes:
    begin = _time(exchange.time, style)
    answer = _time(exchange.response_time, style) if exchange.response is not None else _UNSET
    timers = (
        f'ClientConnected="{begin}" ClientBeginRequest="{begin}" GotRequestHeaders="{begin}" '
        f'ClientDoneRequest="{begin}" GatewayTime="0" DNSTime="0" TCPConnectTime="0" HTTPSHandshakeTime="0" '
        f'ServerConnected="{begin}" FiddlerBeginRequest="{begin}" ServerGotRequest="{begin}" '
        f'ServerBeginResponse="{answer}" GotResponseHeaders="{answer}" ServerDoneResponse="{answer}" '
        f'ClientBeginResponse="{answer}" ClientDoneResponse="{answer}"'
    )
    flags = []
    if exchange.client is not None:
        flags += [("x-clientip", exchange.client.host), ("x-clientport", str(exchange.client.port or 0))]
    else:
        flags += [("x-clientip", ""), ("x-clientport", "0")]
    if exchange.server is not None:
        flags.append(("x-hostip", exchange.server.host))
    flags.append(("x-egressport", "52996"))
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Session SID="{number}" BitFlags="81">',
        f"  <SessionTimers {timers} />",
        "  <PipeInfo />",
        "  <SessionFlags>",
        *(f'    <SessionFlag N="{n}" V="{v}" />' for n, v in flags),
        "  </SessionFlags>",
        "</Session>",
    ]
    text = "\r\n".join(lines)
    return ("\ufeff" + text if style == "classic" else text).encode("utf-8")


def _absolute(exchange: HttpExchange) -> HttpRequest:
    """The request line as Fiddler records it: the whole URL (``POST https://host/path``), CONNECT as it was."""
    request = exchange.request
    if request.method.upper() == "CONNECT" or "://" in request.target or exchange.host is None:
        return request
    return replace(request, target=f"{exchange.scheme}://{exchange.host}{request.target}")


def write_saz(exchanges: Sequence[HttpExchange], path: Path, *, style: Style = "classic") -> Path:
    width = len(str(len(exchanges))) if style == "classic" else 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if style == "classic":
            archive.writestr(zipfile.ZipInfo("raw/"), b"")
        for number, exchange in enumerate(exchanges, start=1):
            stem = f"raw/{number:0{width}d}" if width else f"raw/{number}"
            archive.writestr(f"{stem}_c.txt", request_bytes(_absolute(exchange)))
            if exchange.response is not None:
                archive.writestr(f"{stem}_s.txt", response_bytes(exchange.response))
            archive.writestr(f"{stem}_m.xml", metadata_xml(exchange, number, style))
        if style == "classic":
            archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
            archive.writestr("_index.htm", "<html><body>Fiddler session archive</body></html>")
            archive.comment = b"Fiddler (v5.0.20202.18177) Session Archive. See https://fiddler2.com"
    return path
