"""The bounded cache: least recently used leaves first, size zero keeps nothing, hits and misses counted."""

from __future__ import annotations

from inspector.lru import LruCache


def test_the_least_recently_used_entry_leaves_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2


def test_get_or_make_makes_once_per_key_while_remembered() -> None:
    made: list[str] = []
    cache: LruCache[str, str] = LruCache(4)

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    assert [cache.get_or_make(k, make) for k in ("x", "y", "x", "x")] == ["X", "Y", "X", "X"]
    assert made == ["x", "y"]
    assert (cache.hits, cache.misses) == (2, 2)


def test_size_zero_remembers_nothing() -> None:
    cache: LruCache[str, int] = LruCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_get_or_make_keeps_the_most_recent_and_counts_each_miss() -> None:
    cache: LruCache[str, str] = LruCache(2)
    assert [cache.get_or_make(k, str.upper) for k in ("a", "b", "a", "c", "b")] == ["A", "B", "A", "C", "B"]
    # a was used after b, so c pushed b out and b was made again (pushing a out).
    assert (cache.hits, cache.misses, len(cache)) == (1, 4, 2)
    assert (cache.get("a"), cache.get("c")) == (None, "C")


def test_get_or_make_with_size_zero_makes_every_time() -> None:
    cache: LruCache[str, str] = LruCache(0)
    assert [cache.get_or_make("x", str.upper) for _ in range(3)] == ["X", "X", "X"]
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 0)
