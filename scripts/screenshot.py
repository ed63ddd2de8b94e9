#!/usr/bin/env python3
"""Screenshot the page for the README: a 3-class spiral training live, as a class sees it.

Starts the real server (``python -m mlp_playground`` on a loopback port), opens the page in
Debian's headless Chromium at 1600x1000, plays for a few seconds and writes
``docs/screenshot.png``. The PNG must stay small enough for a repository (at most 200 KB):
it is squeezed with ``pngquant`` when that is installed, else with a browser-side colour
reduction (a PNG of fewer colours deflates far better). ``--also DIR`` writes the
projector views too (1280x720 in large type, 1024x768) for a look at the layout.

    python3 scripts/screenshot.py [--out docs/screenshot.png] [--seconds 6] [--also DIR]
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from _common import start_server, stop_server  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

MAX_BYTES = 200_000
SPIRAL = "#data=spiral&k=3&noise=0.1&h=16,16,8&act=relu,relu,relu&opt=adam&lr=0.01&speed=100"
READY = "() => window.__mlpg && window.__mlpg.config && window.__mlpg.status === 'open'"

# Posterise in the page: round each channel to `levels` values, re-encode as PNG.
REDUCE = """async ([b64, levels]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height);
  const q = 255 / (levels - 1);
  for (let i = 0; i < d.data.length; i += 4) {
    for (let k = 0; k < 3; k++) d.data[i + k] = Math.round(Math.round(d.data[i + k] / q) * q);
  }
  ctx.putImageData(d, 0, 0);
  return c.toDataURL('image/png').split(',')[1];
}"""


def open_page(browser: Browser, url: str, width: int, height: int, large: bool = False) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = context.new_page()
    page.goto(url + "/" + SPIRAL + ("&big=1" if large else ""))
    page.wait_for_function(READY, timeout=20_000)
    page.wait_for_function("() => window.__mlpg.config.speed === 100", timeout=10_000)
    return page


def train(page: Page, seconds: float) -> None:
    """Play, let the boundary form, pause (a still picture), dismiss the toasts."""
    page.get_by_test_id("play").click()
    page.wait_for_timeout(seconds * 1000)
    page.get_by_test_id("play").click()
    page.wait_for_function("() => !window.__mlpg.running")
    page.wait_for_timeout(400)
    page.evaluate("document.querySelectorAll('.message').forEach((m) => m.remove())")


def pngquant(png: bytes, colours: int) -> bytes | None:
    """``png`` through pngquant with at most ``colours`` colours, or None without it."""
    if not shutil.which("pngquant"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        src.write_bytes(png)
        done = subprocess.run(
            ["pngquant", str(colours), "--speed=1", "--output", "-", str(src)],
            capture_output=True,
            check=False,
        )
    return done.stdout if done.returncode == 0 else None


def squeeze(png: bytes, page: Page) -> bytes:
    """Under MAX_BYTES with as many colours as fit: pngquant (when installed) at 256, 128,
    then 64 colours; else posterised in the browser."""
    for colours in (256, 128, 64):
        small = pngquant(png, colours)
        if small is None:
            break
        if len(small) <= MAX_BYTES:
            return small
    for levels in (32, 16, 8):
        if len(png) <= MAX_BYTES:
            break
        png = base64.b64decode(page.evaluate(REDUCE, [base64.b64encode(png).decode(), levels]))
    return png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--also", type=Path, default=None, help="folder for the projector views")
    args = parser.parse_args()
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = open_page(browser, url, 1600, 1000)
            train(page, args.seconds)
            png = squeeze(page.screenshot(), page)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(png)
            print(f"{args.out}: {len(png)} bytes")
            if args.also:
                args.also.mkdir(parents=True, exist_ok=True)
                for w, h, large in ((1280, 720, True), (1024, 768, False), (1024, 768, True)):
                    view = open_page(browser, url, w, h, large)
                    train(view, args.seconds / 2)
                    name = args.also / f"screen-{w}x{h}{'-large' if large else ''}.png"
                    view.screenshot(path=str(name))
                    print(f"{name}")
                    view.context.close()
            browser.close()
    finally:
        stop_server(proc)
    if len(png) > MAX_BYTES:
        print(f"still over {MAX_BYTES} bytes: install pngquant (apt-get install pngquant)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
