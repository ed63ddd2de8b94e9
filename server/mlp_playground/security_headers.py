"""Security headers on every HTTP response: pages, API, static files and errors alike.

The page is plain ES modules from this server and nothing else, so its Content-Security-
Policy can be strict: scripts, styles, fonts and frames only from this origin, no inline
script or style, no plugin objects, never framed by another page (clickjacking a teacher's
screen), websockets only back to this host. A response that sets its own policy (the
vendored ``/docs`` pages, which need their inline start-up script) keeps it.
``X-Content-Type-Options: nosniff`` stops a browser from running an upload or a JSON answer
as script; ``Referrer-Policy: no-referrer`` keeps class codes and run ids in URLs from
leaking to any site a page links to.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Every directive but ``connect-src``, which names this request's own host.
BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)

#: A ``Host`` that may be written into the policy (anything else: ``'self'`` only).
SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def content_security_policy(host: str | None) -> str:
    """The page's policy; websockets may go to ``ws://host`` and ``wss://host`` only.

    ``'self'`` alone would cover same-origin websockets in current browsers (CSP level 3),
    but not in older Safari; naming the host keeps it exact rather than ``ws:`` (any host).
    """
    connect = "connect-src 'self'"
    if host and SAFE_HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join((*BASE_POLICY, connect))


class SecurityHeadersMiddleware:
    """Add the headers above to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = content_security_policy(host)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    """Wrap the app's whole middleware stack, outside even Starlette's handler of
    unexpected errors (whose 500 would otherwise go out without the headers)."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
