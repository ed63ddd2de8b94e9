"""``ClassBus``: a class's traffic between the processes sharing one Redis.

It knows nothing of sessions or of what a class allows (``classroom.class_link`` does);
it moves bytes and holds places, with these names under the deployment's prefix:

- ``<p>:class-events``: announcements to every process (a class opened, a class ended),
  JSON, to ``on_event``.
- ``<p>:class:<code>:down``: to every process holding students of a class (the teachers'
  wishes, pushes), JSON, to ``on_down``. Subscribed with ``follow(code)``.
- ``<p>:class:<code>:up``: from those processes to the teachers' (roster parts, thumbnails,
  refused pushes): one kind byte, then the payload, to ``on_up``. Subscribed with
  ``watch(code)`` while a teacher is connected here. Sent with ``send_up`` through
  newest-only slots (a slow Redis gets each student's newest thumbnail, never a backlog).
- ``<p>:class:<code>:seats`` and ``:names``: leases (sorted sets scored by expiry on Redis's
  clock, as ``cluster.leases``): a seat under the class's student cap, and a nickname's key,
  which only one student may hold. ``hold`` says what this process holds; the heartbeat
  re-asserts it every ``heartbeat`` seconds, so a killed process's places expire by
  themselves after ``ttl``.

One pub/sub connection, one reader task that (re)subscribes, one writer task and one
heartbeat. Redis down: ``available`` is False, sends are dropped, places cannot be taken
(``ClusterUnavailable``); the reader reconnects with a backoff and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from mlp_playground.cluster.errors import ClusterUnavailable, guarded
from mlp_playground.cluster.leases import _NOW, LeaseScripts
from mlp_playground.tasks import cancel_and_wait

log = logging.getLogger("mlp_playground.cluster")

#: A name is taken only if nobody holds it (``LeaseScripts.acquire`` lets a member in again).
CLAIM_NAME = (
    _NOW
    + """
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

