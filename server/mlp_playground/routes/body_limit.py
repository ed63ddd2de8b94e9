"""REST bodies: a cap counted while the body streams in, and JSON parsed off the event loop.

``BodyLimitMiddleware`` (every HTTP request) refuses a body over ``Settings.max_body_bytes``
from its Content-Length before reading it, or, without one (a chunked body), as soon as the
bytes received pass the cap: the server holds at most the cap of any body, whatever its
size. ``OffLoopJSONRoute`` (the REST routers' route class) parses large JSON off the loop.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlp_playground.client_address import client_address
from mlp_playground.routes.compute_limit import Refused, gates_of

OFF_LOOP_BYTES = 65_536
"""JSON bodies larger than this are parsed in the threadpool."""


def _too_big(size: int | None, cap: int, *, close: bool = False) -> JSONResponse:
    """422 naming ``body`` (``size`` None: cut while streaming, its size never known);
    ``close``: say the connection ends, as the rest of the body is never read."""
    message = f"the body is {size} bytes, over the limit of {cap} (max_body_bytes)"
    if size is None:
        message = f"the body passed the limit of {cap} bytes (max_body_bytes) and was cut"
    field = {"loc": ["body"], "field": "body", "msg": message, "type": "value_error"}
    headers = {"Connection": "close"} if close else None
    return JSONResponse({"detail": [field]}, status_code=422, headers=headers)


class _Overrun(Exception):
    """Raised from ``receive`` once a body passes the cap (not a ValueError: the app's
    ValueError handler must not answer it)."""


class BodyLimitMiddleware:
    """Cap every HTTP request body at ``max_bytes`` while it streams in (pure ASGI).

    Starlette's ``Request.body()`` gathers a chunked body whole before anyone can look at its
    size, so a 256 MiB body without Content-Length used to be held in memory (twice, while
    joined) before its 422. Here ``receive`` counts the ``http.request`` chunks and raises
    as soon as the count passes the cap; whatever the app answers then (FastAPI turns a
    failed read into a 400) is dropped for the same 422 naming ``body`` that a declared
    Content-Length over the cap gets, before any of it is read. Both say
    ``Connection: close``: uvicorn then stops reading the rest rather than discarding it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _too_big(declared, cap, close=True)(scope, receive, send)
            return
        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                raise _Overrun
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    over = True
                    raise _Overrun
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never got whole: ours goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await _too_big(None, cap, close=True)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class OffLoopJSONRoute(APIRoute):
    """Cap the body, gate a large one, then parse JSON off the event loop.

    A /predict body of 200,000 points takes about a second to parse; on the loop that
    would freeze every live session's stream meanwhile. Starlette caches the parsed body
    on the request (``Request._json``, the attribute ``Request.json()`` fills), so FastAPI
    then validates the already-parsed value. A body over ``Settings.max_body_bytes`` is
    refused from its Content-Length before it is read (``BodyLimitMiddleware`` refuses it
    earlier still, and cuts a chunked one while it streams in).

    Parsed, a body takes ~28x its size (a 30.5 MiB /predict: 836 MB), so a large one (over
    ``large_body_bytes``) needs a place of ``Gates.bodies`` (``routes.compute_limit``)
    before more than that is read, held until its answer is built: one at a time per
    client (a second one at once: 429, ``Connection: close``, the rest left unread), two on
    the server (the others wait their turn, briefly). JSON too deep for the parser (70,000
    ``[``) is a 422 ``json_invalid`` naming ``body``, like any other invalid JSON.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            settings = request.app.state.settings
            cap = settings.max_body_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                return _too_big(int(declared), cap)
            async with contextlib.AsyncExitStack() as held:
                try:
                    body, large = await _read(request, settings.large_body_bytes, held)
                except Refused as exc:
                    return exc.response(close=True)
                if len(body) > cap:
                    return _too_big(len(body), cap)
                refusal = self.refuse_unparsed(body, settings) if large else None
                if refusal is not None:
                    return refusal
                if len(body) > OFF_LOOP_BYTES and "json" in request.headers.get("content-type", ""):
                    threads = gates_of(request).parse_threads if large else None
                    try:
                        request._json = await anyio.to_thread.run_sync(
                            json.loads, body, limiter=threads
                        )
                    except RecursionError:
                        return _json_invalid("the body is nested too deeply to parse")
                    except ValueError:
                        pass  # FastAPI reports bad JSON itself
                return await handler(request)

        return parse_then_handle

    def refuse_unparsed(self, body: bytes, settings: Any) -> Response | None:
        """A route's cheap look at a large body before it is parsed (None: parse it). A
        route whose legal bodies are bounded in a way the bytes show refuses the others
        here, before they cost ~28x their size (``routes.instruments.PredictRoute``)."""
        return None


async def _read(
    request: Request, large: int, held: contextlib.AsyncExitStack
) -> tuple[bytes, bool]:
    """The whole body, and whether it is large: before more than ``large`` bytes of it are
    read (known from Content-Length, else as the chunks come), a large-body place is
    entered onto ``held``."""
    gate = gates_of(request).bodies
    client = client_address(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > large:
        await held.enter_async_context(gate.place(client))
        return await request.body(), True
    if declared.isdigit():
        return await request.body(), False
    chunks: list[bytes] = []
    size = 0
    entered = False
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > large and not entered:
            entered = True
            await held.enter_async_context(gate.place(client))
    body = b"".join(chunks)
    request._body = body  # what Request.body() caches, so FastAPI reads it from here
    return body, entered


def _json_invalid(message: str) -> JSONResponse:
    field = {"loc": ["body"], "field": "body", "msg": message, "type": "json_invalid"}
    return JSONResponse({"detail": [field]}, status_code=422)
