"""What the executors report: the state of an action before anything changes (the plan), what happened when it
ran, and the one exception that stops a run at an action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["done", "create", "change", "later", "blocked", "found", "missing", "read", "check"]
"""``done`` nothing to do; ``create``/``change`` will change something; ``later`` decided when an earlier action
has run; ``blocked`` provisioning will not change this state; ``found``/``missing`` a plan-only check; ``read``
read-only (the certificate); ``check`` a read-back after the changes."""
AGAIN = "then run the same command again: what is already done is found and skipped"
"""How every remedy ends: a run skips what is already done, so running again picks up where it stopped."""
CHANGING: frozenset[Status] = frozenset({"create", "change", "later"})

Outcome = Literal["already", "created", "changed", "read", "verified", "found", "missing"]


@dataclass(frozen=True, slots=True)
class ActionState:
    action_id: str
    status: Status
    detail: str
    remedy: str | None = None

    @property
    def changes(self) -> bool:
        return self.status in CHANGING


@dataclass(frozen=True, slots=True)
class ActionResult:
    action_id: str
    outcome: Outcome
    detail: str
    sent: tuple[str, ...] = ()
    """The commands or requests that changed something, as text (never secrets)."""
    record: dict[str, Any] = field(default_factory=dict)
    """Extra facts for the audit log (thumbprints, the keys kept)."""


class StepFailed(Exception):
    """An action could not complete. ``uncertain``: the change may or may not have been made (the session broke
    after sending it); a re-run finds out through the action's guard."""

    def __init__(
        self,
        action_id: str,
        message: str,
        remedy: str,
        *,
        uncertain: bool = False,
        sent: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.action_id = action_id
        self.remedy = remedy
        self.uncertain = uncertain
        self.sent = sent


class TargetUnavailable(Exception):
    """Exchange or Graph could not be reached or refused the sign-in: nothing was changed through it."""

    def __init__(self, target: str, message: str, remedy: str) -> None:
        super().__init__(message)
        self.target = target
        self.remedy = remedy
