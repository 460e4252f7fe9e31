"""Items of one input in capture-time order, stable, within a bounded window; notices keep their place."""

from __future__ import annotations

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
