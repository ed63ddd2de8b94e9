"""A worker process of ``--workers N``: the app under uvicorn, fed sockets by the supervisor.

The supervisor (worker_pool.py) accepts every connection and sends the socket itself over a
``SOCK_SEQPACKET`` Unix socket (``SCM_RIGHTS``), tagged ``o`` for an owner's ``/ws``; the
``Feeder`` here turns each into a connection of this process's uvicorn server, built with
uvicorn's own HTTP protocol as if the server had accepted it (the bytes the supervisor
peeked at are still in the socket). Every ``REPORT_SECONDS`` it writes this process's load
into shared memory: its sessions or its owners' connections, whichever is more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from dataclasses import dataclass
from typing import Any

import uvicorn

from mlp_playground.log_redaction import install_redaction

log = logging.getLogger("mlp_playground.workers")

#: How often a worker writes its session count for the supervisor.
REPORT_SECONDS = 0.02
#: How often a worker compares its sessions with the others' (two checks in a row must
#: agree before it moves any), and how long it leaves them after a move.
BALANCE_SECONDS = 2.0
BALANCE_PAUSE = 10.0
#: A worker moves sessions away only when it holds more than this times its fair share,
#: and at least two more than the least busy worker.
BALANCE_SLACK = 1.2
#: The close code that tells a page to reconnect (and resume) at once: "service restart".
CLOSE_MOVE = 1012
#: Fields of each worker's row in shared memory, and the tags of the sockets sent.
ROW = 3
SESSIONS, RECEIVED, READY = range(ROW)
OWNER, OTHER = b"o", b"x"


def setup_logging(level: str) -> None:
    """The app's loggers (session start/end lines) next to uvicorn's, in the same shape,
    and no secret in any line (log_redaction.py): in the supervisor and in every worker."""
    logging.basicConfig(level=level.upper(), format="%(levelname)s:     %(name)s %(message)s")
    install_redaction()


@dataclass
class WorkerSpec:
    """What a worker process is started with (pickled into it by multiprocessing)."""

    index: int
    options: dict[str, Any]
    channel: socket.socket  # the worker's end of a SOCK_SEQPACKET pair
    loads: Any  # a multiprocessing RawArray of ROW ints per worker
    log_level: str


def worker_main(spec: WorkerSpec) -> None:
    """A worker process: the app under a uvicorn server that listens on nothing and is fed
    sockets by the supervisor."""
    from mlp_playground.app import create_app

    setup_logging(spec.log_level)
    config = uvicorn.Config(create_app, factory=True, **spec.options)
    server = uvicorn.Server(config)
    asyncio.run(_worker_serve(server, spec))


async def _worker_serve(server: uvicorn.Server, spec: WorkerSpec) -> None:
    serving = asyncio.create_task(server.serve(sockets=[]))
    while not server.started:
        if serving.done():
            return await serving
        await asyncio.sleep(0.02)
    feeder = Feeder(server, spec)
    feeder.start()
    try:
        await serving
    finally:
        feeder.stop()


class Feeder:
    """A worker's end of the channel: sockets from the supervisor become connections of
    its uvicorn server; its session count goes back through shared memory."""

    def __init__(self, server: uvicorn.Server, spec: WorkerSpec) -> None:
        self.server = server
        self.spec = spec
        self.channel = spec.channel
        self.channel.setblocking(False)
        self.base = spec.index * ROW
        self.received = 0
        self.handing = 0  # owners' sockets received, not yet connections
        self.owners: set[asyncio.BaseTransport] = set()
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.reporter: asyncio.Task[None] | None = None
        self.balancer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.loop.add_reader(self.channel.fileno(), self._on_sockets)
        self.reporter = self.loop.create_task(self._report_forever())
        self.balancer = self.loop.create_task(self._balance_forever())
        self.spec.loads[self.base + READY] = os.getpid()

    def stop(self) -> None:
        self.spec.loads[self.base + READY] = 0
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.channel.fileno())
        for task in (self.reporter, self.balancer):
            if task is not None:
                task.cancel()
        self.channel.close()

    def _protocol(self) -> asyncio.Protocol:
        """uvicorn's HTTP protocol, built as its own server builds one for a connection."""
        config = self.server.config
        return config.http_protocol_class(  # type: ignore[call-arg]
            config=config,
            server_state=self.server.server_state,
            app_state=self.server.lifespan.state,
        )

    def _on_sockets(self) -> None:
        while True:
            try:
                tag, fds, _flags, _addr = socket.recv_fds(self.channel, 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                tag, fds = b"", []
            if not tag and not fds:  # the supervisor is gone: stop as on SIGTERM
                self.loop.remove_reader(self.channel.fileno())
                self.server.should_exit = True
                return
            for fd in fds:
                if self.server.should_exit:
                    os.close(fd)
                    continue
                owner = tag == OWNER
                if owner:
                    self.received += 1
                    self.handing += 1
                task = self.loop.create_task(self._serve(socket.socket(fileno=fd), owner))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _serve(self, sock: socket.socket, owner: bool) -> None:
        sock.setblocking(False)
        try:
            transport, _ = await self.loop.connect_accepted_socket(self._protocol, sock)
        except OSError:
            sock.close()  # the client left before it was served
        else:
            if owner:
                self.owners.add(transport)
        finally:
            if owner:
                self.handing -= 1

    def owners_open(self) -> int:
        """Owners' connections received and not closed (those being set up included)."""
        self.owners = {t for t in self.owners if not t.is_closing()}
        return self.handing + len(self.owners)

    async def _report_forever(self) -> None:
        """Write this process's load: its sessions or its owners' connections, whichever is
        more (a new owner counts from the moment its socket arrives, a session in its grace
        period until it ends), with the count of owners' sockets received so far."""
        app = self.server.config.loaded_app
        registry = None
        while True:
            registry = registry or _registry_of(app)
            sessions = len(registry) if registry is not None else 0
            self.spec.loads[self.base + SESSIONS] = max(sessions, self.owners_open())
            self.spec.loads[self.base + RECEIVED] = self.received
            await asyncio.sleep(REPORT_SECONDS)

    async def _balance_forever(self) -> None:
        """Move sessions to a less busy worker when this one holds well over its share
        (after a worker died and its sessions resumed here, or after others' sessions
        ended): their owners' pages are asked to reconnect, and the supervisor places
        each on the least busy worker, which takes the session over."""
        app = self.server.config.loaded_app
        agreed = 0
        while True:
            await asyncio.sleep(BALANCE_SECONDS)
            extra = surplus(self.spec.loads, self.spec.index)
            agreed = agreed + 1 if extra else 0
            registry = _registry_of(app)
            if agreed < 2 or registry is None:
                continue
            moved = [s for s in registry.sessions.values() if movable(s)][:extra]
            log.info("moving %d sessions to a less busy worker", len(moved))
            for session in moved:
                session.owner.request_close(CLOSE_MOVE, "moving to a less busy process")
            agreed = 0
            await asyncio.sleep(BALANCE_PAUSE)


def surplus(loads: Any, index: int) -> int:
    """How many sessions worker ``index`` should move away: those over its fair share
    (the ready workers' sessions shared evenly) when it holds more than
    ``BALANCE_SLACK`` times that share and two more than the least busy; else 0."""
    rows = range(len(loads) // ROW)
    ready = [loads[i * ROW + SESSIONS] for i in rows if loads[i * ROW + READY]]
    own = loads[index * ROW + SESSIONS]
    if len(ready) < 2 or not loads[index * ROW + READY]:
        return 0
    fair = math.ceil(sum(ready) / len(ready))
    if own <= fair * BALANCE_SLACK or own - min(ready) < 2:
        return 0
    return own - fair


def movable(session: Any) -> bool:
    """A session whose owner is a page (it sent ``Origin``), which reconnects and resumes
    by itself when asked; not a student's (a class lives in one process), not one that
    never trained (it has no snapshot), nor one whose owner is a script, which might not
    come back."""
    owner = session.owner
    if owner is None or session.class_code is not None or owner.close_code is not None:
        return False
    if session.trainer.step == 0:  # never trained: no snapshot to resume from
        return False
    return bool(owner.websocket.headers.get("origin"))


def _registry_of(app: Any) -> Any:
    """The session registry of the app under uvicorn's middleware wrappers."""
    for _ in range(10):
        state = getattr(app, "state", None)
        registry = getattr(state, "registry", None) if state is not None else None
        if registry is not None:
            return registry
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None
