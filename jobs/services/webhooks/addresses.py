"""Where a webhook may go: the URL's form and scheme, and the addresses its host resolves to, checked at creation and at every send.

A receiver's URL is the user's to choose, so it must not point the server at
itself or its neighbours (SSRF): loopback, private, carrier-grade NAT,
link-local (169.254.0.0/16 holds the cloud metadata address), multicast,
unspecified and reserved addresses are refused, unless a network listed in
BATCHLAB_WEBHOOK_ALLOWED_NETWORKS holds the address (the embedded mode adds
127.0.0.0/8, nothing else). The host is resolved again at every send and the
connection is pinned to the address that passed (DNS rebinding gets nowhere).
"""

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2048
EMBEDDED_NETWORKS = ("127.0.0.0/8",)


class AddressRefused(Exception):
    """The URL's host resolves to an address a webhook may not reach (or does not resolve)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its scheme, host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def url_problems(url) -> list[str]:
    """What is wrong with `url` as a webhook URL, without resolving it (an empty list: nothing)."""
    if not isinstance(url, str) or not url.strip():
        return ["Enter a URL."]
    if len(url) > MAX_URL_LENGTH:
        return [f"At most {MAX_URL_LENGTH} characters."]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["Enter a valid URL."]
    schemes = ("https", "http") if settings.EMBEDDED else ("https",)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"Enter a valid URL ({' or '.join(s + '://' for s in schemes)}…)."]
    if parts.scheme not in schemes:
        return ["Webhook URLs must use https:// (http:// is taken in the embedded mode only)."]
    if parts.username or parts.password:
        return ["A webhook URL may not carry a user name or password."]
    if any(c.isspace() for c in url) or port == 0:
        return ["Enter a valid URL."]
    return []


@functools.cache
def _allowed_networks() -> tuple:
    listed = list(settings.BATCHLAB_WEBHOOK_ALLOWED_NETWORKS) + (list(EMBEDDED_NETWORKS) if settings.EMBEDDED else [])
    return tuple(ipaddress.ip_network(n, strict=False) for n in listed)


def address_allowed(address: str) -> bool:
    """Whether a webhook may connect to `address`: a public unicast address, or one in an allowed network."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in _allowed_networks()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo: the one place a webhook's name is looked up)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc}).") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def target_check(url: str) -> Target:
    """Resolve the URL's host now and check every address; the first one is the one to connect to.

    AddressRefused when the URL is malformed, does not resolve, or any address it
    resolves to is refused (one bad answer among good ones is refused too: the
    resolver might hand that one to the connection).
    """
    problems = url_problems(url)
    if problems:
        raise AddressRefused(problems[0])
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    addresses = resolve(host, port)
    if not addresses:
        raise AddressRefused(f"{host} does not resolve.")
    refused = [a for a in addresses if not address_allowed(a)]
    if refused:
        raise AddressRefused(
            f"{host} resolves to {refused[0]}, an address webhooks may not reach (loopback, private, link-local, "
            "multicast or reserved); BATCHLAB_WEBHOOK_ALLOWED_NETWORKS lists the exceptions."
        )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])
