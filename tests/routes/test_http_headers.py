"""Every response carries the security headers: pages, API, static files, errors."""

from __future__ import annotations

import pytest

from mlp_playground.security_headers import content_security_policy


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/api/options", 200),
        ("/styles.css", 200),
        ("/favicon.svg", 200),
        ("/c/ZZZZZZ", 404),
        ("/r/nosuchrun", 404),
        ("/runs/nosuchrun", 404),
        ("/no/such/file.js", 404),
    ],
)
def test_every_response_has_the_headers(make_client, path, status) -> None:
    r = make_client().get(path)
    assert r.status_code == status
    csp = r.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "connect-src 'self' ws://testserver wss://testserver",
    ):
        assert directive in csp, (directive, csp)
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_errors_outside_the_routes_have_them_too(make_client) -> None:
    wrong_host = make_client().get("/", headers={"Host": "rebound.example"})
    assert wrong_host.status_code == 400
    assert wrong_host.headers["x-content-type-options"] == "nosniff"
    too_big = make_client(max_body_bytes=100).post("/train", content=b"x" * 200)
    assert too_big.status_code == 422
    assert "frame-ancestors 'none'" in too_big.headers["content-security-policy"]


def test_the_docs_pages_allow_only_their_own_inline_script(make_client) -> None:
    client = make_client()
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "'sha256-" in client.get("/docs").headers["content-security-policy"]


def test_a_strange_host_is_not_written_into_the_policy() -> None:
    assert "evil" not in content_security_policy("x; script-src evil")
    assert "ws://[::1]:8000" in content_security_policy("[::1]:8000")
