"""``--format html``: one self-contained page (inline style, script and SVG; nothing fetched) that a person opens from
disk or an e-mail attachment, redacted like every other format.

Built for captures of any size without holding them: exchanges are rendered by their records (in ``--jobs``
workers too) into redacted JSON parts and spooled to disk as rows in blocks, each distinct token once, and in each
block each distinct part (a tail, a header list, a finding) once, which its rows name by place; the timeline is
counted into bounded time bins; findings keep a few examples per rule. The page shows the summary, the timeline,
the trust inventory and rotation timeline, and the findings at once; the exchange list is paged by its script,
which parses one block at a time, so a 100,000-exchange report never has 100,000 rows in the DOM.

Wire text reaches the page only HTML-escaped (server-rendered parts) or as JSON inside ``application/json`` blocks
with every ``<`` escaped, read by the script into ``textContent``; a ``default-src 'none'`` policy with a per-report
nonce forbids any other script and any request.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import IO, Any

from inspector import __version__
from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.model import UnreadInput
from inspector.report.html_assets import SCRIPT, STYLE
from inspector.report.html_timeline import TimelineBins, rotation_svg, timeline_svg, verdict_class
from inspector.report.serialize import (
    ExchangeEncoder,
    FindingTexts,
    HeaderText,
    TailTexts,
    dump_json,
    exchange_head_text,
    exchange_tail,
    finding_data,
    row_finding_text,
)
from inspector.report.writers import TOOL_NAME, Record, Records
from inspector.rules import CATALOGUE, SEVERITIES, SEVERITY_ORDER, Finding
from inspector.tally import Totals
from inspector.token_checks import TokenReport

BLOCK = 500
"""Exchanges per JSON block (the script parses one block to show a page)."""
TOKEN_BLOCK = 64
FLAGGED_BLOCK = 20_000
MAX_TOKENS = 100_000
"""Distinct tokens stored once; past this many, a token is stored with its exchange."""
RECENT_TOKENS = 64
"""Token texts whose place the writer remembers by identity (see ``HtmlWriter._recent_tokens``)."""
EXAMPLES_PER_RULE = 50
BLOCK_TYPE = "application/x-gzip-base64"

CHECKS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("credentials", ("auth-header-malformed", "basic-credentials", "legacy-auth", "basic-fallback"), False),
    ("token shape", ("token-malformed", "token-opaque", "token-unsigned", "dangerous-header"), True),
    ("signature", ("signature-invalid", "signing-key-unknown", "alg-not-allowed", "signing-key-wrong-issuer"), True),
    ("certificate validity", ("signed-with-expired-cert",), True),
    ("issuer", ("issuer-unexpected", "issuer-nameid-mismatch", "delegation-not-trusted"), True),
    ("realm", ("realm-mismatch",), True),
    ("audience", ("audience-mismatch",), True),
    ("times", ("token-expired", "token-not-yet-valid"), True),
    ("server's answer", ("bearer-rejected", "basic-offered", "oauth-not-offered"), False),
)
"""What the exchange view lists as checks: each passes unless one of its rules fired (or did not run)."""


def script_json(text: str) -> str:
    """JSON text made safe inside a ``<script>`` element: no ``<`` can end the element or open a comment (the JSON
    is ASCII already; ``<`` only occurs inside strings, where ``\\u003c`` means the same). Needed for the plain
    ``application/json`` block; rows get it too although their blocks are base64, so no later change of block
    encoding can open a hole. Asked first, as nearly no row has one: ``in`` finds a character at memory speed,
    ``replace`` counts them one by one even when there is none."""
    return text.replace("<", "\\u003c") if "<" in text else text


@dataclass(slots=True)
class HtmlExchange(Record):
    """One exchange as the page needs it: where it falls on the timeline, and its row as redacted JSON texts, each
    made once while it repeats: the writer stores each distinct part once per block of rows (see
    :class:`_RowBlocks`). Not frozen: a frozen dataclass sets each of its fields through ``object.__setattr__``,
    which cost 2.3 µs per exchange here (0.4 µs unfrozen)."""

    epoch: float | None
    """``None`` when the exchange's time is unknown: listed, not placed on the timeline."""
    verdict: str
    rejected: bool
    fallback: bool
    head: str
    """The row from its opening brace to the comma after its head (:func:`exchange_head_text`): new every row."""
    tail: str
    """The exchange's tail as a JSON object (its members come after the head in the row the page makes whole)."""
    request_headers: str
    """The request's header list (:class:`HeaderText`)."""
    response_headers: str | None
    """The response's header list; ``None`` without a response."""
    finding_texts: tuple[str, ...]
    """Each finding as the row lists it (:func:`row_finding_text`)."""
    token: str | None
    """The token's JSON text (stored once per distinct token by the writer)."""
    findings: tuple[Finding, ...]
    """Made data only where the page keeps them as examples (a few per rule)."""


