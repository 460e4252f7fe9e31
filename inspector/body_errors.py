"""Errors inside answer bodies: EWS/Autodiscover SOAP errors (often in HTTP 200) and SharePoint/Teams JSON errors.

The SOAP side is a bounded scan with regular expressions, not an XML parser: the body is a prefix of at most
``BODY_KEEP_LIMIT`` bytes that a parser would reject as truncated, the input is hostile (an XML parser must be
kept from expanding entities: a scan never defines or expands any), and every pattern is linear (no nested
quantifiers, bounded element heads), so a 64 KiB body costs one pass. Only the standard five entities and
character references are decoded in the values shown (``html.unescape``, which expands nothing user-defined).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from inspector.bodies import body_text, kept_body, media_type
from inspector.frozen import pickled_by_constructor
from inspector.model import Headers, HttpExchange
from inspector.ms_diagnostics import lookup
from inspector.rules import Finding, finding
from inspector.token_errors import KNOWN_TOKEN_ERRORS, error_codes

MAX_ERRORS = 8
"""Errors reported per body (a batch answer can hold hundreds of the same)."""
MAX_VALUE = 512
MAX_CANDIDATES = 24
"""Places each pattern examines per body: repeats of one error (or a body built to look like many) cost no more."""
_WINDOW = 4096
"""How far after an error element's start its code and text are looked for."""


@dataclass(frozen=True, slots=True)
class KnownBodyError:
    meaning: str
    remedy: str


_OAUTH_NEXT_HOP = KnownBodyError(
    "Exchange passed the request on (free/busy, MailTips, cross-premises EWS) and the next hop refused the OAuth "
    "token Exchange presented: the failure is on Exchange's outbound leg, not in this request.",
    "Run `Test-OAuthConnectivity -Service EWS -TargetUri <the other side's EWS URL> -Mailbox <mailbox> -Verbose` "
    "on this server; capture the outbound leg (the forward-proxy recipe) to see the token request and the 401's "
    "x-ms-diagnostics; check the auth certificate is published to the service principal.",
)
_TOKEN_FAILED = KnownBodyError(
    "Exchange could not get a token from its auth server (Entra/ACS) for the outbound call; the codes quoted are "
    "explained with this finding.",
    "Fix the token request failure (usually the auth certificate missing on the service principal: provision "
    "step 5), then retry; `Test-OAuthConnectivity` shows the same error.",
)

KNOWN_RESPONSE_CODES: Mapping[str, KnownBodyError] = MappingProxyType(
    {
        "ErrorProxyRequestProcessingFailed": KnownBodyError(
            "Exchange could not complete the request it proxied to another server or organisation (the "
            "cross-premises free/busy and EWS path); with OAuth this is usually the next hop refusing the token.",
            _OAUTH_NEXT_HOP.remedy,
        ),
        "ErrorServerBusy": KnownBodyError(
            "The server throttled the caller. After OAuth failures this follows retry storms of the failing "
            "client, not real load.",
            "Fix the OAuth failure that makes the client retry (look for token-request-failed and bearer-rejected "
            "findings before this one); check `Get-ThrottlingPolicy` only when OAuth is healthy.",
        ),
        "ErrorAccessDenied": KnownBodyError(
            "The caller is authenticated but not allowed: with S2S OAuth, the partner application or its linked "
            "account lacks the management role (e.g. UserApplication) for this call.",
            "`Get-PartnerApplication | fl Name,Enabled,LinkedAccount` and the roles of the linked account; re-run "
            "the Hybrid Configuration Wizard or the seed's step for the partner application.",
        ),
        "ErrorAvailabilityConfigNotFound": KnownBodyError(
            "No availability configuration (free/busy sharing) exists for the requested organisation.",
            "Check `Get-OrganizationRelationship`/`Get-IntraOrganizationConnector` (Enabled, TargetAddressDomains, "
            "TargetSharingEpr) and `Get-AvailabilityConfig`.",
        ),
        "ErrorNonExistentMailbox": KnownBodyError(
            "The mailbox the request (or the token's user context) names does not exist on this side.",
            "Check the user is synchronised as a mailbox or mail user where the request is served (`Get-Recipient`).",
        ),
        "ErrorConnectionFailed": KnownBodyError(
            "Exchange could not connect to the server it had to reach for this request.",
            "Check the outbound connectivity (proxy: `Get-ExchangeServer | fl InternetWebProxy`), DNS and the "
            "target URL of the organization relationship or connector.",
        ),
    }
)
_KNOWN_TEXTS: tuple[tuple[str, KnownBodyError], ...] = (
    ("(401) unauthorized", _OAUTH_NEXT_HOP),
    ("unable to get token from auth server", _TOKEN_FAILED),
)

