"""What every fuzz harness shares: bounded settings, seeds, byte mutations, and the properties output must keep.

CI runs each harness for a bounded number of examples (seconds). ``bench/fuzz.py`` runs them for minutes by
setting ``OAUTH_INSPECTOR_FUZZ_SCALE`` (examples multiplied by it, inputs random instead of derandomized).

Properties checked on every output (issue 12): only the documented exceptions, strict JSON (no ``NaN``, no lone
surrogate), no terminal escapes (rich renders without a terminal, so any ESC or other control character came from
the wire), no secret from the input, and a bounded time per input.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rich.console import Console

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import HttpExchange, Notice, SourceItem
from inspector.policy import Policy
from inspector.report.console import ConsoleReport
from inspector.report.writers import JsonlWriter, JsonWriter
from inspector.tally import Totals
from inspector.trust import Trust
from tests.corpus import REPO, corpus_dir
from tests.hostile import strict_json, strict_json_lines

SCALE = max(1, int(os.environ.get("OAUTH_INSPECTOR_FUZZ_SCALE", "1")))
"""1 in CI; ``bench/fuzz.py --scale N`` multiplies every harness's examples by N."""
SECONDS_PER_INPUT = 10.0 * SCALE
"""A hang detector, not a speed goal (bench/growth.py measures growth): quadratic code on the inputs these
harnesses make takes minutes."""
CAPTURES = REPO / "captures" / "lab"


def fuzz(max_examples: int) -> settings:
    """The settings of one harness: ``max_examples`` (at most 300) in CI, times ``SCALE`` by hand."""
    assert max_examples <= 300, "CI runs each harness for seconds"
    return settings(
        max_examples=max_examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,  # CI sees the same inputs every run; runs by hand explore
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
    )


def corpus_files(*patterns: str, max_size: int = 256 << 10) -> list[Path]:
    """Files of the shared corpus matching the glob ``patterns`` (small ones: they are mutated in memory)."""
    root = corpus_dir()
    if root is None:
        return []
    found = {path for pattern in patterns for path in root.glob(pattern) if path.is_file()}
    return sorted(path for path in found if path.stat().st_size <= max_size)


def seeds(*paths: Path) -> list[bytes]:
    return [path.read_bytes() for path in paths if path.is_file()]


def corpus_seeds_or_skip(*patterns: str) -> list[bytes]:
    files = corpus_files(*patterns)
    if not files:
        pytest.skip(f"no shared corpus files match {patterns} (../shared/corpus absent: set OAUTH_INSPECTOR_CORPUS)")
    return seeds(*files)


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, value in edits:
        at = where % (len(buf) + 1)
        if kind == 0 and buf:  # flip a byte
            buf[at % len(buf)] ^= value or 1
        elif kind == 1:  # insert a byte
            buf[at:at] = bytes([value])
        elif kind == 2:  # delete a run
            del buf[at : at + value % 64 + 1]
        elif kind == 3:  # cut the rest
            del buf[at:]
        elif kind == 4:  # duplicate a run (lengths, repeated fields)
            buf[at:at] = buf[at : at + value + 1]
        else:  # an interesting value over four bytes
            buf[at : at + 4] = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x01\x00"][
                value % 4
            ]
    return bytes(buf)


def mutated(seed_list: list[bytes], *, max_edits: int = 8) -> st.SearchStrategy[bytes]:
    """Seeds with a few byte edits (flips, inserts, deletions, cuts, duplications, boundary values)."""
    edit = st.tuples(st.integers(0, 5), st.integers(0, 1 << 30), st.integers(0, 255))
    return st.builds(_mutate, st.sampled_from(seed_list), st.lists(edit, max_size=max_edits))


class Timed:
    """``with Timed():`` fails when its block takes longer than ``SECONDS_PER_INPUT``."""

    def __enter__(self) -> Timed:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        assert elapsed < SECONDS_PER_INPUT, f"one input took {elapsed:.1f} s: a hang"


_TERMINAL_UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def assert_terminal_safe(text: str) -> None:
    """No ESC, no other control or bidi character, no lone surrogate: what a terminal would interpret."""
    match = _TERMINAL_UNSAFE.search(text)
    if match is not None:
        context = text[max(0, match.start() - 60) : match.start() + 20]
        raise AssertionError(f"terminal-unsafe character {match.group()!r} at {match.start()}: {context!r}")


def assert_no_secret(text: str, secrets: Iterable[str]) -> None:
    for secret in secrets:
        if len(secret) >= 6:
            assert secret not in text, f"secret {secret[:4]}… leaked"


def analyse(items: Iterable[SourceItem], trust: Trust | None = None) -> list[ExchangeResult]:
    analyzer = Analyzer(trust or Trust(), Policy())
    out: list[ExchangeResult] = []
    for item in items:
        result = analyzer.feed(item)
        if isinstance(result, ExchangeResult):
            out.append(result)
    return out


def rendered(results: list[ExchangeResult], *, extra: Iterable[Notice] = ()) -> dict[str, str]:
    """The results in every output format: JSON, JSONL and the console table (no terminal: plain text)."""
    analyzer = Analyzer(Trust(), Policy())
    totals = Totals()
    for result in results:
        totals.add(result)
    texts: dict[str, str] = {}
    for name in ("json", "jsonl", "table"):
        out = io.StringIO()
        writer: Any
        if name == "json":
            writer = JsonWriter(out, [{"path": "fuzz", "kind": "fuzz"}], show_secrets=False)
        elif name == "jsonl":
            writer = JsonlWriter(out, show_secrets=False)
        else:
            writer = ConsoleReport(Console(file=out, force_terminal=False, width=200, color_system=None), verbose=True)
        for result in results:
            writer.exchange(result)
        for notice in extra:
            writer.finding(analyzer.feed(notice))  # type: ignore[arg-type]
        writer.close(totals)
        texts[name] = out.getvalue()
    return texts


def assert_outputs_hold(results: list[ExchangeResult], secrets: Iterable[str] = ()) -> None:
    """Every format: strict JSON where JSON, terminal-safe text in the table, no secret anywhere."""
    texts = rendered(results)
    strict_json(texts["json"])
    strict_json_lines(texts["jsonl"])
    assert_terminal_safe(texts["table"])
    for text in texts.values():
        assert_no_secret(text, secrets)
    json.dumps(texts)  # every text is a str


def exchanges_of(items: Iterable[SourceItem]) -> Iterator[HttpExchange]:
    return (item for item in items if isinstance(item, HttpExchange))
