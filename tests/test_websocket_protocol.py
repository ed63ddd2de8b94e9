"""The server's websocket protocol: uvicorn's sans-I/O one with deflate at level 1, frames
deflated once on the frame thread and sent as they are."""

from __future__ import annotations

import asyncio
import json
import zlib

import numpy as np
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from mlp_playground.__main__ import main as cli_main
from mlp_playground.live.frames import (
    DEFLATE_LEVEL,
    DEFLATE_WINDOW_BITS,
    MESSAGE_WINDOW_BITS,
    Deflated,
    predeflate,
)
from mlp_playground.websocket_protocol import PlaygroundWebSocketProtocol, deflate_factory


def a_frame() -> bytes:
    """A 100x100 two-class probability grid as bytes, smooth like a real decision boundary."""
    x, y = np.meshgrid(np.linspace(-1, 1, 100), np.linspace(-1, 1, 100))
    p = 1 / (1 + np.exp(-4 * np.sin(3 * x) * np.cos(2 * y)))
    return (np.stack([p, 1 - p], -1) * 255).astype(np.uint8).tobytes()


def test_messages_are_deflated_at_the_configured_level() -> None:
    _, extension = deflate_factory().process_request_params([], [])
    data = a_frame()
    sent = extension.encode(Frame(Opcode.BINARY, data)).data
    zlib_at = {}
    for level in (DEFLATE_LEVEL, 6):
        c = zlib.compressobj(level, zlib.DEFLATED, -12, 5)
        zlib_at[level] = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert DEFLATE_LEVEL == 1
    assert sent == zlib_at[1][:-4]  # the same bytes as zlib level 1 (minus 00 00 ff ff)
    assert len(zlib_at[6]) != len(zlib_at[1])  # the level is visible in the output
    assert len(sent) < 0.75 * len(data)  # still a saving on the classroom's Wi-Fi


def inflate(data: bytes, window_bits: int = 15) -> bytes:
    return zlib.decompressobj(-window_bits).decompress(bytes(data) + b"\x00\x00\xff\xff")


def test_a_frame_deflated_once_goes_out_as_it_is_and_inflates_to_the_frame() -> None:
    response, extension = deflate_factory().process_request_params([], [])
    assert ("server_no_context_takeover", None) in response  # every message stands alone
    assert ("server_max_window_bits", str(DEFLATE_WINDOW_BITS)) in response
    data = a_frame()
    ready = predeflate(data)
    assert isinstance(ready, Deflated) and ready == data  # still the frame's bytes
    sent = extension.encode(Frame(Opcode.BINARY, ready))
    assert sent.rsv1 and sent.data is ready.deflated  # not deflated again
    assert inflate(sent.data) == data
    large = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -DEFLATE_WINDOW_BITS, 8)
    assert ready.deflated == (large.compress(data) + large.flush(zlib.Z_SYNC_FLUSH))[:-4]
    # What the connection deflates itself uses the small window (valid under a larger one).
    own = extension.encode(Frame(Opcode.BINARY, data)).data
    assert own != sent.data and inflate(own, MESSAGE_WINDOW_BITS) == data
    assert inflate(extension.encode(Frame(Opcode.TEXT, b'{"type": "metrics"}')).data) == (
        b'{"type": "metrics"}'
    )


def test_a_client_with_a_smaller_window_gets_frames_deflated_for_it() -> None:
    response, extension = deflate_factory().process_request_params(
        [("server_max_window_bits", "10")], []
    )
    assert ("server_max_window_bits", "10") in response
    data = a_frame()
    sent = extension.encode(Frame(Opcode.BINARY, predeflate(data)))
    assert sent.data != predeflate(data).deflated  # a 2^15 stream would not inflate there
    assert inflate(sent.data, 10) == data


def test_the_cli_serves_with_it(monkeypatch) -> None:
    captured = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(kw))
    cli_main([])
    assert captured["ws"] is PlaygroundWebSocketProtocol


def test_a_real_server_negotiates_deflate_and_frames_decode(live_server) -> None:
    async def scenario() -> bytes:
        async with connect(live_server.ws_url + "/ws", max_size=None) as ws:
            offered = ws.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in offered and "server_max_window_bits=15" in offered
            assert "server_no_context_takeover" in offered
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 100, "fps": 30}))
            await ws.send(json.dumps({"type": "play"}))
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(message, bytes) and message[5] == 1:
                    return message

    message = asyncio.run(scenario())
    assert message[:4] == b"MLPG" and len(message) > 100 * 100  # a whole grid, inflated


def test_a_small_frame_is_deflated_with_the_small_window_and_still_sent_as_it_is() -> None:
    """Thumbnails: setting up the large compressor would cost more than the deflate."""
    _, extension = deflate_factory().process_request_params([], [])
    data = a_frame()[:2048]
    ready = predeflate(data)
    small = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -MESSAGE_WINDOW_BITS, 5)
    large = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -DEFLATE_WINDOW_BITS, 8)
    made = {
        name: (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        for name, c in (("small", small), ("large", large))
    }
    assert made["small"] != made["large"]  # the compressor used shows in the bytes
    assert ready.deflated == made["small"]
    sent = extension.encode(Frame(Opcode.BINARY, ready))
    assert sent.data is ready.deflated and inflate(sent.data) == data
