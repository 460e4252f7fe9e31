"""Items of one input in capture-time order, stable, within a bounded window; notices keep their place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inspector.model import HttpExchange, Notice
from inspector.sources.timeorder import in_capture_time_order
from tests.builders import exchange


def _ids(items: list[HttpExchange | Notice]) -> list[str]:
    return [x.id if isinstance(x, HttpExchange) else f"notice:{x.message}" for x in items]


def test_out_of_order_entries_come_out_by_time_equal_times_in_input_order() -> None:
    late, early, same_a, same_b = (
        exchange(exchange_id="late", after=5),
        exchange(exchange_id="early", after=1),
        exchange(exchange_id="a", after=3),
        exchange(exchange_id="b", after=3),
    )
    items: list[HttpExchange | Notice] = [late, same_a, Notice("capture-gap", "after-a", "s"), early, same_b]
    assert _ids(list(in_capture_time_order(items))) == ["early", "a", "notice:after-a", "b", "late"]


def test_the_window_bounds_what_is_held() -> None:
    items = [exchange(exchange_id=f"x{n}", after=10 - n) for n in range(10)]
    # With room for three, an entry more than three places after a later one stays late.
    out = _ids(list(in_capture_time_order(items, window=3)))
    assert sorted(out) == sorted(_ids(list(items)))
    assert out[0] == "x3" and out[-1] == "x0"


def test_an_input_that_breaks_off_still_gives_what_was_held_then_the_error() -> None:
    """A damaged HAR or flow file, or a capture on standard input cut by --spool-limit: the exchanges read before
    the damage are released in time order before the error (they were held in the window and lost)."""
    import pytest

    from inspector.model import InputError

    def broken() -> Iterator[HttpExchange | Notice]:
        yield exchange(exchange_id="second", after=2)
        yield exchange(exchange_id="first", after=1)
        raise InputError("truncated")

    released: list[HttpExchange | Notice] = []
    with pytest.raises(InputError, match="truncated"):
        released.extend(in_capture_time_order(broken()))  # extend keeps what came before the error
    assert _ids(released) == ["first", "second"]


def test_the_command_reports_what_a_cut_flow_file_or_piped_capture_held(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.corpus import REPO

    lab = REPO / "captures" / "lab"
    cut_flows, cut_capture = tmp_path / "cut.mitm", tmp_path / "cut.pcapng"
    cut_flows.write_bytes((lab / "lab.mitm").read_bytes()[:60000])
    cut_capture.write_bytes((lab / "lab.pcapng").read_bytes()[:60000])
    command = [sys.executable, "-m", "inspector", "analyze", "--format", "json", "-q"]
    for args, stdin in (([str(cut_flows)], None), (["-"], cut_capture.read_bytes())):
        done = subprocess.run([*command, *args], input=stdin, capture_output=True, check=False)
        assert done.returncode == 3, done.stderr
        document = json.loads(done.stdout)
        (error,) = document["errors"]
        assert len(document["exchanges"]) == error["exchanges_read"] > 5  # were 0: dropped with the window
