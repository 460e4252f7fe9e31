"""Headless Chromium (the Debian package) run on a report from disk, as the browser test, the benchmark and the
docs screenshot use it: a screenshot, the DOM after the page's script ran, the console, and every request the
browser tried to make.

Requests: the browser is given a proxy on a loopback socket this module listens on, and every host name resolves
to it, so nothing can leave the machine and every attempt is recorded. Chromium's own housekeeping (component
updates, sign-in) still knocks despite the flags that switch most of it off; those hosts are listed in
``HOUSEKEEPING`` and reported apart, never confused with a request the page made.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOUSEKEEPING = ("update.googleapis.com", "accounts.google.com", "clients2.google.com", "optimizationguide-pa")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-pings",
    "--disable-breakpad",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
    "--hide-scrollbars",
)


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or ``None``."""
    if not Path(CHROMIUM).exists():
        return "headless Chromium is not installed (apt-get install chromium)"
    return None


@dataclass
class Trap:
    """A loopback listener that records the first bytes of every connection made to it."""

    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        """A request's first bytes. A connection that closes without a byte is Chromium's preconnect to its proxy (a
        socket opened ahead of a navigation that never comes, closed when the browser exits), not a request: under
        load one was recorded as an empty "request" and failed the offline test."""
        with conn:
            conn.settimeout(60)
            try:
                first = conn.recv(300)
            except OSError:
                first = b"(a connection that sent nothing for 60 s)"
            if first:
                self.seen.append(first.decode("latin-1"))

    def close(self) -> None:
        self._socket.close()

    def page_requests(self) -> list[str]:
        return [line for line in self.seen if not any(host in line for host in HOUSEKEEPING)]


@dataclass
class Visit:
    dom: str
    console: list[str]
    """Console lines (messages, uncaught errors, policy violations) the page produced."""
    requests: list[str]
    """Requests the page made (the browser's housekeeping left out)."""
    seconds: float
    """Wall time of the browser run that dumped the DOM (start-up and the DOM's serialisation included)."""
    screenshot_seconds: float | None = None
    """Wall time of the browser run that took the screenshot (start-up, load, the first page drawn)."""


def _run(
    report: Path, trap: Trap, extra: list[str], timeout: float, fragment: str = ""
) -> tuple[subprocess.CompletedProcess[str], float]:
    with tempfile.TemporaryDirectory(prefix="oauth-inspector-chromium-") as profile:
        command = [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{trap.port}",
            "--proxy-bypass-list=<-loopback>",
            f"--host-resolver-rules=MAP * 127.0.0.1:{trap.port}",
            *extra,
            report.resolve().as_uri() + fragment,
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        return done, time.perf_counter() - start


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def visit(
    report: Path, *, screenshot: Path | None = None, size: str = "1280,2400", timeout: float = 120, fragment: str = ""
) -> Visit:
    trap = Trap()
    try:
        # The virtual time budget lets the page's promises (block inflation) settle before the dump.
        budget = "--virtual-time-budget=30000"
        done, seconds = _run(report, trap, [f"--window-size={size}", budget, "--dump-dom"], timeout, fragment)
        console = _console(done.stderr)
        shot_seconds = None
        if screenshot is not None:
            shot, shot_seconds = _run(
                report, trap, [f"--window-size={size}", budget, f"--screenshot={screenshot}"], timeout
            )
            console += _console(shot.stderr)
        time.sleep(0.2)  # a connection made just before exit is accepted by now
        return Visit(done.stdout, console, trap.page_requests(), seconds, shot_seconds)
    finally:
        trap.close()