# The patterns that walk the whole body start with a literal (the engine skips to it), and element heads are
# bounded ({0,512}): no pattern here can backtrack badly, and a body of "<" characters costs one quick pass.
_EWS_ERROR = re.compile(r"ResponseClass\s*=\s*[\"']Error[\"']")
_FAULT = re.compile(r"Fault\b")
_FAULT_HEAD = re.compile(r"<(?:[\w.-]{1,32}:)?$")
_AUTODISCOVER_ERROR = re.compile(r"ErrorCode\s*>\s*([^<]{1,128})<")


def _element(name: str) -> re.Pattern[str]:
    return re.compile(rf"<(?:[\w.-]{{1,32}}:)?{name}\b[^<>]{{0,512}}>([^<]{{0,{MAX_VALUE * 4}}})<")


_RESPONSE_CODE = _element("ResponseCode")
_MESSAGE_TEXT = _element("MessageText")
_FAULT_CODE = re.compile(r"<(?:[\w.-]{1,32}:)?(?:faultcode|Value)\b[^<>]{0,512}>([^<]{0,512})<")
_FAULT_STRING = re.compile(r"<(?:[\w.-]{1,32}:)?(?:faultstring|Text)\b[^<>]{0,512}>([^<]{0,2048})<")
_MESSAGE = _element("(?:ErrorMessage|Message)")
_S2S_CODE = re.compile(r"(?<![0-9])([2-5]00[0-9]{4})(?![0-9])")


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class BodyError:
    kind: Final[str]
    """``ews``, ``soap-fault``, ``autodiscover`` or ``json``."""
    code: Final[str | None]
    text: Final[str | None]

    def __init__(self, kind: str, code: str | None, text: str | None) -> None:
        self.kind = kind
        self.code = code
        self.text = text


