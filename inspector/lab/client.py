"""``lab drive``: a client that plays Skype for Business Online's calls to Exchange, one scenario at a time.

It mints the token kit's scenarios with the keys ``lab serve`` left in its folder (so healthy tokens verify), sends
them to the EWS endpoint of a target (directly, through an HTTP proxy, or to a reverse proxy in front of the lab),
and reports what the server said. Three clients keep the rules that follow a client apart, as in the lab captures:
the S2S caller, a client that falls back to Basic, and one that authenticates with NTLM. On loopback each binds its
own source address (127.0.0.10, .20, .30) so a proxy in between sees three clients; where that is not possible all
three share the default address.

Requests carry ``Host: <lab host>`` (the name the tokens are minted for), whatever address they are sent to, and an
``X-Lab-Scenario`` header naming the scenario, so captures can be matched with what was meant.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import SplitResult, urlencode, urlsplit

from inspector.http_auth import parse_ms_diagnostics, parse_www_authenticate
from inspector.lab import ntlm
from inspector.lab.certs import EXCHANGE_PRINCIPAL
from inspector.lab.folder import LabDir
from inspector.lab.scenarios import BASIC_PASSWORD, BASIC_USER, SOAP_REQUEST, USER_AGENT
from inspector.lab.server import is_loopback
from inspector.lab.token_endpoint import entra_token_call
from inspector.lab.tokens import TokenKit
from inspector.model import ConfigError
from inspector.policy import EWS_PATH, METADATA_PATH
from inspector.rules import RuleId

SCENARIO_HEADER = "X-Lab-Scenario"
TIMEOUT = 15.0
CLIENT_ADDRESSES = {"s2s": "127.0.0.10", "basic": "127.0.0.20", "ntlm": "127.0.0.30", "exchange": "127.0.0.40"}
MAX_RESPONSE_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class Step:
    """One request a scenario sends."""

    scenario: str
    client: str
    """Which of the three clients sends it: ``s2s``, ``basic`` or ``ntlm``."""
    method: str
    path: str
    authorization: str | None
    description: str
    expects: tuple[RuleId, ...] = ()
    """For token scenarios, the rules the token kit says the token raises (the inspector should report them)."""
    body: bytes | None = None
    """A body of its own (a token request's form); ``None``: EWS's SOAP request for a POST, nothing for a GET."""
    content_type: str | None = None
    host: str | None = None
    """The Host it names (a token request names Entra's), else the lab host."""


@dataclass(frozen=True, slots=True)
class Exchanged:
    """A step and what the server answered."""

    step: Step
    source: str | None
    """The client's source address, when it bound one."""
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def said(self) -> str:
        """What the server said, in a line: status, diagnostics or the schemes it challenged with."""
        text = f"{self.status} {self.reason}"
        diagnostics = self.header_all("x-ms-diagnostics")
        if diagnostics:
            parsed = parse_ms_diagnostics(diagnostics[0])
            text += f"; x-ms-diagnostics {parsed.code} {parsed.category or ''}: {parsed.reason or ''}".rstrip(": ")
        elif self.status == 401:
            challenges = parse_www_authenticate(self.header_all("www-authenticate"))
            shown = [c.raw_scheme + (" <handshake>" if c.token68 else "") for c in challenges]
            text += f"; challenge: {', '.join(shown) or 'none'}"
        return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scenario_steps(kit: TokenKit) -> dict[str, list[Step]]:
    """Every scenario by name, in the order ``all`` plays them."""
    steps: dict[str, list[Step]] = {
        "metadata": [Step("metadata", "s2s", "GET", METADATA_PATH, None, "fetch Exchange's auth metadata document")],
        "probe": [Step("probe", "s2s", "POST", EWS_PATH, "Bearer", "empty Bearer: discover the challenge")],
    }
    for minted in kit.scenarios():
        steps[minted.name] = [
            Step(minted.name, "s2s", "POST", EWS_PATH, f"Bearer {minted.value}", minted.description, minted.expects)
        ]
    basic = _b64(f"{BASIC_USER}:{BASIC_PASSWORD}".encode())
    steps["basic-fallback"] = [
        Step("basic-fallback", "basic", "POST", EWS_PATH, "Bearer", "empty Bearer: try OAuth, see what is offered"),
        Step("basic-fallback", "basic", "POST", EWS_PATH, f"Basic {basic}", "retry with a password instead of a token"),
    ]
    seed = f"lab-drive:{kit.realm}"
    info = ntlm.target_info(
        netbios_domain="CONTOSO", netbios_computer="EXCH01", dns_domain="contoso.com", moment=kit.now
    )
    type3 = ntlm.authenticate(
        domain="CONTOSO",
        user="svc-sfb",
        workstation="SFB-FE01",
        nt_response=ntlm.ntlmv2_response(info=info, moment=kit.now, spn=f"HTTP/{kit.host}", seed=seed),
        seed=seed,
    )
    steps["token-requests"] = token_request_steps(kit)
    steps["ntlm"] = [
        Step("ntlm", "ntlm", "POST", EWS_PATH, None, "no credentials: see what the server offers"),
        Step("ntlm", "ntlm", "POST", EWS_PATH, f"NTLM {_b64(ntlm.negotiate())}", "NTLM negotiate (type 1)"),
        Step("ntlm", "ntlm", "POST", EWS_PATH, f"NTLM {_b64(type3)}", "NTLM authenticate (type 3)"),
    ]
    return steps


LAB_CLIENT_SECRET = "lab-client-secret-never-shown"  # noqa: S105  (a lab value the tests look for in outputs)


def token_request_steps(kit: TokenKit) -> list[Step]:
    """Exchange asking Entra for tokens (the outbound leg), as the token-endpoint double answers them: with the
    registered auth certificate (a token), with a renewed certificate never uploaded (AADSTS700027 naming its
    thumbprint) and with a client secret the application does not have (AADSTS7000215)."""
    form = "application/x-www-form-urlencoded"
    good = entra_token_call(kit.auth_cert, now=kit.now, realm=kit.realm)
    renewed = entra_token_call(kit.rogue_cert, now=kit.now, realm=kit.realm)
    secret = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": EXCHANGE_PRINCIPAL,
            "client_secret": LAB_CLIENT_SECRET,
            "resource": "https://outlook.office365.com",
        }
    ).encode("ascii")
    name = "token-requests"
    return [
        Step(name, "exchange", "POST", good.path, None, "client assertion signed by the registered auth certificate",
             (), good.body, form, good.host),
        Step(name, "exchange", "POST", renewed.path, None, "client assertion signed by a certificate never uploaded",
             ("token-request-failed", "signing-key-unknown"), renewed.body, form, renewed.host),
        Step(name, "exchange", "POST", good.path, None, "a client secret instead of the certificate",
             ("token-request-failed",), secret, form, good.host),
    ]  # fmt: skip


