"""``Playground``: a live session of a running mlp-playground server as a notebook widget.

    from mlp_playground.notebook import Playground
    w = Playground(url="http://127.0.0.1:8000", config={"dataset": {"name": "spiral"}})
    w.play()                                        # train; the boundary moves
    w.config = {"optimizer": {"learning_rate": 0.1}}   # a partial config: `configure`
    w.pause(); doc = w.model                        # the model document, as /train returns
    w.close()

Where the websocket lives. The kernel holds it, not the page: a background thread in the
kernel reads the session's messages (``connection.LiveConnection``) and pushes the newest
decision grid to the front end as a binary traitlet (``_frame``, the raw kind 1/4 frame),
with the points, config, metrics and a bounded loss curve as JSON traitlets. The widget's
ESM (widget.js) only draws them and sends its buttons' clicks back as custom messages.
Why not let the page connect to the server itself:
- VS Code renders notebook outputs in a webview whose origin is not the server's, and with
  a remote kernel (SSH, containers, JupyterHub) the browser cannot reach the kernel's
  127.0.0.1 at all; the kernel can always reach the server it was told about.
- The server refuses a websocket opened by a page of another origin (``forbidden_origin``)
  unless it is started with ``MLPG_CORS_ORIGINS``; JupyterLab's page is another origin.
  The kernel sends no ``Origin``, as scripts do, and is served.
- Python stays the owner: ``w.config``/``w.model`` answer synchronously from the kernel,
  and a re-rendered or second view of the widget shows the current state at once (traitlets
  are state, custom messages are not replayed).
The cost is one hop (server -> kernel -> page): at the default 60x60 grid and 10 frames a
second that is about 72 KB/s, which Jupyter's comm channel carries easily.

``close()`` pauses the session, closes the socket (1000) and the widget. The server keeps
the session for its grace period (``MLPG_SESSION_GRACE_SECONDS``, 10 s) and then drops it
from memory; its snapshot stays resumable with
``Playground(url, session=<session_id>, resume_key=<resume_key>)``
until the server's idle timeout. Nothing here imports the server's code: it is a client
over HTTP (``mlp_playground.client``) and the websocket.
"""

from __future__ import annotations

import contextlib
import copy
import pathlib
import threading
import time
from typing import Any

try:
    import anywidget
    import traitlets
except ImportError as exc:  # pragma: no cover (the extra is installed in the tests)
    raise ImportError(
        "the notebook widget needs the [notebook] extra: pip install 'mlp-playground[notebook]'"
    ) from exc

from mlp_playground.client import Client
from mlp_playground.notebook.connection import LiveConnection, Message, is_event, is_type

HERE = pathlib.Path(__file__).parent
MAX_CURVE_POINTS = 600  # the curve is decimated by 2 past this: bounded state, whole history
CURVE_SYNC_SECONDS = 0.5
DATA_PATHS = (
    "dataset",
    "validation_split",
    "data",
)  # a configure of these sends `data`  # the curve (a list) is re-sent at most twice a second


