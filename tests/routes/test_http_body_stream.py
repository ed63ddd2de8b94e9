"""A chunked body (no Content-Length) is cut as soon as it passes max_body_bytes: the
attacker streams 256 MiB from 127.0.0.2, the server answers 422 on ``body`` after about
the cap, its memory grows by less than cap + slack, and another client trains meanwhile."""

from __future__ import annotations

import json
import select
import socket
import threading

import httpx

from tests.support.attack import running_server

MIB = 1024 * 1024
CAP = 8 * MIB
TOTAL = 256 * MIB
SLACK_KIB = 12 * 1024  # chunk buffers, the JSON answer, allocator rounding


def stream_chunked(port: int, path: str, total: int) -> tuple[int, bytes]:
    """Send ``total`` bytes chunked from 127.0.0.2, reading as we go; return how many bytes
    were sent before the answer (or the close) came, and the answer."""
    sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b" " * 65536
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent, answer = 0, b""
    sock.settimeout(10)
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break  # the answer (or the close) came while we were still sending
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    try:
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    return sent, answer


def test_a_256_mib_chunked_body_is_cut_at_the_cap_and_others_are_served() -> None:
    env = {"MLPG_MAX_BODY_BYTES": str(CAP)}
    with running_server(env) as server:
        rss_before, _ = server.memory_kib()
        trained: list[int] = []

        def other_client() -> None:  # a student on 127.0.0.1, while the attack streams
            with httpx.Client(base_url=server.url, timeout=60) as c:
                trained.append(c.post("/train", json={}).status_code)
                trained.append(c.get("/api/options").status_code)

        other = threading.Thread(target=other_client)
        other.start()
        sent, answer = stream_chunked(server.port, "/runs", TOTAL)
        other.join(60)
        _, peak = server.memory_kib()
        growth = peak - rss_before
        print(
            f"chunked {TOTAL // MIB} MiB, cap {CAP // MIB} MiB: refused after "
            f"{sent / MIB:.1f} MiB sent, peak RSS growth {growth / 1024:.1f} MiB"
        )

        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 422"), answer[:300]
        assert b"connection: close" in head.lower()
        detail = json.loads(body)["detail"][0]
        assert detail["field"] == "body" and "max_body_bytes" in detail["msg"]
        assert sent < CAP + 16 * MIB  # refused right after the cap, not at the end
        assert growth < CAP // 1024 + SLACK_KIB, growth
        assert trained == [200, 200]
        # The server is still whole: a legal save from the attacker's neighbour works.
        assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_declared_length_over_the_cap_is_refused_before_it_is_sent() -> None:
    with running_server({"MLPG_MAX_BODY_BYTES": str(CAP)}) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(
            f"POST /classes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {TOTAL}\r\n"
            "Content-Type: application/json\r\n\r\n".encode()
        )
        sock.settimeout(10)
        answer = b""
        while data := sock.recv(65536):  # until the server closes (Connection: close)
            answer += data
        sock.close()
        assert answer.startswith(b"HTTP/1.1 422"), answer
        assert f"the body is {TOTAL} bytes".encode() in answer