@dataclass(frozen=True, slots=True)
class HtmlFinding(Record):
    """A finding not tied to an exchange."""

    data: dict[str, Any]


class HtmlRecords:
    def __init__(self, *, show_secrets: bool) -> None:
        self.show_secrets = show_secrets
        self.encoder = ExchangeEncoder(show_secrets=show_secrets)
        self.headers = HeaderText(show_secrets=show_secrets)
        self._tails = TailTexts(self._tail_object)
        self._findings = FindingTexts(self._finding_text)
        self._token_texts: tuple[str, str] = ("", "")
        """The last token's JSON text and its ``script_json``: a token is reused for hours."""

    def _token_text(self, report: TokenReport) -> str:
        text = self.encoder.token_text(report)
        if text is not self._token_texts[0]:
            self._token_texts = (text, script_json(text))
        return self._token_texts[1]

    def _tail_object(self, result: ExchangeResult) -> str:
        """The row's members after its head, as one object: the exchange's tail with the token's summary in place of
        the token (stored apart, once per distinct token)."""
        report = result.auth.token
        tail = exchange_tail(result, show_secrets=self.show_secrets, token_value="")
        auth = tail["auth"]
        auth.pop("token", None)
        auth["token_summary"] = f"{report.kind} {report.signature or ''}".strip() if report else None
        return script_json(dump_json(tail))

    @staticmethod
    def _finding_text(item: Finding) -> str:
        return script_json(row_finding_text(item))

    def exchange(self, result: ExchangeResult) -> Record:
        """The row's parts, each made once while it repeats: the tail (:class:`TailTexts`), each header
        (:class:`HeaderText`), each finding (:class:`FindingTexts`); only the head is new per row."""
        exchange = result.exchange
        report = result.auth.token
        response = exchange.response
        headers = self.headers
        return HtmlExchange(
            exchange.time.timestamp() if exchange.time is not None else None,
            verdict_class(result.auth.scheme, report.signature if report else None),
            response is not None and response.status == 401,
            bool(result.findings) and any(f.rule == "basic-fallback" for f in result.findings),
            script_json(exchange_head_text(exchange, line_type=None)),
            self._tails.text(result),
            script_json(headers.text(exchange.request.headers)),
            script_json(headers.text(response.headers)) if response is not None else None,
            tuple(map(self._findings.get, result.findings)),
            self._token_text(report) if report is not None else None,
            result.findings,
        )

    def finding(self, item: Finding) -> Record:
        return HtmlFinding(finding_data(item))


