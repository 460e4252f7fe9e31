"""Steps 5-6 through Microsoft Graph: merge the certificate into the service principal's keyCredentials, then read
it back.

Why a PATCH and not ``addKey``: ``addKey`` needs a proof signed with the private key of a key already on the
service principal, and fails when none is valid yet; this tool never touches private keys. A PATCH replaces the
whole ``keyCredentials`` list, so the executor reads the list first, refuses when a key came back without its data
(sending the list would drop it), sends every existing key back with ``key``, ``type`` and ``usage`` only (Graph
refuses re-sent ``keyId``s), adds the certificate with its own dates, and afterwards reads the list again: the
certificate must be there as a Verify key with the certificate's dates, and every key that was there before must
still be there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from inspector.provision.state import AGAIN, ActionResult, ActionState, StepFailed, TargetUnavailable
from inspector.provision.steps import CertificateFacts, MergeKey, ReadBackKey
from inspector.remote.errors import SourceError
from inspector.remote.graph import GraphClient, TokenProvider, graph_error_detail
from inspector.remote.http import ProbeError
from inspector.remote.psjson import ci_get, iso
from inspector.remote.spkeys import DATE_TOLERANCE, KeyCredential, parse_sp_keys

MAX_KEYS = 1000
OWN_DATES = timedelta(minutes=1)
"""A key this run added must carry the certificate's own dates (Graph keeps whole seconds)."""
_REMEDY = {
    401: "The token was refused: check --tenant and --cloud match the tenant, then run again",
    403: "The signed-in account or app may not change this service principal: grant Application.ReadWrite.All "
    "(with admin consent), or sign in as an Application Administrator or an owner of the service principal, " + AGAIN,
    404: "Create the service principal (`New-MgServicePrincipal -AppId {app_id}`), " + AGAIN,
}