def select(steps: dict[str, list[Step]], names: Sequence[str]) -> list[Step]:
    if not names or "all" in names:
        return [step for group in steps.values() for step in group]
    unknown = [n for n in names if n not in steps]
    if unknown:
        raise ConfigError(f"unknown scenario {', '.join(unknown)}; known: all, {', '.join(steps)}")
    return [step for name in names for step in steps[name]]


@dataclass
class _Route:
    """Where requests go: the target, optionally through a forward proxy."""

    target: SplitResult
    proxy: SplitResult | None
    context: ssl.SSLContext | None
    sni: str


class _TlsConnection(http.client.HTTPConnection):
    """HTTPS whose SNI and certificate name are the lab host, whatever address (or tunnel) carries it."""

    default_port = 443

    def __init__(self, *args: object, context: ssl.SSLContext, sni: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._tls_context = context
        self._sni = sni

    def connect(self) -> None:
        super().connect()  # TCP, and the CONNECT tunnel when one is set
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._sni)


def _source_usable(address: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


@dataclass
class Driver:
    """Sends steps over one keep-alive connection per client."""

    route: _Route
    host: str
    mailbox: str
    separate_clients: bool = True
    _connections: dict[str, http.client.HTTPConnection] = field(default_factory=dict)
    _sources: dict[str, str | None] = field(default_factory=dict)

    def _source(self, client: str) -> str | None:
        if client not in self._sources:
            hop = self.route.proxy or self.route.target
            address = CLIENT_ADDRESSES.get(client)
            usable = (
                self.separate_clients and address is not None and is_loopback(hop.hostname or "")
            ) and _source_usable(address)
            self._sources[client] = address if usable else None
        return self._sources[client]

    def _connection(self, client: str) -> http.client.HTTPConnection:
        connection = self._connections.get(client)
        if connection is not None:
            return connection
        route = self.route
        hop = route.proxy or route.target
        source = self._source(client)
        source_address = (source, 0) if source else None
        port = hop.port or (443 if hop.scheme == "https" else 80)
        if route.target.scheme == "https":
            assert route.context is not None
            if route.proxy is not None and route.proxy.scheme == "https":
                raise ConfigError("an https:// proxy is not supported; give the proxy as http://host:port")
            connection = _TlsConnection(
                hop.hostname or "",
                port,
                timeout=TIMEOUT,
                source_address=source_address,
                context=route.context,
                sni=route.sni,
            )
            if route.proxy is not None:
                connection.set_tunnel(route.target.hostname or "", route.target.port or 443)
        else:
            connection = http.client.HTTPConnection(
                hop.hostname or "", port, timeout=TIMEOUT, source_address=source_address
            )
        self._connections[client] = connection
        return connection

    def _url(self, path: str) -> str:
        route = self.route
        if route.proxy is not None and route.target.scheme == "http":  # absolute-form, as to a forward proxy
            return f"http://{route.target.netloc}{path}"
        return path

    def send(self, step: Step) -> Exchanged:
        body = b""
        headers: list[tuple[str, str]] = [("Host", step.host or self.host)]
        if step.body is not None:
            body = step.body
            headers += [
                ("Content-Type", step.content_type or "application/octet-stream"),
                ("Accept", "application/json"),
            ]
        elif step.method == "POST":
            body = SOAP_REQUEST.format(mailbox=self.mailbox).encode("utf-8")
            headers += [("Content-Type", "text/xml; charset=utf-8"), ("Accept", "text/xml")]
        else:
            headers.append(("Accept", "application/json"))
        headers += [
            ("User-Agent", USER_AGENT),
            ("X-AnchorMailbox", self.mailbox),
            ("client-request-id", str(uuid.uuid4())),
            (SCENARIO_HEADER, step.scenario),
        ]
        if step.authorization is not None:
            headers.append(("Authorization", step.authorization))
        headers += [("Content-Length", str(len(body))), ("Connection", "Keep-Alive")]
        connection = self._connection(step.client)
        try:
            connection.putrequest(step.method, self._url(step.path), skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read(MAX_RESPONSE_BODY)
            if response.will_close or not response.isclosed():
                connection.close()  # closed by the server, or a body larger than we read: start afresh
                self._connections.pop(step.client, None)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._connections.pop(step.client, None)
            where = self.route.proxy or self.route.target
            raise ConnectionError(f"{step.scenario}: no answer from {where.geturl()}: {exc}") from exc
        return Exchanged(
            step, self._source(step.client), response.status, response.reason, tuple(response.getheaders()), data
        )

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def _url(value: str, what: str) -> SplitResult:
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} must be an http:// or https:// URL, not {value!r}")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ConfigError(f"{what} {value!r} has a bad port") from exc
    return parts


def tls_context(lab: LabDir, *, ca_file: str | None, insecure: bool, proxied: bool) -> ssl.SSLContext:
    """Verification for HTTPS: the given CA file, else (straight to the lab) the lab's own certificate."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_file is None and not proxied and lab.tls_cert is not None:
        ca_file = str(lab.tls_cert)
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"Cannot load the CA file {ca_file}: {exc}") from exc


def drive(
    lab: LabDir,
    *,
    target: str,
    proxy: str | None = None,
    scenarios: Sequence[str] = ("all",),
    now: datetime,
    ca_file: str | None = None,
    insecure: bool = False,
    separate_clients: bool = True,
    keylog: Path | None = None,
) -> Iterator[Exchanged]:
    """Play the scenarios against ``target`` (through ``proxy``), yielding each answer as it comes.

    A reverse proxy in front of the lab is simply the target. Raises ``ConfigError`` for bad arguments and
    ``ConnectionError`` when the target (or proxy) does not answer.
    """
    target_url = _url(target, "--target")
    proxy_url = _url(proxy, "--proxy") if proxy else None
    kit = lab.kit(now)
    steps = select(scenario_steps(kit), scenarios)
    context = None
    if target_url.scheme == "https":
        context = tls_context(lab, ca_file=ca_file, insecure=insecure, proxied=proxy_url is not None)
        if keylog is not None:
            # The NSS key log a capture of this traffic is decrypted with (`analyze --keylog`).
            context.keylog_filename = str(keylog)
    elif keylog is not None:
        raise ConfigError("--keylog needs an https:// target (the lab server started with --tls)")
    driver = Driver(_Route(target_url, proxy_url, context, lab.host), lab.host, kit.user.upn, separate_clients)
    try:
        for step in steps:
            yield driver.send(step)
    finally:
        driver.close()
