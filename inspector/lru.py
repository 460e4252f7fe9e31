"""A small bounded least-recently-used cache: the engine sees the same tokens and headers over and over, and must
stay within a fixed memory however long a capture or a proxy session runs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable


class LruCache[K: Hashable, V]:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[K], V]) -> V:
        # get() and put() written out: the analyzer calls this for every header and token it sees.
        items = self._items
        value = items.get(key)
        if value is not None:
            items.move_to_end(key)
            self.hits += 1
            return value
        self.misses += 1
        value = make(key)
        if self.size > 0:
            items[key] = value
            items.move_to_end(key)
            if len(items) > self.size:
                items.popitem(last=False)
        return value
