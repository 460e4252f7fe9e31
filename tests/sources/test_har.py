from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.writers import write_har
from inspector.model import Endpoint, HttpExchange, InputError, Notice, SourceItem
from inspector.sources import har
from inspector.sources.har import read_har
from inspector.sources.json_stream import JsonText
from tests.lab.kit import session_kit


def _entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "startedDateTime": "2025-06-02T11:30:00.123+02:00",
        "time": 42.5,
        "request": {
            "method": "POST",
            "url": "https://mail.contoso.com/EWS/Exchange.asmx?x=1#frag",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Host", "value": "mail.contoso.com"},
                {"name": "Authorization", "value": "Bearer abc"},
            ],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 401,
            "statusText": "Unauthorized",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "WWW-Authenticate", "value": "Bearer"},
                {"name": "WWW-Authenticate", "value": 'Basic realm="mail.contoso.com"'},
            ],
            "cookies": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 42.5, "receive": 0},
        "serverIPAddress": "10.0.0.9",
    }
    entry.update(overrides)
    return entry


def _write(tmp_path: Path, document: object, name: str = "capture.har") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _har(*entries: object) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": list(entries)}}


def _split(items: list[SourceItem]) -> tuple[list[HttpExchange], list[Notice]]:
    return [i for i in items if isinstance(i, HttpExchange)], [i for i in items if isinstance(i, Notice)]


def test_entry_becomes_an_exchange(tmp_path: Path) -> None:
    (exchange,) = read_har(_write(tmp_path, _har(_entry())))
    assert isinstance(exchange, HttpExchange)
    assert exchange.id == "capture.har:1"
    assert exchange.provenance.kind == "har" and exchange.provenance.source == "capture.har"
    assert exchange.provenance.entry == 0
    assert exchange.time == datetime(2025, 6, 2, 9, 30, 0, 123000, tzinfo=UTC)
    assert exchange.time.tzinfo is UTC
    assert exchange.request.method == "POST"
    assert exchange.request.target == "/EWS/Exchange.asmx?x=1"  # the fragment is never sent
    assert exchange.request.headers == (("Host", "mail.contoso.com"), ("Authorization", "Bearer abc"))
    assert exchange.request.body is None
    assert exchange.scheme == "https"
    assert exchange.server == Endpoint("10.0.0.9", 443)
    assert exchange.client is None
    assert exchange.response is not None
    assert exchange.response.status == 401 and exchange.response.reason == "Unauthorized"
    assert exchange.response.header_all("www-authenticate") == ["Bearer", 'Basic realm="mail.contoso.com"']
    assert exchange.response_time == datetime(2025, 6, 2, 9, 30, 0, 165500, tzinfo=UTC)


def test_host_is_synthesized_only_when_absent(tmp_path: Path) -> None:
    # An HTTP/2 export (Chrome): pseudo-headers, no Host; a port and user info in the URL.
    request = {
        "method": "GET",
        "url": "https://user:secret@mail.contoso.com:8443/owa/",
        "httpVersion": "h2",
        "headers": [{"name": ":authority", "value": "mail.contoso.com:8443"}, {"name": "accept", "value": "*/*"}],
    }
    (exchange,) = read_har(_write(tmp_path, _har(_entry(request=request))))
    assert isinstance(exchange, HttpExchange)
    assert exchange.request.headers[0] == ("Host", "mail.contoso.com:8443")
    assert exchange.request.headers[1:] == ((":authority", "mail.contoso.com:8443"), ("accept", "*/*"))
    assert exchange.request.version == "h2"
    assert exchange.server == Endpoint("10.0.0.9", 8443)
    assert "secret" not in repr(exchange)
    # With a Host header present, it is the only one.
    (with_host,) = read_har(_write(tmp_path, _har(_entry())))
    assert isinstance(with_host, HttpExchange)
    assert with_host.request.header_all("host") == ["mail.contoso.com"]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-06-02T09:30:00Z", datetime(2025, 6, 2, 9, 30, tzinfo=UTC)),
        ("2025-06-02T09:30:00.1234567-05:00", datetime(2025, 6, 2, 14, 30, 0, 123456, tzinfo=UTC)),  # Fiddler
        (" 2025-06-02T09:30:00.000+00:00", datetime(2025, 6, 2, 9, 30, tzinfo=UTC)),
    ],
)
def test_times_become_utc(tmp_path: Path, stamp: str, expected: datetime) -> None:
    (exchange,) = read_har(_write(tmp_path, _har(_entry(startedDateTime=stamp))))
    assert isinstance(exchange, HttpExchange)
    assert exchange.time == expected and exchange.time.tzinfo is UTC


