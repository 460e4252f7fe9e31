"""What is collected from Exchange, once: the read-only cmdlets and the properties kept of each.

The export script (offline path) and PowerShell remoting (``--psrp``) both follow this plan, so a bundle looks the
same whichever way it was made and the bundle reader is the only place that interprets it.
"""

from __future__ import annotations

from dataclasses import dataclass

BUNDLE_FORMAT = "oauth-inspector.verify-oauth.bundle"
BUNDLE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Query:
    section: str
    """Top-level key in the bundle."""
    cmdlet: str
    parameters: tuple[tuple[str, object], ...]
    properties: tuple[str, ...]
    many: bool = True
    """A list in the bundle (``False``: the first object only)."""


ORGANIZATION = Query("Organization", "Get-OrganizationConfig", (), ("Name", "AdminDisplayVersion"), many=False)
AUTH_CONFIG = Query(
    "AuthConfig",
    "Get-AuthConfig",
    (),
    (
        "Name",
        "CurrentCertificateThumbprint",
        "PreviousCertificateThumbprint",
        "NextCertificateThumbprint",
        "NextCertificateEffectiveDate",
        "ServiceName",
        "Realm",
        "IssuerIdentifier",
    ),
    many=False,
)
AUTH_SERVERS = Query(
    "AuthServers",
    "Get-AuthServer",
    (),
    (
        "Name",
        "IssuerIdentifier",
        "Realm",
        "Type",
        "Enabled",
        "AuthMetadataUrl",
        "TokenIssuingEndpoint",
        "AuthorizationEndpoint",
        "ApplicationIdentifier",
        "DomainName",
        "IsDefaultAuthorizationEndpoint",
    ),
)
PARTNER_APPLICATIONS = Query(
    "PartnerApplications",
    "Get-PartnerApplication",
    (),
    (
        "Name",
        "ApplicationIdentifier",
        "Enabled",
        "LinkedAccount",
        "Realm",
        "AuthMetadataUrl",
        "UseAuthServer",
        "AcceptSecurityIdentifierInformation",
        "AccountType",
        "IssuerIdentifier",
        "CertificateStrings",
    ),
)
VIRTUAL_DIRECTORY_PROPERTIES = (
    "Identity",
    "Server",
    "Name",
    "InternalUrl",
    "ExternalUrl",
    "InternalAuthenticationMethods",
    "ExternalAuthenticationMethods",
    "OAuthAuthentication",
    "BasicAuthentication",
    "WindowsAuthentication",
    "WSSecurityAuthentication",
)
EWS_VDIRS = Query(
    "WebServicesVirtualDirectories",
    "Get-WebServicesVirtualDirectory",
    (("ADPropertiesOnly", None),),
    VIRTUAL_DIRECTORY_PROPERTIES,
)
AUTODISCOVER_VDIRS = Query(
    "AutodiscoverVirtualDirectories",
    "Get-AutodiscoverVirtualDirectory",
    (("ADPropertiesOnly", None),),
    VIRTUAL_DIRECTORY_PROPERTIES,
)
TOP_LEVEL: tuple[Query, ...] = (
    ORGANIZATION,
    AUTH_CONFIG,
    AUTH_SERVERS,
    PARTNER_APPLICATIONS,
    EWS_VDIRS,
    AUTODISCOVER_VDIRS,
)

# Per linked account (section "LinkedAccounts": one entry per distinct LinkedAccount of the partner applications).
USER_CMDLET = "Get-User"
USER_PROPERTIES = ("Identity", "Name", "UserPrincipalName", "RecipientType", "RecipientTypeDetails")
RECIPIENT_CMDLET = "Get-Recipient"
RECIPIENT_PROPERTIES = ("Identity", "PrimarySmtpAddress", "RecipientTypeDetails", "HiddenFromAddressListsEnabled")
ROLE_CMDLET = "Get-ManagementRoleAssignment"
ROLE_PROPERTIES = ("Name", "Role", "RoleAssigneeName", "RoleAssigneeType", "Enabled")

# Per thumbprint named by Get-AuthConfig (current and next): section "AuthCertificates".
CERT_CMDLET = "Get-ExchangeCertificate"
CERT_PROPERTIES = (
    "Thumbprint",
    "Subject",
    "Issuer",
    "NotBefore",
    "NotAfter",
    "Services",
    "Status",
    "HasPrivateKey",
    "PublicKeySize",
    "RawData",
)

READ_ONLY_VERBS = ("Get-",)
"""Everything either path runs starts with one of these: the checks never change Exchange."""


def all_cmdlets() -> tuple[str, ...]:
    return (*(q.cmdlet for q in TOP_LEVEL), USER_CMDLET, RECIPIENT_CMDLET, ROLE_CMDLET, CERT_CMDLET)
