"""The REST routes' request class: a body cap, and JSON parsed off the event loop."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

OFF_LOOP_BYTES = 65_536
"""JSON bodies larger than this are parsed in the threadpool."""


def _too_big(size: int, cap: int) -> JSONResponse:
    message = f"the body is {size} bytes, over the limit of {cap} (max_body_bytes)"
    field = {"loc": ["body"], "field": "body", "msg": message, "type": "value_error"}
    return JSONResponse({"detail": [field]}, status_code=422)


class OffLoopJSONRoute(APIRoute):
    """Cap the body, then parse JSON in the threadpool rather than on the event loop.

    A /predict body of 200,000 points takes about a second to parse; on the loop that
    would freeze every live session's stream meanwhile. Starlette caches the parsed body
    on the request (``Request._json``, the attribute ``Request.json()`` fills), so FastAPI
    then validates the already-parsed value. A body over ``Settings.max_body_bytes`` is
    refused from its Content-Length before it is read (or once read, without one).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            cap = request.app.state.settings.max_body_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                return _too_big(int(declared), cap)
            body = await request.body()
            if len(body) > cap:
                return _too_big(len(body), cap)
            if len(body) > OFF_LOOP_BYTES and "json" in request.headers.get("content-type", ""):
                with contextlib.suppress(ValueError):  # FastAPI reports bad JSON itself
                    request._json = await run_in_threadpool(json.loads, body)
            return await handler(request)

        return parse_then_handle
