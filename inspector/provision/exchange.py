"""Steps 1-4 on Exchange: the executor that interprets the steps' actions, behind a one-method shell.

``Shell.invoke`` runs one cmdlet with parameters and returns plain objects, or raises :class:`CmdletError`.
:class:`PsrpShell` is that shell over PowerShell remoting (pypsrp), the session opened by verify-oauth's opener so
tests can put an in-memory Exchange behind the same surface. Exchange's ``/PowerShell`` endpoint runs in
no-language mode, so each call is one cmdlet with parameters, as the script's lines are; objects found by probes
are kept by name (``user``, ``app``) and their properties fed to later cmdlets, where the script writes
``$user.Identity``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from inspector.model import ConfigError
from inspector.provision.render_ps1 import command_text, condition_text
from inspector.provision.state import AGAIN, ActionResult, ActionState, StepFailed, TargetUnavailable
from inspector.provision.steps import (
    AllOf,
    Blank,
    CertificateFacts,
    Command,
    Condition,
    Ensure,
    ExportCertificate,
    Inputs,
    Inspect,
    IsTrue,
    Not,
    Present,
    Ref,
    Same,
    Setting,
    Text,
    Value,
)
from inspector.remote.network_errors import explain_network_error
from inspector.remote.psjson import as_bool, as_bytes, as_text, ci_get
from inspector.remote.psrp import PowerShellFactory, PsrpSettings, SessionOpener, open_pypsrp, plain
from inspector.text import safe
from inspector.trust import thumbprint_of

MAX_OBJECTS = 1000
"""Most objects taken from one answer (a probe finds one or a handful)."""
_NOT_FOUND_MARKS = ("ManagementObjectNotFoundException", "couldn't be found", "ObjectNotFound")
_NOT_RECOGNIZED = "is not recognized as the name of a cmdlet"
ROLE_REMEDY = (
    "Run as a member of Organization Management (or a role group whose roles hold this cmdlet: "
    "`Get-ManagementRole -Cmdlet {cmdlet}` lists them), "
)


class CmdletError(Exception):
    def __init__(self, message: str, *, not_found: bool = False, broken: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found
        self.broken = broken
        """The session failed while the cmdlet ran: whether it took effect is unknown."""


class Shell(Protocol):
    def invoke(self, cmdlet: str, parameters: tuple[tuple[str, object], ...]) -> list[dict[str, Any]]: ...


def _error_texts(record: object) -> list[str]:
    texts = [str(record)]
    for attribute in ("fq_error", "reason", "message"):
        value = getattr(record, attribute, None)
        if isinstance(value, str):
            texts.append(value)
    return texts


class PsrpShell:
    """One cmdlet per pypsrp ``PowerShell`` object, answers flattened by verify-oauth's ``plain``."""

    def __init__(self, new_powershell: PowerShellFactory) -> None:
        self.new_powershell = new_powershell

    def invoke(self, cmdlet: str, parameters: tuple[tuple[str, object], ...]) -> list[dict[str, Any]]:
        shell = self.new_powershell()
        shell.add_cmdlet(cmdlet)
        for name, value in parameters:
            shell.add_parameter(name, value)
        try:
            output = shell.invoke()
        except Exception as exc:  # pypsrp, requests and spnego raise their own: all mean the session broke
            explained = explain_network_error(exc, "Exchange")
            raise CmdletError(
                f"the remoting session failed: {explained or f'{type(exc).__name__}: {safe(exc, 300)}'}", broken=True
            ) from exc
        if shell.had_errors:
            errors = list(getattr(shell.streams, "error", None) or [])
            texts = _error_texts(errors[0]) if errors else ["the cmdlet reported an error"]
            not_found = any(mark in text for text in texts for mark in _NOT_FOUND_MARKS)
            raise CmdletError(safe(texts[0], 500), not_found=not_found)
        objects = [plain(item) for item in list(output or [])[:MAX_OBJECTS]]
        return [item for item in objects if isinstance(item, dict)]


