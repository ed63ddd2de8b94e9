"""Fair shares of REST compute and of large-body parsing: per-client caps, a global cap and a
short, bounded queue.

One client must not take the threads every other request needs. So the REST routes that
compute (/train, /race, /predict, /gradcheck, /export) run on threads of their own (an
anyio ``CapacityLimiter`` of ``Settings.max_rest_jobs``, not the shared threadpool that
FastAPI's sync routes and dependencies use), at most ``max_rest_jobs`` at once, and a client
may have at most ``max_rest_jobs_per_client`` of them in flight (waiting ones included):
its next one is a 429 with ``Retry-After`` at once, naming the limit. When the server is
busy a request waits, because a student pressing "Train" expects an answer, not an error
because a classmate trains too: the queue is fair (a freed place goes to the waiting
client with the fewest running, first come first served among equals), bounded
(``max_rest_queue`` waiting in all) and short (``rest_queue_seconds``); beyond either, 503
with ``Retry-After``. Large bodies (``routes.body_limit``) are gated the same way by
``max_large_bodies_per_client`` and ``max_large_bodies``. Every count lives on the event
loop (one ``Gate`` per app, on ``app.state``), so no lock is needed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from mlp_playground.client_address import client_address
from mlp_playground.config import Settings

T = TypeVar("T")

PER_CLIENT_RETRY_SECONDS = 1
"""Retry-After of a 429: the client's own request in flight ends soon or is long anyway."""
BUSY_RETRY_SECONDS = 2
"""Retry-After of a 503: the queue was full or the wait too long."""


class Refused(Exception):
    """A request the gate will not take: ``status`` 429 (this client's share) or 503."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after

    def http(self) -> HTTPException:
        return HTTPException(
            self.status, self.message, headers={"Retry-After": str(self.retry_after)}
        )

    def response(self, *, close: bool = False) -> JSONResponse:
        """The refusal as a response; ``close``: the body was not read, the connection ends."""
        headers = {"Retry-After": str(self.retry_after)}
        if close:
            headers["Connection"] = "close"
        return JSONResponse({"detail": self.message}, self.status, headers=headers)


@dataclass(order=True)
class _Waiter:
    running: int  # the client's places held when it queued (fewest first)
    seq: int  # then first come, first served
    client: str = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


@dataclass
class Gate:
    """``per_client`` places in flight per client, ``total`` held at once, a fair queue."""

    what: str  # "REST compute requests", "large bodies"
    per_client_name: str  # the Settings field, named in a 429
    total_name: str
    per_client: int
    total: int
    queue: int
    wait_seconds: float
    held: int = 0
    running: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    waiters: list[_Waiter] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    def _refuse_now(self, client: str) -> None:
        if self.in_flight.get(client, 0) >= self.per_client:
            raise Refused(
                429,
                f"this address already has {self.per_client} {self.what} in flight, the "
                f"limit per client ({self.per_client_name}); retry when one has ended",
                PER_CLIENT_RETRY_SECONDS,
            )
        if self.held >= self.total and len(self.waiters) >= self.queue:
            raise Refused(503, self._busy(f"{self.queue} already wait"), BUSY_RETRY_SECONDS)

    def _busy(self, why: str) -> str:
        return (
            f"the server is busy: {self.total} {self.what} run at once ({self.total_name}) "
            f"and {why}; retry shortly"
        )

    def _take(self, client: str) -> None:
        self.held += 1
        self.running[client] = self.running.get(client, 0) + 1

    def _release(self, client: str) -> None:
        self.held -= 1
        self.running[client] -= 1
        if not self.running[client]:
            del self.running[client]
        self._hand_on()

    def _hand_on(self) -> None:
        """Give free places to the fairest waiters (the live counts, not those at queueing)."""
        while self.held < self.total and self.waiters:
            for w in self.waiters:
                w.running = self.running.get(w.client, 0)
            best = min(self.waiters)
            self.waiters.remove(best)
            self._take(best.client)
            best.future.set_result(None)

    async def _wait(self, client: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(self.running.get(client, 0), next(self._seq), client, future)
        self.waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.wait_seconds)
        except BaseException as exc:
            if future.done():  # handed a place just as the wait ended: give it back
                self._release(client)
            else:
                self.waiters.remove(waiter)
                future.cancel()
            if isinstance(exc, TimeoutError):
                why = f"no place came free within {self.wait_seconds:g} s"
                raise Refused(503, self._busy(why), BUSY_RETRY_SECONDS) from None
            raise

    @asynccontextmanager
    async def place(self, client: str) -> AsyncIterator[None]:
        """Hold one place for ``client`` (waiting for it if need be), or raise ``Refused``."""
        self._refuse_now(client)
        self.in_flight[client] = self.in_flight.get(client, 0) + 1
        try:
            if self.held < self.total and not self.waiters:
                self._take(client)
            else:
                await self._wait(client)
            try:
                yield
            finally:
                self._release(client)
        finally:
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]


@dataclass
class Gates:
    """An app's two gates and the threads compute and large parses run on."""

    compute: Gate
    bodies: Gate
    compute_threads: CapacityLimiter
    parse_threads: CapacityLimiter


def _new_gates(settings: Settings) -> Gates:
    queue, wait = settings.max_rest_queue, settings.rest_queue_seconds
    compute = Gate(
        "REST compute requests",
        "max_rest_jobs_per_client",
        "max_rest_jobs",
        settings.max_rest_jobs_per_client,
        settings.max_rest_jobs,
        queue,
        wait,
    )
    bodies = Gate(
        f"large bodies (over {settings.large_body_bytes} bytes)",
        "max_large_bodies_per_client",
        "max_large_bodies",
        settings.max_large_bodies_per_client,
        settings.max_large_bodies,
        queue,
        wait,
    )
    return Gates(
        compute,
        bodies,
        CapacityLimiter(settings.max_rest_jobs),
        CapacityLimiter(settings.max_large_bodies),
    )


def gates_of(request: Request) -> Gates:
    """This app's gates, made on first use (on the event loop: no other task runs between
    the look-up and the assignment)."""
    state = request.app.state
    gates = getattr(state, "rest_gates", None)
    if gates is None:
        gates = state.rest_gates = _new_gates(state.settings)
    return gates


async def run_compute(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a compute thread once this client's place is granted; a refusal is
    an HTTPException (429 or 503, with Retry-After). The place is held until the thread
    ends, even if the client has gone: its CPU is busy until then."""
    gates = gates_of(request)
    try:
        async with gates.compute.place(client_address(request)):
            call = partial(fn, *args)
            return await anyio.to_thread.run_sync(call, limiter=gates.compute_threads)
    except Refused as exc:
        raise exc.http() from None
