"""Secrets never reach the log: query values such as ``?token=`` are written as ``***``.

uvicorn's access log and its websocket lines ("WebSocket /ws/class/K7PX3M?token=...
[accepted]") print each request's path with its query string, and a teacher token, a
resume key or a delete token in a URL would then sit in every log file and log collector
the server writes to: anyone who reads the log could run the class or take a session
over. ``RedactSecrets`` rewrites such values (a query parameter named ``token``, ``key``,
``secret``, ``password`` or ending in ``_token``/``_key``) and the token of a watch link
(``/ws/watch/<token>``) before a record is formatted, on the uvicorn loggers and on every
handler of the root logger (the app's own loggers), whatever the log level.

At ``--log-level debug`` the websockets library also logs every frame (``< TEXT '{...}'``,
``> TEXT ...``): an owner's ``hello`` carries its ``resume_key`` and a teacher's messages
their class, cut at an arbitrary length, so those lines are dropped rather than masked.
A JSON text quoted elsewhere keeps its shape with secret values (``"resume_key": "..."``,
``"teacher_token"``, ``"watch_token"``...) written as ``***``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

#: ``?token=abc`` / ``&resume_key=abc``: the name kept, the value masked.
SECRET_QUERY = re.compile(
    r"(?P<name>(?:^|(?<=[?&;]))(?:[A-Za-z0-9.-]*_)?(?:token|key|secret|password)=)"
    r"[^&;#\s\"']*",
    re.IGNORECASE,
)
#: ``/ws/watch/<token>``: a watch link is a capability too.
WATCH_PATH = re.compile(r"(?P<name>/ws/watch/)[^/?#\s\"']+")

#: ``"resume_key": "abc"`` in a JSON text (a quoted message body): the value masked.
SECRET_JSON = re.compile(
    r"(?P<name>[\"'](?:[A-Za-z0-9.-]*_)?(?:token|key|secret|password)[\"']\s*:\s*[\"'])"
    r"[^\"']*",
    re.IGNORECASE,
)
#: The websockets library's frame lines (``logger.debug("< %s", frame)``): whole messages.
FRAME_LINES = frozenset({"< %s", "> %s"})

#: uvicorn's request lines and websocket lines, wherever its logging config sends them.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``/ws/class/K?token=s3cret&x=1`` -> ``/ws/class/K?token=***&x=1``."""
    if "=" in text:
        text = SECRET_QUERY.sub(lambda m: m.group("name") + MASK, text)
    if "/ws/watch/" in text:
        text = WATCH_PATH.sub(lambda m: m.group("name") + MASK, text)
    if ":" in text:
        text = SECRET_JSON.sub(lambda m: m.group("name") + MASK, text)
    return text


def _redact_arg(value: Any) -> Any:
    """A string argument redacted; another object replaced by its redacted text only if
    its text held a secret (numbers stay numbers for ``%d``)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bytes)) or value is None:
        return value
    text = str(value)
    masked = redact(text)
    return value if masked == text else masked


class RedactSecrets(logging.Filter):
    """Mask secrets in a record's message and arguments (the argument tuple keeps its
    shape: uvicorn's access formatter unpacks it by position)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in FRAME_LINES:
            return False
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        return True


def _add_once(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, RedactSecrets) for f in target.filters):
        target.addFilter(RedactSecrets())


def install_redaction() -> None:
    """Filter the uvicorn loggers and the root logger's handlers; safe to call again.

    A logger's filters survive uvicorn's own ``dictConfig`` (it replaces handlers, not
    filters), so calling this before ``uvicorn.run`` configures logging is enough.
    """
    for name in UVICORN_LOGGERS:
        _add_once(logging.getLogger(name))
    for handler in logging.getLogger().handlers:
        _add_once(handler)