def _describe_session_error(exc: Exception, settings: PsrpSettings) -> TargetUnavailable:
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError

    who = settings.username or "the current Kerberos ticket"
    if isinstance(exc, AuthenticationError):
        return TargetUnavailable(
            "exchange",
            f"Exchange at {settings.url} refused the credentials of {safe(who, 100)} ({settings.auth}, HTTP 401)",
            "Check --psrp-user and its password, and --psrp-auth (kerberos needs a domain-joined machine with a "
            "ticket). The account must be allowed remote PowerShell (`Set-User <account> "
            "-RemotePowerShellEnabled $true`) and be a member of Organization Management",
        )
    if isinstance(exc, WinRMTransportError):
        return TargetUnavailable(
            "exchange",
            f"Exchange at {settings.url} answered HTTP {exc.code} to the remoting request",
            "Check the URL (https://<server>/PowerShell) and that the PowerShell virtual directory works "
            "(`Test-PowerShellConnectivity`)",
        )
    explained = explain_network_error(exc, settings.url)
    return TargetUnavailable(
        "exchange",
        f"PowerShell remoting to {settings.url} failed: " + (explained or f"{type(exc).__name__}: {safe(exc, 300)}"),
        "Check the URL, the network path and --psrp-auth; or run the Exchange script of "
        "`oauth-inspector provision plan` in the Exchange Management Shell instead",
    )


@contextmanager
def exchange_shell(settings: PsrpSettings, opener: SessionOpener = open_pypsrp) -> Iterator[PsrpShell]:
    """A shell on a remoting session. Failing to open it is :class:`TargetUnavailable`; errors inside the
    ``with`` body pass through untouched."""
    settings.wsman_arguments()  # a bad URL or auth combination is a usage error, raised before connecting
    stack = ExitStack()
    try:
        factory = stack.enter_context(opener(settings))
    except ConfigError:
        raise
    except Exception as exc:
        raise _describe_session_error(exc, settings) from exc
    try:
        yield PsrpShell(factory)
    finally:
        with suppress(Exception):  # closing a session that already failed must not hide the real error
            stack.close()


# --- interpreting the actions ---------------------------------------------------------------------------------------


class Unresolved(Exception):
    """A value refers to an object no probe has found (yet)."""

    def __init__(self, var: str) -> None:
        super().__init__(var)
        self.var = var


def _text(value: object) -> str | None:
    text = as_text(value)
    return text if text else None


def _leaf(identity: str) -> str:
    """The object's own name in an identity: ``fabrikam.com/Users/X`` and ``CN=X,CN=Users,DC=…`` both give X."""
    if identity.upper().startswith("CN="):
        return identity[3:].split(",", 1)[0]
    return identity.rsplit("/", 1)[-1]


def same_identity(found: object, wanted: str) -> bool:
    """Whether a property (an identity as text, or a remoted ADObjectId with its parts) names ``wanted``.
    Exchange writes one object as a canonical name or a DN depending on the property, so the names are compared
    too: erring towards "same" only ever skips a change, never makes one."""
    texts = {t for t in (_text(found), _text(ci_get(found, "DistinguishedName")), _text(ci_get(found, "Name"))) if t}
    return any(t.lower() == wanted.lower() or _leaf(t).lower() == _leaf(wanted).lower() for t in texts)


