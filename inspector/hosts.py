"""Host names as the rules compare them: one definition of "the same host"."""

from __future__ import annotations

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def bare_host(value: str) -> str:
    """The host without port, lower-cased, without the trailing dot of a fully qualified name (``[v6]`` kept
    in brackets): what a token's audience names."""
    value = value.strip().lower()
    if value.startswith("["):  # [v6]:port
        return value.split("]", 1)[0] + "]"
    if value.count(":") == 1:
        value = value.rsplit(":", 1)[0]
    return value.rstrip(".")


def origin_host(value: str | None, scheme: str) -> str:
    """The host and, unless it is the scheme's default, the port: ``MAIL.contoso.com.:443`` over https is
    ``mail.contoso.com``, over http it is ``mail.contoso.com:443``. ``?`` when there is no host."""
    if not value:
        return "?"
    value = value.strip().lower()
    host, port = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end >= 0:
            host, port = value[: end + 1], value[end + 2 :] if value[end + 1 : end + 2] == ":" else ""
    elif value.count(":") == 1:
        host, port = value.split(":", 1)
    host = host.rstrip(".")
    if not port or port == _DEFAULT_PORTS.get(scheme):
        return host or "?"
    return f"{host}:{port}"