def test_ipv6_server_address_and_plain_http(tmp_path: Path) -> None:
    request = dict(_entry()["request"], url="http://[2001:db8::9]/ews/")
    (exchange,) = read_har(_write(tmp_path, _har(_entry(request=request, serverIPAddress="[2001:db8::9]"))))
    assert isinstance(exchange, HttpExchange)
    assert exchange.server == Endpoint("2001:db8::9", 80)
    assert exchange.scheme == "http"


@pytest.mark.parametrize("response", [{"status": 0, "headers": []}, None, "oops", {"status": "401"}])
def test_no_response(tmp_path: Path, response: object) -> None:
    entry = _entry(response=response)
    if response is None:
        del entry["response"]
    (exchange,) = read_har(_write(tmp_path, _har(entry)))
    assert isinstance(exchange, HttpExchange)
    assert exchange.response is None and exchange.response_time is None


def test_bodies_kept_on_request_and_bounded(tmp_path: Path) -> None:
    request = dict(_entry()["request"], postData={"mimeType": "text/xml", "text": "<soap/>é"})
    big = "A" * (har.MAX_BODY_BYTES + 1000)
    response = dict(_entry()["response"], content={"size": len(big), "mimeType": "text/plain", "text": big})
    binary = dict(
        _entry()["response"],
        content={
            "size": 4,
            "mimeType": "image/png",
            "text": base64.b64encode(b"\x89PNG").decode(),
            "encoding": "base64",
        },
    )
    path = _write(tmp_path, _har(_entry(request=request, response=response), _entry(response=binary)))
    first, second = read_har(path, keep_bodies=True)
    assert isinstance(first, HttpExchange) and isinstance(second, HttpExchange)
    assert first.request.body == "<soap/>é".encode()
    assert first.response is not None and first.response.body == b"A" * har.MAX_BODY_BYTES
    assert second.response is not None and second.response.body == b"\x89PNG"
    with closing(read_har(path)) as items:  # closed, not left to the collector (a compiled generator is not)
        unkept = next(items)
    assert isinstance(unkept, HttpExchange)
    assert unkept.request.body is None and unkept.response is not None and unkept.response.body is None


