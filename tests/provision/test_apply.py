"""``provision apply`` against an in-memory Exchange behind the remoting surface and a local Graph double: the first
run creates everything, the second changes nothing, a failure injected at any step stops the run there with an
audit log that says what was done, and a re-run completes without duplicates."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.provision.apply import ApplyOptions
from tests.provision.conftest import Certs, inputs, run_apply
from tests.provision.exchange_double import ACCOUNT_IDENTITY, SFB, ExchangeState, PartnerApp
from tests.verifyoauth.graph_double import GraphDouble

EXCHANGE_ACTIONS = ("2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "4.1")


def thumbprints_on(graph: GraphDouble) -> list[str]:
    return [
        hashlib.sha1(base64.b64decode(c["key"]), usedforsecurity=False).hexdigest().upper()
        for c in graph.state.principals[SFB]
    ]


def assert_provisioned_once(exchange: ExchangeState, graph: GraphDouble, certs: Certs) -> None:
    (user,) = exchange.mail_users.values()
    assert user.name == "SfBOnline-ApplicationAccount" and user.external == "SfBOnline-ApplicationAccount@fabrikam.com"
    assert user.hidden
    assert sorted((a.role, a.user) for a in exchange.assignments) == [
        ("ArchiveApplication", user.name),
        ("UserApplication", user.name),
    ]
    (app,) = exchange.sfb_apps()
    assert (app.name, app.enabled, app.linked) == ("SfBOnline", True, ACCOUNT_IDENTITY)
    assert sorted(thumbprints_on(graph)) == sorted(
        [certs.other.thumbprint, certs.old.thumbprint, certs.auth.thumbprint]
    )


def test_first_run_creates_everything_second_changes_nothing(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    first = run_apply(exchange, graph, audit)
    assert first.code == 0, first.reporter.stops
    assert {k: v.status for k, v in first.reporter.states.items()} == {
        "1.1": "found",
        "1.2": "found",
        "2.1": "create",
        "2.2": "later",
        "2.3": "create",
        "2.4": "create",
        "3.1": "create",
        "3.2": "later",
        "3.3": "later",
        "4.1": "read",
        "5.1": "change",
        "6.1": "check",
    }
    assert first.reporter.outcomes() == {
        "2.1": "created",
        "2.2": "changed",
        "2.3": "created",
        "2.4": "created",
        "3.1": "created",
        "3.2": "already",  # New-PartnerApplication -Enabled $true made it so
        "3.3": "already",
        "4.1": "read",
        "5.1": "changed",
        "6.1": "verified",
    }
    assert_provisioned_once(exchange, graph, certs)
    assert exchange.changes_sent() == [
        "New-MailUser",
        "Set-MailUser",
        "New-ManagementRoleAssignment",
        "New-ManagementRoleAssignment",
        "New-PartnerApplication",
    ]
    assert len(graph.state.patches) == 1
    checks = {c.id: c for c in first.reporter.checks_seen}
    for check_id in ("exchange.app-account", "exchange.roles", "exchange.partner-app", "cert.readable",
                     "cert.validity", "cert.is-current", "entra.sp-key", "exchange.auth-server"):  # fmt: skip
        assert checks[check_id].status in ("PASS", "WARN"), (check_id, checks[check_id].reason)
    assert checks["entra.sp-key"].status == "WARN" and "expired key" in checks["entra.sp-key"].reason  # "old" stays
    assert [r["event"] for r in first.audit][:3] == ["start", "plan", "confirm"]
    assert first.event("finish")[-1]["exit"] == 0

    exchange.sent.clear()
    second = run_apply(exchange, graph, audit)
    assert second.code == 0
    assert {s.status for s in second.reporter.states.values()} <= {"done", "found", "read", "check"}
    assert exchange.changes_sent() == []
    assert len(graph.state.patches) == 1
    assert [m for m, *_ in graph.state.requests].count("PATCH") == 1
    assert "Nothing to change" in " ".join(second.reporter.notes)
    assert second.event("nothing-to-change")
    assert_provisioned_once(exchange, graph, certs)
    # both runs are in the one log, each with its own run ID
    runs = {json.loads(line)["run"] for line in audit.read_text(encoding="utf-8").splitlines()}
    assert len(runs) == 2


def test_patch_keeps_existing_keys_sending_key_type_usage_only(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    before = [dict(c) for c in graph.state.principals[SFB]]
    assert run_apply(exchange, graph, tmp_path / "a.jsonl").code == 0
    (body,) = graph.state.patches
    sent = body["keyCredentials"]
    assert [set(entry) for entry in sent[:2]] == [{"key", "type", "usage"}] * 2  # no keyId re-sent
    assert [entry["key"] for entry in sent[:2]] == [c["key"] for c in before]
    new = sent[2]
    assert base64.b64decode(new["key"]) == certs.auth.der
    assert (new["type"], new["usage"]) == ("AsymmetricX509Cert", "Verify")
    stored = {hashlib.sha1(base64.b64decode(c["key"]), usedforsecurity=False).hexdigest().upper(): c
              for c in graph.state.principals[SFB]}  # fmt: skip
    mine = stored[certs.auth.thumbprint]
    assert mine["startDateTime"] == certs.auth.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert mine["endDateTime"] == certs.auth.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    for old in before:  # the pre-existing keys survive with their certificates and dates
        survivor = stored[hashlib.sha1(base64.b64decode(old["key"]), usedforsecurity=False).hexdigest().upper()]
        assert (survivor["startDateTime"], survivor["endDateTime"], survivor["usage"]) == (
            old["startDateTime"],
            old["endDateTime"],
            old["usage"],
        )


# --- failures at every step, then a re-run ------------------------------------------------------------------------

CHANGES = [
    ("New-MailUser", 1, "2.1"),
    ("Set-MailUser", 1, "2.2"),
    ("New-ManagementRoleAssignment", 1, "2.3"),
    ("New-ManagementRoleAssignment", 2, "2.4"),
    ("New-PartnerApplication", 1, "3.1"),
]
INJECTIONS = [
    *[(*change, mode) for change in CHANGES for mode in ("before", "after")],
    ("Get-ExchangeCertificate", 2, "4.1", "before"),  # the first read is the plan's; a read has no "after"
]


@pytest.mark.parametrize(("cmdlet", "nth", "action", "mode"), INJECTIONS)
def test_a_failure_at_each_exchange_step_then_a_rerun_completes(
    exchange: ExchangeState,
    graph: GraphDouble,
    certs: Certs,
    tmp_path: Path,
    cmdlet: str,
    nth: int,
    action: str,
    mode: str,
) -> None:
    exchange.inject(cmdlet, mode, nth)
    audit = tmp_path / "audit.jsonl"
    first = run_apply(exchange, graph, audit)
    assert first.code == 1
    (stopped,) = first.event("stopped")
    assert stopped["at"] == action
    done_ids = [d["action"] for d in stopped["done"]]
    assert done_ids == [a for a in EXCHANGE_ACTIONS if a < action]
    assert stopped["not_started"] == [a for a in (*EXCHANGE_ACTIONS, "5.1", "6.1") if a > action]
    assert "run the same command again" in stopped["next"]
    (failed,) = first.event("failed")
    assert failed["uncertain"] is (mode == "after")
    if not cmdlet.startswith("Get-"):
        assert failed["sent"] and failed["sent"][0].startswith(cmdlet)
    assert graph.state.patches == []  # Graph untouched: the run stopped before step 5
    assert first.reporter.checks_seen == []

    second = run_apply(exchange, graph, audit)
    assert second.code == 0, second.reporter.stops
    assert_provisioned_once(exchange, graph, certs)


@pytest.mark.parametrize("fault", ["error", "lost"])
def test_a_failed_patch_stops_at_step_5_then_a_rerun_completes(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path, fault: str
) -> None:
    graph.state.patch_fault = fault
    first = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert first.code == 1
    (stopped,) = first.event("stopped")
    assert stopped["at"] == "5.1" and stopped["changed"] is True
    assert [d["action"] for d in stopped["done"]] == list(EXCHANGE_ACTIONS)
    assert stopped["not_started"] == ["6.1"]
    assert first.event("failed")[0]["uncertain"] is True  # a 500 or a lost answer: maybe applied
    second = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert second.code == 0
    assert second.reporter.states["5.1"].status == ("done" if fault == "lost" else "change")
    assert_provisioned_once(exchange, graph, certs)


# --- states provisioning will not change -----------------------------------------------------------------------


def test_partner_app_linked_elsewhere_is_blocked_before_any_change(
    exchange: ExchangeState, graph: GraphDouble, tmp_path: Path
) -> None:
    exchange.partner_apps.append(PartnerApp("SfB", SFB, True, "fabrikam.com/Users/Someone-Else"))
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1
    assert run.reporter.states["3.1"].status == "blocked"
    assert "linked to another account" in run.reporter.stops[0][0] and "Nothing was changed" in run.reporter.stops[0][0]
    assert "Set-PartnerApplication" in run.reporter.stops[0][1]
    assert exchange.changes_sent() == [] and graph.state.patches == []
    assert run.event("stopped")[0]["changed"] is False


def test_onprem_sfb_partner_app_is_blocked(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    exchange.partner_apps.append(
        PartnerApp("LyncEnterprise-1", SFB, True, None, auth_metadata_url="https://pool.fabrikam.com/metadata/json/1")
    )
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1 and run.reporter.states["3.1"].status == "blocked"
    assert "AuthMetadataUrl" in run.reporter.states["3.1"].detail
    assert exchange.changes_sent() == []


def test_a_disabled_unlinked_partner_app_is_repaired(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    exchange.partner_apps.append(PartnerApp("SfBOnline", SFB, False, None))
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 0
    assert (run.reporter.states["3.1"].status, run.reporter.states["3.2"].status) == ("done", "change")
    assert run.reporter.outcomes()["3.2"] == "changed" and run.reporter.outcomes()["3.3"] == "changed"
    assert_provisioned_once(exchange, graph, certs)


def test_name_taken_by_another_directory_object(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    exchange.other_directory_names.add("SfBOnline-ApplicationAccount")
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1
    (stopped,) = run.event("stopped")
    assert stopped["at"] == "2.1" and stopped["changed"] is False
    assert "already exists" in stopped["reason"]
    assert exchange.mail_users == {} and graph.state.patches == []


def test_a_cmdlet_outside_the_accounts_roles(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    exchange.denied.add("New-PartnerApplication")
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1
    (stopped,) = run.event("stopped")
    assert stopped["at"] == "3.1" and stopped["changed"] is True
    assert [d["action"] for d in stopped["done"]] == ["2.1", "2.2", "2.3", "2.4"]
    assert (
        "Organization Management" in stopped["next"]
        and "Get-ManagementRole -Cmdlet New-PartnerApplication" in stopped["next"]
    )
    exchange.denied.clear()
    assert run_apply(exchange, graph, tmp_path / "audit.jsonl").code == 0
    assert_provisioned_once(exchange, graph, certs)


def test_a_wrong_domain_controller_stops_the_plan(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    run = run_apply(
        exchange, graph, tmp_path / "audit.jsonl", plan_inputs=inputs(domain_controller="dc09.fabrikam.com")
    )
    assert run.code == 1
    assert "dc09.fabrikam.com is not available" in run.reporter.stops[0][0]
    assert exchange.changes_sent() == []


# --- the plan only, declining, certificates -------------------------------------------------------------------------


def test_dry_run_changes_nothing(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl", options=ApplyOptions(dry_run=True))
    assert run.code == 0
    assert run.reporter.states["2.1"].status == "create"
    assert exchange.changes_sent() == [] and graph.state.patches == []
    assert run.event("stopped")[0]["would_change"] == ["2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "5.1"]


def test_declining_changes_nothing(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl", options=ApplyOptions(), confirm=False)
    assert run.code == 1
    assert run.event("confirm")[0]["answer"] == "no"
    assert exchange.changes_sent() == [] and graph.state.patches == []


@pytest.mark.parametrize("which", ["expired", "expiring", "weak"])
def test_an_unfit_auth_certificate_is_refused_unless_forced(
    certs: Certs, graph: GraphDouble, tmp_path: Path, which: str
) -> None:
    exchange = ExchangeState(auth_cert=getattr(certs, which))
    with pytest.raises(ConfigError, match="refused") as raised:
        run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert "--force" in str(raised.value)
    assert exchange.changes_sent() == [] and graph.state.requests == []  # refused before signing in to Graph
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert records[-2]["event"] == "refused" and records[-2]["changed"] is False
    if which == "expired":
        return  # Graph itself refuses an expired certificate's dates; forcing it is tested with the others
    forced = run_apply(
        exchange, graph, tmp_path / "audit.jsonl", options=ApplyOptions(yes=True, force=True), verify=False
    )
    assert forced.code == 0
    assert forced.event("forced")


def test_a_given_cert_must_be_exchanges_current_one(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    from inspector.provision.validate import certificate_file

    other = tmp_path / "Other.cer"
    other.write_bytes(certs.other.der)
    with pytest.raises(ConfigError, match="current auth certificate is"):
        run_apply(exchange, graph, tmp_path / "a.jsonl", plan_inputs=inputs(certificate=certificate_file(other)))
    assert exchange.changes_sent() == []
    mine = tmp_path / "OAuthCert.cer"
    mine.write_bytes(certs.auth.der)
    assert (
        run_apply(exchange, graph, tmp_path / "a.jsonl", plan_inputs=inputs(certificate=certificate_file(mine))).code
        == 0
    )


# --- Graph refusing ---------------------------------------------------------------------------------------------------


def test_graph_403_at_the_plan_stops_before_any_change(
    exchange: ExchangeState, graph: GraphDouble, tmp_path: Path
) -> None:
    graph.state.mode = "forbidden"
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1
    message, remedy = run.reporter.stops[0]
    assert "403" in message and "Insufficient privileges" in message and "Nothing was changed" in message
    assert "Application.ReadWrite.All" in remedy
    assert exchange.changes_sent() == []
    assert run.event("stopped")[0]["changed"] is False


def test_graph_403_on_the_write_stops_at_step_5(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    graph.state.mode = "read-only"  # e.g. consented to Application.Read.All only
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1
    (stopped,) = run.event("stopped")
    assert stopped["at"] == "5.1" and stopped["changed"] is True
    assert [d["action"] for d in stopped["done"]] == list(EXCHANGE_ACTIONS)
    assert "403" in stopped["reason"] and "Application.ReadWrite.All" in stopped["next"]
    assert graph.state.patches == [] and len(graph.state.principals[SFB]) == 2
    graph.state.mode = "normal"
    again = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert again.code == 0
    assert {again.reporter.states[a].status for a in EXCHANGE_ACTIONS[:7]} == {"done"}
    assert_provisioned_once(exchange, graph, certs)


def test_missing_service_principal_is_blocked(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    del graph.state.principals[SFB]
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1 and run.reporter.states["5.1"].status == "blocked"
    assert "New-MgServicePrincipal" in run.reporter.stops[0][1]
    assert exchange.changes_sent() == []


def test_a_key_without_data_blocks_the_merge(exchange: ExchangeState, graph: GraphDouble, tmp_path: Path) -> None:
    graph.state.principals[SFB][0]["key"] = None
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 1 and run.reporter.states["5.1"].status == "blocked"
    assert "would drop them" in run.reporter.states["5.1"].detail
    assert exchange.changes_sent() == [] and graph.state.patches == []


def test_an_already_uploaded_cert_is_left_alone(
    exchange: ExchangeState, graph: GraphDouble, certs: Certs, tmp_path: Path
) -> None:
    from tests.provision.conftest import stored_key

    graph.state.principals[SFB].append(stored_key(certs.auth, "8d2a2f34-6b8e-4c55-9d3c-1a6f0e1c0a03"))
    run = run_apply(exchange, graph, tmp_path / "audit.jsonl")
    assert run.code == 0
    assert run.reporter.states["5.1"].status == "done"
    assert run.reporter.outcomes()["5.1"] == "already" and graph.state.patches == []
