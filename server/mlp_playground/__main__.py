"""Command line: ``mlp-playground`` (or ``python -m mlp_playground``) starts the server."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import webbrowser
from typing import Any

import uvicorn

from mlp_playground import __version__
from mlp_playground.config import Settings
from mlp_playground.public import WILDCARD_HOSTS, public_url
from mlp_playground.websocket_protocol import PlaygroundWebSocketProtocol
from mlp_playground.worker_feed import setup_logging
from mlp_playground.worker_pool import run_workers

DESCRIPTION = (
    "Start the MLP Playground server and serve the page. It listens on 127.0.0.1 (this "
    "machine only) unless --host says otherwise; every limit is an MLPG_* environment "
    "variable (see the README)."
)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="mlp-playground", description=DESCRIPTION)
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to bind (default {defaults.host}; 0.0.0.0 with --classroom)",
    )
    parser.add_argument(
        "--port", type=int, default=defaults.port, help="port (default %(default)s)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="log detail (default %(default)s)"
    )
    parser.add_argument(
        "--reload", action="store_true", help="development: restart when a source file changes"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one port (more than 1 needs MLPG_REDIS_URL; default 1)",
    )
    parser.add_argument(
        "--classroom",
        action="store_true",
        help="a class on the local network: listen on every interface (unless --host), "
        "answer to this machine's LAN addresses and names, print the students' URL and its "
        "QR code",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    if not args.classroom:
        args.host = args.host or defaults.host
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1 and not defaults.redis_url:
        # One line, exit status 2: processes share sessions, watchers and caps through Redis.
        parser.exit(
            2,
            f"mlp-playground: --workers {args.workers} needs MLPG_REDIS_URL "
            "(e.g. redis://127.0.0.1:6379/0) so the processes act as one server\n",
        )
    if args.workers > 1 and args.reload:
        parser.error("--reload runs one process: leave out --workers")
    return args


def announce(args: argparse.Namespace, settings: Settings) -> None:
    """Print where the server answers (and the class's join link), open the page if asked."""
    local = "127.0.0.1" if args.host in WILDCARD_HOSTS else args.host
    url = f"http://{local}:{args.port}"
    shared = public_url(settings)
    print(f"MLP Playground on {url}", flush=True)
    if args.classroom:
        from mlp_playground.classroom.cli import print_join

        print_join(settings)
    elif shared and shared != url:
        print(f"Others on the network open {shared}", flush=True)
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()


def main(argv: list[str] | None = None) -> None:
    """Start the server; loopback only unless ``--host`` says otherwise."""
    args = parse_args(argv)
    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.classroom:
        from mlp_playground.classroom.cli import classroom_overrides

        overrides.update(classroom_overrides(Settings(), args.host))
        args.host = overrides["host"]
    settings = Settings(**overrides)
    announce(args, settings)
    setup_logging(args.log_level)  # the app's loggers beside uvicorn's, secrets redacted
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "timeout_graceful_shutdown": 5,
        # Refuse oversized websocket messages (close 1009) before they are read into memory;
        # the live route checks the size as well, for servers started another way.
        "ws_max_size": settings.max_message_bytes,
        # uvicorn's websocket protocol with a cheaper deflate (see websocket_protocol.py).
        "ws": PlaygroundWebSocketProtocol,
        # The client's address is the app's business (client_address.py, believing only
        # MLPG_TRUSTED_PROXIES): uvicorn must not rewrite the peer from X-Forwarded-For.
        "proxy_headers": False,
    }
    if args.reload or args.workers > 1:
        # The reloader and the worker processes build the app in fresh processes: they read
        # the bind address from the environment like any other setting.
        os.environ.update(MLPG_HOST=args.host, MLPG_PORT=str(args.port))
        if args.classroom:
            os.environ.update(
                MLPG_ALLOWED_HOSTS=json.dumps(settings.allowed_hosts),
                MLPG_MAX_SESSIONS=str(settings.max_sessions),
            )
        if args.reload:
            uvicorn.run("mlp_playground.app:create_app", factory=True, reload=True, **options)
        else:  # each connection placed on a worker by load (worker_pool.py)
            sys.exit(run_workers(args.workers, options, args.log_level))
    else:
        from mlp_playground.app import create_app

        uvicorn.run(create_app(settings), **options)


if __name__ == "__main__":
    main()
