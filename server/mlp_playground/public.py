"""What the page needs from the server beyond the training options: pacing and public links.

The page reads these from ``GET /api/options`` instead of repeating them, so a change here
is a change everywhere.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from mlp_playground.config import Settings

#: The speed slider's stops, in optimiser steps per second; "max" trains as fast as it can.
SPEEDS: list[float | str] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, "max"]
#: The pace a new page starts at: slow enough for a class to watch the boundary form (a
#: 2-8-8-2 net on circle settles in about 20 s), with "max" one click away.
DEFAULT_PAGE_SPEED = 50

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _interface_addresses() -> list[str]:
    """Each network interface's IPv4 address (Linux ``SIOCGIFADDR``); [] elsewhere."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(
                    probe.fileno(), 0x8915, struct.pack("256s", name[:15].encode())
                )
            except OSError:  # an interface without an IPv4 address
                continue
            found.append(socket.inet_ntoa(packed[20:24]))
    return found


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, private ranges first, found without
    sending anything: the interfaces' own addresses, then what the host's name resolves to.
    Private-range addresses come first: those are what a classroom's laptops can reach.
    """
    try:
        resolved = [
            str(i[4][0]) for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        ]
    except OSError:
        resolved = []
    found: list[str] = []
    for address in [*_interface_addresses(), *resolved]:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and address not in found:
            found.append(address)
    return sorted(found, key=lambda a: not ipaddress.ip_address(a).is_private)


def public_url(settings: Settings) -> str | None:
    """The base URL others should open, or None when only this machine can reach the server.

    ``MLPG_PUBLIC_URL`` wins (a reverse proxy's name); a server bound to every interface
    offers its first LAN address; one bound to a named address offers that address.
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.host in LOOPBACK_HOSTS:
        return None
    host = settings.host
    if host in WILDCARD_HOSTS:
        addresses = lan_addresses()
        if not addresses:
            return None
        host = addresses[0]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def page_options(settings: Settings) -> dict[str, Any]:
    """The ``/api/options`` fields that only the page uses."""
    return {
        "speeds": list(SPEEDS),
        "default_speed": DEFAULT_PAGE_SPEED,
        "public_url": public_url(settings),
    }