class _Blocks:
    """JSON items spooled to disk in blocks, each a gzip-compressed, base64-encoded JSON array (the exchanges' an
    object: :class:`_RowBlocks`) in a ``<script type="application/x-gzip-base64" id="{prefix}{n}">`` element (the
    script inflates one block with the browser's own ``DecompressionStream`` when a page needs it). Compression makes
    a 100,000-exchange report a tenth of its JSON size; base64 cannot contain markup. Level 3: with each block's
    repeating parts stored once, the lazy matching of levels 4 and up costs half again as much time for a page about
    a seventh smaller (level 5 before, on rows written out in full, made a page as large as level 3 makes now)."""

    def __init__(self, prefix: str, size: int) -> None:
        self.prefix = prefix
        self.size = size
        self.count = 0
        self._pending: list[str] = []
        self._file = tempfile.TemporaryFile("w+", encoding="ascii")  # noqa: SIM115 - closed in drain()

    def add(self, text: str) -> int:
        self._pending.append(text)
        self.count += 1
        if len(self._pending) == self.size:
            self._flush()
        return self.count - 1

    def _flush(self) -> None:
        if not self._pending:
            return
        index = (self.count - 1) // self.size
        payload = gzip.compress(self._text().encode("ascii"), compresslevel=3, mtime=0)
        self._file.write(f'<script type="{BLOCK_TYPE}" id="{self.prefix}{index}">')
        self._file.write(base64.b64encode(payload).decode("ascii"))
        self._file.write("</script>\n")
        self._pending = []

    def _text(self) -> str:
        """The pending block's JSON text: an array of its items."""
        return "[" + ",".join(self._pending) + "]"

    def drain(self, out: IO[str]) -> None:
        self._flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, out)
        self._file.close()


class _RowBlocks(_Blocks):
    """The exchanges' blocks, each ``{"parts":[…],"rows":[…]}``: what repeats from row to row (an exchange's tail,
    the response's header list, each finding) is stored once per block, in its parts, and a row names it by its
    place there (``"tail":3,"request_headers":[…],"response_headers":5,"findings":[4]``); the page's script makes
    each row whole again, every member in its place and order (``wholeRows``). The request's header list is
    written out: a request id makes nearly every one new. A block's parts are the distinct parts of its own rows,
    forgotten when it is written, so they take no more memory than its rows: nothing to bound apart."""

    def __init__(self, prefix: str, size: int) -> None:
        super().__init__(prefix, size)
        self.placed: dict[str, str] = {}
        """Each part of the pending block: its text, and its place as text."""
        self._parts: list[str] = []

    def place(self, text: str) -> str:
        """The place of ``text`` in the pending block's parts, stored there first if new."""
        place = self.placed.get(text)
        if place is None:
            place = self.placed[text] = str(len(self._parts))
            self._parts.append(text)
        return place

    def _text(self) -> str:
        text = '{"parts":[' + ",".join(self._parts) + '],"rows":[' + ",".join(self._pending) + "]}"
        self.placed = {}
        self._parts = []
        return text


