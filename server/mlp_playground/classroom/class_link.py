"""A class over several processes: its students anywhere, on its teacher's wall anywhere.

``ClassLink`` joins this process's ``ClassRegistry`` to the others through the
``cluster.class_bus.ClassBus`` (Redis), when ``MLPG_REDIS_URL`` is set. Every
``TICK`` seconds, for each class this process knows:

- while a teacher is connected here, it asks for the class's thumbnails and rosters on the
  class's ``down`` channel (``want``: the subscription and its epoch) and listens on ``up``;
- while a teacher elsewhere wants them, it publishes the roster part of its own students
  on ``up`` (the same rows as a local roster), and each of their kind 5 thumbnails as it is
  made (newest-only per student);
- it holds, in Redis, one seat per local student (``max_students_per_class`` over every
  process) and each local student's nickname key (one student per name over every
  process); a killed process's places expire after the bus's ``ttl``.

A push is queued here for the local students and sent ``down`` for the others, whose
refusals come back ``up`` to the teachers. Ending a class is announced to every process.
Redis down: each process keeps its own students and its teachers see them; a roster then
says ``"cluster": "unavailable"`` and lists, from the store, the members it cannot see
(``unseen``). The bus reconnects and everything joins up again at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from mlp_playground.classroom import push
from mlp_playground.classroom.names import GuessCounter, name_key
from mlp_playground.classroom.roster import student_entry
from mlp_playground.classroom.thumbnails import ThumbnailSubscription
from mlp_playground.cluster.class_bus import REPORT, ROSTER, THUMBNAIL, ClassBus
from mlp_playground.cluster.errors import ClusterUnavailable
from mlp_playground.cluster.redis_client import connect
from mlp_playground.store.base import client_key
from mlp_playground.tasks import cancel_and_wait

if TYPE_CHECKING:
    from mlp_playground.classroom.classes import ClassRegistry, Classroom
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.classroom")

TICK = 0.5
#: A teacher's ``want`` is sent every ``WANT_EVERY`` s and is good for ``WANT_FOR`` s.
WANT_EVERY, WANT_FOR = 1.0, 3.0
#: A roster part older than this is from a process that went away: not shown.
PART_FRESH = 3.0
#: A seat taken for a student whose session is not made yet is held this long at most.
PENDING_SECONDS = 15.0
#: The teachers' places of class C are the seats of "C/teachers".
TEACHERS = "/teachers"
#: How often the members a teacher cannot see are read from the store while Redis is down.
MEMBERS_EVERY = 2.0


class ClassLink:
    """One process's share of every class; loop-thread only."""

    def __init__(
        self, classes: ClassRegistry, registry: SessionRegistry, bus: ClassBus, runs: Any = None
    ) -> None:
        self.classes, self.registry, self.bus = classes, registry, bus
        self.runs = runs  # the store of saved runs, for pushed runs (``get_run``)
        self.loop = asyncio.get_running_loop()
        self.process_id = bus.process_id
        #: code -> process -> (time.monotonic() received, roster rows)
        self.parts: dict[str, dict[str, tuple[float, list[dict[str, Any]]]]] = {}
        self._seats: dict[str, str] = {}  # local student session id -> its seat
        self._pending: dict[str, tuple[str, str, float]] = {}  # seat -> (code, name key, t)
        self._wanted_at: dict[str, float] = {}  # code -> when this process last sent want
        self._epochs: dict[str, int] = {}  # code -> the last want epoch acted on
        self._unseen: dict[str, tuple[float, list[dict[str, str]]]] = {}
        self._teachers: dict[str, set[str]] = {}  # code -> this process's teacher seats
        self._task: asyncio.Task[None] | None = None
        bus.on_event, bus.on_down, bus.on_up = self._on_event, self._on_down, self._on_up

    @classmethod
    async def start(
        cls, classes: ClassRegistry, registry: SessionRegistry, runs: Any = None
    ) -> ClassLink | None:
        """The link of a registry that has a cluster link (Redis configured), else None."""
        cluster_link = registry.link
        if cluster_link is None:
            return None
        cluster = cluster_link.cluster
        stream = connect(registry.settings.redis_url, retries=0)
        bus = ClassBus(cluster.redis, stream, registry.settings.redis_prefix, cluster.process_id)
        link = cls(classes, registry, bus, runs)
        classes.link = link
        bus.start()
        link._task = asyncio.create_task(link._tick_forever(), name="class-link")
        for klass in classes.classes.values():
            link.follow(klass)
        return link

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        await self.bus.close()
        with contextlib.suppress(Exception):
            await self.bus.stream.aclose()

    @property
    def available(self) -> bool:
        return self.bus.available

    # --- classes coming and going ------------------------------------------------------

    def follow(self, klass: Classroom) -> None:
        """A class met here: hear its ``down`` channel, send its thumbnails when wanted."""
        self.bus.follow(klass.code)
        code = klass.code
        klass.sink.remote = lambda sid, frame: self.bus.send_up(
            code, THUMBNAIL, sid.encode() + b"\n" + frame, slot=sid
        )

    def opened(self, klass: Classroom) -> None:
        self.follow(klass)
        self.bus.announce({"type": "opened", "class": klass.code, "process": self.process_id})

    def announce_end(self, klass: Classroom) -> None:
        self.bus.announce({"type": "ended", "class": klass.code, "process": self.process_id})

    def forget(self, klass: Classroom) -> None:
        self.bus.forget(klass.code)
        self.bus.forget(klass.code + TEACHERS)
        for per_class in (self.parts, self._unseen, self._wanted_at, self._teachers):
            per_class.pop(klass.code, None)
        for key in [k for k in self._epochs if k.startswith(klass.code + ":")]:
            del self._epochs[key]
        for sid in klass.students:
            self._seats.pop(sid, None)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "ended" and event.get("process") != self.process_id:
            klass = self.classes.classes.get(str(event.get("class")))
            if klass is not None:
                self.classes.end_here(klass, "class_ended")

    # --- admission -----------------------------------------------------------------------

    async def admit(self, klass: Classroom, nickname: str, reclaim: bool = False) -> str:
        """A seat and the nickname for a new student over every process: the seat's id,
        or the refusal (``"too_many_students"``, ``"name_taken"``). Redis down: "" (the
        caller's local checks are all there is). ``reclaim``: the name is this student's
        (proved by a resume key): held here even if a dead process still holds it."""
        seat = "seat-" + secrets.token_hex(8)
        key = name_key(nickname)
        try:
            if not await self.bus.take_seat(
                klass.code, seat, self.registry.settings.max_students_per_class
            ):
                return "too_many_students"
            self._pending[seat] = (klass.code, key, time.monotonic())
            if not reclaim and not await self.bus.claim_name(klass.code, key):
                self._pending.pop(seat, None)
                self._hold(klass)
                return "name_taken"
        except ClusterUnavailable:
            self._pending.pop(seat, None)
            return ""
        return seat

    async def guesses(self, client: str, add: bool) -> float:
        """Seconds ``client`` must wait (over ``max_unknown_codes_per_minute`` counted on
        every process), else 0; ``add``: one more failure. Redis down: 0 (the caller's own
        count holds)."""
        limit = self.registry.settings.max_unknown_codes_per_minute
        try:
            return await self.bus.guesses(client_key(client), limit, GuessCounter.WINDOW, add)
        except ClusterUnavailable:
            return 0.0

    def seated(self, session: LiveSession, seat: str) -> None:
        """The student's session exists: its seat is held for it from now on."""
        if seat:
            self._seats[session.id] = seat
            self._pending.pop(seat, None)

    async def rejoined(self, klass: Classroom, session: LiveSession) -> None:
        """A member resumed here: its seat and name are held here (over the cap if need be:
        it had its place), re-added by the next heartbeat."""
        self._hold(klass)

    async def take_teacher(self, klass: Classroom, seat: str, cap: int) -> bool:
        """A place among the class's teacher connections over every process (Redis down:
        True, the caller's own count is all there is)."""
        try:
            ok = await self.bus.take_seat(klass.code + TEACHERS, seat, cap)
        except ClusterUnavailable:
            return True
        if ok:
            self._teachers.setdefault(klass.code, set()).add(seat)
        return ok

    def teacher_left(self, klass: Classroom, seat: str) -> None:
        held = self._teachers.get(klass.code, set())
        held.discard(seat)
        self.bus.hold(klass.code + TEACHERS, set(held), set())

    def _hold(self, klass: Classroom) -> None:
        local = self.classes.students(klass, self.registry)
        now = time.monotonic()
        for seat in [s for s, (_c, _k, t) in self._pending.items() if now - t > PENDING_SECONDS]:
            del self._pending[seat]
        pending = [(s, k) for s, (c, k, _t) in self._pending.items() if c == klass.code]
        seats = {self._seats.get(s.id, s.id) for s in local} | {s for s, _k in pending}
        names = {name_key(s.student_name or "") for s in local} | {k for _s, k in pending}
        self.bus.hold(klass.code, seats, names)

    # --- the tick ----------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            for sid in [s for s in self._seats if self.registry.get(s) is None]:
                del self._seats[sid]  # its session is gone: so is its seat (next hold)
            for klass in list(self.classes.classes.values()):
                try:
                    await self._tick(klass)
                except Exception:  # one class's trouble must not stop the others
                    log.exception("class %s: tick failed", klass.code)

    async def _tick(self, klass: Classroom) -> None:
        code, now = klass.code, time.monotonic()
        self._hold(klass)
        teachers_here = bool(klass.sink.teachers)
        self.bus.watch(code, teachers_here)
        if teachers_here and now - self._wanted_at.get(code, 0.0) >= WANT_EVERY:
            self._wanted_at[code] = now
            want = {
                "type": "want",
                "from": self.process_id,
                "epoch": klass.sink.epoch,
                "subscription": klass.sink.subscription.to_dict(),
            }
            self.bus.send_down(code, want)
        if klass.sink.remote_wanted():
            local = self.classes.students(klass, self.registry)
            rows = [student_entry(s, klass.students[s.id]) for s in local]
            part = json.dumps({"process": self.process_id, "students": rows}).encode()
            self.bus.send_up(code, ROSTER, part, slot="roster")
        if teachers_here and not self.available:
            await self._read_unseen(klass, now)

    # --- messages from the others --------------------------------------------------------

    def _on_down(self, code: str, message: dict[str, Any]) -> None:
        klass = self.classes.classes.get(code)
        if klass is None or message.get("from") == self.process_id:
            return
        kind = message.get("type")
        if kind == "want":
            self._wanted(klass, message)
        elif kind == "push":
            self._pushed(klass, message)

    def _wanted(self, klass: Classroom, message: dict[str, Any]) -> None:
        sub = message.get("subscription") or {}
        wanted = ThumbnailSubscription(
            int(sub.get("thumbnail_resolution", klass.sink.subscription.resolution)),
            float(sub.get("thumbnail_fps", klass.sink.subscription.fps)),
        )
        fresh = not klass.sink.remote_wanted()
        klass.sink.want_remote(WANT_FOR)
        if wanted != klass.sink.subscription:
            klass.sink.resubscribe(wanted)
            fresh = True
        epoch = int(message.get("epoch", 0))
        key = f"{klass.code}:{message.get('from')}"
        if fresh or self._epochs.get(key) != epoch:
            self._epochs[key] = epoch
            for session in self.classes.students(klass, self.registry):
                session.want_frame()
            self.registry.scheduler.wake()

    def _pushed(self, klass: Classroom, message: dict[str, Any]) -> None:
        students = self.classes.students(klass, self.registry)
        code = klass.code

        def report(session: LiveSession, field: str | None, text: str) -> None:
            err = {
                "type": "error",
                "code": "push_refused",
                "message": f"{session.student_name}'s session refused the push: {text}",
                "field": field,
                "request": "push",
                "session_id": session.id,
                "name": session.student_name,
            }
            data = json.dumps(err).encode()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self.bus.send_up, code, REPORT, data)

        if isinstance(message.get("config"), dict):
            push.check_config(message["config"], self.registry.settings.limits())
            push.queue(students, "_push_config", {"config": message["config"], "report": report})
        elif isinstance(message.get("run"), str) and self.runs is not None:
            self.classes.background(self._push_run(students, message["run"], report), "push")

    async def _push_run(self, students: list[LiveSession], run_id: str, report: Any) -> None:
        run = await asyncio.to_thread(self.runs.get_run, run_id)
        if run is not None:
            push.queue(students, "_push_run", {"run": run, "report": report})

    def _on_up(self, code: str, kind: bytes, payload: bytes) -> None:
        klass = self.classes.classes.get(code)
        if klass is None or not klass.sink.teachers:
            return
        if kind == THUMBNAIL:
            sid, _, frame = payload.partition(b"\n")
            klass.sink.show(sid.decode(), frame)
        elif kind == ROSTER:
            part = json.loads(payload)
            if part.get("process") != self.process_id:
                rows = part.get("students") or []
                self.parts.setdefault(code, {})[str(part["process"])] = (time.monotonic(), rows)
        elif kind == REPORT:
            text = payload.decode()
            for conn in list(klass.sink.teachers):
                conn.push(text)

    # --- what the teacher's wall shows ---------------------------------------------------

    def remote_rows(self, klass: Classroom, local_ids: set[str]) -> list[dict[str, Any]]:
        """The students of the other processes that answered lately (not those here)."""
        now, rows, seen = time.monotonic(), [], set(local_ids)
        for process, (at, part) in sorted(self.parts.get(klass.code, {}).items()):
            if now - at > PART_FRESH or process == self.process_id:
                continue
            for row in part:
                sid = str(row.get("session_id"))
                if sid not in seen:
                    seen.add(sid)
                    rows.append(row)
        return rows

    def status(self, klass: Classroom, listed: set[str]) -> dict[str, Any]:
        """The roster's extra fields: whether the other processes can be heard, and the
        members it cannot see while they cannot."""
        if self.available:
            return {"cluster": "ok", "unseen": []}
        _at, members = self._unseen.get(klass.code, (0.0, []))
        return {
            "cluster": "unavailable",
            "unseen": [m for m in members if m["session_id"] not in listed],
        }

    async def _read_unseen(self, klass: Classroom, now: float) -> None:
        at, _members = self._unseen.get(klass.code, (0.0, []))
        if now - at < MEMBERS_EVERY:
            return
        self._unseen[klass.code] = (now, _members)
        members = await self.classes.members(klass)
        rows = [{"session_id": m.session_id, "name": m.name} for m in members]
        self._unseen[klass.code] = (now, rows)

    def push(self, klass: Classroom, what: dict[str, Any]) -> int:
        """Send a push to the class's students on the other processes; how many there are."""
        self.bus.send_down(klass.code, {"type": "push", "from": self.process_id, **what})
        local = {s.id for s in self.classes.students(klass, self.registry)}
        return len(self.remote_rows(klass, local))
