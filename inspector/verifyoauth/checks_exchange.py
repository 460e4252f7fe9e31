"""exchange.*: the configuration the seed's steps 1-3 create (from a bundle or remoting), then two probes of Exchange
itself: its auth metadata document and its EWS challenge."""

from __future__ import annotations

from inspector.http_auth import bearer_challenge_info, parse_ms_diagnostics, parse_www_authenticate
from inspector.model import ConfigError
from inspector.policy import ACS, EWS_PATH, EXCHANGE, METADATA_PATH
from inspector.remote.http import HttpResult
from inspector.text import safe
from inspector.tokens import Principal
from inspector.trust import parse_metadata, thumbprint_to_x5t
from inspector.verifyoauth import remedies
from inspector.verifyoauth.bundle import ExchangeConfig, LinkedAccount, PartnerApp
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import Check, failed, passed, skipped, warned
from inspector.verifyoauth.prelude import exchange_config, section_absent

REQUIRED_ROLES = ("UserApplication", "ArchiveApplication")
NO_EXCHANGE_URL = "no Exchange URL: give --exchange https://mail.contoso.com to probe it"


# --- configuration -------------------------------------------------------------------------------------------


def _partner_apps(ctx: Context, check_id: str) -> tuple[ExchangeConfig, list[PartnerApp]] | Check:
    config = exchange_config(ctx, check_id)
    if isinstance(config, Check):
        return config
    if config.partner_apps is None:
        return section_absent(config, check_id, "PartnerApplications", "Get-PartnerApplication")
    wanted = set(ctx.principals)
    return config, [a for a in config.partner_apps if (a.application_identifier or "").lower() in wanted]


def partner_app(ctx: Context) -> Check:
    found = _partner_apps(ctx, "exchange.partner-app")
    if isinstance(found, Check):
        return found
    config, apps = found
    if not apps:
        names = ", ".join(f"{a.name} ({a.application_identifier})" for a in config.partner_apps or ()) or "none"
        return failed(
            "exchange.partner-app",
            f"no partner application with ApplicationIdentifier {ctx.principal} (partner applications: {names})",
            remedies.new_partner_application(ctx.principal),
        )
    enabled = [a for a in apps if a.enabled is not False]
    app = enabled[0] if enabled else apps[0]
    evidence: dict[str, object] = {
        "name": app.name,
        "application_identifier": app.application_identifier,
        "enabled": app.enabled,
        "linked_account": app.linked_account,
    }
    if not enabled:
        return failed(
            "exchange.partner-app",
            f"partner application {app.name} ({app.application_identifier}) is disabled",
            f'`Set-PartnerApplication -Identity "{app.name}" -Enabled $true`',
            **evidence,
        )
    if app.linked_account is None:
        if not app.has_linked_account_field:
            return skipped(
                "exchange.partner-app",
                f"partner application {app.name} is enabled, but the bundle does not carry its LinkedAccount",
                **evidence,
            )
        return failed(
            "exchange.partner-app",
            f"partner application {app.name} has no linked account (Exchange answers 2000008 invalid_grant)",
            remedies.set_linked_account(app.name or "SfBOnline"),
            **evidence,
        )
    if len(enabled) > 1:
        return warned(
            "exchange.partner-app",
            f"{len(enabled)} enabled partner applications share ApplicationIdentifier {app.application_identifier}: "
            + ", ".join(str(a.name) for a in enabled),
            'Keep one: `Remove-PartnerApplication -Identity "<the duplicate>"` (or disable it with '
            "`Set-PartnerApplication -Enabled $false`)",
            **evidence,
        )
    state = "" if app.enabled else " (Enabled not in the bundle)"
    return passed(
        "exchange.partner-app",
        f"{app.name} ({app.application_identifier}) enabled{state}, linked to {app.linked_account}",
        **evidence,
    )


