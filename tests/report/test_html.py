"""The HTML report without a browser: self-contained, redacted, escaped, bounded, and the same with --jobs."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.writers import write_har
from inspector.policy import Policy
from inspector.report.html import BLOCK, BLOCK_TYPE, HtmlExchange, HtmlRecords, HtmlWriter, script_json
from inspector.report.html_timeline import MAX_BINS, TimelineBins
from inspector.report.serialize import dump_json, exchange_data, finding_data
from inspector.tally import Totals
from inspector.tokens import b64url_encode
from inspector.trust import Trust
from tests.builders import exchange, unsigned_jwt
from tests.test_cli import SAMPLES, TRUST, invoke

HOSTILE = "</script><img src=http://canary.oauth-inspector.test/x onerror=alert(1)><!--<script>alert(2)</script>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def hostile_capture(tmp_path: Path) -> Path:
    token = unsigned_jwt(
        {"iss": HOSTILE, "aud": HOSTILE, "nameid": HOSTILE, "actortoken": HOSTILE},
        header={"alg": "none", "x5t": HOSTILE, "kid": HOSTILE},
    )
    user = base64.b64encode(f"{HOSTILE}:pw".encode()).decode()
    challenge = f'Bearer client_id="{HOSTILE}", trusted_issuers="{HOSTILE}"'
    items = [
        exchange(f"Bearer {token}", status=401, host="mail.contoso.com", target="/ews/" + HOSTILE,
                 response_headers=(("WWW-Authenticate", challenge), ("X-BEServer", HOSTILE))),
        exchange(f"Basic {user}", status=200, host=HOSTILE, after=2),
    ]  # fmt: skip
    return write_har(items, tmp_path / "hostile.har")


def whole_rows(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """An exchange block's rows made whole as the page's script does (``wholeRows``): each part a row names by its
    place put there, the tail's members where the tail is named, every member in its order."""
    parts = stored["parts"]

    def part(value: Any) -> Any:
        return parts[value] if isinstance(value, int) and not isinstance(value, bool) else value

    rows = []
    for row in stored["rows"]:
        whole: dict[str, Any] = {}
        for key, value in row.items():
            if key == "tail":
                whole.update(part(value))
            elif key == "findings":
                whole[key] = [part(item) for item in value]
            elif key in ("request_headers", "response_headers"):
                whole[key] = part(value)
            else:
                whole[key] = value
        rows.append(whole)
    return rows


def stored_blocks(text: str, prefix: str) -> list[Any]:
    """The report's data blocks of one kind, inflated and parsed, as they are stored."""
    found = re.findall(rf'<script type="{BLOCK_TYPE}" id="{prefix}\d+">([A-Za-z0-9+/=]*)</script>', text)
    return [json.loads(gzip.decompress(base64.b64decode(block))) for block in found]


def blocks(text: str, prefix: str) -> list[list[Any]]:
    """The report's data blocks of one kind as the page's script reads them (the exchanges' rows made whole)."""
    stored = stored_blocks(text, prefix)
    return [whole_rows(block) for block in stored] if prefix == "x" else stored


def report(tmp_path: Path, *inputs: Path, extra: tuple[str, ...] = ()) -> str:
    out = tmp_path / "report.html"
    code, _, err = invoke("analyze", *map(str, inputs), *TRUST, "-o", str(out), *extra)
    assert code in (0, 1), err
    return out.read_text(encoding="utf-8")


def test_one_self_contained_file(tmp_path: Path) -> None:
    text = report(tmp_path, SAMPLES / "lab.har")
    assert text.startswith("<!DOCTYPE html>")
    found = tags(text)
    policy = next(a["content"] for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert policy is not None and policy.startswith("default-src 'none';")
    nonce = re.search(r"'nonce-([\w-]+)'", policy)
    assert nonce is not None
    for tag, attrs in found:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)  # nothing to fetch, nowhere to go
        if tag == "script":
            assert attrs.get("type") in ("application/json", BLOCK_TYPE) or attrs.get("nonce") == nonce.group(1)
        assert tag not in ("link", "img", "iframe", "object", "embed")
    assert '<svg id="timeline"' in text and "Trust inventory" in text and "Findings by rule" in text
    assert "issuer-not-trusted-by-server" in text


def test_format_html_to_stdout_and_by_suffix(tmp_path: Path) -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "html")
    assert code == 1 and out.startswith("<!DOCTYPE html>")
    assert report(tmp_path, SAMPLES / "lab.har").startswith("<!DOCTYPE html>")  # -o report.html alone


def test_wire_text_cannot_inject_markup_or_script(tmp_path: Path) -> None:
    text = report(tmp_path, hostile_capture(tmp_path))
    assert "canary.oauth-inspector.test" in text  # the hostile text is in the report, shown as text
    assert "<img" not in text and "</script><img" not in text and "<!--<script>" not in text
    scripts = [a for t, a in tags(text) if t == "script"]
    assert sum(1 for a in scripts if "nonce" in a) == 1  # only the report's own script
    assert all(a.get("type") in ("application/json", BLOCK_TYPE) for a in scripts if "nonce" not in a)
    assert blocks(text, "x") and blocks(text, "t")  # every data block is intact


