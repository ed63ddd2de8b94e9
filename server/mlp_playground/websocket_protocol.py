"""The websocket protocol ``mlp-playground`` serves with: uvicorn's, with a cheaper deflate.

Why a cheaper level: a 100x100 frame is 20 kB; zlib's default level (6) takes about
0.35-0.5 ms for it on this project's 2-core reference machine. Level 1 takes about a third
of the time for messages about 15 % larger (5.8 kB instead of 5.2 kB for that frame,
window 2^12), which is still a quarter of the raw size for classroom Wi-Fi (frames are now
deflated with a 2^15 window and memLevel 8, faster still: ``live.frames``). Measure it with
``python bench/workers.py --workers 1 --no-sessions --watchers 300`` (and
``--no-compression`` for the ceiling).

Why frames are deflated once, elsewhere: with a compressor per connection every frame was
deflated on the event loop's thread once for every connection showing it (for 150 watchers
at 15 frames/s, a whole core). Now the frame thread deflates each binary frame once
(``live.frames.predeflate``; zlib releases the GIL there), the offer says
``server_no_context_takeover`` so that every message stands alone, and ``SharedDeflate``
sends that stream as it is wherever the client's window allows it (always with browsers,
which accept 2^15). At 60 sessions this took the loop's CPU per frame from about 300 to
about 140 µs (docs/reliability.md, "Where the time goes (one process)").

Everything else is uvicorn's ``websockets-sansio`` implementation (the one ``--ws auto``
picks): the same window sizes and memory level. Browsers offer permessage-deflate, so this
is the path a class's laptops take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionParameter

from mlp_playground.live.frames import (
    DEFLATE_LEVEL,
    DEFLATE_WINDOW_BITS,
    MESSAGE_MEM_LEVEL,
    MESSAGE_WINDOW_BITS,
    Deflated,
)


class SharedDeflate(PerMessageDeflate):
    """permessage-deflate that sends a ``Deflated`` frame's ready stream as it is.

    Only when it is valid for this connection: no context takeover on the server's side
    (each message stands alone) and a negotiated window at least as large as the one it
    was made with. Any other message is deflated here, as websockets does, but with at
    most a ``MESSAGE_WINDOW_BITS`` window (a smaller window than negotiated is always
    valid): it makes a compressor for every message.
    """

    def __init__(self, *args: Any, negotiated_window_bits: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.negotiated_window_bits = negotiated_window_bits

    def encode(self, frame: Frame) -> Frame:
        data = frame.data
        if (
            isinstance(data, Deflated)
            and frame.fin
            and frame.opcode is Opcode.BINARY
            and self.local_no_context_takeover
            and self.negotiated_window_bits >= DEFLATE_WINDOW_BITS
        ):
            return Frame(frame.opcode, data.deflated, True, True, frame.rsv2, frame.rsv3)
        return super().encode(frame)


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    """The server's permessage-deflate offer, whose extension is ``SharedDeflate``."""

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, ext = super().process_request_params(params, accepted_extensions)
        negotiated = ext.local_max_window_bits or DEFLATE_WINDOW_BITS
        shared = SharedDeflate(
            ext.remote_no_context_takeover,
            ext.local_no_context_takeover,
            ext.remote_max_window_bits,
            min(negotiated, MESSAGE_WINDOW_BITS),
            ext.compress_settings,
            negotiated_window_bits=negotiated,
        )
        return response, shared


def deflate_factory() -> ServerPerMessageDeflateFactory:
    """The permessage-deflate offer at ``DEFLATE_LEVEL``, without context takeover on the
    server's side (``SharedDeflate``): the server's window 2^15, the frame thread's
    (``DEFLATE_WINDOW_BITS``); the client's 2^12, as uvicorn's (its messages are small)."""
    return SharedDeflateFactory(
        server_no_context_takeover=True,
        server_max_window_bits=DEFLATE_WINDOW_BITS,
        client_max_window_bits=MESSAGE_WINDOW_BITS,
        compress_settings={"memLevel": MESSAGE_MEM_LEVEL, "level": DEFLATE_LEVEL},
    )


class PlaygroundWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol whose deflate runs at ``DEFLATE_LEVEL`` and
    sends the frames deflated on the frame thread as they are (``SharedDeflate``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [deflate_factory()]
