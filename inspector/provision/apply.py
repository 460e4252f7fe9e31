"""``provision apply``: plan, confirm, perform, verify.

1. The plan: every probe runs (read-only) on Exchange and Graph, the auth certificate is read over the remoting
   session and checked (expired or soon-expiring: refused unless ``--force``), and each action gets a state: done,
   will create, will change, blocked. Nothing has changed yet; a refused sign-in, a missing permission to read,
   or a blocked action stops here.
2. ``--dry-run`` stops after showing the plan. Otherwise, if anything will change, the admin confirms (``--yes``
   for automation).
3. The actions run in order, each guarded again at the moment it runs. The first failure stops the run; the audit
   log says what was done, what was not started, whether the failing change may have gone through, and what to do
   next (always: fix the cause and run the same command again).
4. The matching verify-oauth checks run; a FAIL among the checks of the applied steps (2-6) makes the exit code 1.

Exit codes: 0 done (or nothing to do, or ``--dry-run``), 1 stopped (a step failed, a target was unreachable, the
plan is blocked, or the admin said no), 2 refused input (raised as :class:`ConfigError` before any change).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from inspector.model import ConfigError
from inspector.provision.audit import AuditLog
from inspector.provision.exchange import ExchangeExecutor, Shell
from inspector.provision.graph import GraphExecutor, KeyStore
from inspector.provision.state import AGAIN, ActionResult, ActionState, StepFailed, TargetUnavailable
from inspector.provision.steps import Action, CertificateFacts, Ensure, ExportCertificate, Inspect, Plan, Step
from inspector.provision.validate import certificate_usable
from inspector.verifyoauth.context import Request, gather
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.runner import run_checks
from inspector.verifyoauth.sources import ExchangeConfigSource, ServicePrincipalSource

EXIT_DONE, EXIT_STOPPED, EXIT_USAGE = 0, 1, 2


class Reporter(Protocol):
    """Where a person sees the run (a rich console in the CLI; a recorder in tests)."""

    def plan(self, plan: Plan, states: Mapping[str, ActionState]) -> None: ...

    def begin(self, total: int) -> None: ...

    def done(self, step: Step, action: Action, result: ActionResult) -> None: ...

    def end(self) -> None: ...

    def stopped(self, message: str, remedy: str, done: list[ActionResult]) -> None: ...

    def note(self, text: str) -> None: ...

    def checks(self, checks: list[Check]) -> None: ...


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    yes: bool = False
    dry_run: bool = False
    force: bool = False


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Provisioner:
    plan: Plan
    open_exchange: Callable[[], AbstractContextManager[Shell]]
    keys: KeyStore
    audit: AuditLog
    reporter: Reporter
    confirm: Callable[[str], bool]
    verify: Callable[[], list[Check]] | None = None
    options: ApplyOptions = ApplyOptions()
    now: Callable[[], datetime] = _utc_now

    def run(self) -> int:
        try:
            code = self._run()
        except TargetUnavailable as exc:
            code = self._stop([], f"{exc}", exc.remedy, changed=False)
        except ConfigError as exc:
            self.audit.write("refused", reason=str(exc), changed=False)
            code = EXIT_USAGE
            self.audit.write("finish", exit=code)
            raise
        self.audit.write("finish", exit=code)
        return code

    # --- the phases ---------------------------------------------------------------------------------------------

    def _run(self) -> int:
        with self.open_exchange() as shell:
            exchange = ExchangeExecutor(shell, self.plan.inputs)
            graph = GraphExecutor(self.keys, now=self.now)
            try:
                states = self._survey(exchange, graph)
            except StepFailed as failure:
                return self._stop([], f"Planning stopped at {failure.action_id}: {failure}", failure.remedy,
                                  changed=False)  # fmt: skip
            self.audit.write("plan", actions=[_state_record(s) for s in states.values()])
            self.reporter.plan(self.plan, states)
            blocked = [s for s in states.values() if s.status == "blocked"]
            if blocked:
                first = blocked[0]
                return self._stop([], f"Planning stopped: {first.action_id} is blocked: {first.detail}",
                                  first.remedy or f"Fix the cause, {AGAIN}", changed=False)  # fmt: skip
            changing = [s.action_id for s in states.values() if s.changes]
            if self.options.dry_run:
                self.audit.write("stopped", reason="--dry-run: the plan only", changed=False, would_change=changing)
                self.reporter.note(f"--dry-run: nothing changed ({len(changing)} action(s) would change something).")
                return EXIT_DONE
            if not changing:
                self.reporter.note("Nothing to change: every step is already in place.")
                self.audit.write("nothing-to-change")
            else:
                if not self._confirmed(changing):
                    return EXIT_STOPPED
                code = self._perform(exchange, graph)
                if code != EXIT_DONE:
                    return code
        return self._verify()

    def _survey(self, exchange: ExchangeExecutor, graph: GraphExecutor) -> dict[str, ActionState]:
        """Exchange first; the certificate it yields is judged before Graph is signed in to."""
        states: dict[str, ActionState] = {}
        for _, action in self.plan.actions():
            if isinstance(action, Ensure | Inspect | ExportCertificate):
                states[action.id] = exchange.survey(action)
        self._check_certificate(exchange.certificate)
        for _, action in self.plan.actions():
            if not isinstance(action, Ensure | Inspect | ExportCertificate):
                states[action.id] = graph.survey(action, exchange.certificate)
        return {action.id: states[action.id] for _, action in self.plan.actions()}

    def _check_certificate(self, cert: CertificateFacts | None) -> None:
        if cert is None:
            return
        given = self.plan.inputs.certificate
        if given is not None and given.thumbprint != cert.thumbprint:
            raise ConfigError(
                f"--cert {given.source} is {given.thumbprint}, but Exchange's current auth certificate is "
                f"{cert.thumbprint}: give the certificate Exchange uses now (or leave --cert out)"
            )
        for problem in certificate_usable(cert, self.now(), force=self.options.force):
            self.reporter.note(f"--force: going ahead although the certificate {problem}")
            self.audit.write("forced", certificate=cert.thumbprint, problem=problem)

    def _confirmed(self, changing: list[str]) -> bool:
        if self.options.yes:
            self.audit.write("confirm", answer="yes (--yes)")
            return True
        answer = self.confirm(f"Make these {len(changing)} change(s) ({', '.join(changing)})?")
        self.audit.write("confirm", answer="yes" if answer else "no")
        if not answer:
            self.reporter.note("Nothing changed.")
        return answer

    def _perform(self, exchange: ExchangeExecutor, graph: GraphExecutor) -> int:
        todo = [(step, action) for step, action in self.plan.actions() if not step.plan_only]
        done: list[ActionResult] = []
        self.reporter.begin(len(todo))
        try:
            for step, action in todo:
                self.audit.write("begin", action=action.id, step=step.number, title=action.title)
                try:
                    if isinstance(action, Ensure | Inspect | ExportCertificate):
                        result = exchange.perform(action)
                    else:
                        result = graph.perform(action, exchange.certificate)
                except StepFailed as failure:
                    return self._failed(step, failure, done, [a.id for _, a in todo[len(done) + 1 :]])
                done.append(result)
                self.audit.write(
                    "action",
                    action=action.id,
                    step=step.number,
                    outcome=result.outcome,
                    detail=result.detail,
                    sent=list(result.sent),
                    **result.record,
                )
                self.reporter.done(step, action, result)
        finally:
            self.reporter.end()
        return EXIT_DONE

    def _failed(self, step: Step, failure: StepFailed, done: list[ActionResult], not_started: list[str]) -> int:
        changed = [r for r in done if r.outcome in ("created", "changed")]
        message = f"Stopped at {failure.action_id} (step {step.number}, {step.title}): {failure}"
        if failure.uncertain:
            message += (
                ". The connection failed after the change was sent, so it may have been made: the next run's "
                "guard finds out"
            )
        self.audit.write(
            "failed",
            action=failure.action_id,
            step=step.number,
            reason=str(failure),
            uncertain=failure.uncertain,
            sent=list(failure.sent),
        )
        return self._stop(done, message, failure.remedy, changed=bool(changed), not_started=not_started,
                          at=failure.action_id)  # fmt: skip

    def _stop(
        self,
        done: list[ActionResult],
        message: str,
        remedy: str,
        *,
        changed: bool,
        not_started: list[str] | None = None,
        at: str | None = None,
    ) -> int:
        if not changed:
            message += ". Nothing was changed"
        self.audit.write(
            "stopped",
            reason=message,
            at=at,
            changed=changed,
            done=[{"action": r.action_id, "outcome": r.outcome, "detail": r.detail} for r in done],
            not_started=not_started or [],
            next=remedy,
        )
        self.reporter.stopped(message, remedy, done)
        return EXIT_STOPPED

    def _verify(self) -> int:
        if self.verify is None:
            return EXIT_DONE
        checks = self.verify()
        self.reporter.checks(checks)
        self.audit.write("verify", checks=[{"id": c.id, "status": c.status, "reason": c.reason} for c in checks])
        applied = {check for step in self.plan.steps if not step.plan_only for check in step.checks}
        failing = [c.id for c in checks if c.status == "FAIL" and c.id in applied]
        if failing:
            self.reporter.note(f"The steps ran, but verify-oauth finds problems: {', '.join(failing)} (see above).")
            return EXIT_STOPPED
        return EXIT_DONE


def _state_record(state: ActionState) -> dict[str, object]:
    return {"action": state.action_id, "status": state.status, "detail": state.detail, "remedy": state.remedy}


def matching_checks(plan: Plan) -> tuple[str, ...]:
    """The verify-oauth check IDs of the plan's steps, in order of first mention."""
    out: list[str] = []
    for step in plan.steps:
        out += [c for c in step.checks if c not in out]
    return tuple(out)


def verification(
    plan: Plan,
    *,
    exchange_source: ExchangeConfigSource | None,
    sp_source: ServicePrincipalSource | None,
    cert: Path | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> Callable[[], list[Check]]:
    """The matching verify-oauth checks, run through verify-oauth's own gathering (a fresh read of Exchange and
    Graph: what a later `verify-oauth` run would see)."""

    def run() -> list[Check]:
        wanted = set(matching_checks(plan))
        request = Request(cert=cert, exchange_source=exchange_source, sp_source=sp_source)
        return [check for check in run_checks(gather(request, now())) if check.id in wanted]

    return run
