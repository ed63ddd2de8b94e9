"""Benchmark the page in headless Chromium while it trains a 2-8-8-2 net on a 100x100 grid.

Prints: boundary frames painted per second, main-thread time per painted frame (Chromium's
TaskDuration, i.e. every task on the renderer's main thread: script, style, layout, paint),
and the JS heap after a forced garbage collection at the start and the end, sampled along
the way, to show whether the page leaks.

    python bench/page.py                 # 60 s against a server it starts on a free port
    python bench/page.py --seconds 300   # the 5-minute soak the issue asks for
    python bench/page.py --url http://127.0.0.1:8000   # an already running server
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HASH = "#data=circle&k=2&h=8,8&act=tanh,tanh&feat=x1,x2&opt=sgd&lr=0.03&bs=10&speed=max&res=100"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


CALIBRATION_PAGE = """<!doctype html><canvas id=c width=100 height=100 style="width:500px;height:500px">
</canvas><div id=t></div><script>
const c = document.getElementById('c').getContext('2d'); const img = c.createImageData(100, 100);
let n = 0; window.frames_ = 0;
setInterval(() => { for (let i = 0; i < img.data.length; i++) img.data[i] = (i + n) & 255;
  c.putImageData(img, 0, 0); document.getElementById('t').textContent = n++; window.frames_++; }, 33);
</script>"""


def calibrate(browser, seconds: float) -> float:
    """Main-thread ms per frame of a bare page painting a 100x100 canvas at 30 fps: what this
    machine and this headless, GPU-less Chromium cost before the playground does anything."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_content(CALIBRATION_PAGE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.wait_for_timeout(1000)
    m0, f0 = metrics(cdp), page.evaluate("window.frames_")
    page.wait_for_timeout(seconds * 1000)
    m1, f1 = metrics(cdp), page.evaluate("window.frames_")
    page.close()
    return 1000 * (m1["TaskDuration"] - m0["TaskDuration"]) / max(1, f1 - f0)


def metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def heap_after_gc(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return metrics(cdp)["JSHeapUsedSize"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured duration (default 60)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument("--url", help="use this running server instead of starting one")
    ap.add_argument("--samples", type=int, default=6, help="heap samples over the run")
    ap.add_argument(
        "--calibrate", type=float, default=10.0, help="seconds on a bare canvas page (0: skip)"
    )
    args = ap.parse_args()

    proc = None
    url = args.url
    if not url:
        proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            baseline = calibrate(browser, args.calibrate) if args.calibrate > 0 else None
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/" + HASH)
            page.wait_for_function(
                "() => window.__mlpg && window.__mlpg.status === 'open' && window.__mlpg.config"
                " && window.__mlpg.config.network.hidden_layers.join() === '8,8'",
                timeout=20_000,
            )
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.get_by_test_id("play").click()
            page.wait_for_timeout(args.warmup * 1000)

            heap0 = heap_after_gc(cdp)
            m0 = metrics(cdp)
            f0 = page.evaluate("window.__mlpg.boundary.framesPainted")
            s0 = int(page.get_by_test_id("step-counter").text_content())
            t0 = time.monotonic()
            heaps = [heap0]
            for i in range(1, args.samples + 1):
                target = t0 + args.seconds * i / args.samples
                page.wait_for_timeout(max(0.0, target - time.monotonic()) * 1000)
                if i < args.samples:
                    heaps.append(metrics(cdp)["JSHeapUsedSize"])
            elapsed = time.monotonic() - t0
            m1 = metrics(cdp)
            f1 = page.evaluate("window.__mlpg.boundary.framesPainted")
            s1 = int(page.get_by_test_id("step-counter").text_content())
            res = page.evaluate("window.__mlpg.boundary.grid.width")
            heap1 = heap_after_gc(cdp)
            heaps.append(heap1)
            browser.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)

    frames = f1 - f0
    task = m1["TaskDuration"] - m0["TaskDuration"]
    script = m1["ScriptDuration"] - m0["ScriptDuration"]
    print(f"page benchmark: 2-8-8-2 net, {res}x{res} grid, {elapsed:.0f} s measured")
    print(f"  training steps          {s1 - s0} ({(s1 - s0) / elapsed:.0f} steps/s on the server)")
    print(f"  frames painted          {frames} ({frames / elapsed:.1f} per second)")
    if frames:
        print(
            f"  main-thread time/frame  {1000 * task / frames:.2f} ms (script {1000 * script / frames:.2f} ms)"
        )
    if baseline is not None:
        print(
            f"  bare-canvas baseline    {baseline:.2f} ms/frame (same browser, same machine load)"
        )
    print(f"  main thread busy        {100 * task / elapsed:.1f} % of wall time")
    print(
        "  JS heap (MB)            "
        + " -> ".join(f"{h / 1e6:.2f}" for h in heaps)
        + f"  (after GC: {heap0 / 1e6:.2f} -> {heap1 / 1e6:.2f}, growth {(heap1 - heap0) / 1e6:+.2f} MB)"
    )
    if errors:
        print("  page errors:", *errors, sep="\n    ")


if __name__ == "__main__":
    main()
