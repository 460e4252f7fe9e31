"""Which service a request went to, and so which principal a token's audience must name.

An S2S token's ``aud`` is ``<principal>/<host>@<realm>``: the host alone does not say whether a token made for
SharePoint was replayed to Exchange on the same name. The principal expected is the service's, read from the
request path with the table below (the longest matching prefix wins), or given per host by the user
(``--audience-principal HOST=PRINCIPAL``) where a host is not one of these services or serves one service only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from inspector.frozen import pickled_by_constructor
from inspector.hosts import bare_host
from inspector.policy import EXCHANGE, SFB_ONLINE, SHAREPOINT, WELL_KNOWN_PRINCIPALS

SERVICE_PATHS: tuple[tuple[str, str], ...] = (
    # Exchange: EWS, Autodiscover, REST, MAPI over HTTP, OWA/ECP, OAB, Outlook Anywhere, remote PowerShell.
    ("/ews/", EXCHANGE),
    ("/autodiscover/", EXCHANGE),
    ("/api/", EXCHANGE),
    ("/mapi/", EXCHANGE),
    ("/owa/", EXCHANGE),
    ("/ecp/", EXCHANGE),
    ("/oab/", EXCHANGE),
    ("/rpc/", EXCHANGE),
    ("/powershell", EXCHANGE),
    ("/microsoft-server-activesync", EXCHANGE),
    # SharePoint: REST, SOAP services and application pages.
    ("/_api/", SHAREPOINT),
    ("/_vti_bin/", SHAREPOINT),
    ("/_layouts/", SHAREPOINT),
    # Skype for Business / Lync web services (its Autodiscover sits under Exchange's prefix: longer wins).
    ("/autodiscover/autodiscoverservice.svc", SFB_ONLINE),
    ("/ucwa/", SFB_ONLINE),
    ("/webticket/", SFB_ONLINE),
    ("/certprov/", SFB_ONLINE),
    ("/groupexpansion/", SFB_ONLINE),
    ("/mcx/", SFB_ONLINE),
    ("/persistentchat/", SFB_ONLINE),
    ("/passiveauth/", SFB_ONLINE),
)
"""Path prefixes (lower-case) of each service, and the principal its tokens must be made for."""

_LONGEST_PREFIX = re.compile("|".join(re.escape(p) for p, _ in sorted(SERVICE_PATHS, key=lambda row: -len(row[0]))))
"""Every prefix, longest first (a stable sort: the table's order among equal lengths), so the first alternative that
matches is the longest matching prefix: one match per request instead of a test per prefix."""
_PREFIX_PRINCIPAL: dict[str, str] = {}
for _prefix, _principal in SERVICE_PATHS:
    _PREFIX_PRINCIPAL.setdefault(_prefix, _principal)

MICROSOFT_GRAPH = "00000003-0000-0000-c000-000000000000"
AAD_GRAPH = "00000002-0000-0000-c000-000000000000"

RESOURCE_HOSTS: tuple[tuple[str, str], ...] = (
    ("outlook.office365.com", EXCHANGE),
    ("outlook.office.com", EXCHANGE),
    ("graph.microsoft.com", MICROSOFT_GRAPH),
    ("graph.windows.net", AAD_GRAPH),
    (".sharepoint.com", SHAREPOINT),
)
"""The service an Entra token's URL audience names (a leading dot: any host under that domain)."""

SERVICE_NAMES: dict[str, str] = {
    "exchange": EXCHANGE,
    "sharepoint": SHAREPOINT,
    "skype": SFB_ONLINE,
    "lync": SFB_ONLINE,
}
"""Names accepted for a principal in ``--audience-principal``, beside a GUID."""


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class ExpectedAudience:
    principal: Final[str]
    """The principal (lower-case) a token sent there must name in its ``aud``."""
    why: Final[str]
    """Where the expectation comes from, for the message: the path prefix or the configured host."""

    def __init__(self, principal: str, why: str) -> None:
        self.principal = principal
        self.why = why


def principal_name(principal: str) -> str:
    """``Exchange (00000002-...)`` for a well-known principal, else the principal itself."""
    name = WELL_KNOWN_PRINCIPALS.get(principal.lower())
    return f"{name} ({principal})" if name else principal


def parse_audience_principal(value: str) -> tuple[str, str]:
    """``HOST=PRINCIPAL`` (a GUID or exchange/sharepoint/skype/lync) as (bare host, lower-case principal);
    ``ValueError`` with a message when it is not that."""
    host, sep, principal = value.partition("=")
    host, principal = bare_host(host), principal.strip().lower()
    if not sep or not host or not principal:
        raise ValueError(f"audience principal must be HOST=PRINCIPAL, not {value!r}")
    principal = SERVICE_NAMES.get(principal, principal)
    if "/" in principal or "@" in principal or any(c.isspace() for c in principal):
        raise ValueError(f"audience principal for {host} must be a GUID or {', '.join(SERVICE_NAMES)}, not {value!r}")
    return host, principal


def expected_audience(overrides: tuple[tuple[str, str], ...], host: str | None, target: str) -> ExpectedAudience | None:
    """The principal a token sent to ``host`` with request target ``target`` must be made for (``None``: not
    known, so only the host is compared)."""
    if host and overrides:
        wanted = bare_host(host)
        for configured, principal in overrides:
            if configured == wanted:
                return ExpectedAudience(principal, f"--audience-principal for {wanted}")
    path = target.split("?", 1)[0]
    if "://" in path:  # absolute form (through a proxy)
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    found = _LONGEST_PREFIX.match(path.lower())
    if found is None:
        return None
    prefix = found.group()
    return ExpectedAudience(_PREFIX_PRINCIPAL[prefix], f"path {prefix}")


def resource_principal(host: str) -> str | None:
    """The principal of a well-known resource host (an Entra token's URL ``aud``), else ``None``."""
    for suffix, principal in RESOURCE_HOSTS:
        if host == suffix or (suffix.startswith(".") and host.endswith(suffix)):
            return principal
    return None


pickled_by_constructor(ExpectedAudience)  # crosses processes (--jobs, --separately, Dask): see the function
