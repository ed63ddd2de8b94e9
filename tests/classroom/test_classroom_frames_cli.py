"""Kind 5 frames (encode/decode), and ``mlp-playground --classroom`` with uvicorn.run mocked."""

from __future__ import annotations

import secrets
import socket

import numpy as np
import pytest

from mlp_playground.__main__ import main as cli_main
from mlp_playground.live import frames


def test_kind_5_is_a_header_22_id_bytes_and_kind_1_cells():
    sid = secrets.token_urlsafe(16)
    assert len(sid) == frames.THUMBNAIL_ID_BYTES
    p1 = np.linspace(0, 1, 16).reshape(-1, 1)
    proba = np.hstack([1 - p1, p1])
    frame = frames.encode_thumbnail_frame(42, 4, sid, proba)
    assert len(frame) == 16 + 22 + 2 * 16
    assert frame[16:38] == sid.encode()
    kind1 = frames.encode_decision_frame(42, 4, proba)
    assert frame[38:] == kind1[16:]  # the same cells as kind 1
    decoded = frames.decode_frame(frame)
    h = decoded.header
    assert (h.kind, h.channels, h.step, h.width, h.height) == (5, 2, 42, 4, 4)
    assert decoded.session_id == sid and decoded.cells.shape == (4, 4, 2)


def test_kind_5_of_a_regression_session_has_kind_4_cells():
    sid = "a" * 22
    values = np.linspace(-1, 1, 9)
    frame = frames.encode_thumbnail_frame(7, 3, sid, values=values)
    assert frame[38:] == frames.encode_regression_frame(7, 3, values)[16:]
    decoded = frames.decode_frame(frame)
    assert decoded.header.channels == 1 and decoded.cells.shape == (3, 3)


def test_kind_5_refuses_a_wrong_id_or_length():
    with pytest.raises(ValueError):
        frames.encode_thumbnail_frame(0, 2, "short", np.full((4, 2), 0.5))
    good = frames.encode_thumbnail_frame(0, 2, "b" * 22, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="kind 5"):
        frames.decode_frame(good[:-1])


@pytest.fixture
def served(monkeypatch):
    """uvicorn.run replaced: the app and options the CLI would serve."""
    captured: dict = {}

    def fake_run(app, **kw):
        captured.update(kw, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setattr("mlp_playground.public.lan_addresses", lambda: ["192.168.1.20"])
    monkeypatch.delenv("MLPG_MAX_SESSIONS", raising=False)
    return captured


def test_classroom_binds_every_interface_and_prints_the_url_and_a_qr_code(served, capsys):
    cli_main(["--classroom", "--port", "8123"])
    out = capsys.readouterr().out
    assert served["host"] == "0.0.0.0" and served["port"] == 8123
    assert "Students open http://192.168.1.20:8123/" in out
    assert "█" in out or "▀" in out  # the QR code, drawn with block characters
    settings = served["app"].state.settings
    hosts = settings.allowed_hosts
    for name in ("127.0.0.1", "localhost", "192.168.1.20", socket.gethostname()):
        assert name in hosts
    assert "evil.example" not in hosts
    assert settings.max_sessions >= settings.max_students_per_class
    assert served["app"].state.classes is not None and len(served["app"].state.classes) == 0


def test_classroom_host_check_refuses_other_names(served):
    from fastapi.testclient import TestClient

    cli_main(["--classroom"])
    with TestClient(served["app"], base_url="http://192.168.1.20:8000") as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
        assert (
            c.get("/healthz", headers={"Host": f"{socket.gethostname()}:8000"}).status_code == 200
        )


def test_classroom_keeps_an_explicit_host(served, capsys):
    cli_main(["--classroom", "--host", "192.168.1.20"])
    assert served["host"] == "192.168.1.20"
    assert "http://192.168.1.20:8000/" in capsys.readouterr().out


def test_classroom_without_a_network_says_so(served, monkeypatch, capsys):
    monkeypatch.setattr("mlp_playground.public.lan_addresses", lambda: [])
    cli_main(["--classroom"])
    assert "No network address found" in capsys.readouterr().out


def test_an_explicit_session_cap_wins(served, monkeypatch):
    monkeypatch.setenv("MLPG_MAX_SESSIONS", "12")
    cli_main(["--classroom"])
    assert served["app"].state.settings.max_sessions == 12


def test_without_classroom_the_default_stays_loopback(served, capsys):
    cli_main([])
    assert served["host"] == "127.0.0.1"
    assert "Students open" not in capsys.readouterr().out


def test_classroom_with_several_workers_needs_redis_like_any_workers(served, capsys, monkeypatch):
    """A class spans processes through Redis and the store: ``--classroom --workers 2`` is
    refused (exit 2, one line naming MLPG_REDIS_URL) only without Redis."""
    from mlp_playground.__main__ import parse_args

    monkeypatch.delenv("MLPG_REDIS_URL", raising=False)
    with pytest.raises(SystemExit) as done:
        cli_main(["--classroom", "--workers", "2"])
    assert done.value.code == 2 and "MLPG_REDIS_URL" in capsys.readouterr().err
    monkeypatch.setenv("MLPG_REDIS_URL", "redis://127.0.0.1:1/0")
    args = parse_args(["--classroom", "--workers", "2"])
    assert args.classroom and args.workers == 2