@pytest.mark.parametrize(
    ("started", "reason"),
    [
        ("yesterday", "not an ISO 8601 time"),
        ("2025-06-02T09:30:00", "no UTC offset"),
        (None, "no startedDateTime"),
        ("9999-12-31T23:59:59-23:59", "out of range"),
    ],
)
def test_an_entry_with_an_unusable_time_is_kept_with_its_time_unknown(
    tmp_path: Path, started: object, reason: str
) -> None:
    """Unknown beats wrong: skipping the entry would hide what it carries (a Basic password), so it is kept, its
    time unknown, and a notice says why and what is therefore not judged."""
    items = list(read_har(_write(tmp_path, _har(_entry(), _entry(startedDateTime=started), _entry()))))
    assert [type(i) for i in items] == [HttpExchange, HttpExchange, Notice, HttpExchange]
    kept, notice = items[1], items[2]
    assert isinstance(kept, HttpExchange) and isinstance(notice, Notice)
    assert (kept.id, kept.time, kept.response_time) == ("capture.har:2", None, None)
    assert kept.response is not None and kept.request.header("host")
    assert notice.rule == "input-malformed" and notice.exchange_id == "capture.har:2"
    assert reason in notice.message and "time is unknown" in notice.message
    assert notice.evidence["entry"] == 1


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("not an entry", "not an object"),
        ({"startedDateTime": "2025-06-02T09:30:00Z"}, "no 'request'"),
        (_entry(request={"method": "GET", "url": "https://[::1/"}), "not a URL"),
        (_entry(request={"method": "GET", "url": "https://h:99999/"}), "not a URL"),
        (_entry(request={"url": "https://h/"}), "no method"),
        (_entry(request={"method": "GET", "url": "/", "headers": {"Host": "h"}}), "not a list"),
        (_entry(request={"method": "GET", "url": "/", "headers": [{"name": "Host", "value": 1}]}), "string name"),
    ],
)
def test_bad_entry_gives_a_notice_and_the_rest_is_read(tmp_path: Path, entry: object, reason: str) -> None:
    items = list(read_har(_write(tmp_path, _har(_entry(), entry, _entry()))))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]
    notice = items[1]
    assert isinstance(notice, Notice)
    assert notice.rule == "input-malformed"
    assert notice.source == "capture.har"
    assert notice.exchange_id == "capture.har:2"
    assert notice.evidence["entry"] == 1
    assert "entry 1 of capture.har" in notice.message and reason in notice.message
    assert [i.id for i in items if isinstance(i, HttpExchange)] == ["capture.har:1", "capture.har:3"]


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "invalid JSON at line 1 column 1"),
        (b"not json at all", "invalid JSON"),
        (b"[1, 2]", "the top level is a JSON array, not an object"),
        (b'"log"', "the top level is a JSON string"),
        (b'{"log": []}', "no 'log' object"),
        (b'{"log": {"pages": []}}', "no 'log.entries' list"),
        (b'{"log": {"entries": {}}}', "no 'log.entries' list"),
        (b"[" * 100_000, "the top level is a JSON array"),
        (b"\x00\xff\xfe garbage \x80", "invalid JSON"),
    ],
)
def test_unreadable_file_raises_input_error(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "x.har"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        list(read_har(path))
    message = str(raised.value)
    assert message.startswith(f"Cannot read HAR file {path}: ")
    assert what in message
    assert "; " in message.split(": ", 1)[1]  # what, then what next


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="check the path"):
        list(read_har(tmp_path / "absent.har"))
    with pytest.raises(InputError, match="Cannot read HAR file"):
        list(read_har(tmp_path))


def test_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _har(_entry()))
    with pytest.raises(InputError, match="larger than 100 bytes"):
        list(read_har(path, max_bytes=100))


def test_truncated_file_yields_entries_before_the_damage(tmp_path: Path) -> None:
    text = json.dumps(_har(_entry(), _entry(), _entry()), indent=1)
    cut = text.rindex('"startedDateTime"') + 30  # inside the third entry
    path = tmp_path / "cut.har"
    path.write_text(text[:cut], encoding="utf-8")
    items: list[SourceItem] = []
    with pytest.raises(InputError) as raised:
        items.extend(read_har(path))
    assert [i.id for i in items if isinstance(i, HttpExchange)] == ["cut.har:1", "cut.har:2"]
    message = str(raised.value)
    assert "entry 2" in message and "line " in message and "2 entries before it were read" in message


@pytest.mark.parametrize("cut", range(1, 1200, 13))
def test_cut_anywhere_never_crashes_or_loses_a_whole_entry(tmp_path: Path, cut: int) -> None:
    first, second = json.dumps(_entry()), json.dumps(_entry())
    text = json.dumps(_har()).replace("[]", f"[{first}, {second}]")
    first_end = text.index(first) + len(first)
    second_end = text.index(second, first_end) + len(second)
    whole = (first_end <= cut) + (second_end <= cut)
    path = tmp_path / "cut.har"
    path.write_text(text[:cut], encoding="utf-8")
    items: list[SourceItem] = []
    failure: InputError | None = None
    try:
        items.extend(read_har(path))
    except InputError as exc:
        failure = exc
    if failure is None:
        assert isinstance(items[-1], Notice)  # only the document's tail was missing
    else:
        assert str(failure).startswith("Cannot read HAR file")
    exchanges = [i.id for i in items if isinstance(i, HttpExchange)]
    assert exchanges == ["cut.har:1", "cut.har:2"][:whole]