def _linked_account(ctx: Context, check_id: str) -> tuple[ExchangeConfig, PartnerApp, LinkedAccount] | Check:
    found = _partner_apps(ctx, check_id)
    if isinstance(found, Check):
        return found
    config, apps = found
    app = next((a for a in apps if a.linked_account and a.enabled is not False), None)
    app = app or next((a for a in apps if a.linked_account), None)
    if app is None or app.linked_account is None:
        return skipped(check_id, "no partner application with a linked account to check (see exchange.partner-app)")
    if config.linked_accounts is None:
        return section_absent(config, check_id, "LinkedAccounts", "Get-User/Get-Recipient")
    account = config.linked_account(app.linked_account)
    if account is None:
        return skipped(check_id, f"{config.source} has no entry for the linked account {app.linked_account}")
    return config, app, account


def app_account(ctx: Context) -> Check:
    found = _linked_account(ctx, "exchange.app-account")
    if isinstance(found, Check):
        return found
    _, app, account = found
    evidence: dict[str, object] = {
        "identity": account.identity,
        "recipient_type": account.recipient_type,
        "hidden_from_address_lists": account.hidden,
    }
    if account.found is False:
        why = "; ".join(safe(e, 300) for e in account.errors) or "not found"
        return failed(
            "exchange.app-account",
            f"the linked account {account.identity} of {app.name} cannot be read: {why}",
            remedies.set_linked_account(app.name or "SfBOnline"),
            **evidence,
        )
    if account.found is None:
        return skipped("exchange.app-account", f"the bundle does not say whether {account.identity} exists")
    if account.hidden is False:
        return warned(
            "exchange.app-account",
            f"{account.identity} exists but is shown in address lists",
            f'`Set-MailUser -Identity "{account.identity}" -HiddenFromAddressListsEnabled $True` (seed step 2)',
            **evidence,
        )
    kind = f" ({account.recipient_type})" if account.recipient_type else ""
    hidden = "hidden from address lists" if account.hidden else "its address-list visibility not in the bundle"
    return passed("exchange.app-account", f"{account.identity}{kind} exists, {hidden}", **evidence)


def roles(ctx: Context) -> Check:
    found = _linked_account(ctx, "exchange.roles")
    if isinstance(found, Check):
        return found
    _, _, account = found
    if account.roles is None:
        problems = [e for e in account.errors if "roleassignment" in e.lower()]
        if problems:
            return failed(
                "exchange.roles",
                f"the role assignments of {account.identity} could not be read: {safe(problems[0], 300)}",
                "Run the export as an account with at least View-Only Organization Management, then export again",
            )
        return skipped("exchange.roles", f"the bundle carries no role assignments for {account.identity}")
    assigned = {(r.role or "").lower(): r for r in account.roles if r.role}
    evidence: dict[str, object] = {"identity": account.identity, "roles": sorted(r.role or "" for r in account.roles)}
    missing = [name for name in REQUIRED_ROLES if name.lower() not in assigned]
    disabled = [
        assigned[n.lower()] for n in REQUIRED_ROLES if n.lower() in assigned and assigned[n.lower()].enabled is False
    ]
    if missing:
        return failed(
            "exchange.roles",
            f"{account.identity} lacks the role(s) {', '.join(missing)}",
            "; ".join(f'`New-ManagementRoleAssignment -Role {n} -User "{account.identity}"`' for n in missing)
            + " (seed step 2)",
            **evidence,
        )
    if disabled:
        return failed(
            "exchange.roles",
            f"role assignment(s) {', '.join(str(r.name) for r in disabled)} of {account.identity} are disabled",
            "; ".join(f'`Set-ManagementRoleAssignment -Identity "{r.name}" -Enabled $true`' for r in disabled),
            **evidence,
        )
    return passed("exchange.roles", f"{account.identity} has {' and '.join(REQUIRED_ROLES)}", **evidence)


