"""The bytes of one message on a session's channel: a tiny header, then the payload as is.

Why a header and one channel: binary frames and JSON text must keep their relative order
(a ``config`` is never overtaken by an older frame), so both travel on the same channel,
told apart by one kind byte. The slot (``frame``, ``metrics``... or none) travels too, so
the receiving process applies the same latest-wins rule as the owner's process; a target
(a watcher id) lets the owner address one remote watcher (its catch-up ``hello``/``data``).
The payload bytes are the owner's bytes, never re-encoded: text is UTF-8 encoded once by
the publisher and decoded once per receiving process.

Layout: kind (1 byte: ``B`` binary, ``T`` text, ``E`` end of stream), u8 slot length,
slot (ASCII), u8 target length, target (ASCII), payload. An ``E`` payload is the close
code as 4 ASCII digits followed by the UTF-8 reason.
"""

from __future__ import annotations

from typing import NamedTuple

BINARY, TEXT, END = b"B", b"T", b"E"


class Message(NamedTuple):
    """One decoded channel message. ``payload`` is bytes for frames, str for text and end."""

    kind: bytes
    payload: str | bytes
    slot: str | None
    target: str | None


def _name(value: str | None) -> bytes:
    raw = (value or "").encode("ascii")
    if len(raw) > 255:
        raise ValueError("slot and target names are at most 255 ASCII characters")
    return bytes((len(raw),)) + raw


def encode(payload: str | bytes, slot: str | None = None, target: str | None = None) -> bytes:
    """The channel message for a binary frame (bytes) or a text message (str)."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        kind, body = BINARY, bytes(payload)
    else:
        kind, body = TEXT, payload.encode("utf-8")
    return b"".join((kind, _name(slot), _name(target), body))


def encode_end(code: int, reason: str, target: str | None = None) -> bytes:
    """The channel message that ends the stream for (one or all) remote watchers."""
    if not 1000 <= code <= 4999:
        raise ValueError(f"not a websocket close code: {code}")
    return b"".join((END, _name(None), _name(target), f"{code:04d}{reason}".encode()))


def decode(data: bytes) -> Message:
    """Split a channel message; raises ``ValueError`` on a malformed one."""
    if len(data) < 3 or data[:1] not in (BINARY, TEXT, END):
        raise ValueError("not an MLPG cluster message")
    kind = data[:1]
    n = data[1]
    slot = data[2 : 2 + n].decode("ascii") or None
    at = 2 + n
    m = data[at]
    target = data[at + 1 : at + 1 + m].decode("ascii") or None
    body = data[at + 1 + m :]
    payload: str | bytes = body if kind == BINARY else body.decode("utf-8")
    return Message(kind, payload, slot, target)


def end_fields(message: Message) -> tuple[int, str]:
    """(close code, reason) of an ``END`` message."""
    text = str(message.payload)
    return int(text[:4]), text[4:]