class GraphRefused(Exception):
    def __init__(self, status: int, message: str, remedy: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.remedy = remedy
        self.uncertain = uncertain


class KeyStore(Protocol):
    """What steps 5-6 need from Graph: a service principal's keyCredentials, read whole and replaced whole."""

    @property
    def description(self) -> str: ...

    def read(self, app_id: str) -> list[dict[str, Any]]: ...

    def replace(self, app_id: str, credentials: list[dict[str, Any]]) -> None: ...


def once(provider: TokenProvider) -> TokenProvider:
    """Sign in on first use only: the plan, the changes and the checks share one token."""
    token: list[str] = []

    def cached() -> str:
        if not token:
            token.append(provider())
        return token[0]

    return cached


class GraphKeyStore(GraphClient):
    @property
    def description(self) -> str:
        return f"Microsoft Graph {self.base} ({self.settings.cloud})"

    def url(self, app_id: str) -> str:
        return self.service_principal_url(app_id)

    def _send(self, method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            answer = self.send(method, url, body)
        except ProbeError as exc:
            # A PATCH whose answer never came may or may not have been applied.
            raise GraphRefused(0, f"Microsoft Graph could not be reached: {exc}", f"Check the network, {AGAIN}",
                               uncertain=method != "GET") from exc  # fmt: skip
        return answer.status, answer.body

    def _refused(self, status: int, body: bytes, what: str, app_id: str) -> GraphRefused:
        detail = graph_error_detail(body)
        message = f"Microsoft Graph answered {status} to {what}{': ' + detail if detail else ''}"
        remedy = _REMEDY.get(status, "").format(app_id=app_id)
        if status >= 500:
            message += " (a service-side error)"
            remedy = f"Wait a few minutes, {AGAIN}"
        return GraphRefused(status, message, remedy or f"Correct what Graph names, {AGAIN}", uncertain=status >= 500)

    def read(self, app_id: str) -> list[dict[str, Any]]:
        # key is returned only with $select on a single object (reference §5.5)
        status, body = self._send("GET", self.url(app_id) + "?$select=id,appId,keyCredentials")
        if status != 200:
            raise self._refused(status, body, "reading the service principal", app_id)
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise GraphRefused(status, "Microsoft Graph answered 200 but not JSON", AGAIN) from exc
        credentials = ci_get(document, "keyCredentials")
        if not isinstance(credentials, list):
            raise GraphRefused(status, "Microsoft Graph's answer carries no keyCredentials list", AGAIN)
        return [c for c in credentials[:MAX_KEYS] if isinstance(c, dict)]

    def replace(self, app_id: str, credentials: list[dict[str, Any]]) -> None:
        body = json.dumps({"keyCredentials": credentials}).encode()
        status, answer = self._send("PATCH", self.url(app_id), body)
        if status not in (200, 204):
            raise self._refused(status, answer, "the keyCredentials update", app_id)


# --- the keys ---------------------------------------------------------------------------------------------------------


def parsed(credentials: list[dict[str, Any]], app_id: str) -> list[KeyCredential]:
    """The credentials as verify-oauth reads them (thumbprints from ``key``), in the same order."""
    return list(parse_sp_keys({"keyCredentials": credentials}, "Microsoft Graph", app_id=app_id).credentials)


def unsendable(credentials: list[dict[str, Any]]) -> list[int]:
    """Indexes of keys that cannot be sent back as they came (no data, type or usage): a PATCH would drop them."""
    return [
        index
        for index, c in enumerate(credentials)
        if not all(isinstance(ci_get(c, name), str) and ci_get(c, name) for name in ("key", "type", "usage"))
    ]


def new_key(cert: CertificateFacts) -> dict[str, Any]:
    return {
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64.b64encode(cert.der).decode("ascii"),
        "displayName": cert.subject,
        "startDateTime": iso(cert.not_before),
        "endDateTime": iso(cert.not_after),
    }


def merged(credentials: list[dict[str, Any]], cert: CertificateFacts) -> list[dict[str, Any]]:
    """Every existing key (key, type and usage only: the rest is Graph's to derive) and the certificate."""
    kept = [{name: ci_get(c, name) for name in ("key", "type", "usage")} for c in credentials]
    return [*kept, new_key(cert)]


def summary(credentials: list[dict[str, Any]], app_id: str) -> list[dict[str, Any]]:
    """What the audit log keeps of a key list: enough to see what changed and to restore it (certificates are
    public)."""
    out = []
    for raw, key in zip(credentials, parsed(credentials, app_id), strict=True):
        out.append(
            {
                "thumbprints": sorted(key.thumbprints),
                "type": key.type,
                "usage": key.usage,
                "start": iso(key.start),
                "end": iso(key.end),
                "key": ci_get(raw, "key"),
            }
        )
    return out


def _label(thumbprints: list[str]) -> str:
    return ", ".join(thumbprints[:5]) + (f" and {len(thumbprints) - 5} more" if len(thumbprints) > 5 else "")


class GraphExecutor:
    """Interprets the Graph actions (merge, read back) against a key store."""

    def __init__(self, store: KeyStore, *, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.now = now or (lambda: datetime.now(UTC))
        self.before: dict[str, list[dict[str, Any]]] = {}
        """app_id -> the list as read just before this run's PATCH (only when one was sent)."""

    def _read(self, action_id: str, app_id: str) -> list[dict[str, Any]]:
        try:
            return self.store.read(app_id)
        except GraphRefused as exc:
            raise StepFailed(action_id, str(exc), exc.remedy) from exc
        except SourceError as exc:
            raise StepFailed(action_id, str(exc), exc.remedy or f"Check the sign-in, {AGAIN}") from exc

    def survey(self, action: MergeKey | ReadBackKey, cert: CertificateFacts | None) -> ActionState:
        """Read-only. A refused sign-in or read is :class:`TargetUnavailable`: nothing has changed yet."""
        if isinstance(action, ReadBackKey):
            return ActionState(action.id, "check", action.title)
        if cert is None:
            return ActionState(action.id, "blocked", "no certificate to upload", "Step 4 must read it first")
        try:
            credentials = self.store.read(action.app_id)
        except GraphRefused as exc:
            if exc.status == 404:
                return ActionState(action.id, "blocked", str(exc), exc.remedy)
            raise TargetUnavailable("graph", str(exc), exc.remedy) from exc
        except SourceError as exc:  # the sign-in failed (verify-oauth's msal provider words it for a person)
            remedy = exc.remedy or "Check --tenant, --cloud and the account or app signing in"
            raise TargetUnavailable("graph", str(exc), remedy) from exc
        keys = parsed(credentials, action.app_id)
        present = [k for k in keys if cert.thumbprint in k.thumbprints]
        if any((k.usage or "").lower() == "verify" for k in present):
            return ActionState(action.id, "done", f"{cert.thumbprint} is already a Verify key")
        if present:
            return ActionState(
                action.id,
                "blocked",
                f"{cert.thumbprint} is on the service principal with usage {present[0].usage}, not Verify",
                "Remove that key in the Entra admin center, " + AGAIN,
            )
        blind = unsendable(credentials)
        if blind:
            return ActionState(
                action.id,
                "blocked",
                f"{len(blind)} of the {len(credentials)} keys came back without their data, type or usage; a PATCH "
                "would drop them",
                "Look at the service principal's keys in the Entra admin center (or Graph Explorer); provisioning "
                "will not risk removing them",
            )
        return ActionState(action.id, "change", f"add {cert.thumbprint}; keep the {len(credentials)} key(s) there")

    def perform(self, action: MergeKey | ReadBackKey, cert: CertificateFacts | None) -> ActionResult:
        if cert is None:
            raise StepFailed(action.id, "no certificate to upload", "Step 4 must read it first, " + AGAIN)
        if isinstance(action, ReadBackKey):
            return self._read_back(action, cert)
        credentials = self._read(action.id, action.app_id)
        state = self._state_of(action, cert, credentials)
        if state is not None:
            return state
        body = merged(credentials, cert)
        target = f"PATCH {self.store.description} servicePrincipals(appId='{action.app_id}') keyCredentials"
        sent = f"{target}: {len(credentials)} kept + {cert.thumbprint}"
        self.before[action.app_id] = credentials
        try:
            self.store.replace(action.app_id, body)
        except GraphRefused as exc:
            raise StepFailed(action.id, str(exc), exc.remedy, uncertain=exc.uncertain, sent=(sent,)) from exc
        return ActionResult(
            action.id,
            "changed",
            f"added {cert.thumbprint}, kept {len(credentials)} key(s)",
            sent=(sent,),
            record={"keys_before": summary(credentials, action.app_id), "added": new_key(cert) | {"key": None}},
        )

    def _state_of(
        self, action: MergeKey, cert: CertificateFacts, credentials: list[dict[str, Any]]
    ) -> ActionResult | None:
        """``already`` when the key is there; raises where the survey would have said ``blocked``."""
        keys = parsed(credentials, action.app_id)
        if any(cert.thumbprint in k.thumbprints and (k.usage or "").lower() == "verify" for k in keys):
            return ActionResult(action.id, "already", f"{cert.thumbprint} is already a Verify key")
        if any(cert.thumbprint in k.thumbprints for k in keys):
            raise StepFailed(action.id, f"{cert.thumbprint} is there but not as a Verify key",
                             "Remove that key in the Entra admin center, " + AGAIN)  # fmt: skip
        if unsendable(credentials):
            raise StepFailed(
                action.id,
                "some keys came back without their data; a PATCH would drop them",
                "Look at the keys in the Entra admin center; provisioning will not risk removing them",
            )
        return None

    def _read_back(self, action: ReadBackKey, cert: CertificateFacts) -> ActionResult:
        after = self._read(action.id, action.app_id)
        keys = parsed(after, action.app_id)
        mine = [k for k in keys if cert.thumbprint in k.thumbprints]
        before = self.before.get(action.app_id)
        lost: list[str] = []
        if before is not None:
            now_there = {t for k in keys for t in k.thumbprints}
            lost = [t for k in parsed(before, action.app_id) for t in sorted(k.thumbprints) if t not in now_there]
        if lost:
            raise StepFailed(
                action.id,
                f"{len(lost)} key(s) that were on the service principal before the update are gone: {_label(lost)}",
                "Upload them again: the audit log's keys_before record holds their certificates (key, type, usage) "
                "to PATCH back together with the current keys",
            )
        if not mine:
            raise StepFailed(action.id, f"{cert.thumbprint} is not among the {len(keys)} key(s) after the update",
                             "Look at the service principal's keys, " + AGAIN)  # fmt: skip
        key = max(mine, key=lambda k: (k.usage or "").lower() == "verify")
        if (key.usage or "").lower() != "verify":
            raise StepFailed(action.id, f"{cert.thumbprint} is a {key.usage} key, not Verify",
                             "Remove it in the Entra admin center, " + AGAIN)  # fmt: skip
        tolerance = OWN_DATES if before is not None else DATE_TOLERANCE
        differs = [
            f"{name} {iso(got)} (certificate {iso(want)})"
            for name, got, want in (("starts", key.start, cert.not_before), ("ends", key.end, cert.not_after))
            if got is None or abs(got - want) > tolerance
        ]
        if differs and before is not None:
            raise StepFailed(action.id, "the new key's dates are not the certificate's: " + ", ".join(differs),
                             "Look at the key in the Entra admin center; report this with the audit log")  # fmt: skip
        detail = (
            f"{cert.thumbprint} is a Verify key from {iso(key.start)} to {iso(key.end)}; "
            f"{len(keys) - 1} other key(s) on the service principal"
        )
        if differs:
            detail += "; its dates are not the certificate's: " + ", ".join(differs)
        expired = [k for k in keys if k.end is not None and k.end < self.now() and cert.thumbprint not in k.thumbprints]
        if expired:
            detail += (
                f"; {len(expired)} expired key(s) are still listed (verify-oauth entra.sp-key says how to remove them)"
            )
        return ActionResult(action.id, "verified", detail, record={"keys_after": len(keys), "dates_differ": differs})
