"""Provisioning test material: certificates (made once per session), an in-memory Exchange, a local Graph double
holding keys that must survive, and a provisioner wired to both with a recording reporter."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import LabCert, exchange_auth_cert, self_signed
from inspector.provision.apply import ApplyOptions, Provisioner, verification
from inspector.provision.audit import AuditLog, read_records
from inspector.provision.exchange import exchange_shell
from inspector.provision.graph import GraphKeyStore
from inspector.provision.state import ActionResult, ActionState
from inspector.provision.steps import Action, Inputs, Plan, Step, build_plan
from inspector.remote.graph import GraphSettings
from inspector.remote.psrp import PsrpSettings
from inspector.verifyoauth.graph import GraphSource
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.psrp import PsrpSource
from tests.doubles.psrp import opener_for
from tests.provision.exchange_double import DC, DOMAIN, SFB, TENANT, ExchangeState
from tests.verifyoauth.graph_double import GraphDouble

NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.provision-test-token.c2ln"
PSRP_URL = "https://ex01.fabrikam.com/PowerShell"


@dataclass(frozen=True)
class Certs:
    auth: LabCert
    """Exchange's current auth certificate."""
    other: LabCert
    """A key already on the service principal (another server's certificate, say): it must survive."""
    old: LabCert
    """An expired key already on the service principal: it must survive too (removing it is the admin's call)."""
    expiring: LabCert
    expired: LabCert
    weak: LabCert


@pytest.fixture(scope="session")
def certs() -> Certs:
    return Certs(
        auth=exchange_auth_cert(now=NOW),
        other=self_signed(
            "SfB pool signing", not_before=NOW - timedelta(days=100), not_after=NOW + timedelta(days=600)
        ),
        old=self_signed("Old auth", not_before=NOW - timedelta(days=900), not_after=NOW - timedelta(days=30)),
        expiring=exchange_auth_cert(now=NOW, not_before=NOW - timedelta(days=300), not_after=NOW + timedelta(days=20)),
        expired=exchange_auth_cert(now=NOW, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)),
        weak=exchange_auth_cert(now=NOW, key_size=1024),
    )


def stored_key(cert: LabCert, key_id: str) -> dict[str, Any]:
    """A keyCredential as Graph returns it with $select."""
    der = cert.der
    return {
        "customKeyIdentifier": cert.thumbprint,
        "displayName": cert.certificate.subject.rfc4514_string(),
        "endDateTime": cert.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key": base64.b64encode(der).decode(),
        "keyId": key_id,
        "startDateTime": cert.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


@pytest.fixture
def exchange(certs: Certs) -> ExchangeState:
    return ExchangeState(auth_cert=certs.auth)


@pytest.fixture
def graph(certs: Certs) -> Iterator[GraphDouble]:
    with GraphDouble() as double:
        double.state.principals[SFB] = [
            stored_key(certs.other, "8d2a2f34-6b8e-4c55-9d3c-1a6f0e1c0a01"),
            stored_key(certs.old, "8d2a2f34-6b8e-4c55-9d3c-1a6f0e1c0a02"),
        ]
        yield double


@dataclass
class Recorder:
    """A ``Reporter`` that keeps what a person would have seen."""

    states: dict[str, ActionState] = field(default_factory=dict)
    results: list[ActionResult] = field(default_factory=list)
    stops: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks_seen: list[Check] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)

    def plan(self, plan: Plan, states: Mapping[str, ActionState]) -> None:  # noqa: ARG002 - the Reporter protocol
        self.states = dict(states)

    def begin(self, total: int) -> None:
        self.totals.append(total)

    def done(self, step: Step, action: Action, result: ActionResult) -> None:  # noqa: ARG002 - the protocol
        self.results.append(result)

    def end(self) -> None:
        pass

    def stopped(self, message: str, remedy: str, done: list[ActionResult]) -> None:  # noqa: ARG002 - the protocol
        self.stops.append((message, remedy))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def checks(self, checks: list[Check]) -> None:
        self.checks_seen = checks

    def outcomes(self) -> dict[str, str]:
        return {r.action_id: r.outcome for r in self.results}


@dataclass
class Run:
    code: int
    reporter: Recorder
    audit: list[dict[str, Any]]

    def event(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.audit if r["event"] == name]


def inputs(**overrides: Any) -> Inputs:
    values: dict[str, Any] = {"domain": DOMAIN, "domain_controller": DC, "tenant": TENANT}
    values.update(overrides)
    return Inputs(**values)


def run_apply(
    exchange: ExchangeState,
    graph: GraphDouble,
    audit_path: Path,
    *,
    options: ApplyOptions | None = None,
    confirm: bool = True,
    verify: bool = True,
    plan_inputs: Inputs | None = None,
    now: datetime = NOW,
) -> Run:
    plan = build_plan(plan_inputs or inputs())
    settings = PsrpSettings(PSRP_URL, auth="kerberos")
    opener = opener_for(exchange)
    graph_settings = GraphSettings(tenant=TENANT, timeout=5)
    recorder = Recorder()
    with AuditLog(audit_path) as audit:
        audit.start("apply", test=True)
        provisioner = Provisioner(
            plan=plan,
            open_exchange=lambda: exchange_shell(settings, opener),
            keys=GraphKeyStore(graph_settings, lambda: TOKEN, graph_base=graph.url),
            audit=audit,
            reporter=recorder,
            confirm=lambda _question: confirm,
            verify=verification(
                plan,
                exchange_source=PsrpSource(settings, opener=opener),
                sp_source=GraphSource(graph_settings, lambda: TOKEN, graph_base=graph.url),
                now=lambda: now,
            )
            if verify
            else None,
            options=options or ApplyOptions(yes=True),
            now=lambda: now,
        )
        code = provisioner.run()
        run_id = audit.run_id
    return Run(code, recorder, read_records(audit_path, run_id))
