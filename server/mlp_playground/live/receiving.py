"""What every websocket endpoint does with what a client sends, before reading it.

The owner/watcher route and the teacher's class stream share these rules: binary data
closes with 1003, a message over ``max_message_bytes`` with 1009 (both end the
connection), and messages over ``max_messages_per_second`` are dropped with an occasional
``rate_limited`` error. Each endpoint then parses the text its own way. Before any of it,
``origin_allowed`` says whether the page that opens the socket may (the same rule for all).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.websockets import WebSocketDisconnect

from mlp_playground.config import Settings
from mlp_playground.live.connection import (
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    Connection,
    RateLimiter,
)
from mlp_playground.live.messages import (
    READ_ONLY_TYPES,
    ClientMessage,
    ProtocolError,
    parse_message,
)
from mlp_playground.live.outgoing import dumps

log = logging.getLogger("mlp_playground.live")


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


async def client_messages(conn: Connection, settings: Settings) -> AsyncIterator[ClientMessage]:
    """Each valid message the client sends (``client_texts``, then parsed and checked).

    A message refused is answered with its ``error`` and skipped; a watcher may send only
    the read-only types. The connection carries on either way.
    """
    async for text in client_texts(conn, settings):
        request_type = None
        try:
            parsed = parse_message(text, settings)
            request_type = parsed.type
            if conn.role == "watcher" and parsed.type not in READ_ONLY_TYPES:
                raise ProtocolError(
                    "read_only", f"a watcher cannot send {parsed.type}; it only follows", "type"
                )
        except ProtocolError as exc:
            conn.push(dumps(exc.to_message(request_type)))
            continue
        except Exception:  # a validation bug must not silently drop the connection (1006)
            log.exception("validating a %s message failed", request_type or "client")
            conn.push(error_text("internal_error", "the message could not be checked", None))
            continue
        yield parsed


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """May a connection with this ``Origin`` header open a websocket here?

    Websockets are outside CORS: without this check any web page a student visits could
    open sessions on (and burn the CPU of) a playground running on their laptop. Browsers
    always send ``Origin``; scripts usually send none and are let in, as over REST. A page
    is let in from this server's own origin (same host and port as the ``Host`` header) or
    from one of ``Settings.cors_origins``.
    """
    if not origin:
        return True
    if "*" in allowed or origin in allowed:
        return True
    if not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()