def _value(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = html.unescape(raw).strip()
    return value[:MAX_VALUE] or None


def _search(pattern: re.Pattern[str], text: str, start: int) -> str | None:
    match = pattern.search(text, start, start + _WINDOW)
    return _value(match.group(1)) if match else None


def soap_errors(text: str) -> list[BodyError]:
    """EWS ``ResponseClass="Error"`` messages, SOAP faults and Autodiscover error codes in ``text``."""
    if "Error" not in text and "Fault" not in text:  # every pattern below holds one of them: most answers end here
        return []
    found: list[BodyError] = []
    seen: set[tuple[str, str | None, str | None]] = set()

    def add(kind: str, code: str | None, message: str | None) -> bool:
        key = (kind, code, message)
        if key not in seen:
            seen.add(key)
            found.append(BodyError(kind, code, message))
        return len(found) >= MAX_ERRORS

    for match in itertools.islice(_EWS_ERROR.finditer(text), MAX_CANDIDATES):
        if add("ews", _search(_RESPONSE_CODE, text, match.end()), _search(_MESSAGE_TEXT, text, match.end())):
            return found
    for match in itertools.islice(_FAULT.finditer(text), MAX_CANDIDATES):
        if not _FAULT_HEAD.search(text, max(0, match.start() - 34), match.start()):
            continue  # not an opening <Fault> or <prefix:Fault> element (a closing tag, text, another name)
        start = match.end()
        code = _search(_RESPONSE_CODE, text, start) or _search(_FAULT_CODE, text, start)
        message = _search(_MESSAGE, text, start) or _search(_FAULT_STRING, text, start)
        if add("soap-fault", code, message):
            return found
    for match in itertools.islice(_AUTODISCOVER_ERROR.finditer(text), MAX_CANDIDATES):
        code = _value(match.group(1))
        if code is None or code == "NoError":
            continue
        if add("autodiscover", code, _search(_MESSAGE, text, match.end())):
            return found
    return found


def _json_message(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("value", "message", "error_description"):
            inner = value.get(key)
            text = _json_message(inner) if isinstance(inner, (str, dict)) else None
            if text:
                return text
    return None


def json_errors(text: str, status: int) -> list[BodyError]:
    """A SharePoint/Teams JSON error: kept when it names an S2S code, or answers 401/403 with an error object."""
    try:
        document: Any = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if not isinstance(document, dict):
        return []
    error = document.get("error")
    code: str | None = None
    message = _json_message(document.get("error_description"))
    if isinstance(error, dict):
        raw_code = error.get("code")
        code = str(raw_code)[:MAX_VALUE] if isinstance(raw_code, (str, int)) else None
        message = message or _json_message(error.get("message"))
    elif isinstance(error, str):
        code = error[:MAX_VALUE]
    if code is None and message is None:
        return []
    s2s = _S2S_CODE.search(f"{code or ''} {message or ''}")
    if s2s is None and status not in (401, 403):
        return []
    return [BodyError("json", code, message[:MAX_VALUE] if message else None)]


def _explain(item: BodyError) -> dict[str, object]:
    data: dict[str, object] = {"kind": item.kind, "code": item.code, "message": item.text}
    known: KnownBodyError | None = KNOWN_RESPONSE_CODES.get(item.code or "")
    lowered = (item.text or "").lower()
    if known is None:
        known = next((k for fragment, k in _KNOWN_TEXTS if fragment in lowered), None)
    s2s = _S2S_CODE.search(f"{item.code or ''} {item.text or ''}") if item.kind == "json" else None
    if known is None and s2s is not None:
        # The x-ms-diagnostics knowledge base: SharePoint and Exchange put the same codes in JSON bodies.
        number = int(s2s.group(1))
        diagnostic = lookup(number, item.text, None)
        if diagnostic is not None:
            data["s2s_code"] = number
            known = KnownBodyError(diagnostic.meaning, diagnostic.remedy)
    if known is not None:
        data["meaning"] = known.meaning
        data["remedy"] = known.remedy
    codes = error_codes(item.text or "")
    if codes:
        data["token_errors"] = [
            {"code": c, "meaning": KNOWN_TOKEN_ERRORS[c].meaning, "remedy": KNOWN_TOKEN_ERRORS[c].remedy}
            if c in KNOWN_TOKEN_ERRORS
            else {"code": c}
            for c in codes
        ]
    return data


_OPERATION = re.compile(r"<(?:[\w.-]{1,32}:)?(\w{1,64})Response[\s>]")
_FREE_BUSY = frozenset({"GetUserAvailability"})


def operation_of(text: str) -> str | None:
    """The EWS/Autodiscover operation a SOAP answer belongs to (``GetUserAvailability`` for free/busy)."""
    match = _OPERATION.search(text, 0, 8192)
    return match.group(1) if match else None


def errors_in(status: int, headers: Headers, body: bytes | None) -> list[BodyError]:
    """The errors a kept answer body holds (SOAP for XML media types, JSON errors for JSON ones)."""
    if not body:
        return []
    kind = media_type(headers) or ""
    if kind.endswith("xml"):
        return soap_errors(body_text(body))
    if kind.endswith("json"):
        return json_errors(body_text(body), status)
    return []


def body_error_findings(exchange: HttpExchange) -> list[Finding]:
    """The ``response-error-in-body`` finding of an answer whose kept body holds errors (none otherwise)."""
    response = exchange.response
    if response is None:
        return []
    errors = errors_in(response.status, response.headers, response.body)
    if not errors:
        return []
    explained = [_explain(e) for e in errors]
    first = explained[0]
    code, text = first.get("code"), first.get("message")
    what = f'{code} ("{text}")' if code and text else str(code or text or "an error")
    evidence: dict[str, object] = {"status": response.status, "errors": explained}
    operation = operation_of(body_text(response.body or b"")) if first["kind"] != "json" else None
    where = ""
    if operation is not None:
        evidence["operation"] = operation
        where = f" {operation} (free/busy)" if operation in _FREE_BUSY else f" {operation}"
    message = f"HTTP {response.status}{where} from {exchange.host or '?'} carries {what}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    if "meaning" in first:
        message += f": {first['meaning']}"
    return [finding("response-error-in-body", message, exchange.id, **evidence)]


def raw_answer_has_error(status: int, headers: Headers, raw: bytes | None) -> bool:
    """Whether an answer as captured (content coding not yet undone) holds an error this module reports: the
    live proxy's repeat path asks before publishing a flow as a repeat of a clean one."""
    return bool(errors_in(status, headers, kept_body(headers, raw)))


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (KnownBodyError, BodyError):
    pickled_by_constructor(_cls)
