"""The seed article's steps as data: what each step reads, when it counts as done, and what it changes.

One renderer (``render_ps1``) turns these into PowerShell; one executor per target performs them (``exchange``
through PowerShell remoting, ``graph`` through Microsoft Graph). Neither knows a step by name: they interpret the
action kinds below, so a step changed here changes the script and the apply together.

Every change is guarded by a read (its *probe*) and a condition saying when there is nothing to do, so running
a step twice changes nothing the second time. States the tool will not change on its own (an existing partner
application linked to another account, say) are *refusals*: the step stops and says why before changing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from inspector.policy import ACS, EXCHANGE, SFB_ONLINE

ACCOUNT_NAME = "SfBOnline-ApplicationAccount"
PARTNER_APP_NAME = "SfBOnline"
ROLES = ("UserApplication", "ArchiveApplication")
CERT_FILE = r"$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer"
"""Where the Exchange script writes the certificate (the seed's path)."""
HCW = (
    "Run the Hybrid Configuration Wizard (or the steps of 'Configure OAuth authentication between Exchange and "
    "Exchange Online organizations'), then run provisioning again"
)


# --- values ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """A value the admin gives (a parameter of the script): ``Domain``, ``DomainController``."""

    name: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A property of the object an earlier probe or change bound to ``var``: ``$user.Identity``."""

    var: str
    property: str


@dataclass(frozen=True, slots=True)
class Text:
    """A string made of literal parts and settings: ``"SfBOnline-ApplicationAccount@$Domain"``."""

    parts: tuple[str | Setting, ...]


type Value = str | bool | Setting | Ref | Text


@dataclass(frozen=True, slots=True)
class Command:
    cmdlet: str
    parameters: tuple[tuple[str, Value], ...] = ()
    where: tuple[str, str] | None = None
    """Keep only the first object whose property equals this value (case-insensitive), as ``Where-Object``."""

    @property
    def reads_only(self) -> bool:
        return self.cmdlet.startswith("Get-")


# --- conditions over bound objects -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Present:
    var: str


@dataclass(frozen=True, slots=True)
class IsTrue:
    var: str
    property: str


@dataclass(frozen=True, slots=True)
class Blank:
    var: str
    property: str


@dataclass(frozen=True, slots=True)
class Same:
    """The property's text equals the value's, case-insensitively (PowerShell's ``-eq`` on strings)."""

    var: str
    property: str
    value: Value


@dataclass(frozen=True, slots=True)
class Not:
    inner: Condition


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]


type Condition = Present | IsTrue | Blank | Same | Not | AllOf


# --- actions -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    when: Condition
    message: str
    remedy: str


@dataclass(frozen=True, slots=True)
class Ensure:
    """Probe into ``var``; unless ``done`` holds, run ``change`` (then probe again to confirm it took)."""

    id: str
    title: str
    var: str
    probe: Command
    done: Condition
    change: Command
    outcome: Literal["created", "changed"]
    rebind: bool = False
    """The change returns the new object (``New-*``): it becomes ``var``."""
    refusals: tuple[Refusal, ...] = ()


@dataclass(frozen=True, slots=True)
class Inspect:
    """A read-only check of a plan-only step: reported, never changed."""

    id: str
    title: str
    var: str
    probe: Command
    expect: Condition
    missing: str


@dataclass(frozen=True, slots=True)
class ExportCertificate:
    """Step 4: the current auth certificate's public part (DER), read by thumbprint; the private key stays put."""

    id: str
    title: str
    config: Command = Command("Get-AuthConfig")
    thumbprint_property: str = "CurrentCertificateThumbprint"
    certificate: Command = Command(
        "Get-ExchangeCertificate", (("Thumbprint", Ref("authConfig", "CurrentCertificateThumbprint")),)
    )
    data_property: str = "RawData"
    file: str = CERT_FILE


@dataclass(frozen=True, slots=True)
class MergeKey:
    """Step 5: add the certificate to the service principal's keyCredentials, keeping every key already there."""

    id: str
    title: str
    app_id: str = SFB_ONLINE


@dataclass(frozen=True, slots=True)
class ReadBackKey:
    """Step 6: read the keys back; the certificate must be there as a Verify key with its own dates."""

    id: str
    title: str
    app_id: str = SFB_ONLINE


type Action = Ensure | Inspect | ExportCertificate | MergeKey | ReadBackKey
Target = Literal["exchange", "graph"]


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    title: str
    target: Target
    plan_only: bool
    seed: tuple[str, ...]
    """The seed article's commands for this step, as the reference."""
    actions: tuple[Action, ...]
    checks: tuple[str, ...]
    """The verify-oauth checks that confirm this step."""
    note: str = ""


# --- inputs and the plan -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """The auth certificate to upload: from ``--cert`` or exported over the remoting session."""

    thumbprint: str
    subject: str
    not_before: datetime
    not_after: datetime
    source: str
    der: bytes
    rsa_bits: int | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    domain: str
    domain_controller: str
    tenant: str | None = None
    cloud: str = "global"
    certificate: CertificateFacts | None = None

    def setting(self, name: str) -> str | None:
        values = {"Domain": self.domain, "DomainController": self.domain_controller, "TenantId": self.tenant}
        return values.get(name)


@dataclass(frozen=True, slots=True)
class Plan:
    inputs: Inputs
    steps: tuple[Step, ...]

    def actions(self) -> Iterator[tuple[Step, Action]]:
        for step in self.steps:
            for action in step.actions:
                yield step, action

    def step_of(self, action_id: str) -> Step:
        return next(step for step, action in self.actions() if action.id == action_id)


DC = Setting("DomainController")
USER = Ref("user", "Identity")
_ON_DC = (("DomainController", DC),)


def _role(index: int, role: str) -> Ensure:
    var = f"{role[0].lower()}{role[1:]}"
    return Ensure(
        id=f"2.{index}",
        title=f"Assign the {role} role to {ACCOUNT_NAME}",
        var=var,
        probe=Command("Get-ManagementRoleAssignment", (("RoleAssignee", USER), ("Role", role), *_ON_DC)),
        done=Present(var),
        change=Command("New-ManagementRoleAssignment", (("Role", role), ("User", USER), *_ON_DC)),
        outcome="created",
    )


def _account_probe() -> Command:
    return Command("Get-MailUser", (("Identity", ACCOUNT_NAME), *_ON_DC))


def _app_probe() -> Command:
    return Command("Get-PartnerApplication", _ON_DC, where=("ApplicationIdentifier", SFB_ONLINE))


STEP_1 = Step(
    number=1,
    title="OAuth between Exchange and Exchange Online",
    target="exchange",
    plan_only=True,
    seed=(
        "Perform the steps in the following article: Configure OAuth authentication between Exchange and Exchange "
        "Online organizations",
    ),
    actions=(
        Inspect(
            id="1.1",
            title="An ACS auth server for the tenant",
            var="authServer",
            probe=Command("Get-AuthServer", where=("IssuerIdentifier", ACS)),
            expect=Present("authServer"),
            missing=HCW,
        ),
        Inspect(
            id="1.2",
            title="The Exchange Online partner application",
            var="exchangeOnline",
            probe=Command("Get-PartnerApplication", where=("ApplicationIdentifier", EXCHANGE)),
            expect=Present("exchangeOnline"),
            missing=HCW,
        ),
    ),
    checks=("exchange.auth-server",),
    note="Normally done by the Hybrid Configuration Wizard; provisioning only checks it.",
)

STEP_2 = Step(
    number=2,
    title="The application account for Skype for Business Online",
    target="exchange",
    plan_only=False,
    seed=(
        "$user = New-MailUser -Name SfBOnline-ApplicationAccount -ExternalEmailAddress "
        "SfBOnline-ApplicationAccount@<your Verified Domain> -DomainController <DomainControllerFQDN>",
        "Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True "
        "-DomainController <DomainControllerFQDN>",
        "New-ManagementRoleAssignment -Role UserApplication -User $user.Identity "
        "-DomainController <DomainControllerFQDN>",
        "New-ManagementRoleAssignment -Role ArchiveApplication -User $user.Identity "
        "-DomainController <DomainControllerFQDN>",
    ),
    actions=(
        Ensure(
            id="2.1",
            title=f"Create the mail user {ACCOUNT_NAME}",
            var="user",
            probe=_account_probe(),
            done=Present("user"),
            change=Command(
                "New-MailUser",
                (
                    ("Name", ACCOUNT_NAME),
                    ("ExternalEmailAddress", Text((f"{ACCOUNT_NAME}@", Setting("Domain")))),
                    *_ON_DC,
                ),
            ),
            outcome="created",
            rebind=True,
        ),
        Ensure(
            id="2.2",
            title=f"Hide {ACCOUNT_NAME} from address lists",
            var="user",
            probe=_account_probe(),
            done=IsTrue("user", "HiddenFromAddressListsEnabled"),
            change=Command("Set-MailUser", (("Identity", USER), ("HiddenFromAddressListsEnabled", True), *_ON_DC)),
            outcome="changed",
        ),
        _role(3, ROLES[0]),
        _role(4, ROLES[1]),
    ),
    checks=("exchange.app-account", "exchange.roles"),
)

_APP_IS_ONPREM_SFB = AllOf((Present("app"), Not(Blank("app", "AuthMetadataUrl"))))
_APP_LINKED_ELSEWHERE = AllOf(
    (Present("app"), Not(Blank("app", "LinkedAccount")), Not(Same("app", "LinkedAccount", USER)))
)

STEP_3 = Step(
    number=3,
    title="The partner application for Skype for Business Online",
    target="exchange",
    plan_only=False,
    seed=(
        "New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 "
        "-Enabled $True -LinkedAccount $user.Identity",
    ),
    actions=(
        Ensure(
            id="3.1",
            title=f"Create the partner application {PARTNER_APP_NAME} ({SFB_ONLINE})",
            var="app",
            probe=_app_probe(),
            done=Present("app"),
            change=Command(
                "New-PartnerApplication",
                (
                    ("Name", PARTNER_APP_NAME),
                    ("ApplicationIdentifier", SFB_ONLINE),
                    ("Enabled", True),
                    ("LinkedAccount", USER),
                    *_ON_DC,
                ),
            ),
            outcome="created",
            rebind=True,
            refusals=(
                Refusal(
                    _APP_IS_ONPREM_SFB,
                    f"a partner application for {SFB_ONLINE} already exists with an AuthMetadataUrl: it trusts an "
                    "on-premises Skype for Business/Lync pool, which this setup would replace",
                    "Decide which deployment Exchange should trust; to move to Skype for Business Online remove it "
                    "(`Remove-PartnerApplication -Identity <its name>`) and run again",
                ),
                Refusal(
                    _APP_LINKED_ELSEWHERE,
                    f"a partner application for {SFB_ONLINE} already exists, linked to another account",
                    f"Link it to {ACCOUNT_NAME} yourself (`Set-PartnerApplication -Identity <its name> "
                    f"-LinkedAccount {ACCOUNT_NAME}`) or keep it as it is and skip provisioning steps 2-3",
                ),
            ),
        ),
        Ensure(
            id="3.2",
            title=f"Enable the partner application for {SFB_ONLINE}",
            var="app",
            probe=_app_probe(),
            done=IsTrue("app", "Enabled"),
            change=Command(
                "Set-PartnerApplication", (("Identity", Ref("app", "Identity")), ("Enabled", True), *_ON_DC)
            ),
            outcome="changed",
        ),
        Ensure(
            id="3.3",
            title=f"Link the partner application to {ACCOUNT_NAME}",
            var="app",
            probe=_app_probe(),
            done=Same("app", "LinkedAccount", USER),
            change=Command(
                "Set-PartnerApplication", (("Identity", Ref("app", "Identity")), ("LinkedAccount", USER), *_ON_DC)
            ),
            outcome="changed",
        ),
    ),
    checks=("exchange.partner-app",),
)

STEP_4 = Step(
    number=4,
    title="Export the on-premises authorization certificate",
    target="exchange",
    plan_only=False,
    seed=(
        "$thumbprint = (Get-AuthConfig).CurrentCertificateThumbprint",
        "$oAuthCert = (dir Cert:\\LocalMachine\\My) | where {$_.Thumbprint -match $thumbprint}",
        "$certType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert",
        "$certBytes = $oAuthCert.Export($certType)",
        '$CertFile = "$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer"',
        "[System.IO.File]::WriteAllBytes($CertFile, $certBytes)",
    ),
    actions=(ExportCertificate(id="4.1", title="Read the current auth certificate (public part, DER)"),),
    checks=("cert.readable", "cert.validity", "cert.key-size", "cert.is-current"),
    note="apply brings the certificate bytes back over the remoting session: no file share, no private key.",
)

STEP_5 = Step(
    number=5,
    title="Upload the certificate to the Skype for Business Online service principal",
    target="graph",
    plan_only=False,
    seed=(
        "Connect-MsolService",
        "$cer = New-Object System.Security.Cryptography.X509Certificates.X509Certificate",
        "$cer.Import($CertFile)",
        "$credValue = [System.Convert]::ToBase64String($cer.GetRawCertData())",
        "$p = Get-MsolServicePrincipal -ServicePrincipalName 00000004-0000-0ff1-ce00-000000000000",
        "New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify "
        "-Value $credValue",
    ),
    actions=(MergeKey(id="5.1", title="Add the certificate as a Verify key, keeping the existing keys"),),
    checks=("entra.sp-key",),
    note="MSOnline is retired: Microsoft Graph replaces it. A PATCH replaces the whole keyCredentials list, so the "
    "existing keys are read first and sent back (key, type and usage only).",
)

STEP_6 = Step(
    number=6,
    title="Verify that the certificate has been uploaded",
    target="graph",
    plan_only=False,
    seed=("Get-MsolServicePrincipalCredential -AppPrincipalId 00000004-0000-0ff1-ce00-000000000000",),
    actions=(ReadBackKey(id="6.1", title="Read the keys back: the certificate's thumbprint and dates"),),
    checks=("entra.sp-key",),
)

STEPS: tuple[Step, ...] = (STEP_1, STEP_2, STEP_3, STEP_4, STEP_5, STEP_6)


def build_plan(inputs: Inputs) -> Plan:
    return Plan(inputs, STEPS)
