"""`mlp-playground --workers N`: one supervisor places each connection on a worker by load.

Why not uvicorn's workers sharing one listening socket: the kernel then gives each new
connection to whichever process calls ``accept`` first, and the spread of sessions is
luck (16 and 44 of 60 in one run, 2 and 38 of 40 in another; issue 22). Here the
supervisor (the process the command starts, which never imports the app) owns the
listening socket. For each connection it reads the request line without consuming it
(``MSG_PEEK``) and passes the socket itself, not its bytes, to a worker over a Unix socket
(``SCM_RIGHTS``); the worker serves it with uvicorn's own protocol, as if it had accepted
it. An owner's ``/ws`` (a new session, or a resume) goes to the worker with the fewest
sessions, counting those placed there and not yet reported; anything else (pages, REST,
watchers) goes round-robin. Each worker writes its session count into shared memory every
``REPORT_SECONDS``.

A worker that dies is replaced; until the new one is ready, every connection goes to the
others, so the owners whose sessions died with it resume there from their snapshots
(docs/design.md, "Several processes"); a worker well over its share then asks some of its
pages to reconnect, and they land on the replacement (``worker_feed.surplus``). SIGTERM or
Ctrl+C stops the supervisor's accept loop and then every worker gracefully (each writes
its sessions' snapshots).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import socket
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from mlp_playground.worker_feed import (
    OTHER,
    OWNER,
    READY,
    RECEIVED,
    ROW,
    SESSIONS,
    WorkerSpec,
    worker_main,
)

log = logging.getLogger("mlp_playground.workers")

#: How long the supervisor waits for a connection's first bytes before placing it anyway.
PEEK_SECONDS = 2.0
PEEK_BYTES = 64
#: How long a connection waits for a ready worker (all starting or restarting) before it
#: is closed.
NO_WORKER_SECONDS = 30.0
#: The supervisor checks its workers (dead, ready) this often.
WATCH_SECONDS = 0.1
#: A worker place whose process dies this many times in a row before it is ready: the app
#: cannot start, and the supervisor exits with status 1.
START_FAILURES = 3


def is_owner_socket(head: bytes) -> bool:
    """Whether a request's first bytes open an owner's ``/ws`` (a session to place by
    load): ``GET /ws`` followed by a space or a query, not ``/ws/watch/...``."""
    return head.startswith((b"GET /ws ", b"GET /ws?"))


# --- the supervisor side -------------------------------------------------------------------


@dataclass
class Slot:
    """One worker place: its process (replaced when it dies) and the supervisor's end of
    its channel; ``sent`` counts owners' sockets given to this process."""

    index: int
    process: BaseProcess | None = None
    channel: socket.socket | None = None
    sent: int = 0
    was_ready: bool = False
    failures: int = 0  # starts in a row that died before the worker was ready


