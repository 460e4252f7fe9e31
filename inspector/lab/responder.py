"""What the lab server answers: each EWS request judged by the engine with the server's own trust (its auth
certificate and the ACS metadata of its realm); healthy tokens get 200 and a SOAP answer, others 401 with
``error="invalid_token"`` and the ``x-ms-diagnostics`` Exchange would send (reference §3.3).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab import ntlm
from inspector.lab.certs import acs_metadata, exchange_metadata
from inspector.lab.diagnostics import ACCEPTED_WARNINGS, INVALID_SIGNATURE, rejection, ssl_offloading
from inspector.lab.folder import ACS_METADATA_FILE, AUTH_CERT_FILE, LabDir
from inspector.lab.scenarios import BASIC_PASSWORD, BASIC_USER, SOAP_RESPONSE, basic_challenge, bearer_challenge
from inspector.lab.token_endpoint import answer_token_request
from inspector.model import HttpExchange
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.trust import Trust, key_from_certificate, parse_metadata

FAULTS: dict[str, str] = {
    "ssl-offloading": "every token is refused as behind SSL offloading (2000003, http vs https)",
    "stale-metadata": "every token is refused as after a key roll Exchange has not fetched (2000000)",
}
"""Faults of the EWS side: healthy tokens refused."""
TOKEN_FAULTS: dict[str, str] = {
    "sp-key-missing": "the token endpoint double has no certificate registered: every assertion is refused "
    "(AADSTS700027 / ACS50012), as after an auth certificate renewal not uploaded to the service principal",
}
"""Faults of the token-endpoint double (the outbound leg)."""


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

    def token(self, path: str, body: bytes, now: datetime) -> Answer:
        """The token-endpoint double: Entra's (or ACS's) answer to Exchange's token request."""
        registered = () if "sp-key-missing" in self.options.faults else (self.lab.auth_cert,)
        token = answer_token_request(path, body, registered=registered, issuer_cert=self.lab.acs_cert, now=now)
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized"}.get(token.status, "")
        headers = (("Cache-Control", "no-store, no-cache"), ("Content-Type", "application/json; charset=utf-8"))
        return Answer(token.status, reason, headers, token.body, rules=(token.said,))

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
