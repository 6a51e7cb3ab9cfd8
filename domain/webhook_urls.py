"""Which webhook URLs may be called (SSRF protection, SPEC §13).

Only http(s), a host, and no credentials in the URL. In production the host must resolve only to
public addresses: loopback, private, link-local, multicast, reserved and unspecified ones are
refused unless INVITATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true. The check runs at creation and
again before each delivery, since what a name resolves to can change.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from domain.errors import InvalidInput, NotAllowed

MAX_URL_LENGTH = 2048


def _host_of(url: str) -> tuple[str, int]:
    """The host and port of a well-formed http(s) URL; InvalidInput otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"A URL has at most {MAX_URL_LENGTH} characters.", field=("url",))
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput("This is not a valid URL.", field=("url",)) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("A webhook URL starts with https:// or http://.", field=("url",))
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("A webhook URL may not carry credentials.", field=("url",))
    if not parts.hostname:
        raise InvalidInput("A webhook URL names a host.", field=("url",))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check(url: str, *, allow_private: bool) -> str:
    """The URL, stripped, if it may be called; InvalidInput or NotAllowed (at "url") if not."""
    host, port = _host_of(url)
    if allow_private:
        return url.strip()
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidInput(f"The host {host!r} does not resolve.", field=("url",)) from None
    addresses = {str(info[4][0]) for info in found}
    if not addresses or not all(_is_public(address) for address in addresses):
        raise NotAllowed(
            f"The host {host!r} resolves to a loopback, private or link-local address.",
            field=("url",),
        )
    return url.strip()