def test_secrets_stay_out(tmp_path: Path) -> None:
    from inspector.lab.scenarios import BASIC_PASSWORD

    text = report(tmp_path, SAMPLES / "lab.har")
    assert BASIC_PASSWORD not in text
    assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}", text)
    har = (SAMPLES / "lab.har").read_text()
    for signature in set(re.findall(r"\.([\w-]{300,})(?=[\"\\])", har)):
        assert signature[:40] not in text


def test_parallel_workers_write_the_same_report(tmp_path: Path) -> None:
    inputs = (SAMPLES / "lab.har", SAMPLES / "lab.mitm")
    one = report(tmp_path, *inputs, extra=("--jobs", "1"))
    two = report(tmp_path, *inputs, extra=("--jobs", "2"))
    strip = re.compile(r"nonce[-=\"]*[\w-]{20,}")
    assert strip.sub("", one) == strip.sub("", two)


def test_blocks_and_tokens_stored_once(tmp_path: Path, lab_kit) -> None:  # type: ignore[no-untyped-def]
    value = f"Bearer {lab_kit.healthy_user().value}"
    items = [exchange(value, after=n) for n in range(1200)]
    text = report(tmp_path, write_har(items, tmp_path / "many.har"))
    rows = blocks(text, "x")
    assert [len(b) for b in rows] == [500, 500, 200]
    assert [len(b) for b in blocks(text, "t")] == [1]
    assert all(row["token_index"] == 0 for block in rows for row in block)


@pytest.mark.parametrize("span", [10, 86400 * 365])
def test_timeline_bins_stay_bounded(span: int) -> None:
    bins = TimelineBins()
    for n in range(20_000):
        bins.add(1_700_000_000 + n * span / 20_000, "valid", rejected=n % 7 == 0, fallback=False)
    assert len(bins.bins) <= MAX_BINS
    start, end, columns = bins.columns()
    assert sum(c[0] for c in columns) == 20_000
    assert sum(c[-2] for c in columns) == len(range(0, 20_000, 7))
    assert start <= 1_700_000_000 < 1_700_000_000 + span <= end + bins.resolution


