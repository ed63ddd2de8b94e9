"""``SqlClasses``: the ``ClassStore`` half of ``SqlStore`` (tables ``classes`` and
``class_members``, schema v4).

``create_class`` reads the open classes and inserts in one write transaction (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: ``LOCK TABLE classes IN SHARE ROW EXCLUSIVE MODE``), so two
processes opening classes at once cannot both take the last place.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from mlp_playground.store.classes import ClassMember, ClassRow, ClassStore, check_caps
from mlp_playground.store.tables import class_members, classes

_CLASS_COLUMNS = [c.name for c in classes.columns]


def _row(found: Any) -> ClassRow:
    values = dict(found._mapping)
    values["claimed"], values["ended"] = bool(values["claimed"]), bool(values["ended"])
    return ClassRow(**values)


def _member(found: Any) -> ClassMember:
    return ClassMember(found.code, found.session_id, found.name, found.joined, found.resume_hash)


class SqlClasses(ClassStore):
    """Mixed into ``SqlStore``, which provides ``engine``, ``dialect``, ``clock``, ``_write``."""

    engine: Engine
    dialect: str
    clock: Callable[[], float]
    _write: Callable[[], AbstractContextManager[Connection]]

    def _purge_closed(self, conn: Connection, now: float) -> None:
        closed = or_(
            classes.c.ended,
            classes.c.expires <= now,
            (classes.c.claimed == False) & (classes.c.claim_by <= now),  # noqa: E712
        )
        codes = select(classes.c.code).where(closed)
        conn.execute(delete(class_members).where(class_members.c.code.in_(codes)))
        conn.execute(delete(classes).where(closed))

    def create_class(self, row: ClassRow, max_open: int, max_per_client: int) -> bool:
        now = self.clock()
        try:
            with self._write() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("LOCK TABLE classes IN SHARE ROW EXCLUSIVE MODE"))
                self._purge_closed(conn, now)
                rows = [_row(r) for r in conn.execute(select(classes))]
                check_caps(rows, row.client, max_open, max_per_client, now)
                conn.execute(classes.insert().values({c: getattr(row, c) for c in _CLASS_COLUMNS}))
        except IntegrityError:
            return False
        return True

    def get_class(self, code: str) -> ClassRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(classes).where(classes.c.code == code)).first()
        return _row(found) if found is not None else None

    def claim_class(self, code: str) -> None:
        with self._write() as conn:
            conn.execute(update(classes).where(classes.c.code == code).values(claimed=True))

    def end_class(self, code: str) -> None:
        with self._write() as conn:
            conn.execute(update(classes).where(classes.c.code == code).values(ended=True))
            conn.execute(delete(class_members).where(class_members.c.code == code))

    def add_member(self, member: ClassMember) -> None:
        values = {
            "session_id": member.session_id,
            "code": member.code,
            "name": member.name,
            "joined": member.joined,
            "resume_hash": member.resume_hash,
        }
        with self._write() as conn:
            conn.execute(
                delete(class_members).where(class_members.c.session_id == member.session_id)
            )
            conn.execute(class_members.insert().values(values))

    def class_members(self, code: str) -> list[ClassMember]:
        query = (
            select(class_members)
            .where(class_members.c.code == code)
            .order_by(class_members.c.joined, class_members.c.session_id)
        )
        with self.engine.connect() as conn:
            return [_member(m) for m in conn.execute(query)]

    def member_of(self, session_id: str) -> ClassMember | None:
        query = select(class_members).where(class_members.c.session_id == session_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).first()
        return _member(found) if found is not None else None
