"""The websocket protocol ``mlp-playground`` serves with: uvicorn's, with a cheaper deflate.

Why: permessage-deflate keeps one compressor per connection, so every frame is deflated
once for every watcher. A 100x100 frame is 20 kB; zlib's default level (6) takes about
0.35-0.5 ms for it on this project's 2-core reference machine, which for 150 watchers at
15 frames/s is a whole core of the event loop, and the loop then starves everything else
on it (other sessions, the cluster publisher). Level 1 takes about a third of the time for
messages about 15 % larger (5.8 kB instead of 5.2 kB for that frame, window 2^12), which
is still a quarter of the raw size for classroom Wi-Fi. Measure it with
``python bench/workers.py --workers 1 --no-sessions --watchers 300`` (and
``--no-compression`` for the ceiling).

Everything else is uvicorn's ``websockets-sansio`` implementation (the one ``--ws auto``
picks): the same window sizes and memory level, only the compression level differs.
Browsers offer permessage-deflate, so this is the path a class's laptops take.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

#: zlib level for outgoing websocket messages (1 fastest ... 9 smallest; zlib's default 6).
DEFLATE_LEVEL = 1


def deflate_factory() -> ServerPerMessageDeflateFactory:
    """uvicorn's permessage-deflate offer (windows of 2^12, memLevel 5) at ``DEFLATE_LEVEL``."""
    return ServerPerMessageDeflateFactory(
        server_max_window_bits=12,
        client_max_window_bits=12,
        compress_settings={"memLevel": 5, "level": DEFLATE_LEVEL},
    )


class PlaygroundWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol whose deflate runs at ``DEFLATE_LEVEL``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [deflate_factory()]
