"""REST routes for saved runs: ``POST /runs``, ``GET``/``DELETE /runs/{id}``, the page at
``/r/{id}`` (docs/design.md, "Saved runs and durable sessions").

The endpoints that touch the store are plain ``def`` functions: FastAPI runs them in its
threadpool, so a database round trip (or a slow disk) never blocks the event loop and the
live sessions' streams. A body is capped at ``max_body_bytes`` before it is read and parsed
off the loop when large; its canonical JSON is capped at ``max_run_bytes`` by the store.

Statuses: 201 saved; 404 unknown id (an id that cannot be one is unknown too); 403 wrong
or missing delete token; 422 a bad body, naming the field; 429 over
``max_runs_per_minute`` for this address (with ``Retry-After``); 507 ``max_runs_total``
reached. ``/r/{id}`` for an unknown id answers a small HTML page with status 404 (a person
followed that link in a browser, so HTML rather than JSON).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

from mlp_playground import STATIC_DIR
from mlp_playground.client_address import client_address
from mlp_playground.deps import SettingsDep, StoreDep
from mlp_playground.store.base import (
    CorruptRun,
    RateLimited,
    RunNotFound,
    RunTooLarge,
    StoreFull,
    WrongDeleteToken,
)
from mlp_playground.store.schemas import Message, RunCreated, RunDocument, RunRequest, validate_run
from mlp_playground.training.config.checks import ConfigError

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
OFF_LOOP_BYTES = 65_536
"""JSON bodies larger than this are parsed in the threadpool (a 5,000-point run is ~200 KB)."""

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Run not found - MLP Playground</title>
<link rel="stylesheet" href="/notice.css"><body>
<h1>This saved run does not exist</h1>
<p>The link may be mistyped, or whoever saved the run deleted it.</p>
<p><a href="/">Open the playground</a></p></body></html>
"""


class CappedJSONRoute(APIRoute):
    """Refuse a body over ``max_body_bytes`` (from Content-Length, before reading it), and
    parse a large JSON body in the threadpool: Starlette caches the parsed value on the
    request (``Request._json``), which FastAPI then validates."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            if request.method == "POST":
                cap = request.app.state.settings.max_body_bytes
                declared = request.headers.get("content-length", "")
                size = int(declared) if declared.isdigit() else len(await request.body())
                if size > cap:
                    msg = f"the body is {size} bytes, over the limit of {cap} (max_body_bytes)"
                    detail = [{"loc": ["body"], "field": "body", "msg": msg, "type": "value_error"}]
                    return JSONResponse({"detail": detail}, status_code=422)
                body = await request.body()
                if len(body) > OFF_LOOP_BYTES and "json" in request.headers.get("content-type", ""):
                    with contextlib.suppress(ValueError):  # FastAPI reports bad JSON itself
                        request._json = await run_in_threadpool(json.loads, body)
            return await handler(request)

        return capped


router = APIRouter(route_class=CappedJSONRoute, tags=["saved runs"])


def _refusal(description: str) -> dict[str, Any]:
    return {"model": Message, "description": description}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _refusal("no run has this id")}


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    responses={
        422: {"description": "a bad field, named in detail[].field"},
        429: _refusal("too many runs saved from this address in the last minute"),
        507: _refusal("the store is full (max_runs_total)"),
    },
)
def save_run(body: RunRequest, request: Request, settings: SettingsDep, store: StoreDep) -> Any:
    """Save a run (config, data, model, history, title); answers its id, link and the
    delete token, which is shown only this once."""
    run = validate_run(body, settings)
    client = client_address(request)
    try:
        saved = store.save_run(run, client)
    except RunTooLarge as exc:
        raise ConfigError("body", str(exc)) from None
    except RateLimited as exc:
        headers = {"Retry-After": str(math.ceil(exc.retry_after))}
        raise HTTPException(429, str(exc), headers=headers) from None
    except StoreFull as exc:
        raise HTTPException(507, str(exc)) from None
    out = {"id": saved.id, "url": saved.url, "delete_token": saved.delete_token}
    return JSONResponse(out, status_code=201, headers={"Location": f"/runs/{saved.id}"})


@router.get("/runs/{run_id}", response_model=RunDocument, responses=NOT_FOUND)
def get_run(run_id: str, store: StoreDep) -> Any:
    """A saved run: the fields it was saved with (config canonical) plus id and created."""
    try:
        run = store.get_run(run_id) if RUN_ID.match(run_id) else None
    except CorruptRun as exc:  # a damaged database file: the server's fault, said plainly
        raise HTTPException(500, str(exc)) from None
    if run is None:
        raise HTTPException(404, f"no run with id {run_id!r}")
    return JSONResponse(run)


@router.delete(
    "/runs/{run_id}",
    status_code=204,
    response_class=Response,
    responses={**NOT_FOUND, 403: _refusal("wrong or missing X-Delete-Token")},
)
def delete_run(
    run_id: str,
    store: StoreDep,
    x_delete_token: Annotated[str | None, Header(description="the token POST /runs gave")] = None,
) -> Response:
    """Delete a run with the token its saver was given."""
    if not RUN_ID.match(run_id):
        raise HTTPException(404, f"no run with id {run_id!r}")
    try:
        store.delete_run(run_id, x_delete_token)
    except RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except WrongDeleteToken as exc:
        raise HTTPException(403, str(exc)) from None
    return Response(status_code=204)


@router.get(
    "/r/{run_id}",
    response_class=HTMLResponse,
    responses={404: {"description": "no run has this id (an HTML page)"}},
)
def run_page(run_id: str, store: StoreDep) -> Response:
    """The page, which reads the id from its path and opens that run paused."""
    if not (RUN_ID.match(run_id) and store.run_exists(run_id)):
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