class HtmlWriter:
    def __init__(self, out: IO[str], sources: list[dict[str, Any]], *, show_secrets: bool) -> None:
        self.out = out
        self.sources = sources
        self.show_secrets = show_secrets
        self._records = HtmlRecords(show_secrets=show_secrets)
        self.exchanges = _RowBlocks("x", BLOCK)
        self.tokens = _Blocks("t", TOKEN_BLOCK)
        self.flagged = _Blocks("f", FLAGGED_BLOCK)
        """Positions of the exchanges with findings (the list's "only exchanges with findings" view)."""
        self._token_index: dict[bytes, int] = {}
        self._recent_tokens: dict[int, tuple[str, int | None]] = {}
        """Token texts absorbed lately, by identity, and their index (``None``: stored inline, the index being
        full, which it stays): a capture alternates between a few tokens, each of whose texts is one object made
        once (in this process), so most rows find their token's place without hashing its text."""
        self.bins = TimelineBins()
        self.examples: dict[str, list[dict[str, Any]]] = {}

    def record_factory(self) -> Callable[[], Records]:
        return functools.partial(HtmlRecords, show_secrets=self.show_secrets)

    def exchange(self, result: ExchangeResult) -> None:
        self.absorb(self._records.exchange(result))

    def finding(self, item: Finding) -> None:
        self.absorb(self._records.finding(item))

    def _example(self, item: dict[str, Any] | Finding, row: int | None = None) -> None:
        kept = self.examples.setdefault(item["rule"] if isinstance(item, dict) else item.rule, [])
        if len(kept) < EXAMPLES_PER_RULE:
            data = item if isinstance(item, dict) else finding_data(item)
            kept.append({**data, "row": row} if row is not None else data)

    def absorb(self, record: Record) -> None:
        if isinstance(record, HtmlFinding):
            self._example(record.data)
            return
        if not isinstance(record, HtmlExchange):
            raise TypeError(f"not an HTML record: {record!r}")
        if record.epoch is not None:
            self.bins.add(record.epoch, record.verdict, rejected=record.rejected, fallback=record.fallback)
        blocks = self.exchanges
        position = blocks.count
        findings = record.findings
        if findings:
            for item in findings:
                self._example(item, position)
            self.flagged.add(str(position))
        token = record.token
        ending = "}"
        if token is not None:
            recent = self._recent_tokens.get(id(token))
            if recent is not None and recent[0] is token:  # a text object seen lately: its place is known
                index = recent[1]
            else:
                digest = hashlib.blake2b(token.encode("ascii"), digest_size=16).digest()
                index = self._token_index.get(digest)
                if index is None and len(self._token_index) < MAX_TOKENS:
                    index = self._token_index[digest] = self.tokens.add(token)
                if len(self._recent_tokens) >= RECENT_TOKENS:
                    self._recent_tokens.clear()
                self._recent_tokens[id(token)] = (token, index)  # holds the text: its id is not reused meanwhile
            ending = f',"token_index":{index}}}' if index is not None else f',"token_inline":{token}}}'
        # The repeating parts by their place in the block; the request's headers, new every row (a request id),
        # written out.
        place = blocks.place
        response = record.response_headers
        blocks.add(
            "".join(
                (
                    record.head,
                    '"tail":',
                    place(record.tail),
                    ',"request_headers":',
                    record.request_headers,
                    ',"response_headers":',
                    place(response) if response is not None else "null",
                    ',"findings":[',
                    ",".join(map(place, record.finding_texts)),
                    "]",
                    ending,
                )
            )
        )

    # --- the page ----------------------------------------------------------------------------------------------

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:
        nonce = secrets.token_urlsafe(18)
        out = self.out
        out.write(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src data:\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{TOOL_NAME} report</title>\n<style nonce="{nonce}">{STYLE}</style></head><body>\n'
        )
        out.write(f'<h1>{TOOL_NAME} report</h1>\n<p class="dim">{TOOL_NAME} {escape(__version__)}; ')
        out.write("sources: " + ", ".join(escape(f"{s['path']} ({s['kind'] or 'detected'})") for s in self.sources))
        out.write(" &middot; redacted" if not self.show_secrets else " &middot; <b>secrets shown</b>")
        out.write("</p>\n")
        out.write(self._summary(totals))
        out.write(self._unread())
        out.write("<h2>Timeline</h2>\n" + timeline_svg(self.bins) + "\n")
        if inventory is not None:
            out.write(self._inventory(inventory))
        out.write(self._findings(totals))
        out.write(
            '<h2>Exchanges</h2>\n<div class="pager"><button id="page-prev" type="button">&larr; previous</button>'
            '<button id="page-next" type="button">next &rarr;</button> page <input id="page-input" type="number" '
            'min="1" value="1"> <span id="page-label" class="dim"></span> <button id="page-expand" type="button">'
            'open every exchange of this page</button> <label><input id="only-flagged" type="checkbox"> only '
            'exchanges with findings</label></div>\n<div id="exchange-list"></div>\n'
            "<noscript><p>The exchange list needs JavaScript; everything above does not.</p></noscript>\n"
        )
        self.exchanges.drain(out)
        self.tokens.drain(out)
        self.flagged.drain(out)
        meta = {
            "total": self.exchanges.count,
            "block": BLOCK,
            "token_block": TOKEN_BLOCK,
            "flagged": self.flagged.count,
            "flagged_block": FLAGGED_BLOCK,
            "checks": [{"name": name, "rules": list(rules), "token": token} for name, rules, token in CHECKS],
        }
        out.write(f'<script type="application/json" id="report-meta">{script_json(dump_json(meta))}</script>\n')
        out.write(f'<script nonce="{nonce}">{SCRIPT}</script>\n</body></html>\n')
        out.flush()

    errors: tuple[UnreadInput, ...] = ()
    skipped: tuple[UnreadInput, ...] = ()

    def unread(self, errors: list[UnreadInput], skipped: list[UnreadInput]) -> None:
        self.errors, self.skipped = tuple(errors), tuple(skipped)

    def _unread(self) -> str:
        """The inputs that failed (the analysis is partial) and the files not read, each with why."""
        parts: list[str] = []
        for title, items, cls in (("Not read to the end", self.errors, "error"), ("Not read", self.skipped, "dim")):
            if not items:
                continue
            rows = "".join(
                f"<li><code>{escape(item.file)}</code>: {escape(item.reason)}"
                + (f" ({item.exchanges_read} exchanges read before)" if item.exchanges_read else "")
                + "</li>"
                for item in items
            )
            parts.append(f'<h2 class="{cls}">{title} ({len(items)})</h2>\n<ul>{rows}</ul>\n')
        return "".join(parts)

    @staticmethod
    def _summary(totals: Totals) -> str:
        cards = [f'<div class="card"><b>{totals.exchanges}</b>exchanges</div>']
        for verdict, count in sorted(totals.signatures.items()):
            cls = "ok" if verdict == "valid" else "error" if verdict != "unknown-key" else "warning"
            cards.append(f'<div class="card"><b class="{cls}">{count}</b>signature {escape(verdict)}</div>')
        for severity in SEVERITIES:
            count = totals.severities.get(severity, 0)
            cards.append(f'<div class="card"><b class="{severity if count else "ok"}">{count}</b>{severity}s</div>')
        schemes = ", ".join(f"{escape(k)} {v}" for k, v in sorted(totals.schemes.items()))
        return (
            f'<h2>Summary</h2>\n<div class="cards">{"".join(cards)}</div>\n'
            f'<p class="dim">authentication schemes: {schemes or "none"}</p>\n'
        )

    def _findings(self, totals: Totals) -> str:
        parts = ["<h2>Findings by rule</h2>\n"]
        if not self.examples:
            parts.append('<p class="ok">No findings.</p>\n')
        ordered = sorted(self.examples, key=lambda r: (-SEVERITY_ORDER[CATALOGUE[r].severity], r))
        for rule_id in ordered:
            rule = CATALOGUE[rule_id]
            items = self.examples[rule_id]
            count = max(totals.rules.get(rule_id, 0), len(items))
            parts.append(
                f'<details class="rule"><summary><b class="{rule.severity}">{rule.severity.upper()}</b> '
                f"<b>{escape(rule.id)}</b> {escape(rule.title)} ({count})</summary>\n"
                f"<p>{escape(rule.help)}</p>\n<ul>"
            )
            for item in items:
                where = f"{escape(str(item['exchange']))}: " if item["exchange"] else ""
                if item.get("row") is not None:
                    where = f'<button type="button" class="jump" data-row="{int(item["row"])}">{where[:-2]}</button>: '

                suppressed = item.get("suppressed")
                mark = (
                    f' <span class="dim">(suppressed: {escape(str(suppressed.get("reason", "")))})</span>'
                    if isinstance(suppressed, dict)
                    else ""
                )
                parts.append(f"<li>{where}{escape(str(item['message']))}{mark}</li>")
            if count > len(items):
                parts.append(f'<li class="dim">… {count - len(items)} more</li>')
            parts.append("</ul></details>\n")
        return "".join(parts)

    @staticmethod
    def _inventory(inventory: Inventory) -> str:
        def text(value: object) -> str:
            if isinstance(value, dict):
                value = [*value.get("names", []), f"(+{value.get('more', 0)})"]
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            return "-" if value in (None, "") else str(value)

        def cell(value: object) -> str:
            return f"<td>{escape(text(value))}</td>"

        def counts(values: dict[str, int]) -> str:
            return cell(", ".join(f"{k} {v}" for k, v in values.items()))

        data = inventory.data()
        parts = ["<h2>Trust inventory</h2>\n"]
        if data["signers"]:
            parts.append(
                "<table><tr><th>issuer</th><th>signer x5t / kid</th><th>realm</th><th>audience</th><th>clients</th>"
                "<th>hosts</th><th>servers (FE / BE)</th><th>first / last seen</th><th>exchanges</th>"
                "<th>signatures</th><th>statuses</th></tr>\n"
            )
            for s in data["signers"]:
                parts.append(
                    "<tr>"
                    + cell(s["issuer"])
                    + cell(" / ".join(dict.fromkeys(v for v in (s["x5t"], s["kid"]) if v)))
                    + cell(s["realm"])
                    + cell(f"{s['audience_principal'] or '?'} / {s['audience_host'] or '?'}")
                    + cell(s["clients"])
                    + cell(s["hosts"])
                    + cell(f"{text(s['fe_servers'])} / {text(s['be_servers'])}")
                    + cell(f"{s['first_seen']} / {s['last_seen']}")
                    + cell(s["exchanges"])
                    + counts(s["signatures"])
                    + counts(s["statuses"])
                    + "</tr>\n"
                )
            parts.append("</table>\n")
        else:
            parts.append('<p class="dim">No signed tokens seen.</p>\n')
        if data["challenges"]:
            parts.append(
                "<h3>Bearer challenges</h3>\n<table><tr><th>host</th><th>client_id</th><th>trusted_issuers</th>"
                "<th>authorization_uri</th><th>servers</th><th>count</th><th>first / last seen</th></tr>\n"
            )
            for c in data["challenges"]:
                parts.append(
                    "<tr>"
                    + cell(c["host"])
                    + cell(c["client_id"])
                    + cell(c["trusted_issuers"])
                    + cell(c["authorization_uri"] or "(none)")
                    + cell(c["servers"])
                    + cell(c["count"])
                    + cell(f"{c['first_seen']} / {c['last_seen']}")
                    + "</tr>\n"
                )
            parts.append("</table>\n")
        if data["rotation"]:
            parts.append("<h3>Rotation timeline</h3>\n" + rotation_svg(data["rotation"]) + "\n")
            parts.append(
                '<p class="dim">Bars: validity (grey), seen on the wire (<span class="ok">green</span>), next '
                "certificate effective (blue line).</p>\n"
                "<table><tr><th>thumbprint</th><th>roles</th><th>subject</th><th>not before</th><th>not after</th>"
                "<th>effective</th><th>first / last seen</th><th>exchanges</th><th>on service principal</th></tr>\n"
            )
            for r in data["rotation"]:
                on_sp = {True: "yes", False: "NO", None: "not known"}[r["on_service_principal"]]
                parts.append(
                    "<tr>"
                    + cell(r["thumbprint"])
                    + cell(r["roles"])
                    + cell(r["subject"])
                    + cell(r["not_before"])
                    + cell(r["not_after"])
                    + cell(r["effective"])
                    + cell(f"{r['first_seen'] or '-'} / {r['last_seen'] or '-'}")
                    + cell(r["exchanges"])
                    + cell(on_sp)
                    + "</tr>\n"
                )
            parts.append("</table>\n")
        return "".join(parts)
