"""``/docs`` and ``/redoc`` from the page's own vendored files (static/vendor/).

FastAPI's defaults load Swagger UI, ReDoc and Google Fonts from a CDN, which leaves an
offline classroom with a blank page; these pages load nothing from outside the server.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _own_policy(page: HTMLResponse, extra_head: str = "") -> HTMLResponse:
    """Swagger UI and ReDoc start from an inline script, and ReDoc injects its styles:
    their pages get a policy allowing exactly those scripts (by hash) and inline styles,
    still nothing from another origin (the app's strict policy covers every other page).

    FastAPI's pages also lack ``<html lang>`` (screen readers guess the language): added
    here, with ``extra_head`` (our stylesheet over Swagger's colours) before ``</head>``."""
    body = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
    if extra_head:
        body = body.replace("</head>", f"{extra_head}</head>", 1)
    page = HTMLResponse(body, status_code=page.status_code)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in INLINE_SCRIPT.findall(body)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page


SWAGGER = "/vendor/swagger-ui"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _own_policy(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url="/favicon.svg",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            # The online validator badge would call validator.swagger.io. Deep links put
            # a link inside each operation's button (axe: nested-interactive).
            # Plain examples: the highlighter's colours fail contrast on its dark theme.
            swagger_ui_parameters={
                "validatorUrl": None,
                "deepLinking": False,
                "syntaxHighlight": False,
            },
        ),
        extra_head='<link rel="stylesheet" href="/docs.css">'
        '<script src="/docs-a11y.js" defer></script>',
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return _own_policy(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _own_policy(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API",
            redoc_js_url="/vendor/redoc/redoc.standalone.js",
            redoc_favicon_url="/favicon.svg",
            with_google_fonts=False,
        )
    )
