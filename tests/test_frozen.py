"""Frozen dataclasses read by their constructor arguments and pickled through their constructor."""

from __future__ import annotations

import copyreg
import pickle
from dataclasses import dataclass, field

from inspector.frozen import field_values, pickled_by_constructor


@dataclass(frozen=True, slots=True)
class _Pair:
    name: str
    count: int = 0
    cache: dict[str, int] = field(default_factory=dict, init=False, compare=False)


@dataclass(frozen=True, slots=True)
class _One:
    name: str


pickled_by_constructor(_Pair)
pickled_by_constructor(_One)


def test_the_values_are_the_constructor_arguments_in_order() -> None:
    pair = _Pair("a", 2)
    assert field_values(_Pair)(pair) == ("a", 2)  # not the cache, which the constructor does not take
    assert _Pair(*field_values(_Pair)(pair)) == pair
    assert field_values(_One)(_One("b")) == ("b",)  # a tuple for one argument too


def test_a_frozen_class_crosses_pickling_whole_and_its_cache_starts_empty() -> None:
    pair = _Pair("a", 2)
    pair.cache["seen"] = 1
    again = pickle.loads(pickle.dumps(pair))  # noqa: S301 - our own bytes
    assert again == pair and again is not pair
    assert again.cache == {}
    assert pickle.loads(pickle.dumps(_One("b"))) == _One("b")  # noqa: S301 - our own bytes
    # Through the constructor, not by setting fields one by one: what a compiled (mypyc) frozen class needs.
    assert copyreg.dispatch_table[_Pair](pair) == (_Pair, ("a", 2))