class ExchangeExecutor:
    """Interprets Exchange actions against a shell, keeping what the probes found by variable name."""

    def __init__(self, shell: Shell, inputs: Inputs) -> None:
        self.shell = shell
        self.inputs = inputs
        self.bound: dict[str, dict[str, Any] | None] = {}
        self.pending: dict[str, str] = {}
        """Variables an earlier action will create, during a survey: name -> that action's id."""
        self.certificate: CertificateFacts | None = None

    # values and conditions

    def resolve(self, value: Value) -> object:
        if isinstance(value, bool | str):
            return value
        if isinstance(value, Setting):
            return self.inputs.setting(value.name)
        if isinstance(value, Ref):
            found = self.bound.get(value.var)
            text = _text(ci_get(found, value.property)) if found is not None else None
            if text is None:
                raise Unresolved(value.var)
            return text
        assert isinstance(value, Text)
        return "".join(p if isinstance(p, str) else (self.inputs.setting(p.name) or "") for p in value.parts)

    def holds(self, condition: Condition) -> bool:
        if isinstance(condition, Not):
            return not self.holds(condition.inner)
        if isinstance(condition, AllOf):
            return all(self.holds(part) for part in condition.parts)
        found = self.bound.get(condition.var)
        if isinstance(condition, Present):
            return found is not None
        if found is None:
            return False
        value = ci_get(found, condition.property)
        if isinstance(condition, IsTrue):
            return as_bool(value) is True
        if isinstance(condition, Blank):
            return not _text(value)
        assert isinstance(condition, Same)
        try:
            wanted = self.resolve(condition.value)
        except Unresolved:
            return False
        return same_identity(value, str(wanted))

    # running commands

    def parameters(self, command: Command) -> tuple[tuple[str, object], ...]:
        return tuple((name, self.resolve(value)) for name, value in command.parameters)

    def sent_text(self, command: Command, parameters: tuple[tuple[str, object], ...]) -> str:
        resolved = Command(command.cmdlet, tuple((n, v if isinstance(v, bool) else str(v)) for n, v in parameters))
        return command_text(resolved)

    def probe(self, action_id: str, command: Command) -> dict[str, Any] | None:
        """The object a read finds, or ``None`` when Exchange says it does not exist."""
        try:
            found = self.shell.invoke(command.cmdlet, self.parameters(command))
        except CmdletError as exc:
            if exc.not_found:
                return None
            raise StepFailed(action_id, f"{command.cmdlet} failed: {exc}", self._remedy(command.cmdlet, exc)) from exc
        if command.where is not None:
            prop, wanted = command.where
            found = [item for item in found if (_text(ci_get(item, prop)) or "").lower() == wanted.lower()]
        return found[0] if found else None

    def _remedy(self, cmdlet: str, exc: CmdletError) -> str:
        if _NOT_RECOGNIZED in str(exc):
            return ROLE_REMEDY.format(cmdlet=cmdlet) + AGAIN
        if exc.broken:
            return f"Check the connection to Exchange, {AGAIN}"
        return f"Fix the cause Exchange gave, {AGAIN}"

    # the plan: read-only

    def survey(self, action: Ensure | Inspect | ExportCertificate) -> ActionState:
        if isinstance(action, Inspect):
            self.bound[action.var] = self.probe(action.id, action.probe)
            if self.holds(action.expect):
                return ActionState(action.id, "found", action.title)
            return ActionState(action.id, "missing", f"{action.title}: not found", action.missing)
        if isinstance(action, ExportCertificate):
            facts = self.export(action)
            return ActionState(
                action.id,
                "read",
                f"{facts.subject}, thumbprint {facts.thumbprint}, valid {facts.not_before:%Y-%m-%d} to "
                f"{facts.not_after:%Y-%m-%d}",
            )
        return self._survey_ensure(action)

    def _survey_ensure(self, action: Ensure) -> ActionState:
        creator = self.pending.get(action.var)
        if creator is not None:
            return ActionState(action.id, "later", f"{action.title}: decided after {creator} has run")
        try:
            self.bound[action.var] = self.probe(action.id, action.probe)
        except Unresolved as missing:
            # The probe needs an object an earlier action creates: it cannot exist yet.
            self.bound[action.var] = None
            creator = self.pending.get(missing.var, "an earlier action")
            return ActionState(action.id, "create" if action.outcome == "created" else "change",
                               f"{action.title} (after {creator})")  # fmt: skip
        for refusal in action.refusals:
            if self.holds(refusal.when):
                return ActionState(action.id, "blocked", refusal.message, refusal.remedy)
        if self.holds(action.done):
            return ActionState(action.id, "done", action.title)
        if action.rebind:
            self.pending[action.var] = action.id
        return ActionState(action.id, "create" if action.outcome == "created" else "change", action.title)

    # the changes

    def perform(self, action: Ensure | Inspect | ExportCertificate) -> ActionResult:
        if isinstance(action, Inspect):
            state = self.survey(action)
            return ActionResult(action.id, "found" if state.status == "found" else "missing", state.detail)
        if isinstance(action, ExportCertificate):
            before = self.certificate
            facts = self.export(action)
            if before is not None and before.thumbprint != facts.thumbprint:
                raise StepFailed(
                    action.id,
                    f"Exchange's current auth certificate changed since the plan ({before.thumbprint} -> "
                    f"{facts.thumbprint})",
                    f"Run the same command again to plan with the new certificate, {AGAIN}",
                )
            return ActionResult(
                action.id,
                "read",
                f"{facts.thumbprint} ({len(facts.der)} bytes DER)",
                record={"thumbprint": facts.thumbprint, "not_before": facts.not_before.isoformat(),
                        "not_after": facts.not_after.isoformat()},
            )  # fmt: skip
        return self._perform_ensure(action)

    def _perform_ensure(self, action: Ensure) -> ActionResult:
        try:
            self.bound[action.var] = self.probe(action.id, action.probe)
            for refusal in action.refusals:
                if self.holds(refusal.when):
                    raise StepFailed(action.id, refusal.message, refusal.remedy)
            if self.holds(action.done):
                return ActionResult(action.id, "already", action.title)
            parameters = self.parameters(action.change)
        except Unresolved as missing:
            raise StepFailed(
                action.id,
                f"{action.title}: ${missing.var} was not found, so this cannot run",
                f"Complete the earlier actions first, {AGAIN}",
            ) from missing
        sent = self.sent_text(action.change, parameters)
        try:
            answer = self.shell.invoke(action.change.cmdlet, parameters)
        except CmdletError as exc:
            raise StepFailed(
                action.id,
                f"{action.change.cmdlet} failed: {exc}",
                self._remedy(action.change.cmdlet, exc),
                uncertain=exc.broken,
                sent=(sent,),
            ) from exc
        if action.rebind and answer:
            self.bound[action.var] = answer[0]
        # Confirm through the guard itself: what a second run would see.
        confirmed = self.probe(action.id, action.probe)
        self.bound[action.var] = confirmed
        if not self.holds(action.done):
            raise StepFailed(
                action.id,
                f"{action.change.cmdlet} reported success, but {command_text(action.probe)} does not show "
                f"it ({condition_text(action.done)} is false)",
                f"Check the domain controller {self.inputs.domain_controller} and the object by hand, {AGAIN}",
                sent=(sent,),
            )
        return ActionResult(action.id, action.outcome, action.title, sent=(sent,))

    # step 4

    def export(self, action: ExportCertificate) -> CertificateFacts:
        """The current auth certificate, its bytes checked against the thumbprint Exchange named."""
        config = self.probe(action.id, action.config)
        self.bound["authConfig"] = config
        thumbprint = (_text(ci_get(config, action.thumbprint_property)) or "").upper()
        if not thumbprint:
            raise StepFailed(
                action.id,
                "Get-AuthConfig names no current auth certificate",
                "Create one (KB 2617816: New-ExchangeCertificate … then Set-AuthConfig), " + AGAIN,
            )
        try:
            found = self.probe(action.id, action.certificate)
        except Unresolved as exc:  # pragma: no cover - bound just above
            raise StepFailed(action.id, "no thumbprint to read", AGAIN) from exc
        if found is None:
            raise StepFailed(
                action.id,
                f"the auth certificate {thumbprint} is not on the server this session reached",
                "Import it on this server or connect --psrp to a server that has it (it must be on every "
                f"Mailbox server), {AGAIN}",
            )
        der = as_bytes(ci_get(found, action.data_property))
        if der is None or thumbprint_of(der) != thumbprint:
            raise StepFailed(
                action.id,
                f"the bytes read for {thumbprint} are not that certificate (SHA-1 differs or {action.data_property} "
                "is missing)",
                f"Check Get-ExchangeCertificate -Thumbprint {thumbprint} on the server, {AGAIN}",
            )
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise StepFailed(action.id, f"the certificate {thumbprint} cannot be parsed: {exc}", AGAIN) from exc
        key = certificate.public_key()
        self.certificate = CertificateFacts(
            thumbprint=thumbprint,
            subject=certificate.subject.rfc4514_string(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            source=f"Exchange ({thumbprint})",
            der=der,
            rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
        )
        return self.certificate
