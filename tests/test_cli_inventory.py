"""The trust inventory through the command line: every source, every format, the rules it judges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import unsigned_jwt
from tests.test_cli import EXPECTED, SAMPLES, TRUST, invoke, lab_sample

SFB = "00000004-0000-0ff1-ce00-000000000000"


def _document(path: Path, *extra: str) -> dict[str, Any]:
    _, out, _ = invoke("analyze", str(path), *TRUST, "--format", "json", *extra)
    document: dict[str, Any] = json.loads(out)
    return document


def _without_ids(inventory: dict[str, Any]) -> dict[str, Any]:
    for entry in (*inventory["signers"], *inventory["challenges"]):
        entry.pop("first_exchange")
    return inventory


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng", "lab.saz"])
def test_every_source_gives_the_same_inventory(name: str, tmp_path: Path) -> None:
    inventory = _without_ids(_document(lab_sample(name, tmp_path))["inventory"])
    assert inventory == _without_ids(_document(SAMPLES / "lab.har")["inventory"])
    healthy = inventory["signers"][0]
    assert healthy["issuer"] == f"{SFB}@{EXPECTED['realm']}"
    assert healthy["hosts"] == [EXPECTED["host"]]
    assert healthy["fe_servers"] == ["EXCH01"]
    assert healthy["signatures"]["valid"] >= 1 and healthy["statuses"]["200"] >= 1
    # 18 Bearer requests: all but the empty probe and the undecodable token name a signer
    assert sum(s["exchanges"] for s in inventory["signers"]) == 16
    (challenge,) = inventory["challenges"]
    assert challenge["trusted_issuers"] == [
        f"00000001-0000-0000-c000-000000000000@{EXPECTED['realm']}",
        f"{SFB}@{EXPECTED['realm']}",
    ]
    assert challenge["authorization_uri"]


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng", "lab.saz"])
def test_the_samples_wrong_issuers_are_not_trusted_by_the_server(name: str, tmp_path: Path) -> None:
    document = _document(lab_sample(name, tmp_path))
    run_level = [(f["rule"], f["evidence"]["issuer"]) for f in document["findings"] if f["exchange"] is None]
    assert sorted(run_level) == [
        ("issuer-not-trusted-by-server", "00000003-0000-0ff1-ce00-000000000000@" + EXPECTED["realm"]),
        ("issuer-not-trusted-by-server", f"{SFB}@00c118a9-2de9-41d3-b39a-81648a7a5e4d"),
    ]
    assert document["summary"]["rules"]["issuer-not-trusted-by-server"] == 2


def test_parallel_workers_merge_their_inventories() -> None:
    inputs = [str(SAMPLES / "lab.har"), str(SAMPLES / "lab.mitm")]
    one = json.loads(invoke("analyze", *inputs, *TRUST, "--format", "json", "--jobs", "1")[1])
    two = json.loads(invoke("analyze", *inputs, *TRUST, "--format", "json", "--jobs", "2")[1])
    assert one["inventory"] == two["inventory"]
    assert (
        one["inventory"]["signers"][0]["exchanges"]
        == 2 * _document(SAMPLES / "lab.har")["inventory"]["signers"][0]["exchanges"]
    )


def test_table_jsonl_and_sarif_carry_the_inventory() -> None:
    _, table, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST)
    assert "Trust inventory: who signed tokens for whom" in table
    assert "trusted_issuers:" in table and "Bearer challenges (what each server trusts)" in table
    _, lines, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "jsonl")
    records = [json.loads(line) for line in lines.splitlines()]
    assert [r["type"] for r in records[-2:]] == ["inventory", "summary"]
    _, sarif, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "sarif")
    properties = json.loads(sarif)["runs"][0]["properties"]
    assert properties["inventory"]["signers"][0]["issuer"] == f"{SFB}@{EXPECTED['realm']}"


def test_hostile_wire_text_in_the_inventory_is_inert(tmp_path: Path) -> None:
    from inspector.lab.writers import write_har
    from tests.builders import exchange

    issuer = f"{SFB}@\x1b]0;pwned\x07[bold red]evil[/bold red]"
    token = unsigned_jwt({"iss": issuer, "aud": f"00000002-0000-0ff1-ce00-000000000000/h@{issuer}"})
    challenge = 'Bearer client_id="\x1b[31m", trusted_issuers="[link=x]y"'
    hostile = exchange(f"Bearer {token}", status=401, response_headers=(("WWW-Authenticate", challenge),))
    path = write_har([hostile], tmp_path / "hostile.har")
    _, out, _ = invoke("analyze", str(path))
    assert "Trust inventory" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold red]evil[/bold red]" in out  # shown literally, not interpreted as markup
    assert "[link=x]y" in out


@pytest.mark.parametrize("kind", ["har", "mitm", "pcapng", "saz"])
def test_a_fleet_with_one_stale_server_through_every_source(kind: str, tmp_path: Path, lab_kit) -> None:  # type: ignore[no-untyped-def]
    """Healthy tokens accepted by two back-end servers and refused by a third, whose challenge (like the others')
    lacks authorization_uri: both rules come out of every kind of input."""
    from inspector.lab.certs import write_cer
    from inspector.lab.pcap_writer import write_lab_pcapng
    from inspector.lab.saz_writer import write_saz
    from inspector.lab.writers import write_flows, write_har
    from tests.builders import exchange

    value = f"Bearer {lab_kit.healthy_user().value}"
    challenge = f'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="{SFB}@{lab_kit.realm}"'
    items = []
    for n, (backend, status) in enumerate([("BE1", 200), ("BE2", 401), ("BE3", 200), ("BE2", 401), ("BE1", 200)]):
        headers = [("X-FEServer", "FE1"), ("X-BEServer", backend), ("Content-Length", "0")]
        if status == 401:
            headers.insert(0, ("WWW-Authenticate", challenge))
        items.append(exchange(value, status=status, response_headers=tuple(headers), after=n))
    path = tmp_path / f"fleet.{kind}"
    {"har": write_har, "mitm": write_flows, "pcapng": write_lab_pcapng, "saz": write_saz}[kind](items, path)
    cert = write_cer(tmp_path / "OAuthCert.cer", lab_kit.auth_cert)
    code, out, err = invoke(
        "analyze", str(path), "--cert", str(cert), "--realm", lab_kit.realm, "--format", "json", "--fail-on", "never"
    )
    assert code == 0, err
    document = json.loads(out)
    run_level = {f["rule"]: f for f in document["findings"] if f["exchange"] is None}
    assert set(run_level) == {"rejections-concentrated", "authorization-uri-missing"}
    assert run_level["rejections-concentrated"]["evidence"]["server"] == "BE2"
    assert run_level["rejections-concentrated"]["evidence"]["accepted_by"] == ["BE1", "BE3"]
    (signer,) = document["inventory"]["signers"]
    assert signer["be_servers"] == ["BE1", "BE2", "BE3"] and signer["statuses"] == {"200": 3, "401": 2}
