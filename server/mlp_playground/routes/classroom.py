"""Classroom routes (docs/design.md, "The classroom"): ``POST /classes``, the student page ``/c/{code}``
and the teacher's stream ``/ws/class/{code}``. (The join URL's QR code is ``GET
/qr.svg?text=<url>``, routes/qr.py.)

The student's own socket is ``/ws?class=<code>&name=<nickname>`` (routes/live.py, through
``classroom.students``). Statuses: 201 created; 422 a bad body, naming the field; 507 when
``max_classrooms`` classes are open. ``/c/{code}`` for an unknown or ended class is a small
HTML page with status 404 (a person typed that address), as ``/r/{id}`` does.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from mlp_playground import STATIC_DIR
from mlp_playground.classroom import push  # noqa: F401  (registers the push commands)
from mlp_playground.classroom.classes import ClassRegistry, ClassroomsFull, TooManyClasses
from mlp_playground.classroom.names import TooManyGuesses
from mlp_playground.classroom.teacher import serve_teacher
from mlp_playground.client_address import client_address
from mlp_playground.deps import SettingsDep
from mlp_playground.public import public_url
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.training.config.checks import ConfigError

router = APIRouter(route_class=OffLoopJSONRoute, tags=["classroom"])

MAX_TITLE = 100

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Class not found - MLP Playground</title>
<link rel="stylesheet" href="/notice.css"><body>
<h1>There is no open class with this code</h1>
<p>Check the code on the teacher's screen (it has 6 letters and digits), or the class has
ended.</p>
<p><a href="/">Open the playground on your own</a></p></body></html>
"""


TOO_MANY_PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Too many wrong codes - MLP Playground</title>
<link rel="stylesheet" href="/notice.css"><body>
<h1>Too many wrong class codes from this address</h1>
<p>Wait a minute, then type the code shown on the teacher's screen again.</p>
<p><a href="/">Open the playground on your own</a></p></body></html>
"""


def retry_after(seconds: float) -> dict[str, str]:
    """A Retry-After header in whole seconds, rounded up."""
    return {"Retry-After": str(math.ceil(seconds))}


class ClassRequest(BaseModel):
    """``POST /classes``: every field optional; an empty body (or none) is fine."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=MAX_TITLE, description="shown to the teacher")


class ClassCreated(BaseModel):
    code: str = Field(description="6 characters without 0/O or 1/I, e.g. K7PX3M")
    teacher_token: str = Field(description="the secret of /ws/class/{code}?token=...")
    join_url: str = Field(description="/c/<code>: the students' page")
    public_join_url: str | None = Field(description="the join URL on the LAN, if known")
    expires_in: float = Field(description="seconds until the class ends")


def classes_of(request: Request | WebSocket) -> ClassRegistry:
    return request.app.state.classes


@router.post(
    "/classes",
    status_code=201,
    response_model=ClassCreated,
    responses={
        422: {"description": "a bad field, named in detail[].field"},
        429: {"description": "this address has max_classrooms_per_client open classes"},
        507: {"description": "max_classrooms classes are open"},
    },
)
async def create_class(
    request: Request, settings: SettingsDep, body: ClassRequest | None = None
) -> Any:
    """Open a class. The teacher token is shown only here (the store keeps its hash):
    keep it on the teacher's page. Any process sharing the database serves the class."""
    title = ((body.title or "").strip() or None) if body else None
    if title is not None and any(ord(c) < 32 for c in title):
        raise ConfigError("title", "title must be one line of text (no control characters)")
    try:
        klass, token = await classes_of(request).create(title, client_address(request))
    except TooManyClasses as exc:
        raise HTTPException(429, str(exc), headers=retry_after(exc.retry_after)) from None
    except ClassroomsFull as exc:
        raise HTTPException(507, str(exc)) from None
    join = f"/c/{klass.code}"
    base = public_url(settings)
    out = {
        "code": klass.code,
        "teacher_token": token,
        "join_url": join,
        "public_join_url": f"{base}{join}" if base else None,
        "expires_in": round(klass.expires_in(), 1),
    }
    return JSONResponse(out, status_code=201, headers={"Cache-Control": "no-store"})


@router.get(
    "/c/{code}",
    response_class=HTMLResponse,
    responses={404: {"description": "no open class has this code (an HTML page)"}},
)
async def student_page(code: str, request: Request) -> Response:
    """The page, which reads the code from its path, asks for a nickname and joins.

    An unknown code counts against the client's ``max_unknown_codes_per_minute``; over it
    every code answers 429 (with Retry-After), known or not.

    A cross-site request (``Sec-Fetch-Site: cross-site``: another site's ``<img>`` or link)
    counts in a bucket of its own: a hostile page could otherwise make a student's browser
    spend that student's guesses and lock them out of typing their class's code. A script
    that sends the header only gets a second bucket as small as the first."""
    client = client_address(request)
    if request.headers.get("sec-fetch-site") == "cross-site":
        client += " cross-site"
    try:
        klass = await classes_of(request).find(code, client)
    except TooManyGuesses as exc:
        return HTMLResponse(TOO_MANY_PAGE, status_code=429, headers=retry_after(exc.retry_after))
    if klass is None:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.delete(
    "/classes/{code}",
    status_code=204,
    responses={
        403: {"description": "a wrong or missing teacher token"},
        404: {"description": "no open class has this code"},
        429: {"description": "too many unknown codes or wrong tokens from this address"},
    },
)
async def end_class(
    code: str,
    request: Request,
    token: str | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """End a class now: its teacher pages close, its students keep their sessions as
    ordinary ones (each is told with a ``class_ended`` event). The teacher token goes in
    ``Authorization: Bearer <token>`` (or ``?token=``, as the teacher's websocket takes it)."""
    classes = classes_of(request)
    client = client_address(request)
    try:
        klass = await classes.find(code, client)
    except TooManyGuesses as exc:
        raise HTTPException(429, str(exc), headers=retry_after(exc.retry_after)) from None
    if klass is None:
        raise HTTPException(404, f"no open class {code.strip().upper()!r}")
    bearer = None
    if authorization and authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip()
    if not klass.token_ok(bearer or token):
        classes.guess_failed(client)
        raise HTTPException(403, "wrong or missing teacher token")
    await classes.end(klass, request.app.state.registry)
    return Response(status_code=204)


@router.websocket("/ws/class/{code}")
async def teacher_socket(websocket: WebSocket, code: str, token: str | None = None) -> None:
    """The teacher's class stream; a wrong or missing token closes with 1008."""
    await serve_teacher(websocket, code, token)