def test_damage_after_a_whole_entries_list_loses_nothing(tmp_path: Path) -> None:
    text = json.dumps(_har(_entry(), _entry()))
    path = tmp_path / "tail.har"
    path.write_text(text[:-2], encoding="utf-8")  # the closing braces are missing
    exchanges, notices = _split(list(read_har(path)))
    assert len(exchanges) == 2
    (notice,) = notices
    assert notice.rule == "input-malformed" and "2 entries were read one by one" in notice.message


def test_deeply_nested_entry_is_skipped(tmp_path: Path) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    entries = f'[{json.dumps(_entry())}, {{"x": {deep}}}, {json.dumps(_entry())}]'
    path = tmp_path / "deep.har"
    path.write_text(f'{{"log": {{"entries": {entries}}}}}', encoding="utf-8")
    items = list(read_har(path))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]  # the document itself is valid
    assert isinstance(items[1], Notice) and "nested too deeply" in items[1].message
    assert isinstance(items[2], HttpExchange) and items[2].id == "deep.har:3"


def test_entry_with_an_integer_too_long_to_convert_is_skipped(tmp_path: Path) -> None:
    entries = f'[{json.dumps(_entry())}, {{"time": {"9" * 5000}}}, {json.dumps(_entry())}]'
    path = tmp_path / "digits.har"
    path.write_text(f'{{"log": {{"entries": {entries}}}}}', encoding="utf-8")
    items = list(read_har(path))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]  # the document itself is valid
    assert isinstance(items[1], Notice) and "digits" in items[1].message


def test_non_utf8_bytes_are_kept_as_latin1(tmp_path: Path) -> None:
    text = json.dumps(_har(_entry()))
    raw = text.encode().replace(b"Bearer abc", b"Bearer \xff\xfe")
    path = tmp_path / "latin.har"
    path.write_bytes(raw)
    exchanges, notices = _split(list(read_har(path)))
    (notice,) = notices
    assert "not valid UTF-8" in notice.message and notice.evidence["offset"] == raw.index(b"\xff")
    assert exchanges[0].request.header("authorization") == "Bearer \xff\xfe"


