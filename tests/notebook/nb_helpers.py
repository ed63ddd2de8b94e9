"""What the notebook tests share: a read-only look at a session from outside the widget."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect


def watcher_hello(ws_url: str, watch_token: str) -> dict[str, Any]:
    """The ``hello`` a watcher of the session gets: the server's own view of its config
    and running flag, independent of anything the widget believes."""
    with connect(f"{ws_url}/ws/watch/{watch_token}", max_size=None, open_timeout=10) as ws:
        while True:
            raw = ws.recv(timeout=10)
            if isinstance(raw, str):
                msg = json.loads(raw)
                if msg["type"] == "hello":
                    assert msg["role"] == "watcher", msg
                    return msg
