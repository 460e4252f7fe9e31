"""Shared material for the verify-oauth tests: certificates made once per session (RSA key generation is the slow
part), the lab server, bundle/service-principal fixtures rendered for those certificates, and small servers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import LabCert, exchange_auth_cert, write_cer
from inspector.lab.folder import LabDir, prepare_lab_dir
from inspector.lab.responder import ServerOptions
from inspector.lab.server import LabServer
from inspector.lab.tokens import LAB_HOST, LAB_REALM
from inspector.verifyoauth.context import Context, Request, gather
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.runner import run_checks
from inspector.verifyoauth.sources import BundleSource, FileSource
from tests.doubles.loopback import Loopback
from tests.verifyoauth.captures import write_capture

DATA = Path(__file__).parent / "data"
NOW = datetime.now(UTC)
"""verify-oauth judges certificates at the wall clock, so the test certificates are made relative to it."""


@dataclass(frozen=True)
class Material:
    lab: LabDir
    next_cert: LabCert
    expired: LabCert
    expiring: LabCert
    weak: LabCert

    @property
    def current(self) -> LabCert:
        return self.lab.auth_cert


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    lab = prepare_lab_dir(tmp_path_factory.mktemp("lab"), realm=LAB_REALM, host=LAB_HOST, tls=True, now=NOW)
    return Material(
        lab=lab,
        next_cert=exchange_auth_cert(now=NOW),
        expired=exchange_auth_cert(now=NOW, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=5)),
        expiring=exchange_auth_cert(now=NOW, not_before=NOW - timedelta(days=300), not_after=NOW + timedelta(days=30)),
        weak=exchange_auth_cert(now=NOW, key_size=1024),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def placeholders(cert: LabCert, realm: str = LAB_REALM) -> dict[str, str]:
    digest = hashlib.sha1(cert.der, usedforsecurity=False).digest()
    start, end = cert.certificate.not_valid_before_utc, cert.certificate.not_valid_after_utc
    return {
        "@CURRENT@": cert.thumbprint,
        "@current_lower@": cert.thumbprint.lower(),
        "@CURRENT_B64@": base64.b64encode(digest).decode(),
        "@CURRENT_BYTES@": json.dumps(list(base64.b64decode(cert.thumbprint))),
        "@RAW@": base64.b64encode(cert.der).decode(),
        "@NOT_BEFORE@": _iso(start),
        "@NOT_AFTER@": _iso(end),
        "@NOT_BEFORE_MS@": str(int(start.timestamp() * 1000)),
        "@NOT_AFTER_MS@": str(int(end.timestamp() * 1000)),
        "@REALM@": realm,
    }


def render(name: str, cert: LabCert) -> Any:
    text = (DATA / name).read_text(encoding="utf-8")
    for key, value in placeholders(cert).items():
        text = text.replace(key, value)
    return json.loads(text)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def cert_file(material: Material, tmp_path: Path) -> Path:
    return write_cer(tmp_path / "OAuthCert.cer", material.current)


@pytest.fixture
def healthy_bundle(material: Material) -> dict[str, Any]:
    document: dict[str, Any] = render("bundle-healthy.json", material.current)
    return document


@pytest.fixture
def healthy_sp(material: Material) -> dict[str, Any]:
    document: dict[str, Any] = render("sp-graph-select.json", material.current)
    return document


@pytest.fixture(scope="session")
def lab_server(material: Material) -> Iterator[LabServer]:
    with LabServer(material.lab) as server:
        yield server


@pytest.fixture(scope="session")
def lab_server_basic(material: Material) -> Iterator[LabServer]:
    with LabServer(material.lab, options=ServerOptions(offer_basic=True)) as server:
        yield server


@pytest.fixture(scope="session")
def lab_tls_server(material: Material) -> Iterator[LabServer]:
    with LabServer(material.lab, tls=True) as server:
        yield server


def check_map(request: Request, now: datetime = NOW) -> dict[str, Check]:
    return {c.id: c for c in run_checks(gather(request, now))}


def context(request: Request, now: datetime = NOW) -> Context:
    return gather(request, now)


# --- a scripted server: fixed answers per path, for what the lab server does not do ---------------------------


Answer = tuple[int, tuple[tuple[str, str], ...], bytes]


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: _Scripted
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.server.answers.get(self.path.split("?", 1)[0], (404, (), b"Not Found"))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer


class _Scripted(ThreadingHTTPServer):
    daemon_threads = True
    answers: dict[str, Answer]


@pytest.fixture
def scripted() -> Iterator[_Scripted]:
    server = _Scripted(("127.0.0.1", 0), _ScriptedHandler)
    server.answers = {}
    with Loopback(server):
        yield server


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def full_request(
    material: Material,
    cert_file: Path,
    healthy_bundle: dict[str, Any],
    healthy_sp: dict[str, Any],
    lab_server: LabServer,
    tmp_path: Path,
) -> Callable[..., Request]:
    """A Request with every input, healthy unless a test mutates the bundle or SP JSON it passes."""

    def build(bundle: dict[str, Any] | None = None, sp: dict[str, Any] | None = None, **overrides: Any) -> Request:
        kit = material.lab.kit(NOW)
        fields: dict[str, Any] = {
            "cert": cert_file,
            "exchange_source": BundleSource(write_json(tmp_path / "bundle.json", bundle or healthy_bundle)),
            "sp_source": FileSource(write_json(tmp_path / "sp.json", sp or healthy_sp)),
            "exchange_url": lab_server.url,
            "captures": (write_capture(tmp_path / "s2s.har", kit, [kit.healthy_user(), kit.app_only()]),),
        }
        fields.update(overrides)
        return Request(**fields)

    return build