def test_wide_characters_become_their_utf8_bytes(tmp_path: Path) -> None:
    request = dict(_entry()["request"], headers=[{"name": "X-User", "value": "山田"}])
    (exchange,) = read_har(_write(tmp_path, _har(_entry(request=request))))
    assert isinstance(exchange, HttpExchange)
    assert exchange.request.header("x-user") == "山田".encode().decode("latin-1")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_and_utf16(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "bom.har"
    path.write_text("\n " + json.dumps(_har(_entry())), encoding=encoding)
    (exchange,) = read_har(path)
    assert isinstance(exchange, HttpExchange)


def test_a_million_bad_entries_are_summed_up(tmp_path: Path) -> None:
    path = tmp_path / "many.har"
    path.write_text('{"log": {"entries": [' + ",".join(["1"] * 1_000_000) + "]}}", encoding="ascii")
    started = time.perf_counter()
    items = list(read_har(path))
    elapsed = time.perf_counter() - started
    notices = [i for i in items if isinstance(i, Notice)]
    assert len(items) == len(notices) == har.MAX_ENTRY_NOTICES + 1
    assert notices[-1].evidence["count"] == 1_000_000 - har.MAX_ENTRY_NOTICES
    assert elapsed < 20


def test_lab_written_har(tmp_path: Path) -> None:
    pairs = lab_exchanges(session_kit())
    path = write_har([e for e, _ in pairs], tmp_path / "lab.har")
    read = list(read_har(path))
    # The lab names its exchanges lab:N; read back, they are named after the file (inspector.sources.naming).
    assert [i.id for i in read if isinstance(i, HttpExchange)] == [e.id.replace("lab:", "lab.har:") for e, _ in pairs]
    assert all(isinstance(i, HttpExchange) for i in read)
    first = read[0]
    assert isinstance(first, HttpExchange)
    assert first.client == pairs[0][0].client and first.time == pairs[0][0].time


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
entry_like = st.fixed_dictionaries(
    {},
    optional={
        "startedDateTime": st.one_of(st.text(max_size=30), st.just("2025-06-02T09:30:00Z"), json_values),
        "request": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "method": st.one_of(st.just("GET"), json_values),
                    "url": st.one_of(st.text(max_size=40), st.just("https://h/x"), json_values),
                    "headers": st.one_of(
                        json_values,
                        st.lists(st.fixed_dictionaries({"name": json_values, "value": json_values}), max_size=3),
                    ),
                    "httpVersion": json_values,
                    "postData": json_values,
                },
            ),
        ),
        "response": json_values,
        "time": json_values,
        "serverIPAddress": json_values,
        "_clientIPAddress": json_values,
        "_clientPort": json_values,
        "_serverPort": json_values,
    },
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.one_of(entry_like, json_values), max_size=5))
def test_any_json_entries_give_exchanges_or_notices(tmp_path: Path, entries: list[object]) -> None:
    path = _write(tmp_path, _har(*entries))
    items = list(read_har(path, keep_bodies=True))
    exchanges = [i for i in items if isinstance(i, HttpExchange)]
    ids = {exchange.id for exchange in exchanges}
    # Each entry is an exchange or a notice that it was skipped; an exchange may come with notices of its own
    # (a time that is unknown: the exchange is kept and judged, and the notice names it).
    skipped = [i for i in items if isinstance(i, Notice) and i.exchange_id not in ids]
    assert len(exchanges) + len(skipped) == len(entries)
    for item in items:
        if isinstance(item, HttpExchange):
            assert item.time is None or item.time.tzinfo is UTC
            assert all(isinstance(n, str) and isinstance(v, str) for n, v in item.request.headers)
            assert all(ord(c) < 256 for n, v in item.request.headers for c in n + v)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.har"
    path.write_bytes(data)
    try:
        items = list(read_har(path))
    except InputError:
        return
    assert all(isinstance(i, HttpExchange | Notice) for i in items)


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.pure_python  # counts and turns off the one-call path by replacing har._whole_entry
@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
def test_entries_read_in_one_call_are_what_the_careful_walk_reads(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entries the one-call path takes, and entries it must leave to the walk: nested up to and past the limit
    # (the entry itself is depth 1), a string the walk cuts, odd text, and every entry cut by some chunk's end.
    long_value = "x" * (har.STRING_KEEP + 10)
    entries: list[object] = [
        _entry(),
        _entry(cache={"deep": _nested(har.MAX_ENTRY_DEPTH - 2)}),  # the innermost list at depth 64
        _entry(cache={"deep": _nested(har.MAX_ENTRY_DEPTH - 1)}),
        _entry(cache={"deep": _nested(har.MAX_ENTRY_DEPTH)}),
        _entry(comment=long_value),
        _entry(comment='\\ud800 \u00e9 [{"}] \\" '),
        _entry(cache={f"k{n}": {"n": [n]} for n in range(80)}),
        [1, 2],
        "text",
    ]
    path = _write(tmp_path, _har(*entries))
    monkeypatch.setattr("inspector.sources.json_stream.CHUNK", chunk)
    whole_entry, taken = har._whole_entry, []

    def counted(text: JsonText) -> tuple[object] | None:
        value = whole_entry(text)
        taken.append(value is not None)
        return value

    monkeypatch.setattr(har, "_whole_entry", counted)
    fast = list(read_har(path))
    monkeypatch.setattr(har, "_whole_entry", lambda _text: None)
    careful = list(read_har(path))
    assert fast == careful
    assert len(_split(fast)[0]) == 5  # nested 64 deep is read, 65 deep is not; the cut comment is read
    if chunk == 1 << 20:  # everything in one buffer: only the entries the walk must judge are left to it
        assert taken == [True, True, False, False, False, True, True, False, False]


def test_an_entry_cut_by_the_chunks_end_is_read_in_one_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries of about a kilobyte in chunks of 4 KiB: most chunks end inside an entry, which is parsed again with
    # the next chunk rather than walked; a damaged entry in the middle of a chunk reads no chunk early.
    entries: list[object] = [_entry(comment="é" * n) for n in range(0, 600, 37)]
    path = _write(tmp_path, _har(*entries))
    monkeypatch.setattr("inspector.sources.json_stream.CHUNK", 4096)
    careful_calls: list[int] = []
    careful_entry = har._careful_entry

    def counted(text: JsonText, reader: Any, index: int, start: str) -> Iterator[SourceItem]:
        careful_calls.append(index)
        return careful_entry(text, reader, index, start)

    monkeypatch.setattr(har, "_careful_entry", counted)
    fast = list(read_har(path))
    assert careful_calls == [] and len(fast) == len(entries)
    monkeypatch.setattr(har, "_whole_entry", lambda _text: None)
    assert list(read_har(path)) == fast

    damaged = tmp_path / "damaged.har"
    damaged.write_text('{"log": {"entries": [{"a": 1 2}, ' + " " * 10_000 + "{}]}}", encoding="utf-8")
    monkeypatch.setattr(har, "_whole_entry", _whole_entry_reads_nothing_early(har._whole_entry))
    with pytest.raises(InputError, match="invalid JSON in entry 0"):
        list(read_har(damaged))


def _whole_entry_reads_nothing_early(
    whole_entry: Callable[[JsonText], tuple[object] | None],
) -> Callable[[JsonText], tuple[object] | None]:
    def checked(text: JsonText) -> tuple[object] | None:
        size = len(text.buf)
        value = whole_entry(text)
        assert len(text.buf) == size, "a chunk was read for damage in the middle of the buffer"
        return value

    return checked


@pytest.mark.parametrize("damage", ["", ' "after": 1 2', ' "after": [1, '])
def test_text_dropped_near_the_buffers_end_changes_nothing(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each chunk's last entries are parsed after the text before them is dropped: the same items, and the same
    # lines and columns in what the damage after the entries is reported with.
    entries = json.dumps([_entry(comment="é\n" * n) for n in range(0, 900, 37)], indent=1)
    path = tmp_path / "capture.har"
    path.write_text('{"log": {"entries": ' + entries + ("," + damage if damage else "") + "}}", encoding="utf-8")
    monkeypatch.setattr("inspector.sources.json_stream.CHUNK", 4096)

    def read() -> tuple[list[SourceItem], str]:
        items: list[SourceItem] = []
        try:
            items.extend(read_har(path))
        except InputError as exc:
            return items, str(exc)
        return items, ""

    monkeypatch.setattr(har, "NEAR_END", 1 << 30)  # never near: nothing dropped early
    kept = read()
    monkeypatch.setattr(har, "NEAR_END", 900)
    assert read() == kept
    assert len(_split(kept[0])[0]) == len(range(0, 900, 37))


def _depth(value: object) -> int:
    """Containers' nesting depth as the careful walk counts it (a scalar entry is depth 1 too)."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return 1 + max((_depth(child) for child in children if isinstance(child, dict | list)), default=0)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON_VALUES, st.integers(0, 4), st.integers(56, 66))
def test_too_deep_is_nesting_past_the_limit(value: object, siblings: int, depth: int) -> None:
    # A random value, also buried at depths around the limit beside shallow siblings.
    buried: object = value
    for level in range(depth):
        buried = [buried, *range(siblings)] if level % 2 else {"k": buried, **{f"s{n}": {} for n in range(siblings)}}
    for each in (value, buried):
        assert har._too_deep(each) == (_depth(each) > har.MAX_ENTRY_DEPTH)
