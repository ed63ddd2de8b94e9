"""Load test: N live sessions training and streaming, M watchers, REST traffic, on loopback.

    python bench/load.py --sessions 30 --watchers 30 --seconds 60
    python bench/load.py --find-max --seconds 10        # largest N at >= 10 frames/s each

Every session is a 2-8-8-2 net (spiral data, tanh, sgd: issue 12's load) playing at full speed with a
100x100 decision grid subscribed at 30 frames/s; watchers follow sessions round-robin; two
REST clients send ``--rest-rate`` requests a second in all: one in four a ``POST /train``
(a small 200-step run), the others ``POST /predict`` on a live session, by its id. Pauses
are measured on one session in four: ``pause`` -> the ``paused`` event, then ``play``
again, once a second.

Printed: frames/s per session (median, worst; watchers alike), p50/p95 latency of ``pause``
and ``/predict``, ``/train`` count and p95, errors (error messages, unexpected closes,
non-200 answers: must be 0), and the server's RSS before and after. Bounded: the run stops
after ``--seconds`` (plus set-up), and N, M are capped. Loopback only: the script starts its
own server (``--url`` may point at another server on 127.0.0.1, without the RSS figures).
The client runs on the same machine, so it takes CPU from the server: figures are a floor.
``bench/workers.py`` is the driver beside this one for issue 12's table: sessions and watchers
held at >= 10 frames/s with one worker and with ``--workers 2`` over Redis, and the CPU of
the client, the servers and redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
from urllib.parse import urlparse

from _common import rss_mb, start_server

from tests.support.load import Stats, report, run_load

MAX_SESSIONS = 300
MAX_WATCHERS = 600


def start_load_server(sessions: int) -> tuple[subprocess.Popen, str]:
    return start_server(
        {
            "MLPG_SESSION_GRACE_SECONDS": "0",
            "MLPG_MAX_SESSIONS": str(max(64, sessions + 8)),
            "MLPG_MAX_SESSIONS_PER_CLIENT": str(max(64, sessions + 8)),  # all from loopback
            "MLPG_MAX_WATCHERS": str(MAX_WATCHERS),
        }
    )


def trial(n: int, m: int, seconds: float, url: str | None = None, rest_rate: float = 4.0) -> Stats:
    proc = None
    if url is None:
        proc, url = start_load_server(n)
    try:
        before = rss_mb(proc.pid) if proc else None
        stats = asyncio.run(run_load(url, n, m, seconds, rest_rate))
        after = rss_mb(proc.pid) if proc else None
        report(n, m, seconds, stats, (before, after) if proc else None)
        return stats
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


def find_max(
    seconds: float, watchers_per_session: float, rest_rate: float = 4.0, start: int = 8
) -> int:
    """Largest N whose worst session keeps >= 10 frames/s (doubling, then bisection)."""

    def holds(n: int) -> bool:
        s = trial(n, int(n * watchers_per_session), seconds, rest_rate=rest_rate)
        return bool(s.frames) and min(s.frames) >= 10.0 and not s.errors

    lo, hi = 0, start
    while holds(hi):
        lo, hi = hi, min(hi * 2, MAX_SESSIONS)
        if lo == MAX_SESSIONS:
            return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid
        else:
            hi = mid
    print(f"largest N at >= 10 frames/s per session: {lo}")
    return lo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--watchers", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--watchers-per-session", type=float, default=0.0, help="with --find-max")
    parser.add_argument(
        "--rest-rate", type=float, default=4.0, help="REST requests/s (1 in 4 is /train)"
    )
    parser.add_argument("--url", help="http://127.0.0.1:PORT of a running server (loopback)")
    args = parser.parse_args()
    if not 1 <= args.sessions <= MAX_SESSIONS or not 0 <= args.watchers <= MAX_WATCHERS:
        parser.error(f"1 <= sessions <= {MAX_SESSIONS}, 0 <= watchers <= {MAX_WATCHERS}")
    if not 1 <= args.seconds <= 900:
        parser.error("1 <= seconds <= 900")
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only: --url must be http://127.0.0.1:PORT")
    if args.find_max:
        find_max(args.seconds, args.watchers_per_session, args.rest_rate)
    else:
        trial(args.sessions, args.watchers, args.seconds, args.url, args.rest_rate)


if __name__ == "__main__":
    main()
