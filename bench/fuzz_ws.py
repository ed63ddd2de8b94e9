"""Websocket fuzzer for the live protocol (docs/protocol.md), against a real server on loopback.

    python bench/fuzz_ws.py                      # long form: 20,000 cases, own server
    python bench/fuzz_ws.py --cases 500 --seed 3 --url ws://127.0.0.1:8000

The cases and what must hold are in tests/support/ws_fuzz.py (the fuzzer itself);
``tests/reliability/test_rel_ws_fuzz.py`` runs a short form of the same functions in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from collections import Counter

from _common import start_server

from tests.support.ws_fuzz import close_cases, flood, fuzz_messages


def _ws(started: tuple[subprocess.Popen, str]) -> tuple[subprocess.Popen, str]:
    proc, url = started
    return proc, url.replace("http://", "ws://")


async def _main(args: argparse.Namespace) -> None:
    proc = None
    url = args.url
    if url is None:
        proc, url = _ws(start_server({"MLPG_MAX_MESSAGES_PER_SECOND": "100000"}, capture=True))
        flood_proc, flood_url = _ws(start_server(capture=True))
    else:
        flood_proc, flood_url = None, url
    try:
        t0 = time.monotonic()
        total: Counter[str] = Counter()
        cases = 0
        for i in range(0, args.cases, args.per_connection):
            n = min(args.per_connection, args.cases - i)
            out = await fuzz_messages(url, n, args.seed + i)
            total.update(out["codes"])
            cases += out["cases"]
        print(f"fuzzed messages: {cases} cases, error codes {dict(total)}")
        closes = await close_cases(url)
        print(f"close-code cases: {closes} (1003 binary, 1009 too big, 60 KB accepted)")
        f = await flood(flood_url)
        print(f"flood: {f}")
        print(f"total {time.monotonic() - t0:.1f} s, every session still trained afterwards")
    finally:
        for p in (proc, flood_proc):
            if p is not None:
                p.terminate()
                out = p.communicate(timeout=15)[0].decode(errors="replace")
                tracebacks = out.count("Traceback")
                print(f"server exit {p.returncode}, tracebacks in its log: {tracebacks}")
                if tracebacks:
                    start = out.index("Traceback")
                    print(out[max(0, start - 300) : start + 3000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="ws://host:port of a running server (default: own one)")
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--per-connection", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
