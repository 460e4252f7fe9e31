"""Offline capture reading: pcap and pcapng files to HTTP/1.x exchanges (see ``reader``).

What is read
    Files: classic pcap (both byte orders, microsecond and nanosecond magics; the FCS bits of the link type
    ignored) and pcapng (section, interface, enhanced, simple and obsolete packet blocks; TLS key logs in
    Decryption Secrets Blocks; several sections in either byte order; several interfaces with their own link
    type, ``if_tsresol`` (decimal and binary) and ``if_tsoffset``; other blocks skipped, custom blocks
    numbered as frames like Wireshark does). The format comes from the magic number, never the file name.

    Link types: Ethernet (1) with 802.1Q/QinQ tags (0x8100, 0x88a8, 0x9100, 0x9200, 0x9300), MPLS (with an
    Ethernet pseudowire after a zero control word), PPPoE sessions and 802.3/LLC-SNAP; NULL (0) and LOOP
    (108) with AF_INET and the AF_INET6 values of Linux (10), NetBSD/OpenBSD (24), FreeBSD (28) and macOS
    (30), in either byte order; raw IP (101, 12, 14), IPv4 (228), IPv6 (229); Linux cooked SLL (113) and
    SLL2 (276); NFLOG (239, its payload TLV in either byte order); 802.11 data frames (105) and radiotap +
    802.11 (127) with LLC/SNAP; PPP (9, 50) and Cisco HDLC (104).

    Network: IPv4 (options, Ethernet padding trimmed by the total length, fragments reassembled) and IPv6
    (hop-by-hop, routing, destination options, mobility, HIP, shim6 and AH headers skipped; fragments
    reassembled). Reassembly is bounded (64 KiB per datagram, 256 fragments, 256 datagrams pending).

    Tunnels: IP-in-IP (4) and IPv6-in-IPv4 (41); GRE version 0 (checksum, key, sequence) carrying IP,
    transparent Ethernet bridging (0x6558), ERSPAN types I, II (0x88be) and III (0x22eb, with the optional
    subheader) or MPLS; UDP tunnels VXLAN (4789), Geneve (6081), GTP-U (2152, with extension headers) and
    AYIYA (5072) by port; TZSP carrying Ethernet on any UDP port, recognised by its header.

    TCP and HTTP: each direction reassembled by sequence number (see ``tcp``) and parsed as HTTP/1.x on any
    port by content (see ``http1``). TLS (see ``tls``): every connection audited (SNI, versions, suite, ALPN,
    certificates); decrypted with NSS key logs, the file's Decryption Secrets Blocks or a server's RSA key, its
    HTTP/1.x or HTTP/2 (see ``http2``) read like clear traffic.

What is not read
    Link types not listed above (Token Ring, FDDI, ATM, Infiniband, USB, Bluetooth, DOCSIS, prism/AVS
    802.11 headers...); encrypted or A-MSDU-aggregated 802.11 frames; enhanced GRE (PPTP) and GRE source
    routing; TZSP carrying anything but Ethernet; Teredo, L2TP, IPsec ESP (encrypted), CAPWAP, NSH; SCTP and
    UDP payloads (no HTTP/3 or QUIC); cleartext HTTP/2 (h2c); TLS without its keys, and the suites ``tls.suites``
    only names.
"""

from inspector.sources.pcap.reader import CaptureProgress, looks_like_capture, read_capture

__all__ = ["CaptureProgress", "looks_like_capture", "read_capture"]