def test_the_readme_shows_the_generated_screenshot() -> None:
    from tests.corpus import REPO

    assert "![The HTML report of the bundled sample](docs/report.png)" in (REPO / "README.md").read_text()
    png = (REPO / "docs" / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000
    assert (REPO / "docs" / "make_screenshot.py").exists()


def test_the_script_writes_wire_text_only_as_text() -> None:
    """No API that parses a string as markup or code appears in the page's script."""
    from inspector.report.html_assets import SCRIPT, STYLE

    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert unsafe not in SCRIPT, unsafe
    assert "textContent" in SCRIPT
    assert "url(" not in STYLE and "@import" not in STYLE  # the style fetches nothing either


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_exchanges_at_the_ends_of_the_calendar_draw_a_timeline(tmp_path: Path, stamp: str) -> None:
    """Found by review: the last bin's end lay past 9999-12-31 and the report failed (exit 4)."""
    har = json.loads((SAMPLES / "lab.har").read_text(encoding="utf-8"))
    har["log"]["entries"][0]["startedDateTime"] = stamp
    path = tmp_path / "edge.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    code, _, err = invoke("analyze", str(path), *TRUST, "--format", "html", "-o", str(tmp_path / "r.html"))
    assert code == 1, err  # the sample's findings, not an internal error
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_alternating_tokens_are_found_by_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # A capture alternates between a few tokens: each text is hashed once, then found by identity; a cycle longer
    # than the memory (emptied when full) is hashed again, and every text still finds its one place.
    from inspector.report import html

    hashed: list[bytes] = []
    blake2b = html.hashlib.blake2b

    def counted(data: bytes, **options: int) -> Any:
        hashed.append(data)
        return blake2b(data, **options)

    monkeypatch.setattr(html.hashlib, "blake2b", counted)
    writer = html.HtmlWriter(io.StringIO(), [], show_secrets=False)
    few = [json.dumps({"token": n}) for n in range(3)]
    many = [json.dumps({"token": n}) for n in range(3, 3 + html.RECENT_TOKENS + 6)]
    order = few * 4 + many + many
    for token in order:
        writer.absorb(html.HtmlExchange(None, "none", False, False, '{"row":0,', '{"t":1}', "[]", None, (), token, ()))
    assert len(hashed) == len(few) + 2 * len(many)  # the few once in four rounds; a longer cycle every round
    assert writer.tokens.count == len(few) + len(many)
    stored = io.StringIO()
    for spool in (writer.exchanges, writer.tokens, writer.flagged):
        spool.drain(stored)
    rows = blocks(stored.getvalue(), "x")[0]
    places = {token: n for n, token in enumerate(dict.fromkeys(order))}
    assert [row["token_index"] for row in rows] == [places[token] for token in order]


def _row_as_data(result: ExchangeResult, show_secrets: bool) -> dict[str, Any]:
    """A row as the page's script reads it, made the plain way: the exchange's data, its header lists, the
    token's summary in place of the token, its findings without their title and exchange."""
    exchange_ = result.exchange
    data = exchange_data(result, show_secrets=show_secrets, with_headers=True)
    report_ = result.auth.token
    data["auth"].pop("token", None)
    data["auth"]["token_summary"] = f"{report_.kind} {report_.signature or ''}".strip() if report_ else None
    if exchange_.response is None:
        data["response_headers"] = None
    rows = [{k: v for k, v in finding_data(f).items() if k not in ("title", "exchange")} for f in result.findings]
    return data | {"findings": rows}


def _hostile_results() -> list[ExchangeResult]:
    """Claims and wire text strict JSON cannot hold as they are, and an exchange without an answer."""
    odd = f"Bearer {b64url_encode(b'{"alg":"none"}')}.{b64url_encode(b'{"iss":"x@y","n":NaN,"s":"\\ud800<"}')}."
    analyzer = Analyzer(Trust.of([]), Policy())
    hostile = [analyzer.analyse(exchange(odd, target="/\u00e9?\ud800", exchange_id=f"odd:{n}")) for n in range(2)]
    hostile.append(replace(hostile[0], exchange=replace(hostile[0].exchange, response=None)))
    return hostile


def _written_out(record: HtmlExchange) -> str:
    """A record's row written out in full: its parts in their places."""
    return "".join(
        (
            record.head,
            record.tail[1:-1],
            ',"request_headers":',
            record.request_headers,
            ',"response_headers":',
            record.response_headers if record.response_headers is not None else "null",
            ',"findings":[',
            ",".join(record.finding_texts),
            "]}",
        )
    )


@pytest.mark.parametrize("show_secrets", [False, True])
def test_a_row_made_of_remembered_parts_is_the_rows_plain_text(
    lab_results: list[ExchangeResult], show_secrets: bool
) -> None:
    # Its tail, headers and findings are each made once while they repeat: written out in full, the row must not
    # differ by a byte from the whole encoded at once, for the lab's every kind of exchange and for claims and wire
    # text strict JSON cannot hold as they are; twice, the second time from the memos.
    records = HtmlRecords(show_secrets=show_secrets)
    for result in [*lab_results, *_hostile_results()] * 2:
        record = records.exchange(result)
        assert isinstance(record, HtmlExchange)
        assert _written_out(record) == script_json(dump_json(_row_as_data(result, show_secrets)))
        assert record.findings == result.findings


@pytest.mark.parametrize("show_secrets", [False, True])
def test_the_page_reads_every_row_as_if_written_out_in_full(
    lab_results: list[ExchangeResult], show_secrets: bool
) -> None:
    # A block stores its rows' repeating parts once and the rows name them: read back as the page's script reads
    # them, the rows are the plain data, member for member and in order, across the edge of a block.
    results = [*lab_results, *_hostile_results()] * (BLOCK // len(lab_results) + 2)
    out = io.StringIO()
    writer = HtmlWriter(out, [], show_secrets=show_secrets)
    for result in results:
        writer.exchange(result)
    writer.close(Totals())
    text = out.getvalue()
    rows = [row for block in blocks(text, "x") for row in block]
    assert len(rows) == len(results) > BLOCK
    for row, result in zip(rows, results, strict=True):
        plain = json.loads(script_json(dump_json(_row_as_data(result, show_secrets))))
        token = {k: row.pop(k) for k in ("token_index", "token_inline") if k in row}
        assert list(row.items()) == list(plain.items())
        assert bool(token) == (result.auth.token is not None)
    # each distinct part once per block, far fewer than the rows that name them
    for block in stored_blocks(text, "x"):
        assert len(block["parts"]) == len(set(map(json.dumps, block["parts"]))) < len(block["rows"])


def test_a_blocks_parts_are_its_own_and_forgotten_when_it_is_written() -> None:
    # Memory: the writer holds the parts of the pending block only, however many distinct parts the input brings
    # (here every row's tail, answer and finding are new); a block stores only parts its rows name.
    out = io.StringIO()
    writer = HtmlWriter(out, [], show_secrets=False)
    analyzer = Analyzer(Trust.of([]), Policy())
    for n in range(BLOCK + 10):
        item = exchange(f"Basic {b64url_encode(f'user{n}:pw'.encode())}", target=f"/p{n}", after=n,
                        response_headers=(("X-Request", str(n)),))  # fmt: skip
        writer.exchange(analyzer.analyse(item))
        assert len(writer.exchanges.placed) == (0 if n == BLOCK - 1 else 3 * ((n + 1) % BLOCK))
    writer.close(Totals())
    stored = stored_blocks(out.getvalue(), "x")
    assert [len(block["rows"]) for block in stored] == [BLOCK, 10]
    for block in stored:
        named = {row["tail"] for row in block["rows"]} | {row["response_headers"] for row in block["rows"]}
        named |= {place for row in block["rows"] for place in row["findings"]}
        assert named == set(range(len(block["parts"]))) and len(named) == 3 * len(block["rows"])
