"""One memory budget shared by every connection of a capture, so that a hostile file cannot make thousands of
connections each fill their (individually bounded) buffers at once."""

from __future__ import annotations


class MemoryBudget:
    """Bytes that large buffers (out-of-order segments, oversized header blocks, kept bodies) may hold together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.refused = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            self.refused += 1
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used = max(0, self.used - size)
