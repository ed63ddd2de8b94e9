"""What every websocket endpoint does with what a client sends, before reading it.

The owner/watcher route and the teacher's class stream share these rules: binary data
closes with 1003, a message over ``max_message_bytes`` with 1009 (both end the
connection), and messages over ``max_messages_per_second`` are dropped with an occasional
``rate_limited`` error. Each endpoint then parses the text its own way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.websockets import WebSocketDisconnect

from mlp_playground.config import Settings
from mlp_playground.live.connection import (
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    Connection,
    RateLimiter,
)
from mlp_playground.live.messages import ProtocolError
from mlp_playground.live.outgoing import dumps


def error_text(
    code: str, message: str, field: str | None = None, request_type: str | None = None
) -> str:
    """An ``error`` message, encoded."""
    return dumps(ProtocolError(code, message, field).to_message(request_type))


def _too_big(text: str, cap: int) -> bool:
    # A str of n characters encodes to at most 4n bytes: encode only when it might be over.
    return len(text) > cap or (len(text) * 4 > cap and len(text.encode()) > cap)


async def client_texts(conn: Connection, settings: Settings) -> AsyncIterator[str]:
    """Each text message the client sends within the caps, until it goes or is closed."""
    limiter = RateLimiter(settings.max_messages_per_second)
    cap = settings.max_message_bytes
    while conn.close_code is None:
        try:
            message = await conn.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            conn.request_close(CLOSE_UNSUPPORTED, "binary messages are not accepted")
            return
        if _too_big(text, cap):
            conn.request_close(CLOSE_TOO_BIG, f"message over {cap} bytes")
            return
        if not limiter.allow():
            if limiter.should_report():
                rate = settings.max_messages_per_second
                conn.push(
                    error_text(
                        "rate_limited",
                        f"more than {rate:g} messages a second; messages are being dropped",
                    )
                )
            continue
        yield text
