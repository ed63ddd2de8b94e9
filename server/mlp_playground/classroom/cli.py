"""``mlp-playground --classroom``: what changes when a class on the local network joins.

The server listens on every interface (unless ``--host`` names one), answers to this
machine's own LAN addresses and names as well as the loopback names (the ``Host`` check
stays on: a web page elsewhere whose name was rebound to this address is still refused),
has room for a full class of sessions, and prints the address students open with its QR
code. It creates no class by itself: the teacher's page does (``POST /classes``).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, TextIO

from mlp_playground import public
from mlp_playground.config import Settings

CLASSROOM_HOST = "0.0.0.0"
#: Sessions beyond a full class: the teacher's own, a few reloads within their grace period.
SPARE_SESSIONS = 8


def classroom_hosts(extra: list[str] | None = None) -> list[str]:
    """Host names a classroom server answers to: loopback, LAN addresses, this machine's
    name (and its ``.local`` mDNS name), plus any the operator listed."""
    names = ["127.0.0.1", "localhost", *public.lan_addresses()]
    hostname = socket.gethostname()
    if hostname:
        names += [hostname, hostname.lower(), f"{hostname.lower()}.local"]
    out: list[str] = []
    for name in [*(extra or []), *names]:
        if name and name not in out:
            out.append(name)
    return out


def classroom_overrides(defaults: Settings, host: str | None) -> dict[str, Any]:
    """Settings fields for ``--classroom``: bind, host names, and a session cap that fits a
    full class unless ``MLPG_MAX_SESSIONS`` says otherwise."""
    out: dict[str, Any] = {
        "host": host or CLASSROOM_HOST,
        "allowed_hosts": classroom_hosts(list(defaults.allowed_hosts)),
    }
    if "MLPG_MAX_SESSIONS" not in os.environ:
        full = defaults.max_students_per_class + SPARE_SESSIONS
        out["max_sessions"] = max(defaults.max_sessions, full)
    return out


def print_join(settings: Settings, out: TextIO | None = None) -> None:
    """The students' address and its QR code, in the terminal."""
    out = out or sys.stdout
    url = public.public_url(settings)
    if url is None:
        print(
            "No network address found: students cannot reach this machine. "
            "Is it on the classroom's network?",
            file=out,
            flush=True,
        )
        return
    print(f"Students open {url}/ (the class page shows its code and join link)", file=out)
    try:
        import segno

        segno.make(url + "/", error="m").terminal(out=out, compact=True)
    except (ImportError, UnicodeEncodeError):  # no segno, or a terminal without blocks
        pass
    out.flush()