class Playground(anywidget.AnyWidget):
    """A live session's decision boundary, points and loss curve, driven from Python."""

    _esm = HERE / "widget.js"
    _css = HERE / "widget.css"

    _frame = traitlets.Bytes(b"").tag(sync=True)
    _data = traitlets.Dict().tag(sync=True)
    _config = traitlets.Dict().tag(sync=True)
    _metrics = traitlets.Dict().tag(sync=True)
    _curve = traitlets.Dict().tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode("connecting").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    session_id = traitlets.Unicode("").tag(sync=True)
    watch_token = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        config: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        resume_key: str | None = None,
        grid_resolution: int = 60,
        fps: float = 10,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        """Open a new live session on the server at ``url`` (or resume ``session``), apply
        ``config`` (a partial config, as ``/train`` takes) and subscribe to its frames.
        A refused config raises ``SessionError`` naming the field, and nothing stays open."""
        super().__init__(**kwargs)
        self.url = url.rstrip("/")
        self._curve_points: list[list[float | None]] = []
        self._curve_sent = 0.0
        self._curve_lock = threading.Lock()
        self._curve_unit = "step"
        self.run_history: dict[str, Any] | None = None
        self._conn = LiveConnection(
            url, self._on_message, session=session, resume_key=resume_key, timeout=timeout
        )
        hello = self._conn.hello
        self.session_id, self.watch_token = hello["session_id"], hello["watch_token"]
        #: The owner's secret for resuming this session (``Playground(url, session=...,
        #: resume_key=...)``); the session id alone does not resume it.
        self.resume_key: str | None = hello.get("resume_key")
        self._config, self._data = hello["config"], _data_state(self._conn.data)
        self.running = bool(hello.get("running"))
        try:
            if config:
                self.config = config
            self._conn.send({"type": "subscribe", "grid_resolution": grid_resolution, "fps": fps})
        except BaseException:
            self._conn.close()
            super().close()
            raise
        self.status = "connected"
        self.on_msg(self._on_front_end)

    @classmethod
    def from_run(cls, url: str, run_id: str, **kwargs: Any) -> Playground:
        """A new session holding the saved run ``run_id`` (its config, points and weights),
        paused at step 0; the loss curve shows the run's saved history until it trains.
        An unknown id raises ``PlaygroundError`` (404) before any session is opened."""
        run = Client(url).get_run(run_id)  # a clear 404 first, and the title
        w = cls(url, **kwargs)
        try:
            loaded = w._conn.request({"type": "load_run", "id": run_id}, is_event("run_loaded"))
        except BaseException:
            w.close()
            raise
        w.title = loaded.get("title") or run.get("title") or run_id
        w.run_history = loaded.get("history")
        w._show_history(w.run_history)
        return w

    # ------------------------------------------------------------------ Python API

    @property
    def config(self) -> dict[str, Any]:
        """The session's full effective config (a copy). Assign a partial config to change
        it: ``w.config = {"optimizer": {"learning_rate": 0.1}}`` sends ``configure`` and
        returns once the session applied it; a bad value raises ``SessionError`` naming the
        field (e.g. ``config.optimizer.learning_rate``) and changes nothing."""
        return copy.deepcopy(self._config)

    @config.setter
    def config(self, partial: dict[str, Any]) -> None:
        if not isinstance(partial, dict):
            raise TypeError(f"config must be a dict (a partial config), got {type(partial)}")
        seen: dict[str, Message] = {}

        def answered(m: Message) -> bool:
            # `config` answers; a change of the data is followed by `data`, which must be
            # in the widget's state too when the assignment returns.
            if m.get("type") == "config" and "config" not in seen:
                seen["config"] = m
                return not any(c.startswith(DATA_PATHS) for c in m.get("changed", []))
            return m.get("type") == "data" and "config" in seen

        self._conn.request({"type": "configure", "config": partial}, answered)
        self._config = seen["config"]["config"]

    @property
    def model(self) -> dict[str, Any]:
        """The current model document (``get_model``): what ``/train`` returns as ``model``,
        accepted by ``POST /predict``, ``POST /export`` and ``load_model``."""
        return self._conn.request({"type": "get_model"}, is_type("model"))["model"]

    def play(self) -> None:
        """Start training in the background (returns once the session is running)."""
        self._conn.request({"type": "play"}, is_event("playing"))

    def pause(self) -> int:
        """Stop training; returns the step where it stopped (at the end of its chunk)."""
        return int(self._conn.request({"type": "pause"}, is_event("paused"))["step"])

    def reset(self) -> None:
        """Re-initialise the weights from the seed (reproducible)."""
        self._conn.request({"type": "reset"}, is_event("reset"))

    def save(self, title: str | None = None) -> dict[str, Any]:
        """Store the session as a saved run: ``{"id", "url", "delete_token"}`` (the token
        is shown only this once); ``Playground.from_run(url, id)`` opens it again."""
        message: Message = {"type": "save", **({"title": title} if title else {})}
        saved = self._conn.request(message, is_type("saved"))
        return {k: saved[k] for k in ("id", "url", "delete_token")}

    @property
    def closed(self) -> bool:
        """True once the socket is closed (``close()``, or the server ended the session)."""
        return self._conn.closed

    def close(self) -> None:
        """Pause, close the socket and the widget (see the module docstring for what the
        server does with the session). Safe to call twice, and from garbage collection."""
        conn = getattr(self, "_conn", None)
        if conn is not None and not conn.closed:
            # A session already gone has nothing to pause.
            with contextlib.suppress(Exception):
                conn.request({"type": "pause"}, is_event("paused"), timeout=2.0)
            conn.close()
        super().close()

    # ------------------------------------------------------------------ the reader thread

    def _on_message(self, msg: Message | bytes) -> None:
        """Every server message, from the connection's thread: state into traitlets."""
        if isinstance(msg, bytes):
            if msg[:4] == b"MLPG" and msg[5] in (1, 4):  # decision grid / regression map
                self._frame = msg
            return
        kind = msg.get("type")
        if kind == "config":
            self._config = msg["config"]
        elif kind == "data":
            self._data = _data_state(msg)
        elif kind == "metrics":
            self._metrics = msg
            self.running = bool(msg.get("running"))
            self._add_curve_point(msg)
        elif kind == "event":
            if "running" in msg:
                self.running = bool(msg["running"])
            if msg.get("event") in ("reset", "run_loaded"):
                self._show_history(None)
            elif msg.get("event") == "diverged":
                self.status = msg.get("message", "diverged")
            self._sync_curve(force=True)
        elif kind == "closed":
            self.running = False
            self.status = f"disconnected (websocket closed {msg.get('code')})"

    def _add_curve_point(self, msg: Message) -> None:
        with self._curve_lock:
            if self._curve_unit != "step":
                if not msg.get("running") or not msg.get("step"):
                    return  # a saved run's history stays until the session trains
                self._curve_unit, self._curve_points = "step", []
            self._curve_points.append(
                [msg["step"], msg.get("train_loss"), msg.get("validation_loss")]
            )
            if len(self._curve_points) > MAX_CURVE_POINTS:
                self._curve_points = self._curve_points[::2]
        self._sync_curve()

    def _sync_curve(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._curve_lock:
            if not force and now - self._curve_sent < CURVE_SYNC_SECONDS:
                return
            self._curve_sent = now
            points = [list(p) for p in self._curve_points]
        self._curve = {"unit": self._curve_unit, "points": points}

    def _show_history(self, history: dict[str, Any] | None) -> None:
        """The curve restarts: empty, or a saved run's per-epoch history."""
        with self._curve_lock:
            if history and history.get("train_loss"):
                val = history.get("validation_loss") or []
                self._curve_unit = "epoch"
                self._curve_points = [
                    [i + 1, t, val[i] if i < len(val) else None]
                    for i, t in enumerate(history["train_loss"])
                ]
            else:
                self._curve_unit, self._curve_points = "step", []
        self._sync_curve(force=True)

    # ------------------------------------------------------------------ the front end

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The widget's buttons: ``{"type": "play" | "pause" | "reset"}``."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind in ("play", "pause", "reset") and not self._conn.closed:
            self._conn.send({"type": kind})


def _data_state(msg: Message) -> dict[str, Any]:
    """The ``data`` message as the front end draws it."""
    keys = ("points", "labels", "split", "classes", "domain")
    return {k: msg.get(k) for k in keys}
