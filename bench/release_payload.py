"""What one probe release costs the server: bytes sent to the browser and CPU time of the rerun.

Against `streamlit run app.py` on loopback, in headless Chromium at 1280x720, the probe is dragged
and released ``--releases`` times on the latent explorer (one map) and on the compare page (two
linked maps). For each release it counts the bytes of every websocket frame the browser receives
from the release until the map shows the server's decode and the frames stop, and the CPU time
the server process used meanwhile (user + system, from /proc through psutil: 10 ms ticks, and
whatever else the server did then). The same rerun is also timed in-process with AppTest
(CPU time of one page run after a probe report, AppTest's own parsing included), which is
steadier on a busy machine.

With ``--before DIR`` (a checkout of an older tree: ``git archive HEAD aelab app.py | tar -x -C DIR``)
the same is measured there first, on the same shipped models, and the table shows both side by side.

Run: python bench/release_payload.py [--releases 6] [--before /tmp/before] [--root DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import json
import os
import statistics
import subprocess
import time

import psutil

from tools import devtools

ROOT = Path(__file__).resolve().parent.parent
QUIET_S = 0.6  # no frame for this long after the server's image arrived: the rerun has been sent

# The map shows the server's decode of the probe where it was released.
SERVER_IMAGE_AT_PROBE = """name => {
  const m = (window.__aelabMaps || []).find(m => m.data && m.data.model.startsWith(name + ':'));
  return !!m && !m.drag && m.decodedCanvas.dataset.source === 'server' && !!m.server
    && Math.abs(m.server.x - m.probe.x) < 1e-4 && Math.abs(m.server.y - m.probe.y) < 1e-4; }"""


class Frames:
    """Bytes of the websocket frames the page receives, counted from the last reset."""

    def __init__(self, page) -> None:
        self.bytes = 0
        self.count = 0
        self.last = time.monotonic()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        self.bytes += len(payload)
        self.count += 1
        self.last = time.monotonic()

    def reset(self) -> None:
        self.bytes = self.count = 0
        self.last = time.monotonic()

    def settle(self, page, quiet: float = QUIET_S, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last < quiet and time.monotonic() < deadline:
            page.wait_for_timeout(50)


def _server_process(url: str) -> psutil.Process:
    """The `streamlit run` process serving ``url`` (a child of this one)."""
    port = url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        if "streamlit" in cmd and port in cmd:
            return child
    raise RuntimeError(f"no streamlit process for {url}")


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _release(page, frames: Frames, server: psutil.Process, name: str, step: int) -> tuple[int, float]:
    """Drag ``name``'s probe a little and let go; returns (bytes received, server CPU seconds)."""
    start = page.evaluate(devtools.PROBE_SCREEN, name)
    # back and forth, a little further each time: never a position released before, whose rerun the
    # browser would have cached whole
    sign = 1 if step % 2 == 0 else -1
    dx, dy = sign * (24 + 3 * step), -sign * (16 + 2 * step)
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    for i in range(1, 7):
        page.mouse.move(start["x"] + dx * i / 6, start["y"] + dy * i / 6)
    frames.settle(page, quiet=0.3)
    frames.reset()
    cpu = _cpu(server)
    page.mouse.up()
    page.wait_for_function(SERVER_IMAGE_AT_PROBE, arg=name, timeout=30_000)
    frames.settle(page)
    return frames.bytes, _cpu(server) - cpu


# One page's rerun after a probe report, timed in-process with AppTest (CPU of this process, all
# threads; AppTest's own parsing of the messages included), in a fresh interpreter in the checkout.
APPTEST_RERUN = """
import itertools, json, statistics, sys, time
from streamlit.testing.v1 import AppTest
page, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
at = AppTest.from_file("app.py", default_timeout=120).run()
if page:
    at.switch_page(page).run()
assert not at.exception, [e.value for e in at.exception]
times = []
for i in range(n + 2):
    state = dict(at.session_state[key]) if key in at.session_state else {"probe": None, "view": None}
    at.session_state[key] = state | {"probe": {"x": 0.1 + 0.01 * i, "y": 0.2 - 0.01 * i, "picked": None,
                                               "nearest": None, "view": None, "id": f"bench{i}"}}
    tic = time.process_time()
    at.run()
    times.append(time.process_time() - tic)
print(json.dumps(1000 * statistics.median(times[2:])))
"""


def rerun_ms(root: Path, page: str, key: str, releases: int) -> float:
    """Median CPU ms of a page's rerun after a probe report, with AppTest in the checkout ``root``."""
    env = os.environ | {"AELAB_PRETRAINED": str(ROOT / "pretrained")}
    out = subprocess.run([sys.executable, "-c", APPTEST_RERUN, page, key, str(releases)], cwd=root, env=env,
                         capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(root: Path, releases: int) -> dict[str, dict[str, float]]:
    """Bytes and server CPU per release on the explorer (one map) and the compare page (two maps)."""
    env = {"AELAB_PRETRAINED": str(ROOT / "pretrained")}
    results = {}
    with devtools.serve_app(env=env, script=root / "app.py") as url, devtools.chromium_page(1280, 720) as page:
        problems = devtools.watch_console(page)
        frames = Frames(page)
        server = _server_process(url)
        for label, path, maps, name in (("explorer, 1 map", "", 1, "vae-2d"), ("compare, 2 maps", "compare", 2,
                                                                                "ae-2d")):
            frames.reset()
            page.goto(f"{url}/{path}")
            page.wait_for_function(devtools.MAPS_READY, arg=maps, timeout=120_000)
            frames.settle(page, quiet=1.0)
            first = frames.bytes
            _release(page, frames, server, name, 0)  # warm: the first release may fill caches
            sizes, cpus = zip(*(_release(page, frames, server, name, i) for i in range(1, releases + 1)), strict=True)
            results[label] = {"page load, bytes": first, "release, bytes (median)": statistics.median(sizes),
                              "release, bytes (max)": max(sizes),
                              "release, server CPU ms (median)": 1000 * statistics.median(cpus)}
        if problems:
            print(f"browser console errors ({root}): {problems[:3]}", file=sys.stderr)
    for label, page, key in (("explorer, 1 map", "", "map-vae-2d-latent"),
                             ("compare, 2 maps", "aelab/app/pages/vae_vs_ae.py", "cmp-ae-2d-latent")):
        results[label]["rerun CPU ms, AppTest (median)"] = rerun_ms(root, page, key, releases)
    return results


def _fmt(value: float, key: str) -> str:
    return f"{value:,.0f}" if "bytes" in key else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=6)
    parser.add_argument("--before", type=Path, help="an older checkout to measure beside this one")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    if not devtools.chromium_available():
        sys.exit(f"Chromium not found at {devtools.CHROMIUM}")
    columns = {}
    if args.before:
        columns["before"] = measure(args.before.resolve(), args.releases)
    columns["now" if args.before is None else "after"] = measure(args.root.resolve(), args.releases)
    names = list(columns)
    print(f"{'page':<17} {'measure':<32} " + " ".join(f"{n:>12}" for n in names))
    for page_label in next(iter(columns.values())):
        for key in next(iter(columns.values()))[page_label]:
            print(f"{page_label:<17} {key:<32} " + " ".join(f"{_fmt(columns[n][page_label][key], key):>12}"
                                                              for n in names))


if __name__ == "__main__":
    main()
