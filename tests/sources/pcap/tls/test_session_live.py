"""Captures made here by real TLS stacks on 127.0.0.1 and read back with their key logs: every exchange the
clients made comes out, byte for byte the same HTTP messages tshark decrypts with the same keys."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from inspector.model import HttpExchange, Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import load_keylogs
from tests.sources.pcap.tls.live import (
    OP_NO_ENCRYPT_THEN_MAC,
    TOKEN,
    TSHARK_TLS,
    Client,
    Request,
    capture,
    client_context,
    s_client,
    server_context,
    tls_server,
    tshark,
    tshark_http,
    valid_cert,
)


def read(path: Path, keylog: Path | None) -> tuple[list[HttpExchange], list[Notice], list[TlsFacts]]:
    keys = load_keylogs([keylog]) if keylog is not None else None
    facts: list[TlsFacts] = []
    exchanges, notices = [], []
    for item in read_capture(path, keylog=keys, on_tls=facts.append):
        (exchanges if isinstance(item, HttpExchange) else notices).append(item)
    # Facts arrive as connections end, and a server may close its side of the first connection after the second
    # has run (the fresh-clone CI run saw it once): in the order of their ClientHellos, as the tests read them.
    facts.sort(key=lambda each: each.frame)
    return exchanges, notices, facts  # type: ignore[return-value]


def ours(exchanges: list[HttpExchange]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for exchange in exchanges:
        request = exchange.request
        out.append(("request", request.method, request.target, *(f"{n}: {v}" for n, v in request.headers)))
    for exchange in exchanges:
        response = exchange.response
        assert response is not None
        out.append(("response", str(response.status), *(f"{n}: {v}" for n, v in response.headers)))
    return out


def theirs(path: Path, keylog: Path | None) -> list[tuple[str, ...]]:
    messages = [
        tuple(part.removesuffix("\\r\\n").removesuffix("\r\n") for part in message)
        for message in tshark_http(path, keylog)
    ]
    return [m for m in messages if m[0] == "request"] + [m for m in messages if m[0] == "response"]


def check_against_tshark(path: Path, keylog: Path, exchanges: list[HttpExchange]) -> None:
    tshark()
    assert ours(exchanges) == theirs(path, keylog)


REQUESTS = [
    Request(),
    Request("POST", "/ews/exchange.asmx", body=b"<soap>" + b"b" * 20000 + b"</soap>", answer_size=30000, pieces=3),
    Request("GET", "/autodiscover/metadata/json/1", answer_size=100),
]

CASES_12 = {
    # suite family: OpenSSL cipher string, the IANA name, client options
    "ecdhe-aes128-gcm": ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0),
    "ecdhe-aes256-gcm": ("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0),
    "ecdhe-chacha20": ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0),
    "rsa-aes128-gcm": ("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", 0),
    "ecdhe-aes128-cbc-sha-etm": ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0),
    "ecdhe-aes128-cbc-sha-no-etm": (
        "ECDHE-RSA-AES128-SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        OP_NO_ENCRYPT_THEN_MAC,
    ),
    "rsa-aes256-cbc-sha256-no-etm": ("AES256-SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256", OP_NO_ENCRYPT_THEN_MAC),
    "rsa-aes128-cbc-sha256-etm": ("AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", 0),
    "ecdhe-aes256-cbc-sha384-etm": ("ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0),
    "ecdhe-aes256-cbc-sha384-no-etm": (
        "ECDHE-RSA-AES256-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        OP_NO_ENCRYPT_THEN_MAC,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES_12))
def test_tls12_suites_decrypt_like_tshark(case: str, tmp_path: Path) -> None:
    ciphers, iana, options = CASES_12[case]
    keylog = tmp_path / "keys.log"
    context = client_context(keylog, ciphers=ciphers, version=ssl.TLSVersion.TLSv1_2)
    context.options |= options
    server = server_context(valid_cert(tmp_path), ciphers=ciphers, tls13=False)
    with tls_server(server) as port, capture(tmp_path, port) as path:
        # A small segment size splits records across segments; the large POST spans many.
        statuses = Client(port, context, mss=600).run(REQUESTS)
    assert statuses == [200, 200, 200]
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [(e.request.method, e.request.target) for e in exchanges] == [(r.method, r.target) for r in REQUESTS]
    assert [e.request.header("authorization") for e in exchanges] == [f"{TOKEN}{i}" for i in range(3)]
    (only,) = facts
    assert only.status == "decrypted"
    assert only.version == "TLS 1.2"
    assert only.cipher == iana
    tls = exchanges[0].tls
    assert tls is not None and tls.decrypted_with == "keylog" and tls.sni == "localhost" and tls.version == "TLS 1.2"
    assert exchanges[0].scheme == "https"
    check_against_tshark(path, keylog, exchanges)
    # The record protection really was what the case name says: encrypt-then-MAC is agreed in the ServerHello.
    if "CBC" in iana:
        assert ("22" in _extensions_in_server_hello(path)) == (not options & OP_NO_ENCRYPT_THEN_MAC)


def _extensions_in_server_hello(path: Path) -> set[str]:
    command = [tshark(), "-n", "-r", str(path), *TSHARK_TLS]
    command += ["-Y", "tls.handshake.type == 2", "-T", "fields"]
    command += ["-e", "tls.handshake.extension.type"]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return {value for line in output.split() for value in line.split(",")}


def test_tls13_with_records_split_and_coalesced(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    context = client_context(keylog)
    with tls_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port) as path:
        client = Client(port, context, mss=536)
        first = client.run(REQUESTS)
        # Several records in one segment: the writes of each request held back by TCP_CORK.
        corked = Client(port, context, cork=True).run([Request(pieces=6), Request("POST", "/x", b"y" * 3000, pieces=8)])
    assert first == [200, 200, 200] and corked == [200, 200]
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert len(exchanges) == 5
    assert {f.version for f in facts} == {"TLS 1.3"}
    assert all(f.status == "decrypted" for f in facts)
    # TLS 1.3 encrypts the certificate: with the keys it is read from the decrypted handshake.
    assert all(f.certificates and f.certificates[0].subject == "CN=localhost" for f in facts)
    check_against_tshark(path, keylog, exchanges)


def test_tls12_and_tls13_resumption(tmp_path: Path) -> None:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        # tshark (the oracle) once decrypted none of a full-handshake connection that we read whole, on a loaded
        # CI run; it was not reproducible in 6 reruns. A capture where tshark read only part of what we read is
        # made again, once; any message that differs, or that only tshark read, still fails at once.
        for attempt in (1, 2):
            folder = tmp_path / f"{version.name}-{attempt}"
            folder.mkdir()
            keylog = folder / "keys.log"
            context = client_context(keylog, version=version)
            with tls_server(server_context(valid_cert(folder))) as port, capture(folder, port) as path:
                client = Client(port, context)
                client.run([Request()])
                client.run([Request(target="/resumed")], resume=True)
            exchanges, notices, facts = read(path, keylog)
            assert [n.rule for n in notices] == [], version
            assert [e.request.target for e in exchanges] == ["/", "/resumed"], version
            assert all(f.status == "decrypted" for f in facts)
            if version == ssl.TLSVersion.TLSv1_2:
                assert [f.resumed for f in facts] == [False, True]
            # A resumed handshake shows no certificate (1.2: abbreviated; 1.3: PSK, and it is encrypted anyway).
            assert facts[1].certificates == []
            tshark()
            mine, oracle = ours(exchanges), theirs(path, keylog)
            if attempt == 1 and oracle != mine and all(message in mine for message in oracle):
                continue
            assert mine == oracle
            break


def test_tls13_hello_retry_request(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    server = server_context(valid_cert(tmp_path))
    server.set_ecdh_curve("secp384r1")  # the client's first key share (X25519) is refused: a HelloRetryRequest
    with tls_server(server) as port, capture(tmp_path, port) as path:
        Client(port, client_context(keylog)).run([Request(target="/after-retry")])
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [e.request.target for e in exchanges] == ["/after-retry"]
    assert facts[0].retry
    check_against_tshark(path, keylog, exchanges)


@pytest.mark.parametrize("suite", ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"])
def test_tls13_suites_and_key_update_with_openssl(suite: str, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    request = b"GET /%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k%d\r\n\r\n"
    lines = [request % (b"before", 1), b"k\n", request % (b"after-update", 2), b"K\n", request % (b"after-both", 3)]
    with tls_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port) as path:
        said = s_client(port, keylog, ["-tls1_3", "-ciphersuites", suite], lines)
    assert "KEYUPDATE" in said, said[-2000:]
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [e.request.target for e in exchanges] == ["/before", "/after-update", "/after-both"]
    assert facts[0].cipher == suite
    check_against_tshark(path, keylog, exchanges)


def test_wrong_and_missing_keys_are_named(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    with tls_server(server_context(valid_cert(tmp_path), tls13=False)) as port, capture(tmp_path, port) as path:
        client = Client(port, client_context(keylog, version=ssl.TLSVersion.TLSv1_2))
        client.run([Request()])
        client.run([Request()])
    lines = [line for line in keylog.read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 2
    label, random, secret = lines[0].split()
    wrong = tmp_path / "wrong.log"
    wrong.write_text(f"{label} {random} {'00' * (len(secret) // 2)}\n")  # the first session's key, wrong
    exchanges, notices, _ = read(path, wrong)
    assert exchanges == []
    rules = sorted(n.rule for n in notices)
    assert rules == ["capture-encrypted", "tls-decrypt-failed"]
    failed = next(n for n in notices if n.rule == "tls-decrypt-failed")
    assert failed.evidence["client_random"] == random.lower()
    assert "wrong.log" in failed.message
    encrypted = next(n for n in notices if n.rule == "capture-encrypted")
    assert encrypted.evidence["missing_keys"] == 1
    assert encrypted.evidence["missing_client_randoms"] == [lines[1].split()[1].lower()]
    assert encrypted.evidence["snis"] == {"localhost": 2}
    assert encrypted.evidence["tls_connections"] == 2


def test_secrets_embedded_by_editcap_are_used(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    with tls_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port) as path:
        Client(port, client_context(keylog)).run([Request(target="/embedded")])
    embedded = tmp_path / "with-secrets.pcapng"
    try:
        subprocess.run(
            ["editcap", "--inject-secrets", f"tls,{keylog}", str(path), str(embedded)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip("editcap is not installed (apt-get install tshark)")
    exchanges, notices, _ = read(embedded, None)
    assert [n.rule for n in notices] == []
    assert [e.request.target for e in exchanges] == ["/embedded"]
    assert exchanges[0].tls is not None and exchanges[0].tls.decrypted_with == "dsb"
    # tshark reads the embedded secrets too, with no key log option.
    assert ours(exchanges) == theirs(embedded, None)
    # Frames are numbered as Wireshark numbers them (the secrets block is not a frame).
    command = [tshark(), "-n", "-r", str(embedded), *TSHARK_TLS, "-Y", "http.request"]
    command += ["-T", "fields", "-e", "frame.number"]
    frame = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert [str(exchanges[0].provenance.request_frames[0])] == frame


def test_a_capture_gap_stops_that_direction_and_nothing_is_invented(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    context = client_context(keylog, ciphers="ECDHE-RSA-AES128-GCM-SHA256", version=ssl.TLSVersion.TLSv1_2)
    requests = [Request(target="/first"), Request("POST", "/big", body=b"z" * 60000), Request(target="/after-gap")]
    with tls_server(server_context(valid_cert(tmp_path), tls13=False)) as port, capture(tmp_path, port) as path:
        Client(port, context, mss=1000).run(requests)
    # Drop the last large client segment: the end of the big POST's last record (its head, in the first
    # record, was read).
    command = [tshark(), "-n", "-r", str(path), "-Y", f"tcp.dstport == {port} && tcp.len > 900", "-T", "fields"]
    frames = subprocess.run([*command, "-e", "frame.number"], capture_output=True, text=True, check=True).stdout.split()
    assert len(frames) >= 3
    cut = tmp_path / "cut.pcap"
    subprocess.run(["editcap", str(path), str(cut), frames[-1]], check=True, capture_output=True)
    exchanges, notices, _ = read(cut, keylog)
    assert [e.request.target for e in exchanges] == ["/first", "/big"]
    assert exchanges[1].response is not None  # the server's direction is intact and still pairs
    gaps = [n for n in notices if n.rule == "capture-gap"]
    assert gaps and gaps[0].evidence["effect"] == "tls-stopped"
    assert gaps[0].evidence["direction"] == "client-to-server"


OP_NO_EXTENDED_MASTER_SECRET = 1 << 0
"""OpenSSL 3's SSL_OP_NO_EXTENDED_MASTER_SECRET (Python's ``ssl`` has no name for it)."""


@pytest.mark.parametrize(
    ("ciphers", "options"),
    [
        ("AES128-GCM-SHA256", 0),
        ("AES128-GCM-SHA256", OP_NO_EXTENDED_MASTER_SECRET),
        ("AES256-SHA256", 0),
    ],
)
def test_static_rsa_decrypts_with_the_server_key_like_tshark(ciphers: str, options: int, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from inspector.sources.pcap.tls.keylog import load_keys

    cert = valid_cert(tmp_path)
    context = client_context(tmp_path / "unused.log", ciphers=ciphers, version=ssl.TLSVersion.TLSv1_2)
    context.options |= options
    server = server_context(cert, ciphers=ciphers, tls13=False)
    with tls_server(server) as port, capture(tmp_path, port) as path:
        Client(port, context).run([Request(target="/rsa"), Request("POST", "/rsa2", body=b"q" * 5000)])
    ems = "23" in _extensions_in_server_hello(path)
    assert ems == (not options)
    # The PEM key, and the same key in a password-protected PFX, decrypt with no key log at all.
    key = serialization.load_pem_private_key(cert.key.read_bytes(), password=None)
    pfx = tmp_path / "server.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"server",
            key,
            None,
            None,
            serialization.BestAvailableEncryption(b"s3cret"),  # type: ignore[arg-type]
        )
    )
    for keys in (load_keys([], [cert.key]), load_keys([], [pfx], b"s3cret")):
        exchanges = [i for i in read_capture(path, keylog=keys) if isinstance(i, HttpExchange)]
        assert [e.request.target for e in exchanges] == ["/rsa", "/rsa2"]
        assert exchanges[0].tls is not None and exchanges[0].tls.decrypted_with == "server-key"
    # tshark with the same RSA key finds the same messages.
    command = [tshark(), "-n", "-r", str(path), "-o", f'uat:rsa_keys:"{cert.key}",""', "-Y", "http.request"]
    command += ["-o", "tcp.reassemble_out_of_order:TRUE"]  # as everywhere else: a busy loopback may reorder
    command += ["-T", "fields", "-e", "http.request.uri", "-e", "http.authorization"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    output = done.stdout
    assert [tuple(line.split("\t")) for line in output.splitlines()] == [
        (e.request.target, e.request.header("authorization") or "") for e in exchanges
    ], done.stderr[-1000:]


def test_a_server_key_for_another_certificate_is_not_used(tmp_path: Path) -> None:
    from inspector.sources.pcap.tls.keylog import load_keys

    other = tmp_path / "other"
    other.mkdir()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = other / "stranger.pem"
    stranger.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    context = client_context(tmp_path / "unused.log", ciphers="AES128-GCM-SHA256", version=ssl.TLSVersion.TLSv1_2)
    server = server_context(valid_cert(tmp_path), ciphers="AES128-GCM-SHA256", tls13=False)
    with tls_server(server) as port, capture(tmp_path, port) as path:
        Client(port, context).run([Request()])
    items = list(read_capture(path, keylog=load_keys([], [stranger])))
    assert not any(isinstance(i, HttpExchange) for i in items)
    (encrypted,) = [i for i in items if isinstance(i, Notice) and i.rule == "capture-encrypted"]
    assert encrypted.evidence["missing_keys"] == 1


def _reordered(source: Path, target: Path) -> int:
    """Write ``source`` (a classic pcap) with every second pair of adjacent data segments of one direction
    swapped; the number of swaps."""
    import struct

    data = source.read_bytes()
    header, records = data[:24], []
    off = 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        records.append(data[off : off + 16 + incl])
        off += 16 + incl

    def flow(record: bytes) -> tuple[bytes, int] | None:
        frame = record[16:]
        ip = frame[14:]
        if len(ip) < 40 or ip[9] != 6:
            return None
        tcp = ip[(ip[0] & 15) * 4 :]
        payload = len(ip) - (ip[0] & 15) * 4 - (tcp[12] >> 4) * 4
        return (ip[12:20] + tcp[:4], payload) if payload > 0 else None

    swaps = 0
    index = 0
    while index + 1 < len(records):
        first, second = flow(records[index]), flow(records[index + 1])
        if first and second and first[0] == second[0]:
            if swaps % 2 == 0:
                # Each slot keeps its timestamp; the packets (and their lengths) change places.
                a, b = records[index], records[index + 1]
                records[index] = a[:8] + struct.pack("<II", len(b) - 16, len(b) - 16) + b[16:]
                records[index + 1] = b[:8] + struct.pack("<II", len(a) - 16, len(a) - 16) + a[16:]
            swaps += 1
            index += 2
        else:
            index += 1
    target.write_bytes(header + b"".join(records))
    return swaps


def test_reordered_segments_decrypt_like_tshark(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    context = client_context(keylog, ciphers="ECDHE-RSA-AES256-SHA384", version=ssl.TLSVersion.TLSv1_2)
    server = server_context(valid_cert(tmp_path), ciphers="ECDHE-RSA-AES256-SHA384", tls13=False)
    with tls_server(server) as port, capture(tmp_path, port) as path:
        Client(port, context, mss=500).run(REQUESTS)
    shuffled = tmp_path / "reordered.pcap"
    assert _reordered(path, shuffled) >= 2
    exchanges, notices, _ = read(shuffled, keylog)
    assert [n.rule for n in notices] == []
    assert [(e.request.method, e.request.target) for e in exchanges] == [(r.method, r.target) for r in REQUESTS]
    check_against_tshark(shuffled, keylog, exchanges)


@pytest.mark.parametrize(
    ("cipher", "iana"),
    [
        ("DHE-RSA-AES128-GCM-SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("DHE-RSA-CHACHA20-POLY1305", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("DHE-RSA-AES256-SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    ],
)
def test_dhe_key_exchange_with_openssl_s_server(cipher: str, iana: str, tmp_path: Path) -> None:
    """DHE, which Python's ssl server does not offer without DH parameters: openssl s_server -WWW serves a file."""
    import socket
    import time

    from tests.sources.pcap.tls.live import openssl

    cert = valid_cert(tmp_path)
    (tmp_path / "page.txt").write_text("hello dhe\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keylog = tmp_path / "keys.log"
    command = [openssl(), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert.cert), "-key", str(cert.key)]
    command += ["-WWW", "-tls1_2", "-cipher", cipher, "-quiet"]
    with capture(tmp_path, port) as path:
        server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "openssl s_server did not listen"
                    time.sleep(0.1)
            context = client_context(keylog, ciphers=cipher, version=ssl.TLSVersion.TLSv1_2)
            with context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as tls:
                tls.sendall(b"GET /page.txt HTTP/1.0\r\nAuthorization: Bearer over-dhe\r\n\r\n")
                answer = b""
                while chunk := tls.recv(4096):
                    answer += chunk
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert answer.endswith(b"hello dhe\n")
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices if n.rule != "capture-encrypted"] == []
    decrypted = [f for f in facts if f.status == "decrypted"]
    assert [f.cipher for f in decrypted] == [iana]
    assert [(e.request.target, e.request.header("authorization")) for e in exchanges] == [
        ("/page.txt", "Bearer over-dhe")
    ]
    assert exchanges[0].response is not None and exchanges[0].response.status == 200
    # tshark lists the request; it does not report this HTTP/1.0 response that ends with the connection.
    tshark()
    assert [m for m in ours(exchanges) if m[0] == "request"] == [m for m in theirs(path, keylog) if m[0] == "request"]


