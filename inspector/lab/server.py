"""``lab serve``: a local Exchange-like server on loopback, for demos, tests and benchmarks.

``POST /EWS/Exchange.asmx`` demands a bearer token and answers 401 with Exchange's challenge shape (Bearer with
client_id/trusted_issuers/token_types/authorization_uri, plus Basic and Negotiate/NTLM when configured). A token is
judged by the engine itself, with the server's own trust (its auth certificate and the ACS metadata of its realm):
healthy tokens get 200 and a SOAP answer, others 401 with ``error="invalid_token"`` and the ``x-ms-diagnostics``
Exchange would send (reference §3.3). ``GET /autodiscover/metadata/json/1`` serves the Exchange metadata document.

The certificate folder (``--cert-dir``) holds what the other side needs: the auth certificate (``OAuthCert.cer``)
and ACS metadata to trust, and the private keys the lab client mints tokens with (lab-only, unencrypted, and named
so). An existing folder is reused, so restarts keep the same certificates.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab import ntlm
from inspector.lab.certs import (
    LabCert,
    acs_metadata,
    acs_signing_cert,
    exchange_auth_cert,
    exchange_metadata,
    new_rsa_key,
    write_cer,
    write_key_pem,
    write_metadata,
    write_pem,
)
from inspector.lab.diagnostics import ACCEPTED_WARNINGS, INVALID_SIGNATURE, rejection, ssl_offloading
from inspector.lab.scenarios import (
    BASIC_PASSWORD,
    BASIC_USER,
    EWS_PATH,
    SOAP_RESPONSE,
    basic_challenge,
    bearer_challenge,
)
from inspector.lab.token_endpoint import answer_token_request, is_token_path
from inspector.lab.tokens import LAB_HOST, LAB_REALM, TokenKit
from inspector.model import ConfigError, Endpoint, HttpExchange, HttpRequest, Provenance
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.trust import Trust, key_from_certificate, parse_metadata

METADATA_PATH = "/autodiscover/metadata/json/1"
MAX_BODY = 1 << 20
IDLE_TIMEOUT = 30.0
"""Seconds a keep-alive connection may stay idle (or a TLS handshake take) before the server drops it."""

AUTH_CERT_FILE = "OAuthCert.cer"
ACS_CERT_FILE = "acs-cert.pem"
ACS_METADATA_FILE = "acs-metadata.json"
EXCHANGE_METADATA_FILE = "exchange-metadata.json"
AUTH_KEY_FILE = "LAB-ONLY-auth-cert.key.pem"
ACS_KEY_FILE = "LAB-ONLY-acs-cert.key.pem"
TLS_CERT_FILE = "tls-cert.pem"
TLS_KEY_FILE = "LAB-ONLY-tls.key.pem"
LAB_FILE = "lab.json"
_README = """LAB ONLY. The private keys in this folder exist to mint test tokens for the oauth-inspector lab.
They are unencrypted on purpose. Never trust these certificates outside the lab.

OAuthCert.cer        the lab Exchange auth certificate (what Export-Certificate gives on Exchange): --cert
acs-metadata.json    the ACS metadata document of the lab realm: --metadata
exchange-metadata.json  what the lab server serves at /autodiscover/metadata/json/1
tls-cert.pem         the lab server's HTTPS certificate (with --tls)
lab.json             realm and host of the lab
"""

FAULTS: dict[str, str] = {
    "ssl-offloading": "every token is refused as behind SSL offloading (2000003, http vs https)",
    "stale-metadata": "every token is refused as after a key roll Exchange has not fetched (2000000)",
    "sp-key-missing": "the token endpoint double has no certificate registered: every assertion is refused "
    "(AADSTS700027 / ACS50012), as after an auth certificate renewal not uploaded to the service principal",
}


# --- the certificate folder -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabDir:
    """What a certificate folder holds: the lab's realm and host, and its certificates with their keys."""

    path: Path
    realm: str
    host: str
    auth_cert: LabCert
    acs_cert: LabCert
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def kit(self, now: datetime) -> TokenKit:
        """A token kit minting with this folder's keys, for this realm and host, at ``now``."""
        return TokenKit(
            realm=self.realm,
            host=self.host,
            auth_cert=self.auth_cert,
            acs_cert=self.acs_cert,
            now=now,
            rogue_cert=_rogue_cert(),
        )

    def trust_arguments(self) -> list[str]:
        return [
            "--cert",
            str(self.path / AUTH_CERT_FILE),
            "--metadata",
            str(self.path / ACS_METADATA_FILE),
            "--realm",
            self.realm,
        ]


