"""Benchmark the page in headless Chromium while it trains a 2-8-8-2 net on a 100x100 grid.

Prints: boundary frames painted per second; the renderer main thread's time per painted
frame, both as wall time (Chromium's TaskDuration: every task on that thread, script, style,
layout, paint, commit, *including* the time it waits for a CPU) and as CPU time (ThreadTime);
and the JS heap after a forced garbage collection at the start and the end, sampled along
the way, to show whether the page leaks.

On a 2-core machine a server training at "max" speed keeps one core busy, so Chromium's
threads share the other and the wall time grows with the wait: `--speed 200` shows the page
without that contention, and the CPU time is the page's own cost either way.

    python bench/page.py                 # 60 s against a server it starts on a free port
    python bench/page.py --seconds 300   # the 5-minute soak the issue asks for
    python bench/page.py --url http://127.0.0.1:8000   # an already running server
    python bench/page.py --speed 200     # training paced at 200 steps/s instead of max
"""

from __future__ import annotations

import argparse
import time

from _common import start_server, stop_server
from playwright.sync_api import sync_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

HASH = "#data=circle&k=2&h=8,8&act=tanh,tanh&feat=x1,x2&opt=sgd&lr=0.03&bs=10&res=100&speed="


CALIBRATION_PAGE = """<!doctype html><canvas id=c width=100 height=100 style="width:500px;height:500px">
</canvas><div id=t></div><script>
const c = document.getElementById('c').getContext('2d'); const img = c.createImageData(100, 100);
let n = 0; window.frames_ = 0;
setInterval(() => { for (let i = 0; i < img.data.length; i++) img.data[i] = (i + n) & 255;
  c.putImageData(img, 0, 0); document.getElementById('t').textContent = n++; window.frames_++; }, 33);
</script>"""


def per_frame(m0: dict[str, float], m1: dict[str, float], frames: int) -> dict[str, float]:
    """Milliseconds per frame of the renderer's main thread: wall time of its tasks
    (TaskDuration, which includes waiting for a CPU another process holds), its CPU time
    (ThreadTime), the script part of the wall time, and the renderer process's CPU time."""
    keys = {
        "wall": "TaskDuration",
        "cpu": "ThreadTime",
        "script": "ScriptDuration",
        "process": "ProcessTime",
    }
    return {k: 1000 * (m1[v] - m0[v]) / max(1, frames) for k, v in keys.items()}


def calibrate(browser, seconds: float) -> dict[str, float]:
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
    return per_frame(m0, m1, f1 - f0)


def metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def heap_after_gc(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return metrics(cdp)["JSHeapUsedSize"]


def fmt(ms: dict[str, float]) -> str:
    return (
        f"{ms['wall']:.2f} ms wall (script {ms['script']:.2f}), {ms['cpu']:.2f} ms CPU; "
        f"renderer process CPU {ms['process']:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured duration (default 60)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument("--url", help="use this running server instead of starting one")
    ap.add_argument("--samples", type=int, default=6, help="heap samples over the run")
    ap.add_argument(
        "--speed",
        default="max",
        help="training speed, steps/s or max (default); max keeps one of 2 cores busy",
    )
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
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            baseline = calibrate(browser, args.calibrate) if args.calibrate > 0 else None
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/" + HASH + args.speed)
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
            stop_server(proc)

    frames = f1 - f0
    print(
        f"page benchmark: 2-8-8-2 net, {res}x{res} grid, speed {args.speed}, "
        f"{elapsed:.0f} s measured"
    )
    print(f"  training steps          {s1 - s0} ({(s1 - s0) / elapsed:.0f} steps/s on the server)")
    print(f"  frames painted          {frames} ({frames / elapsed:.1f} per second)")
    if frames:
        print(f"  main thread per frame   {fmt(per_frame(m0, m1, frames))}")
    if baseline is not None:
        print(f"  bare-canvas baseline    {fmt(baseline)}")
    busy = m1["TaskDuration"] - m0["TaskDuration"]
    print(f"  main thread busy        {100 * busy / elapsed:.1f} % of wall time")
    print(
        "  JS heap (MB)            "
        + " -> ".join(f"{h / 1e6:.2f}" for h in heaps)
        + f"  (after GC: {heap0 / 1e6:.2f} -> {heap1 / 1e6:.2f}, growth {(heap1 - heap0) / 1e6:+.2f} MB)"
    )
    if errors:
        print("  page errors:", *errors, sep="\n    ")


if __name__ == "__main__":
    main()
