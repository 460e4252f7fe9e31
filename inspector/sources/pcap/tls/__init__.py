"""TLS in captures: a capture-source stage between TCP reassembly and the HTTP/1.x parser.

``start`` recognises a direction that begins with a TLS record; ``session`` cuts records, reads the handshake
(``handshake``), looks keys up (``keylog``: NSS key logs and pcapng Decryption Secrets Blocks), derives them
(``keys``) and opens records (``cipher``), feeding the plaintext to the connection's HTTP parser. ``facts`` and
``certificates`` hold what every connection shows without keys; ``audit`` judges it; ``tracker`` counts the
outcome per capture. Only ``cryptography``'s primitives do cryptography here.
"""
