"""GET /qr.svg: a scannable QR code of a join link, and its limits."""

from __future__ import annotations

import segno


def test_qr_svg_encodes_the_text(client):
    url = "http://192.168.1.20:8000/c/K7PX3M"
    r = client.get("/qr.svg", params={"text": url})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") and "path" in r.text
    # The same symbol segno draws for that text (version and module count included).
    expected = segno.make(url, error="m")
    size = (expected.symbol_size(scale=10, border=4))[0]
    assert f'width="{size}"' in r.text


def test_qr_text_is_required_and_capped(client):
    assert client.get("/qr.svg").status_code == 422
    r = client.get("/qr.svg", params={"text": "x" * 513})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "query.text"