def auth_server(ctx: Context) -> Check:
    config = exchange_config(ctx, "exchange.auth-server")
    if isinstance(config, Check):
        return config
    if config.auth_servers is None:
        return section_absent(config, "exchange.auth-server", "AuthServers", "Get-AuthServer")
    wanted_realm = sorted(ctx.realms)[0] if ctx.realms_given else None
    acs = [
        s
        for s in config.auth_servers
        if (s.issuer_identifier or "").lower() == ACS or (s.type or "").lower() == "microsoftacs"
    ]
    evidence: dict[str, object] = {
        "auth_servers": [{"name": s.name, "realm": s.realm, "enabled": s.enabled, "type": s.type} for s in acs]
    }
    if not acs:
        others = ", ".join(str(s.name) for s in config.auth_servers) or "none"
        return failed(
            "exchange.auth-server",
            f"no ACS auth server (IssuerIdentifier {ACS}); auth servers: {others}",
            remedies.new_auth_server(wanted_realm),
            **evidence,
        )
    enabled = [s for s in acs if s.enabled is not False]
    if not enabled:
        return failed(
            "exchange.auth-server",
            f"the ACS auth server {acs[0].name} is disabled",
            f'`Set-AuthServer -Identity "{acs[0].name}" -Enabled $true`',
            **evidence,
        )
    if ctx.realms_given:
        with_realm = [s for s in enabled if s.realm is not None]
        matching = [s for s in with_realm if s.realm and s.realm.lower() in ctx.realms]
        matching += [
            s
            for s in enabled
            if s.realm is None and s.auth_metadata_url and any(r in s.auth_metadata_url.lower() for r in ctx.realms)
        ]
        if not matching:
            if not with_realm:
                return skipped(
                    "exchange.auth-server",
                    f"ACS auth server {enabled[0].name} found, but the bundle does not carry its Realm to compare "
                    f"with {wanted_realm}",
                    **evidence,
                )
            seen = ", ".join(f"{s.name}: {s.realm}" for s in with_realm)
            return failed(
                "exchange.auth-server",
                f"the ACS auth server is for another realm ({seen}), not {wanted_realm} (Exchange answers 2000009 "
                "invalid_issuer)",
                f'`Set-AuthServer -Identity "{with_realm[0].name}" -AuthMetadataUrl '
                f'"https://accounts.accesscontrol.windows.net/{wanted_realm}/metadata/json/1"`, then '
                f'`Set-AuthServer -Identity "{with_realm[0].name}" -RefreshAuthMetadata` (or re-run the Hybrid '
                "Configuration Wizard against the right tenant)",
                **evidence,
            )
        server = matching[0]
    else:
        server = enabled[0]
    realm = server.realm or "(realm not in the bundle)"
    return passed("exchange.auth-server", f"ACS auth server {server.name}, enabled, realm {realm}", **evidence)


def _oauth_on(methods: tuple[str, ...] | None, flag: bool | None) -> bool | None:
    if flag is not None:
        return flag
    if methods is None:
        return None
    return any(m.strip().lower() == "oauth" for m in methods)


def oauth_vdirs(ctx: Context) -> Check:
    config = exchange_config(ctx, "exchange.oauth-vdirs")
    if isinstance(config, Check):
        return config
    if config.vdirs is None:
        for section in ("WebServicesVirtualDirectories", "AutodiscoverVirtualDirectories"):
            if section in config.errors:
                return section_absent(config, "exchange.oauth-vdirs", section, f"Get-{section[:-11]}VirtualDirectory")
        return skipped("exchange.oauth-vdirs", f"{config.source} carries no virtual directories")
    verdicts = [(v, _oauth_on(v.internal_methods, v.oauth)) for v in config.vdirs]
    missing = [v for v, on in verdicts if on is False]
    evidence: dict[str, object] = {
        "virtual_directories": [{"kind": v.kind, "identity": v.identity, "oauth": on} for v, on in verdicts]
    }
    if missing:
        cmdlet = {"EWS": "Set-WebServicesVirtualDirectory", "Autodiscover": "Set-AutodiscoverVirtualDirectory"}
        return failed(
            "exchange.oauth-vdirs",
            "OAuth is not enabled on " + ", ".join(f"{v.identity} ({v.kind})" for v in missing),
            "; ".join(f'`{cmdlet[v.kind]} -Identity "{v.identity}" -OAuthAuthentication $true`' for v in missing),
            **evidence,
        )
    known = [v for v, on in verdicts if on]
    if not known:
        return skipped("exchange.oauth-vdirs", "the bundle does not say which authentication methods the "
                       "virtual directories accept", **evidence)  # fmt: skip
    return passed("exchange.oauth-vdirs", f"OAuth enabled on {len(known)} virtual directories", **evidence)


