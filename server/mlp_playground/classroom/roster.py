"""The ``roster`` message: every student of a class, from what their sessions publish.

The numbers are the student's last ``metrics`` (``FrameProducer.published``, replaced by
the worker with each of that student's frames) and the parameter count computed with
them, so building a roster reads a few references and never touches a trainer. A student
who has not had a frame yet shows nulls and step 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlp_playground.live.outgoing import dumps

if TYPE_CHECKING:
    from mlp_playground.classroom.classes import ClassRegistry, Classroom
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

METRIC_FIELDS = ("train_loss", "validation_loss", "train_accuracy", "validation_accuracy")


def student_entry(session: LiveSession, name: str) -> dict[str, Any]:
    """One roster row (the fields of docs/design.md, "The classroom", then the page's extras)."""
    published = session.frames.published or {}
    return {
        "session_id": session.id,
        "name": name,
        "step": published.get("step", 0),
        **{k: published.get(k) for k in METRIC_FIELDS},
        "parameters": published.get("parameters"),
        "running": bool(session.running),
        # Extras for the class page: whether the student's page is connected now, and the
        # watch token that opens their session full size, read-only (/ws/watch/{token}).
        "connected": session.owner is not None,
        "watch_token": session.watch_token,
    }


def roster_message(klass: Classroom, classes: ClassRegistry, registry: SessionRegistry) -> str:
    """The roster as JSON text: this process's students in join order, then those of the
    other processes (``classroom.class_link``), with whether those can be heard now."""
    students = [student_entry(s, klass.students[s.id]) for s in classes.students(klass, registry)]
    extra: dict[str, Any] = {}
    if classes.link is not None:
        students += classes.link.remote_rows(klass, {s["session_id"] for s in students})
        extra = classes.link.status(klass, {s["session_id"] for s in students})
    return dumps({"type": "roster", "class": klass.code, "students": students, **extra})
