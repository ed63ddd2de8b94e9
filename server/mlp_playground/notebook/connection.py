"""The kernel side of the notebook widget: one owner websocket to a live session, read by a
background thread.

``LiveConnection`` knows the live protocol (docs/protocol.md) and nothing about widgets, so
it can be tested and reused without Jupyter. It opens ``/ws`` with the ``websockets`` sync
client, reads ``hello`` and ``data`` in the caller's thread (a refused connection raises
there, not in a thread nobody watches), then hands the socket to a daemon thread that calls
``on_message`` for every server message (a dict for JSON, ``bytes`` for a binary frame).

Commands that have an answer (``configure`` -> ``config``, ``play`` -> ``event playing``,
``get_model`` -> ``model``, ``load_run`` -> ``event run_loaded``) wait for it with a
timeout; an ``error`` whose ``request_type`` is the command's raises ``SessionError``
naming the field, and the session is unchanged (the server's rule), so the caller can go
on. Commands are sent one at a time (a lock), which is what makes "the next answer of
this kind is mine" true: the server applies one connection's messages in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

log = logging.getLogger(__name__)

Message = dict[str, Any]
OnMessage = Callable[["Message | bytes"], None]


class SessionError(ValueError):
    """The live session refused a message: ``code``, ``field`` (dotted, e.g.
    ``config.optimizer.learning_rate``, or None) and the server's sentence."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code, self.field = code, field
        where = f" ({field})" if field else ""
        super().__init__(f"{code}{where}: {message}")


class SessionClosed(ConnectionError):
    """The websocket is closed (``close()``, the server's idle timeout, a restart)."""


def ws_url(url: str) -> str:
    """``http://host:port[/prefix]`` (or ws://) -> ``ws://host:port[/prefix]/ws``."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"url must be http(s):// or ws(s)://, got {url!r}")
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class _Waiter:
    """One pending command: which answer settles it, and the answer (or error) once here."""

    def __init__(self, request_type: str, accept: Callable[[Message], bool]) -> None:
        self.request_type, self.accept = request_type, accept
        self.done = threading.Event()
        self.answer: Message | None = None
        self.error: SessionError | SessionClosed | None = None


class LiveConnection:
    """An owner connection to one live session (see the module docstring)."""

    def __init__(
        self,
        url: str,
        on_message: OnMessage,
        *,
        session: str | None = None,
        resume_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.timeout = timeout
        self._on_message = on_message
        self._send_lock = threading.Lock()
        self._waiter: _Waiter | None = None
        self._waiter_lock = threading.Lock()
        self.close_code: int | None = None
        target = ws_url(url)
        if session:  # resuming as owner takes the key the first hello gave
            target += f"?session={quote(session)}&resume_key={quote(resume_key or '')}"
        # No Origin header: the server serves scripts whatever their host (docs/protocol.md).
        # The connection is entered as a context (websockets' supported form) whose exit is
        # ``close()``: it outlives this call, so an ExitStack holds it.
        self._stack = contextlib.ExitStack()
        self._ws: ClientConnection = self._stack.enter_context(
            connect(target, max_size=None, open_timeout=timeout)
        )
        try:
            self.hello = self._first("hello")
            if self.hello.get("role") != "owner":
                raise SessionError("invalid_message", f"expected an owner hello, got {self.hello}")
            self.data = self._first("data")
        except BaseException:
            self._stack.close()
            raise
        self._thread = threading.Thread(target=self._read, name="mlp-playground-ws", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ reading

    def _first(self, kind: str) -> Message:
        """Read (in the caller's thread) until the first ``kind`` message; an ``error``
        first (a full server) raises."""
        while True:
            raw = self._ws.recv(timeout=self.timeout)
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("type") == "error":
                raise SessionError(msg.get("code", "?"), msg.get("message", ""), msg.get("field"))
            if msg.get("type") == kind:
                return msg

    def _read(self) -> None:
        try:
            for raw in self._ws:
                if isinstance(raw, bytes):
                    self._dispatch(raw)
                    continue
                msg = json.loads(raw)
                self._dispatch(msg)  # state first: a command returns with it applied
                self._settle(msg)
        except ConnectionClosed:
            pass
        finally:
            code = self._ws.protocol.close_code  # None: no closing handshake (dropped)
            self.close_code = code if code is not None else 1006
            self._fail_waiter(SessionClosed(f"the session's websocket closed ({self.close_code})"))
            self._dispatch({"type": "closed", "code": self.close_code})

    def _dispatch(self, msg: Message | bytes) -> None:
        """Hand one message to ``on_message``; a bug there is logged, never fatal to the
        reader (a dead reader would leave every later command waiting for its timeout)."""
        try:
            self._on_message(msg)
        except Exception:
            log.exception("mlp-playground notebook: handling a server message failed")

    def _settle(self, msg: Message) -> None:
        """Give ``msg`` to the pending command it answers, if any."""
        with self._waiter_lock:
            w = self._waiter
            if w is None:
                return
            if msg.get("type") == "error" and msg.get("request_type") == w.request_type:
                w.error = SessionError(
                    msg.get("code", "?"), msg.get("message", ""), msg.get("field")
                )
            elif w.accept(msg):
                w.answer = msg
            else:
                return
            self._waiter = None
            w.done.set()

    def _fail_waiter(self, error: SessionClosed) -> None:
        with self._waiter_lock:
            if self._waiter is not None:
                self._waiter.error = error
                self._waiter.done.set()
                self._waiter = None

    # ------------------------------------------------------------------ commands

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def send(self, message: Message) -> None:
        """Send one client message without waiting for an answer."""
        if self.closed:
            raise SessionClosed(f"the session's websocket is closed ({self.close_code})")
        try:
            self._ws.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise SessionClosed(f"the session's websocket closed: {exc}") from None

    def request(
        self, message: Message, accept: Callable[[Message], bool], timeout: float | None = None
    ) -> Message:
        """Send ``message`` and return the first server message ``accept`` takes; raise
        ``SessionError`` on an ``error`` answering it, ``TimeoutError`` after ``timeout``."""
        with self._send_lock:
            waiter = _Waiter(message["type"], accept)
            with self._waiter_lock:
                self._waiter = waiter
            try:
                self.send(message)
                if not waiter.done.wait(self.timeout if timeout is None else timeout):
                    raise TimeoutError(f"no answer to {message['type']!r} in time")
            finally:
                with self._waiter_lock:
                    if self._waiter is waiter:
                        self._waiter = None
            if waiter.error is not None:
                raise waiter.error
            assert waiter.answer is not None
            return waiter.answer

    def close(self) -> None:
        """Close the socket (1000) and wait for the reader thread to finish."""
        self._stack.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(self.timeout)


def is_event(name: str) -> Callable[[Message], bool]:
    """An ``accept`` for ``request``: the ``event`` message called ``name``."""
    return lambda m: m.get("type") == "event" and m.get("event") == name


def is_type(kind: str) -> Callable[[Message], bool]:
    """An ``accept`` for ``request``: the first message of type ``kind``."""
    return lambda m: m.get("type") == kind
