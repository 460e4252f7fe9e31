"""The lab conversation as a TLS capture with its secrets embedded: every keep-alive connection of the HTTP
sample is run through a real TLS client and server (Python's ``ssl`` over memory BIOs, so no socket is opened),
the records they write are put on the wire as awkwardly as the HTTP sample's bytes, and the key log OpenSSL wrote
is stored in a pcapng Decryption Secrets Block, so ``analyze`` decrypts the file with no option at all.

TLS 1.3 and TLS 1.2 connections alternate. Keys are fresh on every run: the file differs each time, its findings
do not.
"""

from __future__ import annotations

import random
import ssl
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from inspector.lab.certs import tls_server_cert, write_key_pem, write_pem
from inspector.lab.pcap_writer import (
    connection_runs,
    flight_packets,
    micros,
    request_bytes,
    response_bytes,
    write_packets_pcapng,
)
from inspector.model import Endpoint, HttpExchange

Flight = tuple[int, bool, bytes]


class _Pair:
    """A TLS client and server joined by memory: what one writes, the other reads, and the capture sees."""

    def __init__(self, client_context: ssl.SSLContext, server_context: ssl.SSLContext, sni: str) -> None:
        self._bios = [ssl.MemoryBIO() for _ in range(4)]
        client_in, client_out, server_in, server_out = self._bios
        self.client = client_context.wrap_bio(client_in, client_out, server_hostname=sni)
        self.server = server_context.wrap_bio(server_in, server_out, server_side=True)
        self.flights: list[Flight] = []

    def _carry(self, ts_us: int) -> bool:
        client_in, client_out, server_in, server_out = self._bios
        moved = False
        for source, target, from_client in ((client_out, server_in, True), (server_out, client_in, False)):
            data = source.read()
            if data:
                self.flights.append((ts_us, from_client, data))
                target.write(data)
                moved = True
        return moved

    def handshake(self, ts_us: int) -> None:
        for _ in range(16):
            for side in (self.client, self.server):
                with suppress(ssl.SSLWantReadError):
                    side.do_handshake()
            if not self._carry(ts_us):
                return
        raise RuntimeError("the lab TLS handshake did not settle")

    def send(self, ts_us: int, from_client: bool, data: bytes) -> None:
        writer, reader = (self.client, self.server) if from_client else (self.server, self.client)
        writer.write(data)
        self._carry(ts_us)
        received = b""
        while len(received) < len(data):
            try:
                received += reader.read(1 << 16)
            except ssl.SSLWantReadError:
                if not self._carry(ts_us):
                    break
        self._carry(ts_us)  # TLS 1.3 session tickets ride along with the first reads


def write_tls_lab_pcapng(exchanges: Sequence[HttpExchange], path: Path, *, now: datetime, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="oauth-lab-tls-") as folder:
        base = Path(folder)
        host = "mail.contoso.com"
        certificate = tls_server_cert(host, now=now)
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(
            write_pem(base / "tls.pem", certificate), write_key_pem(base / "tls.key", certificate)
        )
        keylog = base / "keys.log"
        packets: list[tuple[int, bytes]] = []
        for index, (client, server, run) in enumerate(connection_runs(exchanges)):
            client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client_context.check_hostname = False
            client_context.verify_mode = ssl.CERT_NONE
            client_context.keylog_filename = str(keylog)
            if index % 2:
                client_context.maximum_version = ssl.TLSVersion.TLSv1_2
            pair = _Pair(client_context, server_context, host)
            pair.handshake(micros(run[0].time) - 100_000)  # well before the first request, whatever its segmentation
            for exchange in run:
                pair.send(micros(exchange.time), True, request_bytes(exchange.request))
                if exchange.response is not None:
                    answered = micros(exchange.response_time or exchange.time)
                    pair.send(answered, False, response_bytes(exchange.response))
            port = (client.port or 49152) + index
            packets.extend(
                flight_packets(Endpoint(client.host, port), Endpoint(server.host, 443), pair.flights, rng=rng)
            )
        secrets = keylog.read_bytes() if keylog.exists() else b""
    packets.sort(key=lambda packet: packet[0])
    return write_packets_pcapng(packets, path, secrets=secrets)
