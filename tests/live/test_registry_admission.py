"""A session between its creation and its first owner is not reaped, whatever the grace
period: the route awaits in between (the cluster's counts, a class's store), and with a
grace period of 0 the reaper used to drop it there (its owner then got no frames)."""

from __future__ import annotations

import time

from mlp_playground.config import Settings
from mlp_playground.live.connection import Connection
from mlp_playground.live.registry import ADMIT_SECONDS, SessionRegistry


class _Socket:
    """Enough of a websocket for a Connection that is never started."""

    client = None


def test_a_session_waits_for_its_first_owner_then_follows_the_grace_period() -> None:
    registry = SessionRegistry(Settings(session_grace_seconds=0))
    waiting, owned = registry.create("10.0.0.1"), registry.create("10.0.0.1")
    assert waiting is not None and owned is not None
    now = time.monotonic()
    registry.reap(now + 1.0)  # grace 0, but no owner has come yet: both stay
    assert registry.get(waiting.id) is waiting and registry.get(owned.id) is owned
    registry.attach_owner(owned, Connection(_Socket(), "owner"))  # type: ignore[arg-type]
    owned.owner = None  # its owner left without the route noticing (detach drops at 0)
    owned.orphaned_at = now
    registry.reap(now + 1.0)
    assert registry.get(owned.id) is None  # an owner came once: the grace period rules
    assert registry.get(waiting.id) is waiting
    registry.reap(now + ADMIT_SECONDS + 0.1)
    assert registry.get(waiting.id) is None  # nobody ever came: gone in the end
