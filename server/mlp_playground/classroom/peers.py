"""What a class registry asks of the other processes: ``ClassPeers``, which
``classroom.class_link.ClassLink`` implements (a protocol, so the registry does not import
the link that imports it). ``klass`` is a ``classes.Classroom``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession


class ClassPeers(Protocol):
    """The students and teachers of a class on the other processes (Redis)."""

    def opened(self, klass: Any) -> None: ...

    def follow(self, klass: Any) -> None: ...

    def forget(self, klass: Any) -> None: ...

    def announce_end(self, klass: Any) -> None: ...

    async def admit(self, klass: Any, nickname: str) -> str: ...

    def seated(self, session: LiveSession, seat: str) -> None: ...

    async def rejoined(self, klass: Any, session: LiveSession) -> None: ...

    def push(self, klass: Any, what: dict[str, Any]) -> int: ...

    def remote_rows(self, klass: Any, local_ids: set[str]) -> list[dict[str, Any]]: ...

    def status(self, klass: Any, listed: set[str]) -> dict[str, Any]: ...