# --- probes ----------------------------------------------------------------------------------------------------


def _probe_result(ctx: Context, check_id: str, which: str) -> HttpResult | Check:
    loaded = ctx.metadata if which == "metadata" else ctx.challenge
    if loaded is None:
        return skipped(check_id, NO_EXCHANGE_URL)
    if loaded.value is None:
        return failed(
            check_id,
            str(loaded.error),
            "Check that --exchange names the URL Skype for Business Online reaches Exchange at, that it resolves "
            "and answers from here; for a private CA give --ca-bundle",
        )
    return loaded.value


def _expected_x5t(ctx: Context) -> tuple[str | None, str]:
    if ctx.cert is not None and ctx.cert.value is not None and ctx.cert.value.x5t:
        return ctx.cert.value.x5t, "the certificate"
    config = ctx.exchange.value if ctx.exchange is not None else None
    current = config.auth_config.current_thumbprint if config and config.auth_config else None
    if current:
        try:
            return thumbprint_to_x5t(current), "Get-AuthConfig's current certificate"
        except ConfigError:
            return None, ""
    return None, ""


def _not_followed(result: HttpResult) -> str:
    return f"redirected ({result.status}) to {safe(result.header('location') or '?', 200)}; redirects are not followed"


def metadata(ctx: Context) -> Check:
    result = _probe_result(ctx, "exchange.metadata", "metadata")
    if isinstance(result, Check):
        return result
    url = result.url
    publish = (
        f"Publish {METADATA_PATH} on the Autodiscover virtual directory without pre-authentication (reverse "
        "proxies and load balancers must pass it through); `Get-AutodiscoverVirtualDirectory | fl *Authentication*`"
    )
    if 300 <= result.status < 400:
        return failed("exchange.metadata", f"{url}: {_not_followed(result)}", publish, url=url, status=result.status)
    if result.status != 200:
        return failed(
            "exchange.metadata",
            f"{url} answered {result.status} {safe(result.reason, 60)}, not the metadata document",
            publish,
            url=url,
            status=result.status,
        )
    if result.truncated:
        return failed("exchange.metadata", f"{url} answered more than 1 MiB: not a metadata document", publish, url=url)
    try:
        keys = parse_metadata(result.body, url)
    except ConfigError as exc:
        return failed("exchange.metadata", safe(exc, 400), publish, url=url)
    published = [k.x5t for k in keys if k.x5t]
    evidence: dict[str, object] = {"url": url, "x5t": published, "issuer": keys[0].issuer if keys else None}
    issuers = {Principal.parse(k.issuer) for k in keys}
    if not keys:
        return failed("exchange.metadata", f"{url} lists no signing keys", remedies.EXPORT_CERT, **evidence)
    if any(p is None or p.principal != EXCHANGE for p in issuers):
        return failed(
            "exchange.metadata",
            f"{url} is issued by {keys[0].issuer}, not Exchange ({EXCHANGE}): something else answers there",
            publish,
            **evidence,
        )
    expected, what = _expected_x5t(ctx)
    if expected is None:
        return passed(
            "exchange.metadata",
            f"served with {len(keys)} key(s); not compared with a certificate (give --cert)",
            **evidence,
        )
    if expected not in published:
        return failed(
            "exchange.metadata",
            f"{url} does not list {what} (x5t {expected}); it lists {', '.join(published)}",
            "Exchange publishes Get-AuthConfig's current (and next) certificate. If you exported another one: "
            f"{remedies.EXPORT_CERT}. If Get-AuthConfig names a certificate Exchange does not publish yet: "
            "`Set-AuthConfig -PublishCertificate` and restart MSExchangeServiceHost",
            expected=expected,
            **evidence,
        )
    return passed("exchange.metadata", f"served; lists {what} (x5t {expected})", **evidence)


