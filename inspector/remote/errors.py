"""The one error remote access raises for an input that was given but cannot be used."""

from __future__ import annotations


class SourceError(Exception):
    """An input that was given but cannot be used (a bundle, a Graph answer, a remoting session). The checks that
    depend on it FAIL with this message; the others still run. The message is safe to print (no secrets)."""

    def __init__(self, message: str, *, remedy: str | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.remedy = remedy
        self.kind = kind
        """``error``, or ``not-found`` where the thing asked for does not exist (a finding, not a tool failure)."""
