"""``GET /qr.svg?text=...``: a QR code of a link, drawn on the server (segno), so the page can
show a class's join URL large enough to scan from the back of a room with no script from
outside and no QR library in the browser."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Query
from fastapi.responses import Response

router = APIRouter()

#: A join URL is well under this; the cap keeps one request's work small.
MAX_QR_TEXT = 512


@router.get("/qr.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def qr_svg(text: Annotated[str, Query(min_length=1, max_length=MAX_QR_TEXT)]) -> Response:
    """The QR code of ``text`` as SVG (medium error correction, a 4-module quiet zone)."""
    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=10, border=4, xmldecl=False)
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"cache-control": "max-age=3600"}
    )