def challenge(ctx: Context) -> Check:
    result = _probe_result(ctx, "exchange.challenge", "challenge")
    if isinstance(result, Check):
        return result
    url = result.url
    ews_oauth = (
        '`Set-WebServicesVirtualDirectory -Identity "<server>\\EWS (Default Web Site)" -OAuthAuthentication $true`'
    )
    evidence: dict[str, object] = {"url": url, "status": result.status}
    if 300 <= result.status < 400:
        return failed(
            "exchange.challenge",
            f"{url}: {_not_followed(result)}",
            "Publish EWS to Exchange directly, without pre-authentication or a redirect (S2S callers do not "
            "follow redirects)",
            **evidence,
        )
    if result.status != 401:
        return failed(
            "exchange.challenge",
            f"{url} answered {result.status} {safe(result.reason, 60)} to a request without credentials (401 expected)",
            f"Check that {EWS_PATH} is Exchange's EWS and requires authentication",
            **evidence,
        )
    challenges = parse_www_authenticate(result.header_all("www-authenticate"))
    schemes = [c.raw_scheme for c in challenges]
    evidence["schemes"] = schemes
    raw_diagnostics = result.header("x-ms-diagnostics")
    diagnostics = parse_ms_diagnostics(raw_diagnostics) if raw_diagnostics else None
    if diagnostics is not None:
        evidence["x-ms-diagnostics"] = safe(raw_diagnostics, 300)
        if diagnostics.category == "oauth_not_available":
            return failed(
                "exchange.challenge",
                f"Exchange says OAuth is not available: {safe(diagnostics.reason, 200)}",
                diagnostics.known.remedy if diagnostics.known else ews_oauth,
                **evidence,
            )
    bearer = next((c for c in challenges if c.scheme == "bearer"), None)
    if bearer is None:
        offered = ", ".join(safe(s, 30) for s in schemes) or "no challenge"
        return failed(
            "exchange.challenge",
            f"the 401 offers {offered} but no Bearer: OAuth is not enabled on EWS",
            ews_oauth,
            **evidence,
        )
    info = bearer_challenge_info(bearer)
    evidence |= {"client_id": info.client_id, "trusted_issuers": list(info.trusted_issuers)}
    if (info.client_id or "").lower() != EXCHANGE:
        return failed(
            "exchange.challenge",
            f"the Bearer challenge's client_id is {safe(info.client_id, 80)}, not Exchange's ({EXCHANGE}): "
            "something in front of Exchange answers",
            "Publish EWS to Exchange directly (no pre-authenticating proxy between Skype for Business Online and "
            "Exchange)",
            **evidence,
        )
    realms = sorted(ctx.realms)
    if not info.trusted_issuers:
        return warned(
            "exchange.challenge",
            "the Bearer challenge lists no trusted_issuers: Exchange trusts no token issuer",
            remedies.new_auth_server(realms[0] if realms else None),
            **evidence,
        )
    if realms:
        covering = []
        for issuer in info.trusted_issuers:
            parsed = Principal.parse(issuer)
            if parsed is not None and (parsed.realm == "*" or parsed.realm.lower() in ctx.realms):
                covering.append(issuer)
        if not covering:
            return failed(
                "exchange.challenge",
                f"trusted_issuers ({', '.join(safe(i, 100) for i in info.trusted_issuers)}) cover no expected realm "
                f"({', '.join(realms)})",
                remedies.new_auth_server(realms[0]),
                **evidence,
            )
    if any(c.scheme == "basic" for c in challenges):
        return warned(
            "exchange.challenge",
            f"Exchange's Bearer challenge is right, but Basic is offered beside it ({', '.join(schemes)}): a client "
            "whose OAuth fails can fall back to a password",
            '`Set-WebServicesVirtualDirectory -Identity "<server>\\EWS (Default Web Site)" -BasicAuthentication '
            "$false` (once nothing needs Basic on EWS)",
            **evidence,
        )
    scope = f" for realm {', '.join(realms)}" if realms else " (no realm to compare: give --realm)"
    return passed("exchange.challenge", f"401 with Exchange's Bearer challenge{scope}", **evidence)
