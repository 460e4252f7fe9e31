"""What the user expects of the traffic: issuers, realms, clock skew, and when to fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SFB_ONLINE = "00000004-0000-0ff1-ce00-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
SHAREPOINT = "00000003-0000-0ff1-ce00-000000000000"
ACS = "00000001-0000-0000-c000-000000000000"
TEAMS_SCHEDULER = "7557eb47-c689-4224-abcf-aef9bd7573df"
CLOUD_VOICEMAIL = "db7de2b5-2149-435e-8043-e080dd50afae"

WELL_KNOWN_PRINCIPALS: dict[str, str] = {
    ACS: "Azure ACS (token issuer)",
    EXCHANGE: "Exchange",
    SHAREPOINT: "SharePoint",
    SFB_ONLINE: "Skype for Business (Lync)",
    TEAMS_SCHEDULER: "Teams Calendar Scheduler",
    CLOUD_VOICEMAIL: "Cloud Voicemail",
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "00000002-0000-0000-c000-000000000000": "Azure AD Graph",
    "00000007-0000-0ff1-ce00-000000000000": "Microsoft Exchange Online Protection",
}

DEFAULT_SKEW = 300
EXPIRING_DAYS = 60
"""A trusted certificate that expires within this many days is reported (all three tools: analyse, verify,
provision)."""
MIN_RSA_BITS = 2048
FALLBACK_WINDOW = 600
"""Seconds after a Bearer challenge within which Basic/NTLM/Negotiate from the same client is a fallback."""
METADATA_PATH = "/autodiscover/metadata/json/1"
"""Where Exchange publishes its auth metadata document (verify-oauth probes it; the lab server serves it)."""
EWS_PATH = "/EWS/Exchange.asmx"
"""Exchange's EWS endpoint: where S2S tokens are sent and the OAuth challenge is probed."""


@dataclass(frozen=True, slots=True)
class Policy:
    expected_issuers: frozenset[str] = frozenset({SFB_ONLINE})
    """Expected calling principals (GUIDs, lower-case) or whole ``iss`` values."""
    realms: frozenset[str] = frozenset()
    """Expected realms, lower-case; empty means any realm (consistency within a token is still checked)."""
    skew: int = DEFAULT_SKEW
    now: datetime | None = field(default=None)
    """The moment trusted certificates are judged at (the CLI passes the wall clock; the engine never reads it)."""
    expiring_days: int = EXPIRING_DAYS
    min_rsa_bits: int = MIN_RSA_BITS
    audience_principals: tuple[tuple[str, str], ...] = ()
    """(bare host, principal) pairs: the principal a token's audience must name on that host, where the request
    path does not say (``inspector.audience``)."""
    basic_by_design_paths: tuple[str, ...] = ("/ews/mrsproxy.svc",)
    """Paths where Basic is expected by design (mailbox migration, reference §6), not reported."""
