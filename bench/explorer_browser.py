"""Latent explorer speed in a real headless browser (Debian's Chromium via Playwright).

Measures, against `streamlit run app.py` on loopback with the shipped models:
- page load to the first interactive latent map (cold: first visit after the server
  starts; warm: later visits), for one map and for four side by side;
- decoded-image updates per second while the probe is dragged continuously;
- release-to-server-image latency: from the mouse release to the map showing the
  Python model's exact decode of the released position (its decoded image's
  data-source turning "server" there; median and p95), also while another browser
  session trains a model on the same server.

Run: python bench/explorer_browser.py [--drags 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import math
import re
import statistics
import time

from tools import devtools

# Resolves with the time the map first paints the server's image of its released probe: the
# decoded canvas's data-source is set on every paint, so each paint is a mutation to check.
WAIT_FOR_SERVER_IMAGE = """name => new Promise(resolve => {
  const m = window.__aelabMaps.find(m => m.data.model.startsWith(name + ':'));
  const check = () => {
    const s = m.server;
    if (m.drag || m.decodedCanvas.dataset.source !== 'server' || !s) return;
    if (Math.abs(s.x - m.probe.x) > 1e-4 || Math.abs(s.y - m.probe.y) > 1e-4) return;
    observer.disconnect(); resolve(performance.now());
  };
  const observer = new MutationObserver(check);
  observer.observe(m.decodedCanvas, {attributes: true, attributeFilter: ['data-source']});
})"""


def load_time(page, url: str, maps: int) -> float:
    tic = time.perf_counter()
    page.goto(url)
    page.wait_for_function(devtools.MAPS_READY, arg=maps, timeout=120_000)
    return time.perf_counter() - tic


def drag_rate(page, seconds: float = 3.0) -> tuple[float, int]:
    """Drag the probe round a circle for `seconds`; returns (decodes per second, pointer moves)."""
    start = page.evaluate(devtools.PROBE_SCREEN, "vae-2d")
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    t0 = page.evaluate("performance.now()")
    moves, tic = 0, time.perf_counter()
    while time.perf_counter() - tic < seconds:
        angle = moves * 0.08
        page.mouse.move(start["x"] + 60 * math.sin(angle), start["y"] + 40 * (1 - math.cos(angle)))
        moves += 1
    t1 = page.evaluate("performance.now()")
    page.mouse.up()
    times = page.evaluate("([t0, t1]) => window.__aelabMaps[0].decodeTimes.filter(t => t >= t0 && t <= t1)", [t0, t1])
    return len(times) / ((t1 - t0) / 1000), moves


IN_PAGE_DRAG = """async ms => {
  const m = window.__aelabMaps[0]; const r = m.canvas.getBoundingClientRect(); const d = devicePixelRatio || 1;
  const [sx, sy] = m.toScreen(m.probe.x, m.probe.y); const x = r.left + sx / d, y = r.top + sy / d;
  const fire = (type, cx, cy) => m.canvas.dispatchEvent(new PointerEvent(type, {clientX: cx, clientY: cy,
    pointerId: 1, bubbles: true, isPrimary: true, pointerType: 'mouse', buttons: 1}));
  fire('pointerdown', x, y); const t0 = performance.now(); let moves = 0;
  await new Promise(done => { const id = setInterval(() => { moves++;
    fire('pointermove', x + 60 * Math.sin(moves * 0.02), y + 40 * (1 - Math.cos(moves * 0.02)));
    if (performance.now() - t0 > ms) { clearInterval(id); done(); } }, 4); });
  const t1 = performance.now();
  const decodes = m.decodeTimes.filter(t => t >= t0 && t <= t1).length;
  fire('pointerup', x, y);
  return {rate: decodes / ((t1 - t0) / 1000), moves: moves / ((t1 - t0) / 1000)};
}"""


def release_latencies(page, drags: int) -> list[float]:
    latencies = []
    for i in range(drags):
        start = page.evaluate(devtools.PROBE_SCREEN, "vae-2d")
        page.mouse.move(start["x"], start["y"])
        page.mouse.down()
        step = 25 if i % 2 == 0 else -25
        page.mouse.move(start["x"] + step, start["y"] + step / 2, steps=5)  # the image is the browser's now
        page.evaluate("name => { window.__serverImage = (" + WAIT_FOR_SERVER_IMAGE + ")(name); }", "vae-2d")
        page.mouse.up()
        loaded = page.evaluate("window.__serverImage")
        reported = page.evaluate("window.__aelabMaps[0].reportedAt")
        latencies.append(loaded - reported)
    return latencies


def start_training_elsewhere(page, url: str):
    """A second browser session starts a 200-epoch AE on the embedded digits on the Train page."""
    other = page.context.new_page()
    other.goto(f"{url}/train")
    epochs = other.locator(".st-key-tr_epochs").get_by_role("slider")
    epochs.focus()
    other.keyboard.press("End")
    other.wait_for_timeout(1000)
    other.get_by_role("button", name="Train", exact=True).click()
    other.get_by_text(re.compile(r"Training \S+: epoch \d+ of 200")).wait_for(timeout=60_000)
    return other


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drags", type=int, default=30, help="releases to time")
    args = parser.parse_args()
    four = "?models=vae-2d,ae-2d,dae-2d,sae-2d"
    with devtools.serve_app() as url, devtools.chromium_page() as page:
        rows = [("load to interactive map, cold (1 map)", f"{load_time(page, url + '/?models=vae-2d', 1):.2f} s")]
        warm = [load_time(page, url + "/?models=vae-2d", 1) for _ in range(3)]
        rows.append(("load to interactive map, warm (1 map, median of 3)", f"{statistics.median(warm):.2f} s"))
        rows.append(("load to interactive maps, first time (4 maps)", f"{load_time(page, url + '/' + four, 4):.2f} s"))
        load_time(page, url + "/?models=vae-2d", 1)
        rate, moves = drag_rate(page)
        frames = page.evaluate("() => new Promise(r => { let n = 0; const t = performance.now();"
                               " const f = () => { n++; if (performance.now() - t < 1000) requestAnimationFrame(f);"
                               " else r(n); }; requestAnimationFrame(f); })")
        in_page = page.evaluate(IN_PAGE_DRAG, 3000)
        page.wait_for_timeout(1500)  # let the release's rerun settle
        rows.append(("decoded-image updates/s, drag by Playwright's mouse", f"{rate:.1f} /s"))
        rows.append(("  pointer moves Playwright delivered", f"{moves / 3:.1f} /s"))
        rows.append(("decoded-image updates/s, in-page pointer stream", f"{in_page['rate']:.1f} /s"))
        rows.append(("  pointer moves in that stream", f"{in_page['moves']:.0f} /s"))
        rows.append(("browser animation frames (the ceiling)", f"{frames} /s"))
        latencies = release_latencies(page, args.drags)
        rows.append((f"release to server image, median of {len(latencies)}", f"{statistics.median(latencies):.0f} ms"))
        rows.append((f"release to server image, p95 of {len(latencies)}", f"{percentile(latencies, 0.95):.0f} ms"))
        trainer = start_training_elsewhere(page, url)
        busy = release_latencies(page, args.drags)
        still = trainer.get_by_text(re.compile(r"Training \S+: epoch")).count() > 0
        trainer.get_by_role("button", name="Stop (keeps the best model so far)").click()
        rows.append((f"  while another session trains: median of {len(busy)}", f"{statistics.median(busy):.0f} ms"))
        rows.append((f"  while another session trains: p95 of {len(busy)}", f"{percentile(busy, 0.95):.0f} ms"))
        rows.append(("  (the other session was training throughout)", "yes" if still else "NO: it finished first"))
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
