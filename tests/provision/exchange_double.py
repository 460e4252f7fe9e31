"""An in-memory Exchange organisation behind the remoting surface (``tests.doubles.psrp``), with Exchange's
documented behaviour for the cmdlets provisioning and verify-oauth run, awkward parts included:

- ``Get-MailUser -Identity`` of something absent is an error (ManagementObjectNotFoundException), not an empty
  answer; ``New-MailUser`` fails if *any* directory object already has the name (a plain user, a contact), and if
  another recipient has the address.
- ``New-ManagementRoleAssignment`` fails on a duplicate assignment; ``New-PartnerApplication`` on a duplicate
  ``ApplicationIdentifier`` or name, and when the linked account does not exist.
- ``-DomainController`` must name a reachable domain controller.
- ``Get-ExchangeCertificate`` returns the certificate with ``RawData`` as DER bytes (what an X509Certificate2
  deserialises to); ``Get-AuthConfig`` names the current thumbprint.
- Cmdlets outside the session's roles are "not recognized" (RBAC trims the remote session).

Failures can be injected per cmdlet and occurrence: ``before`` (the cmdlet fails, nothing changes) or ``after``
(the change is made, then the session breaks, so the caller cannot know).
"""

# ruff: noqa: ARG002 - every cmdlet handler takes (arguments, domain controller), used or not
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inspector.lab.certs import LabCert
from tests.doubles.psrp import CmdletFailure, Parameters, enum, obj

DOMAIN = "fabrikam.com"
DC = "dc01.fabrikam.com"
TENANT = "5de110f8-2e0f-4d45-891d-bcf2218e253d"
ACS = "00000001-0000-0000-c000-000000000000"
SFB = "00000004-0000-0ff1-ce00-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"
ACCOUNT_IDENTITY = f"{DOMAIN}/Users/SfBOnline-ApplicationAccount"
KNOWN_ROLES = ("UserApplication", "ArchiveApplication", "LegalHoldApplication", "Mailbox Search")
CHANGING = frozenset(
    {"New-MailUser", "Set-MailUser", "New-ManagementRoleAssignment", "New-PartnerApplication", "Set-PartnerApplication"}
)


def _not_found(identity: object, dc: str, cmdlet: str) -> CmdletFailure:
    return CmdletFailure(
        f"The operation couldn't be performed because object '{identity}' couldn't be found on '{dc}'.",
        fq_error=f"[Server=EX01,RequestId=1,TimeStamp=4/21/2026 9:30:12 AM] "
        f"[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 8A4E0A2B,{cmdlet}",
        reason="ManagementObjectNotFoundException",
    )


@dataclass
class MailUser:
    name: str
    external: str
    hidden: bool = False

    def identity(self) -> str:
        return f"{DOMAIN}/Users/{self.name}"

    def dn(self) -> str:
        return f"CN={self.name},CN=Users,DC=fabrikam,DC=com"


@dataclass
class Assignment:
    role: str
    user: str

    @property
    def name(self) -> str:
        return f"{self.role}-{self.user}"


@dataclass
class PartnerApp:
    name: str
    app_id: str
    enabled: bool
    linked: str | None
    auth_metadata_url: str | None = None


@dataclass
class Injection:
    cmdlet: str
    mode: str
    """``before``: the cmdlet fails and changes nothing; ``after``: it changes, then the session breaks."""
    nth: int = 1
    seen: int = 0