#: KEYS: a client's failures (member -> ms). ARGV: limit, window ms, add (0/1), member.
#: Returns the ms until the client may try again (over its limit), else -1.
GUESSES = (
    _NOW
    + """
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then return -1 end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""
)

ROSTER, THUMBNAIL, REPORT = b"R", b"T", b"E"
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0
#: No message, not even the reader's own pings answered, for this long: reconnect.
DEAD_AFTER = 3.0


class ClassBus:
    """One per process; loop-thread only."""

    def __init__(
        self,
        redis: Redis,
        stream: Redis,
        prefix: str,
        process_id: str,
        *,
        heartbeat: float = 2.0,
        ttl: float = 6.0,
    ) -> None:
        self.redis, self.stream = redis, stream
        self.prefix, self.process_id = prefix, process_id
        self.heartbeat, self.ttl_ms = heartbeat, max(1, round(ttl * 1000))
        self._scripts = LeaseScripts(redis)
        self._claim_name = redis.register_script(CLAIM_NAME)
        self._guesses = redis.register_script(GUESSES)
        self._guess_ids = 0
        self.on_event: Callable[[dict[str, Any]], None] = lambda _e: None
        self.on_down: Callable[[str, dict[str, Any]], None] = lambda _c, _m: None
        self.on_up: Callable[[str, bytes, bytes], None] = lambda _c, _k, _p: None
        #: Called on the loop when the reader (re)connects (True) or loses Redis (False).
        self.on_state: Callable[[bool], None] = lambda _ok: None
        self._down: set[str] = set()
        self._up: set[str] = set()
        self._changed = asyncio.Event()
        self._slots: dict[tuple[str, str], bytes] = {}
        self._queue: list[tuple[str, bytes]] = []
        self._ready = asyncio.Event()
        self._held: dict[str, tuple[set[str], set[str]]] = {}  # code -> (seats, names)
        self._tasks: list[asyncio.Task[None]] = []
        self._releases: set[asyncio.Task[None]] = set()
        self.connected = False
        self.sent = 0  # messages published (for benchmarks)
        self.sent_bytes = 0

    # --- names ---------------------------------------------------------------------------

    @property
    def events(self) -> str:
        return f"{self.prefix}:class-events"

    def channel(self, code: str, way: str) -> str:
        return f"{self.prefix}:class:{code}:{way}"

    @property
    def available(self) -> bool:
        return self.connected

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_forever(), name="class-bus-reader"),
            asyncio.create_task(self._write_forever(), name="class-bus-writer"),
            asyncio.create_task(self._beat_forever(), name="class-bus-heartbeat"),
        ]

    async def close(self) -> None:
        """Stop the tasks (within ~5 s even if a cancellation is lost while Redis is down:
        a worker's shutdown once waited here forever), then give back what is held."""
        if not await cancel_and_wait(self._tasks):
            log.warning("class bus tasks still running after close")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._give_back(), 2.0)

    async def _give_back(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for code, (seats, names) in self._held.items():
                if seats:
                    pipe.zrem(self.channel(code, "seats"), *seats)
                if names:
                    pipe.zrem(self.channel(code, "names"), *names)
            await pipe.execute()

    # --- subscriptions -------------------------------------------------------------------

    def follow(self, code: str) -> None:
        """Receive the class's ``down`` channel (this process holds or may hold students)."""
        if code not in self._down:
            self._down.add(code)
            self._changed.set()

    def watch(self, code: str, on: bool = True) -> None:
        """Receive (or stop receiving) the class's ``up`` channel (a teacher is here)."""
        if on != (code in self._up):
            (self._up.add if on else self._up.discard)(code)
            self._changed.set()

    def forget(self, code: str) -> None:
        self._down.discard(code)
        self._up.discard(code)
        self._held.pop(code, None)
        self._changed.set()

    def _wanted(self) -> set[str]:
        return (
            {self.events}
            | {self.channel(c, "down") for c in self._down}
            | {self.channel(c, "up") for c in self._up}
        )

    async def _read_forever(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            pubsub = self.stream.pubsub()
            try:
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("class bus: Redis lost (%s); reconnecting", exc)
            finally:
                if self.connected:
                    self.connected = False
                    self.on_state(False)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)

    async def _read(self, pubsub: Any) -> None:
        subscribed = self._wanted()
        await guarded("class subscribe", pubsub.subscribe(*subscribed))
        heard = last_ping = time.monotonic()
        while True:
            msg = await guarded("class read", pubsub.get_message(timeout=0.2), 2.0)
            now = time.monotonic()
            if msg is not None:
                heard = now
                if msg["type"] == "subscribe" and not self.connected:
                    self.connected = True
                    log.info("class bus: subscribed")
                    self.on_state(True)
                elif msg["type"] == "message":
                    self._dispatch(msg["channel"], msg["data"])
            if self._changed.is_set():
                self._changed.clear()
                wanted = self._wanted()
                if wanted - subscribed:
                    await guarded("class subscribe", pubsub.subscribe(*(wanted - subscribed)))
                if subscribed - wanted:
                    await guarded("class unsubscribe", pubsub.unsubscribe(*(subscribed - wanted)))
                subscribed = wanted
            if now - last_ping > 1.0:
                last_ping = now
                await guarded("class ping", pubsub.ping())
            if now - heard > DEAD_AFTER:
                raise ClusterUnavailable("no answer on the class bus")

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        name = channel.decode()
        try:
            if name == self.events:
                self.on_event(json.loads(data))
                return
            head, way = name.rsplit(":", 1)
            code = head.rsplit(":", 1)[1]
            if way == "down":
                self.on_down(code, json.loads(data))
            elif way == "up" and data:
                self.on_up(code, data[:1], data[1:])
        except Exception:  # a bad message must not end the reader
            log.exception("class bus: message on %s dropped", name)

    # --- sending -------------------------------------------------------------------------

    def announce(self, event: dict[str, Any]) -> None:
        self._send(self.events, json.dumps(event).encode())

    def send_down(self, code: str, message: dict[str, Any]) -> None:
        self._send(self.channel(code, "down"), json.dumps(message).encode())

    def send_up(self, code: str, kind: bytes, payload: bytes, slot: str | None = None) -> None:
        """Queue one message for the class's teachers; ``slot`` keeps only the newest."""
        self._send(self.channel(code, "up"), kind + payload, slot)

    def _send(self, channel: str, data: bytes, slot: str | None = None) -> None:
        if not self.connected:
            return  # Redis is down: nobody could hear it
        if slot is None:
            self._queue.append((channel, data))
        else:
            self._slots[(channel, slot)] = data
        self._ready.set()

    async def _write_forever(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch = self._queue + [(c, d) for (c, _s), d in self._slots.items()]
            self._queue, self._slots = [], {}
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await guarded("class publish", pipe.execute())
                self.sent += len(batch)
                self.sent_bytes += sum(len(d) for _c, d in batch)
            except ClusterUnavailable as exc:
                log.debug("class bus: %d messages dropped: %s", len(batch), exc)

    # --- places --------------------------------------------------------------------------

    async def take_seat(self, code: str, seat: str, cap: int) -> bool:
        """A place under the class's cap on every process (atomic); held until ``hold``
        stops listing it."""
        args: list[Any] = [seat, int(cap), self.ttl_ms]
        key = self.channel(code, "seats")
        ok = await guarded("class seat", self._scripts.acquire(keys=[key], args=args))
        if ok:
            self._held.setdefault(code, (set(), set()))[0].add(seat)
        return bool(ok)

    async def claim_name(self, code: str, key: str) -> bool:
        """The nickname key ``key`` for one student of the class, unless someone holds it."""
        args: list[Any] = [key, self.ttl_ms]
        redis_key = self.channel(code, "names")
        ok = await guarded("class name", self._claim_name(keys=[redis_key], args=args))
        if ok:
            self._held.setdefault(code, (set(), set()))[1].add(key)
        return bool(ok)

    async def guesses(self, client: str, limit: int, window: float, add: bool) -> float:
        """A client's failed look-ups over every process (``client``: a hashed address):
        with ``add``, one more; the seconds until it may try again if it is at ``limit``
        within ``window`` seconds, else 0."""
        self._guess_ids += 1
        member = f"{self.process_id}.{self._guess_ids}"
        key = f"{self.prefix}:class-guesses:{client}"
        args: list[Any] = [int(limit), round(window * 1000), int(add), member]
        wait = await guarded("class guesses", self._guesses(keys=[key], args=args))
        return max(0.0, int(wait) / 1000)

    async def seats_taken(self, code: str) -> int:
        key = self.channel(code, "seats")
        return int(await guarded("class seats", self._scripts.count(keys=[key], args=[])))

    def hold(self, code: str, seats: set[str], names: set[str]) -> None:
        """What this process holds for the class now; the rest is released."""
        old_seats, old_names = self._held.get(code, (set(), set()))
        gone_seats, gone_names = old_seats - seats, old_names - names
        self._held[code] = (set(seats), set(names))
        if (gone_seats or gone_names) and self.connected:
            task = asyncio.create_task(self._release(code, gone_seats, gone_names))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    async def _release(self, code: str, seats: set[str], names: set[str]) -> None:
        with contextlib.suppress(ClusterUnavailable):
            async with self.redis.pipeline(transaction=False) as pipe:
                if seats:
                    pipe.zrem(self.channel(code, "seats"), *seats)
                if names:
                    pipe.zrem(self.channel(code, "names"), *names)
                await guarded("class release", pipe.execute())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.refresh()
            except ClusterUnavailable as exc:
                log.debug("class bus heartbeat: %s", exc)

    async def refresh(self) -> None:
        """Re-assert every held seat and name (re-added if they expired meanwhile)."""
        held = [(c, s, n) for c, (s, n) in self._held.items() if s or n]
        if not held:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for code, seats, names in held:
                for key, members in (
                    (self.channel(code, "seats"), seats),
                    (self.channel(code, "names"), names),
                ):
                    if members:
                        args: list[Any] = [self.ttl_ms, *sorted(members)]
                        await self._scripts.refresh(keys=[key], args=args, client=pipe)
            await guarded("class heartbeat", pipe.execute())