def test_tls13_early_data_accepted_by_openssl_decrypts(tmp_path: Path) -> None:
    """0-RTT: a resumed openssl s_client sends a request before the handshake ends; s_server accepts it. The early
    request opens with CLIENT_EARLY_TRAFFIC_SECRET, the one after the handshake with the traffic secrets."""
    import socket
    import time

    from tests.sources.pcap.tls.live import openssl

    cert = valid_cert(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keylog, session = tmp_path / "keys.log", tmp_path / "session.pem"
    (tmp_path / "early.txt").write_bytes(b"GET /early HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer zero-rtt\r\n\r\n")
    server_command = [openssl(), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert.cert), "-key"]
    server_command += [str(cert.key), "-tls1_3", "-early_data", "-quiet", "-naccept", "3"]
    client = [openssl(), "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-keylogfile", str(keylog)]

    def talk(extra: list[str], line: bytes) -> str:
        process = subprocess.Popen(
            [*client, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path
        )
        assert process.stdin is not None and process.stdout is not None
        time.sleep(0.7)
        process.stdin.write(line)
        process.stdin.flush()
        time.sleep(0.7)  # the session ticket arrives after the handshake
        process.stdin.close()  # a clean close (close_notify): a session cut short is not resumable
        with process.stdout:
            out = process.stdout.read()
        process.wait(timeout=10)
        return out.decode(errors="replace")

    with capture(tmp_path, port) as path:
        # s_server's stdin stays open: at its end s_server would close the connection it is serving.
        server = subprocess.Popen(
            server_command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:  # s_server listening (a probe connection would use up one of its two -naccept)
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) != 0:
                        assert time.monotonic() < deadline, "openssl s_server did not listen"
                        time.sleep(0.1)
                        continue
                break
            talk(["-sess_out", str(session)], b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            said = talk(
                ["-sess_in", str(session), "-early_data", "early.txt"], b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
            )
        finally:
            server.terminate()
            server.communicate(timeout=10)
    if "Early data was accepted" not in said:
        pytest.skip(f"openssl did not use early data here: {said[-500:]}")
    assert "CLIENT_EARLY_TRAFFIC_SECRET" in keylog.read_text()
    exchanges, notices, _ = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [e.request.target for e in exchanges] == ["/first", "/early", "/after"]
    assert exchanges[1].request.header("authorization") == "Bearer zero-rtt"
    requests = [
        ("request", e.request.method, e.request.target, *(f"{n}: {v}" for n, v in e.request.headers)) for e in exchanges
    ]
    tshark()
    assert requests == [m for m in theirs(path, keylog) if m[0] == "request"]
