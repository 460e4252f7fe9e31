"""``oauth-inspector proxy``: mitmproxy's own mitmdump (or mitmweb) with the addon loaded and the trust options set.

The addon script is the one inside the package (``inspector/live/mitm_script.py``), so an installed oauth-inspector
works without the repository. mitmproxy is taken from the same environment: the ``mitmdump`` script beside this
Python, else the one on ``PATH``, else this Python running mitmproxy's entry point.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from inspector.live import mitm_script
from inspector.model import ConfigError
from inspector.settings import TrustArguments, addon_arguments

EXTENDED_PROTECTION_WARNING = (
    "Exchange 2019 CU14 and later turn on Extended Protection by default: through a TLS-intercepting proxy, "
    "NTLM and Kerberos (Negotiate) to Exchange fail, because the channel binding no longer matches the TLS "
    "connection Exchange sees. OAuth keeps working. Failures of NTLM/Negotiate through the proxy are the proxy's "
    "doing, not a finding about the server."
)
CA_FOLDER = "~/.mitmproxy"


@dataclass(frozen=True, slots=True)
class ProxyPlan:
    argv: list[str]
    """The command to run, executable first."""
    banner: list[str]
    """What to tell the user before mitmproxy takes over the terminal."""


def mitmproxy_command(tool: str) -> list[str]:
    """How to start ``mitmdump`` or ``mitmweb`` from the environment this Python runs in."""
    folder = Path(sys.executable).parent
    for name in (tool, f"{tool}.exe"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(tool)
    if found:
        return [found]
    code = f"import sys; from mitmproxy.tools.main import {tool}; sys.exit({tool}())"
    return [sys.executable, "-c", code]


def script_path() -> Path:
    return Path(mitm_script.__file__).resolve()


def reverse_spec(url: str) -> tuple[str, str]:
    """``(mode spec, upstream URL)`` for ``--reverse``; the URL must be http(s)://host[:port]."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--reverse must be an http:// or https:// URL such as https://exchange.contoso.com, not {url!r}"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ConfigError(f"--reverse {url!r} has a bad port") from exc
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"--reverse takes the server only (scheme, host, port), not a path: {url!r}")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    upstream = f"{parts.scheme}://{netloc}"
    return f"reverse:{upstream}", upstream


def _set(name: str, value: str) -> list[str]:
    return ["--set", f"{name}={value}"]


def addon_options(trust: TrustArguments, report: Path | None) -> list[str]:
    """``--set oauth_*=...`` for the trust options (paths made absolute, so the folder mitmproxy runs in is moot)."""
    out: list[str] = []
    for name, value in addon_arguments(trust):
        out += _set(name, value)
    if report is not None:
        append, path = report_target(report)
        out += _set("oauth_report", ("+" if append else "") + str(path))
    return out


def report_target(report: Path) -> tuple[bool, Path]:
    """Whether the report is appended to (``+FILE``, as the addon's ``oauth_report`` reads it), and its absolute
    path."""
    text = str(report)
    append = text.startswith("+")
    return append, Path(text[1:] if append else text).expanduser().resolve()


def selection_sets(chosen: dict[str, tuple[str, ...]], severity: str | None) -> list[str]:
    """``--set`` for what the report keeps (``--rule``, ``--host``, ``--client``, ``--ignore``, ``--severity``): the
    addon's ``oauth_rule``... options, one ``--set`` per value (mitmproxy appends to a sequence option)."""
    from inspector.live.options import SELECTION, SEVERITY

    out: list[str] = []
    for name, param, _ in SELECTION:
        for value in chosen.get(param, ()):
            out += _set(name, value)
    if severity is not None:
        out += _set(SEVERITY, severity)
    return out


def build_plan(
    *,
    reverse: str | None,
    listen_host: str,
    listen_port: int,
    web: bool,
    trust: TrustArguments,
    report: Path | None,
    mitmproxy_args: Sequence[str] = (),
) -> ProxyPlan:
    tool = "mitmweb" if web else "mitmdump"
    argv = [*mitmproxy_command(tool), "-s", str(script_path())]
    argv += ["--listen-host", listen_host, "--listen-port", str(listen_port)]
    shown_host = f"[{listen_host}]" if ":" in listen_host else listen_host
    banner = []
    if reverse is not None:
        mode, upstream = reverse_spec(reverse)
        # Exchange checks a token's audience against the Host it receives, and so does the addon: keep the client's.
        argv += ["--mode", mode, *_set("keep_host_header", "true")]
        scheme = urlsplit(upstream).scheme
        banner += [
            f"oauth-inspector proxy: {tool} as a reverse proxy in front of {upstream}",
            f"  Address:       {scheme}://{shown_host}:{listen_port}/ "
            "(mitmproxy says 'proxy listening' once it is open)",
            f"  Point clients: at {scheme}://{shown_host}:{listen_port}/ instead of {upstream}/ (e.g. a hosts-file",
            "                 entry for the Exchange name on the client). The Host header the client sends is kept",
            "                 (keep_host_header), so Exchange and the inspector check token audiences against the",
            "                 name the client addressed, not the proxy's.",
        ]
    else:
        banner += [
            f"oauth-inspector proxy: {tool} as an HTTP(S) proxy",
            f"  Address:       {shown_host}:{listen_port} (mitmproxy says 'proxy listening' once it is open)",
            f"  Point clients: set the client's HTTP and HTTPS proxy to http://{shown_host}:{listen_port}",
        ]
    if listen_host in ("127.0.0.1", "::1", "localhost"):
        banner.append("                 (loopback only; --listen-host 0.0.0.0 accepts other machines)")
    if web:
        banner.append(
            "  Web UI:        mitmweb prints its address with a login token (default http://127.0.0.1:8081/); "
            "flows are marked, and oauth.inspect @focus in its command bar shows the decoded tokens"
        )
    banner += [
        f"  mitmproxy CA:  {CA_FOLDER}/mitmproxy-ca-cert.pem (mitmproxy-ca-cert.cer for Windows); HTTPS clients must",
        "                 trust it (it is created on the first start; --set confdir=... moves it)",
        f"  Report:        {report}" if report is not None else "  Report:        none (--report FILE writes JSONL)",
        "  Findings are logged as they happen; Ctrl-C stops and prints the summary.",
        f"  Warning:       {EXTENDED_PROTECTION_WARNING}",
    ]
    argv += addon_options(trust, report)
    argv += list(mitmproxy_args)
    return ProxyPlan(argv, banner)


def check_port_free(host: str, port: int) -> None:
    """Refuse, in the project's words, an address mitmproxy could not listen on (it would say so in its log and
    exit 1). Bound the way mitmproxy binds (SO_REUSEADDR), so a port in TIME_WAIT is not called busy."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--listen-host {host!r} is not an address of this machine: {exc.strerror}") from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                shown = f"[{address[0]}]:{port}" if family == socket.AF_INET6 else f"{address[0]}:{port}"
                if exc.errno == errno.EADDRINUSE:
                    raise ConfigError(
                        f"Cannot listen on {shown}: the port is in use (another proxy, or an earlier run still "
                        f"going?); choose another with --listen-port"
                    ) from None
                raise ConfigError(f"Cannot listen on {shown}: {exc.strerror or exc}") from None


def launch(argv: Sequence[str]) -> int:
    """Run mitmproxy in this process's place (POSIX) or as a child whose exit code is returned."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], list(argv))  # noqa: S606  (the executable is mitmproxy from this environment)
    try:
        return subprocess.call(list(argv))
    except KeyboardInterrupt:  # mitmproxy got the Ctrl-C too and shuts down on its own
        return 130
