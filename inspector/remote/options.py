"""The remoting and Microsoft Graph options of ``verify-oauth`` and ``provision apply`` turned into settings, checked
before anything is contacted (a bad value is a usage error, not a failure halfway). Passwords come from the
environment or a prompt, never from options.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from inspector.model import ConfigError
from inspector.remote.graph import DELEGATED_SCOPE, GraphSettings, certificate_credential
from inspector.remote.http import DEFAULT_TIMEOUT, TlsOptions
from inspector.remote.psrp import PsrpSettings

PSRP_PASSWORD_ENV = "VERIFY_OAUTH_PSRP_PASSWORD"  # noqa: S105 - the name of a variable, not a password
GRAPH_CERT_PASSWORD_ENV = "VERIFY_OAUTH_GRAPH_CERT_PASSWORD"  # noqa: S105

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(1, 300),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds for each network request.",
)


def tls_options(*, insecure: bool, ca_bundle: Path | None) -> TlsOptions:
    if insecure and ca_bundle:
        raise ConfigError("give either --ca-bundle or --insecure, not both")
    tls = TlsOptions(verify=not insecure, ca_bundle=ca_bundle)
    tls.context()  # an unreadable CA bundle is a usage error now, not a probe failure later
    return tls


def psrp_password(username: str | None) -> str | None:
    """``--psrp-user``'s password: from the environment, else asked for on the terminal (not echoed)."""
    if not username:
        return None
    password = os.environ.get(PSRP_PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise ConfigError(f"--psrp-user needs a password: set {PSRP_PASSWORD_ENV} (no terminal to prompt on)")
    value: str = click.prompt(f"Password for {username}", hide_input=True, err=True)
    return value


def psrp_settings(url: str, auth: str, user: str | None, *, tls: TlsOptions, timeout: float) -> PsrpSettings:
    settings = PsrpSettings(url, auth, user, psrp_password(user), tls=tls, timeout=timeout)
    settings.wsman_arguments()  # validates URL and auth now: a usage error, before anything runs
    return settings


def graph_settings(
    *,
    tenant: str,
    cloud: str,
    client_id: str,
    certificate: Path | None,
    timeout: float,
    ca_bundle: Path | None,
    delegated_scope: str = DELEGATED_SCOPE,
) -> GraphSettings:
    """The Graph sign-in; with ``--graph-cert``, the file is read now (a bad one is a usage error)."""
    settings = GraphSettings(
        tenant=tenant,
        cloud=cloud,
        client_id=client_id,
        certificate=certificate,
        certificate_password=os.environ.get(GRAPH_CERT_PASSWORD_ENV),
        timeout=timeout,
        ca_bundle=ca_bundle,
        delegated_scope=delegated_scope,
    )
    if certificate is not None:
        certificate_credential(certificate, settings.certificate_password)
    return settings
