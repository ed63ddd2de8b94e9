"""One client's watcher sockets are capped over every session (``max_watchers_per_client``):
a script with watch links cannot hold hundreds of sockets that each get every frame, and
the others still watch. The attacker connects from 127.0.0.2, the rest from 127.0.0.1 and
127.0.0.3."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.attack import running_server, ws_from

pytestmark = pytest.mark.slow


def first_json(ws) -> dict:
    while True:
        raw = ws.recv(timeout=20)
        if isinstance(raw, str):
            return json.loads(raw)


def test_a_clients_watchers_are_capped_over_sessions_and_others_still_watch() -> None:
    env = {"MLPG_MAX_WATCHERS_PER_CLIENT": "3"}
    with running_server(env) as server, ExitStack() as stack:
        base = f"ws://127.0.0.1:{server.port}"
        owners = [stack.enter_context(ws_from("127.0.0.1", f"{base}/ws")) for _ in range(2)]
        tokens = [first_json(ws)["watch_token"] for ws in owners]
        # Three sockets over two sessions: the address's share.
        held = [
            stack.enter_context(ws_from("127.0.0.2", f"{base}/ws/watch/{token}"))
            for token in (tokens[0], tokens[1], tokens[1])
        ]
        assert all(first_json(ws)["role"] == "watcher" for ws in held)
        with ws_from("127.0.0.2", f"{base}/ws/watch/{tokens[0]}") as extra:
            err = first_json(extra)
            assert err["type"] == "error" and err["code"] == "too_many_watchers", err
            assert "max_watchers_per_client" in err["message"]
            with pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        # Another client watches the same sessions as usual, frames included.
        with ws_from("127.0.0.3", f"{base}/ws/watch/{tokens[0]}") as neighbour:
            assert first_json(neighbour)["role"] == "watcher"
            owners[0].send(json.dumps({"type": "play"}))
            assert any(isinstance(neighbour.recv(timeout=20), bytes) for _ in range(50))
        # A closed watcher gives its place back.
        held.pop().close()
        for _ in range(50):
            with ws_from("127.0.0.2", f"{base}/ws/watch/{tokens[1]}") as again:
                if first_json(again).get("role") == "watcher":
                    break
            time.sleep(0.1)  # the server sees the close a moment later
        else:
            raise AssertionError("the freed watcher place never came back")