class Supervisor:
    """The process ``--workers N`` starts: the listening socket, N workers, placement."""

    def __init__(self, listener: socket.socket, workers: int, options: dict[str, Any],
                 log_level: str) -> None:  # fmt: skip
        self.listener = listener
        self.options = options
        self.log_level = log_level
        self.context = multiprocessing.get_context("spawn")
        self.loads: Any = self.context.RawArray("q", ROW * workers)
        self.slots = [Slot(i) for i in range(workers)]
        self.turn = itertools.count()
        self.stopping = False
        self.failed = False
        self.served = False  # some worker was ready once
        self.tasks: set[asyncio.Task[Any]] = set()

    # life cycle

    def spawn(self, slot: Slot) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        base = slot.index * ROW
        for k in range(ROW):
            self.loads[base + k] = 0
        spec = WorkerSpec(slot.index, self.options, theirs, self.loads, self.log_level)
        process = self.context.Process(
            target=worker_main, args=(spec,), name=f"worker-{slot.index}"
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        slot.process, slot.channel = process, ours
        slot.sent, slot.was_ready = 0, False
        log.info("worker %d started (pid %s)", slot.index, process.pid)

    def ready(self, slot: Slot) -> bool:
        p = slot.process
        return (
            p is not None
            and p.pid is not None
            and self.loads[slot.index * ROW + READY] == p.pid
            and p.is_alive()
        )

    def load(self, slot: Slot) -> int:
        """Its sessions, and the owners placed there that it has not counted yet."""
        row = slot.index * ROW
        return self.loads[row + SESSIONS] + max(0, slot.sent - self.loads[row + RECEIVED])

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit status (1 if a worker failed to start)."""
        for slot in self.slots:
            self.spawn(slot)
        try:
            asyncio.run(self._main())
        finally:
            self._stop_workers()
        return 1 if self.failed else 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        self.listener.setblocking(False)
        self.listener.listen(self.options.get("backlog", 2048))
        accepting = loop.create_task(self._accept_forever())
        watching = loop.create_task(self._watch_forever(done))
        await done.wait()
        self.stopping = True
        for task in (accepting, watching, *self.tasks):
            task.cancel()
        self.listener.close()

    def _stop_workers(self) -> None:
        alive = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for p in alive:
            if p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + float(self.options.get("timeout_graceful_shutdown", 5)) + 10
        for p in alive:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(5)

    async def _watch_forever(self, done: asyncio.Event) -> None:
        """Replace a worker that died; give up (exit 1) when every worker died before any
        was ready, or one place failed to start ``START_FAILURES`` times in a row (the app
        cannot start: a restart would fail the same way).

        Readiness is read for every place before any death is judged: a worker that died
        while starting beside one that is ready (seen once in CI) is started again; the
        supervisor used to give up then, its ready worker with it, right after that worker
        had answered a first request."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for slot in self.slots:
                if self.ready(slot):
                    slot.was_ready, slot.failures = True, 0
                    self.served = True
            dead = [s for s in self.slots if s.process is not None and not s.process.is_alive()]
            starting = any(s.process is not None and s.process.is_alive() for s in self.slots)
            for slot in dead:
                p = slot.process
                assert p is not None
                log.warning("worker %d (pid %s) exited with %s", slot.index, p.pid, p.exitcode)
                if slot.channel is not None:
                    slot.channel.close()
                slot.failures += 0 if slot.was_ready else 1
                if (not self.served and not starting) or slot.failures >= START_FAILURES:
                    self.failed = True
                    done.set()
                    return
                self.spawn(slot)

    # placement

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _addr = await loop.sock_accept(self.listener)
            except OSError as exc:  # out of descriptors, for instance: breathe, go on
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._place(conn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _place(self, conn: socket.socket) -> None:
        try:
            head = await _peek(conn)
            if head is None:
                return  # closed before it said anything
            owner = is_owner_socket(head)
            deadline = time.monotonic() + NO_WORKER_SECONDS
            while not self._hand_over(conn, owner):
                if time.monotonic() > deadline or self.stopping:
                    return
                await asyncio.sleep(WATCH_SECONDS)
        finally:
            conn.close()  # the worker holds its own descriptor of the socket now

    def _hand_over(self, conn: socket.socket, owner: bool) -> bool:
        """Give the socket to the chosen ready worker (the next one if its channel fails)."""
        ready = [s for s in self.slots if self.ready(s)]
        turn = next(self.turn)
        order = sorted(
            ready,
            key=lambda s: (self.load(s) if owner else 0, (s.index - turn) % len(self.slots)),
        )
        for slot in order:
            assert slot.channel is not None
            try:
                socket.send_fds(slot.channel, [OWNER if owner else OTHER], [conn.fileno()])
            except OSError:  # dead, or its channel is full: another one
                continue
            if owner:
                slot.sent += 1
            return True
        return False


async def _peek(conn: socket.socket) -> bytes | None:
    """The connection's first bytes, left in the socket for the worker to read; b"" if it
    says nothing within ``PEEK_SECONDS``, None if it closed."""
    loop = asyncio.get_running_loop()
    conn.setblocking(False)
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), wake)
    try:
        await asyncio.wait_for(readable, PEEK_SECONDS)
    except asyncio.TimeoutError:
        return b""
    finally:
        loop.remove_reader(conn.fileno())
    try:
        head = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
    except OSError:
        return None
    return head or None


def run_workers(workers: int, options: dict[str, Any], log_level: str) -> int:
    """Bind the port, start ``workers`` processes and place connections until stopped."""
    config = uvicorn.Config("mlp_playground.app:create_app", factory=True, **options)
    listener = config.bind_socket()
    listener.set_inheritable(False)
    return Supervisor(listener, workers, options, log_level).run()