@functools.cache
def _rogue_cert() -> LabCert:
    """The certificate nobody trusts (the unknown-key scenario): one per process, key generation is slow."""
    return exchange_auth_cert(now=datetime.now(UTC))


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _load_cert(folder: Path, cert_name: str, key_name: str) -> LabCert | None:
    cert_path, key_path = folder / cert_name, folder / key_name
    if not cert_path.is_file() or not key_path.is_file():
        return None
    try:
        data = cert_path.read_bytes()
        certificate = (
            x509.load_pem_x509_certificate(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"Cannot read the lab certificate {cert_path} or its key {key_path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or _spki(key.public_key()) != _spki(certificate.public_key()):
        raise ConfigError(f"The lab key {key_path} does not belong to {cert_path}; delete both to make new ones")
    return LabCert(certificate, key)


def _tls_cert(host: str, now: datetime) -> LabCert:
    """A self-signed HTTPS certificate for the lab host, localhost and 127.0.0.1."""
    key = new_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LabCert(certificate, key)


def prepare_lab_dir(folder: Path, *, realm: str | None, host: str | None, tls: bool, now: datetime) -> LabDir:
    """Create (or reuse) the certificate folder; realm and host default to the folder's, else the lab's."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the lab folder {folder}: {exc.strerror or exc}") from exc
    previous = _read_lab_json(folder) if (folder / LAB_FILE).is_file() else {}
    realm = realm or previous.get("realm") or LAB_REALM
    host = host or previous.get("host") or LAB_HOST
    try:
        auth = _load_cert(folder, AUTH_CERT_FILE, AUTH_KEY_FILE)
        if auth is None:
            auth = exchange_auth_cert(now=now)
            write_cer(folder / AUTH_CERT_FILE, auth)
            write_key_pem(folder / AUTH_KEY_FILE, auth)
        acs = _load_cert(folder, ACS_CERT_FILE, ACS_KEY_FILE)
        if acs is None:
            acs = acs_signing_cert(now=now)
            write_pem(folder / ACS_CERT_FILE, acs)
            write_key_pem(folder / ACS_KEY_FILE, acs)
        write_metadata(folder / ACS_METADATA_FILE, acs_metadata([acs], realm=realm))
        write_metadata(folder / EXCHANGE_METADATA_FILE, exchange_metadata([auth], host=host))
        tls_cert = tls_key = None
        if tls:
            tls_cert, tls_key = folder / TLS_CERT_FILE, folder / TLS_KEY_FILE
            if _load_cert(folder, TLS_CERT_FILE, TLS_KEY_FILE) is None or previous.get("host") != host:
                server_cert = _tls_cert(host, now)
                write_pem(tls_cert, server_cert)
                write_key_pem(tls_key, server_cert)
        (folder / LAB_FILE).write_text(json.dumps({"realm": realm, "host": host}, indent=1) + "\n", encoding="utf-8")
        (folder / "README.txt").write_text(_README, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot write the lab folder {folder}: {exc.strerror or exc}") from exc
    return LabDir(folder, realm, host, auth, acs, tls_cert, tls_key)


def _read_lab_json(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {folder / LAB_FILE}: {exc}; delete it to start afresh") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("realm", "host")):
        raise ConfigError(f"{folder / LAB_FILE} does not name a realm and host; delete it to start afresh")
    return {"realm": data["realm"], "host": data["host"]}


def read_lab_dir(folder: Path) -> LabDir:
    """The folder ``lab serve`` prepared (the client mints its tokens with these keys)."""
    if not (folder / LAB_FILE).is_file():
        raise ConfigError(f"{folder} is not a lab folder (no {LAB_FILE}); start `oauth-inspector lab serve` first")
    names = _read_lab_json(folder)
    auth = _load_cert(folder, AUTH_CERT_FILE, AUTH_KEY_FILE)
    acs = _load_cert(folder, ACS_CERT_FILE, ACS_KEY_FILE)
    if auth is None or acs is None:
        raise ConfigError(f"{folder} lacks the lab certificates or their keys; restart `oauth-inspector lab serve`")
    tls_cert = folder / TLS_CERT_FILE
    tls_key = folder / TLS_KEY_FILE
    present = tls_cert.is_file() and tls_key.is_file()
    return LabDir(
        folder, names["realm"], names["host"], auth, acs, tls_cert if present else None, tls_key if present else None
    )


# --- what the server answers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerOptions:
    offer_basic: bool = False
    """Offer (and accept) Basic beside Bearer, as an Exchange with Basic enabled on EWS does."""
    offer_ntlm: bool = False
    """Offer Negotiate and NTLM beside Bearer (Exchange's default on EWS) and accept an NTLM handshake."""
    faults: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    rules: tuple[str, ...] = ()
    """The rules behind a rejection (for the server's own log line)."""


class Responder:
    """Judges each EWS request with the engine and chooses Exchange's answer. Thread-safe."""

    def __init__(self, lab: LabDir, options: ServerOptions, *, started: datetime) -> None:
        self.lab = lab
        self.options = options
        self.kit = lab.kit(started)  # only its realm and host are used here (challenge and diagnostics texts)
        acs = parse_metadata(json.dumps(acs_metadata([lab.acs_cert], realm=lab.realm)).encode(), ACS_METADATA_FILE)
        trust = Trust.of([key_from_certificate(lab.auth_cert.certificate, AUTH_CERT_FILE), *acs])
        self.analyzer = Analyzer(trust, Policy(realms=frozenset({lab.realm.lower()})))
        self._lock = threading.Lock()
        self._counter = 0
        # A fixed challenge for the server's lifetime: answers through a proxy and without one are then identical.
        info = ntlm.target_info(
            netbios_domain="CONTOSO", netbios_computer="EXCH01", dns_domain="contoso.com", moment=started
        )
        self.ntlm_challenge = ntlm.challenge(netbios_domain="CONTOSO", info=info, seed=f"lab-serve:{lab.realm}")
        self.metadata = json.dumps(exchange_metadata([lab.auth_cert], host=lab.host), indent=1).encode()

    def judge(self, exchange: HttpExchange) -> ExchangeResult:
        with self._lock:
            result = self.analyzer.feed(exchange)
        assert isinstance(result, ExchangeResult)
        return result

    def next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _challenges(self, *, error: bool) -> list[tuple[str, str]]:
        headers = [("WWW-Authenticate", bearer_challenge(self.kit, error=error))]
        if self.options.offer_basic:
            headers.append(("WWW-Authenticate", basic_challenge(self.kit)))
        if self.options.offer_ntlm:
            headers += [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
        return headers

    def _unauthorized(self, *, diagnostics: str | None = None, rules: tuple[str, ...] = ()) -> Answer:
        headers = self._challenges(error=diagnostics is not None)
        if diagnostics is not None:
            headers.append(("x-ms-diagnostics", diagnostics))
        return Answer(401, "Unauthorized", tuple(headers), rules=rules)

    def _ok(self) -> Answer:
        headers = (("Cache-Control", "private"), ("Content-Type", "text/xml; charset=utf-8"))
        return Answer(200, "OK", headers, SOAP_RESPONSE.encode("utf-8"))

    def ews(self, result: ExchangeResult) -> Answer:
        auth = result.auth
        credentials = auth.credentials
        if auth.scheme in ("bearer", "bare") and credentials is not None and credentials.credentials:
            return self._bearer(result)
        if (
            auth.scheme == "basic"
            and self.options.offer_basic
            and credentials is not None
            and (credentials.basic_user, credentials.basic_password) == (BASIC_USER, BASIC_PASSWORD)
        ):
            return self._ok()
        if auth.scheme == "ntlm" and self.options.offer_ntlm and credentials is not None and credentials.ntlm:
            if credentials.ntlm.message_type == 1:
                challenge = base64.b64encode(self.ntlm_challenge).decode("ascii")
                return Answer(401, "Unauthorized", (("WWW-Authenticate", f"NTLM {challenge}"),))
            if credentials.ntlm.message_type == 3 and credentials.ntlm.user:
                return self._ok()
        return self._unauthorized()

    def _bearer(self, result: ExchangeResult) -> Answer:
        faults = self.options.faults
        if "ssl-offloading" in faults:
            return self._unauthorized(diagnostics=ssl_offloading(self.kit.host), rules=("fault ssl-offloading",))
        if "stale-metadata" in faults:
            return self._unauthorized(diagnostics=INVALID_SIGNATURE, rules=("fault stale-metadata",))
        refusing = [f for f in result.findings if f.rule not in ACCEPTED_WARNINGS]
        if not refusing:
            return self._ok()
        return self._unauthorized(
            diagnostics=self._diagnostics(result, refusing), rules=tuple(f.rule for f in refusing)
        )

    @staticmethod
    def _diagnostics(result: ExchangeResult, refusing: list[Finding]) -> str:
        token = result.auth.token
        return rejection(
            (f.rule for f in refusing),
            iss=(token.issuer if token else None) or "",
            realm=(token.realm if token else None) or "",
            aud=(token.audience if token else None) or "",
        )


# --- the HTTP server --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 overflows when many clients connect at once on a loaded machine
    responder: Responder
    tls: ssl.SSLContext | None
    scheme: str
    log: Callable[[str], None] | None

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002  (socketserver's signature)
        # A client that vanishes or speaks garbage is the client's problem: one line, not a traceback.
        if self.log is not None:
            self.log(f"connection from {client_address[0]} dropped")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: an NTLM handshake needs its connection
    default_request_version = "HTTP/1.1"  # answer even garbage with a status line, as IIS does (not HTTP/0.9)
    timeout = IDLE_TIMEOUT
    wbufsize = -1  # one write per response (flushed by the base class), not a packet per header line
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request.settimeout(IDLE_TIMEOUT)
            # Handshake here, in the connection's own thread, so a slow client cannot stall the accept loop.
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # The TLS wrapper took over the socket's descriptor; socketserver only closes the original object.
            if isinstance(self.request, ssl.SSLSocket):
                self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server logs its own line per request, without the noise

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._send(Answer(411, "Length Required"), close=True)
            return None
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit() or int(raw) > MAX_BODY:
            self._send(Answer(413, "Request Entity Too Large"), close=True)
            return None
        return self.rfile.read(int(raw))

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        responder = self.server.responder
        target = self.path
        if "://" in target[:10]:  # absolute-form, which servers must accept too (RFC 9112 3.2.2)
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target.split("?", 1)[0].lower()
        number = responder.next_id()
        if path == METADATA_PATH and self.command == "GET":
            answer = Answer(200, "OK", (("Content-Type", "application/json; charset=utf-8"),), responder.metadata)
            self._send(answer)
            self._log(answer, "")
            return
        if self.command == "POST" and is_token_path(path):
            self._token(path, body)
            return
        if path != EWS_PATH.lower():
            self._send(Answer(404, "Not Found", (("Content-Type", "text/plain"),), b"Not Found"))
            return
        exchange = HttpExchange(
            id=f"lab-serve:{number}",
            request=HttpRequest(
                method=self.command, target=self.path, version=self.request_version, headers=tuple(self.headers.items())
            ),
            response=None,
            time=datetime.now(UTC),
            provenance=Provenance(kind="lab", source="lab-serve"),
            client=Endpoint(self.client_address[0], self.client_address[1]),
            scheme=self.server.scheme,
        )
        result = responder.judge(exchange)
        answer = responder.ews(result)
        self._send(answer)
        self._log(answer, result.auth.scheme or "no Authorization")

    def _token(self, path: str, body: bytes) -> None:
        """The token-endpoint double: Entra's (or ACS's) answer to Exchange's token request."""
        lab = self.server.responder.lab
        registered = () if "sp-key-missing" in self.server.responder.options.faults else (lab.auth_cert,)
        token = answer_token_request(path, body, registered=registered, issuer_cert=lab.acs_cert, now=datetime.now(UTC))
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized"}.get(token.status, "")
        headers = (("Cache-Control", "no-store, no-cache"), ("Content-Type", "application/json; charset=utf-8"))
        answer = Answer(token.status, reason, headers, token.body, rules=(token.said,))
        self._send(answer)
        self._log(answer, "token request")

    def _send(self, answer: Answer, *, close: bool = False) -> None:
        self.send_response_only(answer.status, answer.reason)
        self.send_header("Server", self.version_string())
        self.send_header("request-id", str(uuid.uuid4()))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("X-FEServer", "EXCH01")
        self.send_header("X-Powered-By", "ASP.NET")
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def _log(self, answer: Answer, auth: str) -> None:
        log = self.server.log
        if log is None:
            return
        diagnostics = next((v for n, v in answer.headers if n == "x-ms-diagnostics"), "")
        why = f" [{', '.join(answer.rules)}]" if answer.rules else ""
        # Scheme and status only: never the credentials.
        log(
            f"{self.client_address[0]} {self.command} {self.path[:80]} ({auth[:20]}) -> {answer.status}"
            f"{' ' + diagnostics.split(';', 1)[0] if diagnostics else ''}{why}"
        )


@dataclass
class LabServer:
    """The lab server on a background thread: ``with LabServer(lab, ...) as server: server.url``."""

    lab: LabDir
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    options: ServerOptions = field(default_factory=ServerOptions)
    log: Callable[[str], None] | None = None
    _server: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> str:
        context: ssl.SSLContext | None = None
        if self.tls:
            if self.lab.tls_cert is None or self.lab.tls_key is None:
                raise ConfigError("HTTPS needs the lab's TLS certificate: prepare the folder with tls=True")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.lab.tls_cert, self.lab.tls_key)
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        server.responder = Responder(self.lab, self.options, started=datetime.now(UTC))
        server.tls = context
        server.scheme = "https" if self.tls else "http"
        server.log = self.log
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-serve", daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the lab server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tools such as mitmdump that cannot be told to pick one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
