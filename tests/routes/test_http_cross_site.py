"""A state-changing request from a foreign page is a 403 (unless MLPG_CORS_ORIGINS names
it); scripts without Origin and the page's own origin keep working."""

from __future__ import annotations

import pytest

FOREIGN = "http://evil.example"
REQUESTS = [("/classes", {}), ("/runs", None), ("/train", {})]


def _run() -> dict:
    return {
        "config": {"network": {"hidden_layers": [4]}, "seed": 1},
        "data": {"points": [[0, 0], [1, 1], [2, 0], [0, 2]], "labels": [0, 1, 0, 1]},
    }


@pytest.mark.parametrize(("path", "body"), REQUESTS)
def test_foreign_origin_is_refused_and_others_are_served(make_client, path, body) -> None:
    client = make_client()
    payload = _run() if body is None else body
    foreign = client.post(path, json=payload, headers={"Origin": FOREIGN})
    assert foreign.status_code == 403
    assert "MLPG_CORS_ORIGINS" in foreign.json()["detail"]
    # no Origin (a script), and the page's own origin: served
    assert client.post(path, json=payload).status_code in (200, 201)
    own = client.post(path, json=payload, headers={"Origin": "http://testserver"})
    assert own.status_code in (200, 201)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_no_cors_and_form_posts_are_refused(make_client, content_type) -> None:
    """``fetch(url, {method: 'POST', mode: 'no-cors'})`` and a plain <form> send these."""
    client = make_client()
    before = client.get("/api/options").status_code
    r = client.post(
        "/classes",
        content=b"{}",
        headers={"Origin": FOREIGN, "Content-Type": content_type, "Sec-Fetch-Mode": "no-cors"},
    )
    assert r.status_code == 403
    assert before == 200


def test_sec_fetch_site_cross_site_is_refused(make_client) -> None:
    client = make_client()
    r = client.post("/classes", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = client.post("/classes", json={}, headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201


def test_origins_named_in_cors_origins_are_allowed(make_client) -> None:
    client = make_client(cors_origins=["https://school.example"])
    ok = {"Origin": "https://school.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/classes", json={}, headers=ok).status_code == 201
    assert client.post("/classes", json={}, headers={"Origin": FOREIGN}).status_code == 403
    assert client.post("/classes", json={}, headers={"Origin": "null"}).status_code == 403


def test_reading_is_not_refused(make_client) -> None:
    client = make_client()
    assert client.get("/api/options", headers={"Origin": FOREIGN}).status_code == 200
