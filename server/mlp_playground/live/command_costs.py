"""What one session's commands may cost the worker, which every session shares.

One worker thread trains every session and applies their commands between turns, so a
command that takes long stalls everyone: ``get_model`` of a 10 x 256 net builds ~12 MB of
JSON (~0.3 s), and twenty of them in 0.2 s (well under the message rate limit) once
stopped every other session for 20 s. So:

- at most ``MAX_WAITING`` commands wait in a session's queue (``busy`` beyond it);
- an expensive command (``EXPENSIVE``) waits at most once per session (``busy`` for a
  second one), and after one that took ``t`` seconds of worker CPU (over ``CHEAP``) the
  session's next one is applied only ``SPACING * t`` later (``due``; the session's later
  commands wait behind it, in order): a session's expensive commands take at most
  ``1 / (1 + SPACING)`` of the worker, and nobody is refused for asking twice;
- every command's CPU time is charged to the session's ``pacer.served``, the deficit the
  scheduler shares training time by (``live.scheduler``), so a session that spent the
  worker's time on commands trains less, not its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlp_playground.live.messages import ClientMessage, ProtocolError

MAX_WAITING = 256
"""Commands one session may have queued for the worker."""
EXPENSIVE = frozenset({"get_model", "gradcheck"})
"""Commands whose cost grows with the network (a whole model document, a gradient check)."""
SPACING = 9.0
"""After an expensive command of ``t`` s, the session's next one waits ``SPACING * t`` s:
at most a tenth of the worker (measured: a victim kept 69-108 % of its steps while an
attacker asked for the model of a 10 x 256 net as fast as it could)."""
CHEAP = 0.02
"""An expensive command that took less (s) imposes no wait: small nets are never slowed."""


@dataclass
class CommandCosts:
    """One session's account: its expensive commands waiting, and when the next may run.

    ``refusal`` and ``admitted`` run on the loop; ``due``, ``started`` and ``ran`` on the
    worker. ``waiting`` holds
    message ids (set add and discard are atomic); ``not_before`` is one float written by
    the worker and read by the loop."""

    waiting: set[int] = field(default_factory=set)
    not_before: float = 0.0  # time.monotonic()

    def refusal(self, queued: int, msg: ClientMessage, now: float) -> ProtocolError | None:
        """Why ``msg`` may not be queued now (an ``error`` ``busy``), or None."""
        if queued >= MAX_WAITING:
            return ProtocolError(
                "busy", f"{MAX_WAITING} commands are already waiting; this one was dropped"
            )
        if msg.type not in EXPENSIVE:
            return None
        if self.waiting:
            return ProtocolError(
                "busy", f"a {msg.type} or gradcheck is still being answered; wait for it"
            )
        return None

    def due(self, msg: ClientMessage, now: float) -> bool:
        """Worker: may ``msg``, first in the queue, be applied now?"""
        return msg.type not in EXPENSIVE or now >= self.not_before

    def admitted(self, msg: ClientMessage) -> None:
        if msg.type in EXPENSIVE:
            self.waiting.add(id(msg))

    def started(self, msg: ClientMessage) -> None:
        """Worker: ``msg`` leaves the queue (before it runs: its answer may reach the client,
        and the client ask again, before ``ran``)."""
        self.waiting.discard(id(msg))

    def ran(self, msg: ClientMessage, seconds: float, now: float) -> None:
        """Worker: ``msg`` took ``seconds`` of worker CPU."""
        if msg.type in EXPENSIVE and seconds > CHEAP:
            self.not_before = now + SPACING * seconds
