"""Command line: ``mlp-playground [--host 127.0.0.1] [--port 8000] [--open]``."""

from __future__ import annotations

import argparse
import logging
import threading
import webbrowser

import uvicorn

from mlp_playground.config import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: What a browser on this machine puts in ``Host`` (IPv6 is left out: Starlette's host
#: check cannot parse "[::1]:8000", and the default bind is IPv4 anyway).
LOOPBACK_NAMES = ["127.0.0.1", "localhost"]


def main(argv: list[str] | None = None) -> None:
    """Start the server; loopback only unless ``--host`` says otherwise."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="mlp-playground", description=__doc__)
    parser.add_argument(
        "--host", default=defaults.host, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=defaults.port, help="port (default %(default)s)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    args = parser.parse_args(argv)

    from mlp_playground.app import create_app

    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{shown_host}:{args.port}"
    print(f"MLP Playground on {url}", flush=True)
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    settings = Settings(host=args.host, port=args.port)
    if not settings.allowed_hosts and args.host in LOOPBACK:
        settings = Settings(host=args.host, port=args.port, allowed_hosts=LOOPBACK_NAMES)
    app = create_app(settings)
    # The app's own loggers (session start/end lines) next to uvicorn's, in the same shape.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        # Refuse oversized websocket messages (close 1009) before they are read into memory.
        ws_max_size=settings.max_message_bytes,
    )


if __name__ == "__main__":
    main()
