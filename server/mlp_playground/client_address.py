"""The client's address: the one key every per-client limit counts by (REST and websockets).

A client must not choose its own address, or it escapes every per-address cap by sending
``X-Forwarded-For: <anything>``. So the header is believed only when the connection comes
from a proxy named in ``Settings.trusted_proxies`` (``MLPG_TRUSTED_PROXIES``; none by
default), and then only as far as the proxies go: walking the list from the right (each
proxy appends the peer it saw), the client is the first address that is not a trusted
proxy. uvicorn's own proxy-header handling is off (``__main__``), so the connection's peer
here is the real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.requests import HTTPConnection

UNKNOWN = "unknown"
"""The address of a connection without a peer (an in-process test client, a Unix socket)."""

MAX_ADDRESS_CHARS = 64
"""A forwarded entry that is not an address is kept as text, cut to this length."""

Network = IPv4Network | IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``("10.0.0.5", "172.28.0.0/24")`` -> networks (Settings has checked every entry)."""
    return tuple(ip_network(entry, strict=False) for entry in entries)


IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is counted by its /64: one home or phone gets a whole /64 and may pick
any address in it, so counting single addresses would give it 2^64 shares."""


def _normal(text: str) -> str | None:
    """An address in its canonical spelling, or None if ``text`` is not one."""
    try:
        return str(ip_address(text.strip()))
    except ValueError:
        return None


def counting_key(address: str) -> str:
    """What per-client limits count ``address`` by: an IPv4 address itself (also when it
    comes IPv4-mapped, ``::ffff:10.0.0.7``), an IPv6 one by its /64 (``2001:db8::/64``);
    loopback as it is. Anything else (not an address) unchanged."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4 or parsed.is_loopback:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in net for net in proxies)


def resolve(peer: str | None, forwarded: Iterable[str], proxies: tuple[Network, ...]) -> str:
    """The client of a connection from ``peer`` carrying these ``X-Forwarded-For`` values.

    Without a trusted peer the header is ignored. Otherwise the entries are walked from the
    right; the first that is not a trusted proxy is the client (the peer the last trusted
    proxy saw). If every entry is a trusted proxy, the left-most one is.
    """
    if not peer:
        return UNKNOWN
    client = _normal(peer) or peer[:MAX_ADDRESS_CHARS]
    if not proxies or not _trusted(client, proxies):
        return client
    entries = [part.strip() for value in forwarded for part in value.split(",")]
    for entry in reversed([e for e in entries if e]):
        address = _normal(entry)
        if address is None:  # not an address: a trusted proxy wrote no such thing
            return entry[:MAX_ADDRESS_CHARS]
        client = address
        if not _trusted(address, proxies):
            return address
    return client


def client_address(conn: HTTPConnection) -> str:
    """The address per-client limits count this request or websocket by."""
    settings = conn.app.state.settings
    peer = conn.client.host if conn.client else None
    proxies = trusted_networks(tuple(settings.trusted_proxies))
    return counting_key(resolve(peer, conn.headers.getlist("x-forwarded-for"), proxies))
