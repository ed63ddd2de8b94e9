"""Cross-site requests: a foreign page may not change anything here over HTTP.

CORS keeps a foreign page from *reading* answers, not from *sending* requests: a
``fetch(url, {method: 'POST', mode: 'no-cors'})`` or a plain ``<form>`` from any site a
student visits would still create classes or save runs on the classroom's server. So a
state-changing request (POST, PUT, PATCH, DELETE) is refused with 403 when its ``Origin``
is foreign, or when the browser says ``Sec-Fetch-Site: cross-site``, unless
``MLPG_CORS_ORIGINS`` names that origin: the rule the websockets follow
(``live.receiving.origin_allowed``: same host and port as the ``Host`` header). Requests
without ``Origin`` (curl, scripts, the Python client) are not a browser's and are served.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mlp_playground.live.receiving import origin_allowed

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

REFUSAL = (
    "pages from another origin may not send this request here "
    "(the server's MLPG_CORS_ORIGINS lists the ones that may)"
)


def cross_site(method: str, headers: Headers, allowed: list[str]) -> bool:
    """Is this a state-changing request from a page of another origin, not allowed?"""
    if method not in STATE_CHANGING:
        return False
    origin = headers.get("origin")
    if not origin_allowed(origin, headers.get("host"), allowed):
        return True
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        # The browser says another site sent it (Origin may then be missing or "null").
        return not (origin and ("*" in allowed or origin in allowed))
    return False


class CrossSiteMiddleware:
    """Answer 403 to a cross-site state-changing request before the app sees it."""

    def __init__(self, app: ASGIApp, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed = list(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and cross_site(
            scope["method"], Headers(scope=scope), self.allowed
        ):
            await JSONResponse({"detail": REFUSAL}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
