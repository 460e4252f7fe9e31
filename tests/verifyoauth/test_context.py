"""What the checks are given (``gather``): the expected principals and realms, the certificate from --cert or the
bundle, and the trust built from both."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from inspector.lab.tokens import LAB_REALM
from inspector.policy import SFB_ONLINE
from inspector.verifyoauth.context import Request, gather, principal_guids
from inspector.verifyoauth.sources import BundleSource
from tests.verifyoauth.conftest import NOW, Material, write_json


def test_issuers_become_principal_guids_and_default_to_skype_online() -> None:
    whole = f"{SFB_ONLINE.upper()}@{LAB_REALM}"
    assert principal_guids((whole, SFB_ONLINE, "not-a-guid")) == (SFB_ONLINE,)
    assert principal_guids(()) == (SFB_ONLINE,)


def test_realms_are_the_given_ones_else_those_of_enabled_acs_auth_servers(
    healthy_bundle: dict[str, Any], tmp_path: Path
) -> None:
    bundle = BundleSource(write_json(tmp_path / "bundle.json", healthy_bundle))
    from_acs = gather(Request(exchange_source=bundle), NOW)
    assert (from_acs.realms, from_acs.realms_given) == (frozenset({LAB_REALM.lower()}), False)
    given = gather(Request(exchange_source=bundle, realms=(" Contoso.COM ", "")), NOW)
    assert (given.realms, given.realms_given) == (frozenset({"contoso.com"}), True)
    disabled = copy.deepcopy(healthy_bundle)
    for server in disabled["AuthServers"]:
        server["Enabled"] = False
    off = gather(Request(exchange_source=BundleSource(write_json(tmp_path / "off.json", disabled))), NOW)
    assert off.realms == frozenset()


def test_the_certificate_comes_from_cert_else_from_the_bundle(
    material: Material, cert_file: Path, healthy_bundle: dict[str, Any], tmp_path: Path
) -> None:
    bundle = BundleSource(write_json(tmp_path / "bundle.json", healthy_bundle))
    given = gather(Request(cert=cert_file), NOW)
    assert given.cert is not None and given.cert.value is not None
    assert given.cert.value.thumbprint == material.current.thumbprint
    assert [key.thumbprint for key in given.trust.keys] == [material.current.thumbprint]
    from_bundle = gather(Request(exchange_source=bundle), NOW)
    assert from_bundle.cert is not None and from_bundle.cert.value is not None
    assert from_bundle.cert.value.thumbprint == material.current.thumbprint
    assert gather(Request(), NOW).cert is None