@dataclass
class ExchangeState:
    auth_cert: LabCert
    domain_controllers: set[str] = field(default_factory=lambda: {DC})
    other_directory_names: set[str] = field(default_factory=set)
    """Names of directory objects that are not mail users (a plain user, a contact)."""
    mail_users: dict[str, MailUser] = field(default_factory=dict)
    assignments: list[Assignment] = field(default_factory=list)
    partner_apps: list[PartnerApp] = field(default_factory=list)
    auth_servers: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "Name": "ACS - fabrikam",
                "IssuerIdentifier": ACS,
                "Realm": TENANT,
                "Type": "MicrosoftACS",
                "Enabled": True,
            }
        ]
    )
    denied: set[str] = field(default_factory=set)
    injections: list[Injection] = field(default_factory=list)
    sent: list[tuple[str, Parameters]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.partner_apps:
            self.partner_apps.append(
                PartnerApp("Exchange Online", EXO, True, f"{DOMAIN}/Users/Exchange Online-ApplicationAccount")
            )

    # --- what tests look at ----------------------------------------------------------------------------------------

    def changes_sent(self) -> list[str]:
        return [cmdlet for cmdlet, _ in self.sent if cmdlet in CHANGING]

    def inject(self, cmdlet: str, mode: str, nth: int = 1) -> None:
        self.injections.append(Injection(cmdlet, mode, nth))

    def sfb_apps(self) -> list[PartnerApp]:
        return [a for a in self.partner_apps if a.app_id == SFB]

    # --- the runspace -------------------------------------------------------------------------------------------------

    def run(self, cmdlet: str, parameters: Parameters) -> list[Any]:
        self.sent.append((cmdlet, parameters))
        args = dict(parameters)
        if cmdlet in self.denied or not hasattr(self, _method(cmdlet)):
            raise CmdletFailure(
                f"The term '{cmdlet}' is not recognized as the name of a cmdlet, function, script file, or operable "
                "program. Check the spelling of the name, or if a path was included, verify that the path is "
                "correct and try again.",
                fq_error="CommandNotFoundException",
                reason="CommandNotFoundException",
            )
        dc = args.get("DomainController")
        if dc is not None and str(dc).lower() not in self.domain_controllers:
            raise CmdletFailure(
                f"Active Directory server {dc} is not available. Error message: The LDAP server is unavailable.",
                reason="ADServerNotAvailableException",
            )
        injection = self._injection(cmdlet)
        if injection == "before":
            raise CmdletFailure(f"{cmdlet}: injected failure before any change", reason="InjectedException")
        answer: list[Any] = getattr(self, _method(cmdlet))(args, str(dc or DC))
        if injection == "after":
            raise ConnectionError("('Connection aborted.', RemoteDisconnected('injected: the session broke'))")
        return answer

    def _injection(self, cmdlet: str) -> str | None:
        for injection in self.injections:
            if injection.cmdlet == cmdlet:
                injection.seen += 1
                if injection.seen == injection.nth:
                    return injection.mode
        return None

    # --- recipients -----------------------------------------------------------------------------------------------

    def _user(self, identity: object, dc: str, cmdlet: str) -> MailUser:
        text = str(identity).lower()
        for user in self.mail_users.values():
            if text in (user.name.lower(), user.identity().lower(), user.dn().lower()):
                return user
        raise _not_found(identity, dc, cmdlet)

    def _mail_user_object(self, user: MailUser) -> Any:
        return obj(
            user.identity(),
            Name=user.name,
            Identity=obj(user.identity()),
            DistinguishedName=user.dn(),
            ExternalEmailAddress=obj(f"SMTP:{user.external}"),
            HiddenFromAddressListsEnabled=user.hidden,
            RecipientTypeDetails=enum("MailUser", 128),
        )

    def get_mailuser(self, args: dict[str, object], dc: str) -> list[Any]:
        return [self._mail_user_object(self._user(args["Identity"], dc, "GetMailUser"))]

    def new_mailuser(self, args: dict[str, object], dc: str) -> list[Any]:
        name = str(args["Name"])
        address = str(args["ExternalEmailAddress"]).removeprefix("SMTP:")
        taken = {n.lower() for n in self.other_directory_names} | set(self.mail_users)
        if name.lower() in taken:
            raise CmdletFailure(
                f"Active Directory operation failed on {dc}. The object 'CN={name},CN=Users,DC=fabrikam,DC=com' "
                "already exists.",
                reason="ADObjectAlreadyExistsException",
            )
        if any(u.external.lower() == address.lower() for u in self.mail_users.values()):
            raise CmdletFailure(
                f'The proxy address "SMTP:{address}" is already being used by the proxy addresses or '
                "LegacyExchangeDN. Please choose another proxy address.",
                reason="ProxyAddressExistsException",
            )
        user = MailUser(name, address)
        self.mail_users[name.lower()] = user
        return [self._mail_user_object(user)]

    def set_mailuser(self, args: dict[str, object], dc: str) -> list[Any]:
        user = self._user(args["Identity"], dc, "SetMailUser")
        if "HiddenFromAddressListsEnabled" in args:
            user.hidden = bool(args["HiddenFromAddressListsEnabled"])
        return []

    def get_user(self, args: dict[str, object], dc: str) -> list[Any]:
        user = self._user(args["Identity"], dc, "GetUser")
        return [obj(user.identity(), Identity=obj(user.identity()), Name=user.name,
                    RecipientTypeDetails=enum("MailUser", 128))]  # fmt: skip

    def get_recipient(self, args: dict[str, object], dc: str) -> list[Any]:
        user = self._user(args["Identity"], dc, "GetRecipient")
        return [obj(user.identity(), Identity=obj(user.identity()), HiddenFromAddressListsEnabled=user.hidden,
                    RecipientTypeDetails=enum("MailUser", 128))]  # fmt: skip

    # --- roles --------------------------------------------------------------------------------------------------------

    def _assignment_object(self, assignment: Assignment) -> Any:
        return obj(assignment.name, Name=assignment.name, Role=obj(assignment.role),
                   RoleAssigneeName=assignment.user, RoleAssigneeType=enum("User", 0), Enabled=True)  # fmt: skip

    def get_managementroleassignment(self, args: dict[str, object], dc: str) -> list[Any]:
        found = self.assignments
        if "RoleAssignee" in args:
            user = self._user(args["RoleAssignee"], dc, "GetManagementRoleAssignment")
            found = [a for a in found if a.user == user.name]
        if "Role" in args:
            found = [a for a in found if a.role.lower() == str(args["Role"]).lower()]
        return [self._assignment_object(a) for a in found]

    def new_managementroleassignment(self, args: dict[str, object], dc: str) -> list[Any]:
        role = str(args["Role"])
        if role not in KNOWN_ROLES:
            raise _not_found(role, dc, "NewManagementRoleAssignment")
        user = self._user(args["User"], dc, "NewManagementRoleAssignment")
        if any(a.role == role and a.user == user.name for a in self.assignments):
            raise CmdletFailure(
                f"The role assignment couldn't be created because an assignment of role '{role}' to "
                f"'{user.name}' with the same scope already exists: {role}-{user.name}.",
                reason="RoleAssignmentAlreadyExistsException",
            )
        assignment = Assignment(role, user.name)
        self.assignments.append(assignment)
        return [self._assignment_object(assignment)]

    # --- partner applications -----------------------------------------------------------------------------------------

    def _app_object(self, app: PartnerApp) -> Any:
        return obj(
            app.name,
            Name=app.name,
            Identity=obj(app.name),
            ApplicationIdentifier=app.app_id,
            Enabled=app.enabled,
            LinkedAccount=obj(app.linked) if app.linked else None,
            AuthMetadataUrl=app.auth_metadata_url,
            Realm="",
            UseAuthServer=True,
            AccountType=enum("OrganizationalAccount", 0),
        )

    def _app(self, identity: object, dc: str, cmdlet: str) -> PartnerApp:
        found = [a for a in self.partner_apps if a.name.lower() == str(identity).lower()]
        if not found:
            raise _not_found(identity, dc, cmdlet)
        return found[0]

    def get_partnerapplication(self, args: dict[str, object], dc: str) -> list[Any]:
        if "Identity" in args:
            return [self._app_object(self._app(args["Identity"], dc, "GetPartnerApplication"))]
        return [self._app_object(a) for a in self.partner_apps]

    def new_partnerapplication(self, args: dict[str, object], dc: str) -> list[Any]:
        name, app_id = str(args["Name"]), str(args["ApplicationIdentifier"])
        if any(a.app_id.lower() == app_id.lower() for a in self.partner_apps):
            raise CmdletFailure(
                f"A partner application with ApplicationIdentifier '{app_id}' already exists. "
                "ApplicationIdentifier must be unique.",
                reason="PartnerApplicationAlreadyExistsException",
            )
        if any(a.name.lower() == name.lower() for a in self.partner_apps):
            raise CmdletFailure(f"The partner application '{name}' already exists.", reason="ADObjectAlreadyExists")
        linked = (
            self._user(args["LinkedAccount"], dc, "NewPartnerApplication").identity()
            if "LinkedAccount" in args
            else None
        )
        app = PartnerApp(name, app_id, bool(args.get("Enabled", True)), linked)
        self.partner_apps.append(app)
        return [self._app_object(app)]

    def set_partnerapplication(self, args: dict[str, object], dc: str) -> list[Any]:
        app = self._app(args["Identity"], dc, "SetPartnerApplication")
        if "Enabled" in args:
            app.enabled = bool(args["Enabled"])
        if "LinkedAccount" in args:
            app.linked = self._user(args["LinkedAccount"], dc, "SetPartnerApplication").identity()
        return []

    # --- configuration ------------------------------------------------------------------------------------------------

    def get_authconfig(self, args: dict[str, object], dc: str) -> list[Any]:
        return [obj("Auth Configuration", Name="Auth Configuration",
                    CurrentCertificateThumbprint=self.auth_cert.thumbprint, NextCertificateThumbprint=None,
                    ServiceName=EXO, Realm="")]  # fmt: skip

    def get_exchangecertificate(self, args: dict[str, object], dc: str) -> list[Any]:
        cert = self.auth_cert
        if str(args.get("Thumbprint", "")).upper() != cert.thumbprint:
            raise _not_found(args.get("Thumbprint"), "EX01", "GetExchangeCertificate")
        return [
            obj(
                f"[Subject]\n  CN=Microsoft Exchange Server Auth Certificate\n\n[Thumbprint]\n  {cert.thumbprint}",
                Thumbprint=cert.thumbprint,
                Subject="CN=Microsoft Exchange Server Auth Certificate",
                Issuer="CN=Microsoft Exchange Server Auth Certificate",
                NotBefore=cert.certificate.not_valid_before_utc.isoformat(),
                NotAfter=cert.certificate.not_valid_after_utc.isoformat(),
                HasPrivateKey=True,
                PublicKeySize=cert.certificate.public_key().key_size,  # type: ignore[union-attr]
                Services=enum("SMTP", 16),
                Status=enum("Valid", 0),
                RawData=cert.der,
            )
        ]

    def get_authserver(self, args: dict[str, object], dc: str) -> list[Any]:
        return [obj(s["Name"], **{k: v for k, v in s.items() if k != "Type"}, Type=enum(s["Type"], 1))
                for s in self.auth_servers]  # fmt: skip

    def get_organizationconfig(self, args: dict[str, object], dc: str) -> list[Any]:
        return [obj("Fabrikam", Name="Fabrikam", AdminDisplayVersion=obj("Version 15.2 (Build 1544.4)"))]

    def get_webservicesvirtualdirectory(self, args: dict[str, object], dc: str) -> list[Any]:
        return [obj(Identity="EX01\\EWS (Default Web Site)", OAuthAuthentication=True,
                    InternalAuthenticationMethods=[enum("Ntlm", 2), enum("OAuth", 10)])]  # fmt: skip

    def get_autodiscovervirtualdirectory(self, args: dict[str, object], dc: str) -> list[Any]:
        return [obj(Identity="EX01\\Autodiscover (Default Web Site)", OAuthAuthentication=True)]


def _method(cmdlet: str) -> str:
    return cmdlet.replace("-", "_").lower()
