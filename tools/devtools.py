"""Run the app and a headless browser for end-to-end tests and benchmarks.

``serve_app`` starts ``streamlit run app.py`` on a free loopback port (as a subprocess:
this module never imports streamlit); ``chromium_page`` opens Debian's Chromium through
Playwright with a fresh profile. Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: tools/ sits beside app.py
CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(env: dict[str, str] | None = None, timeout: float = 90.0, script: Path | None = None) -> Iterator[str]:
    """Start the app (or another Streamlit ``script``) on a free loopback port; yields its URL, stops it after."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ | (env or {}))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"streamlit did not start:\n{log.read().decode(errors='replace')}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def server_process(url: str):
    """The process (a psutil.Process) listening on the URL's port: the server a benchmark measures."""
    import psutil  # installed with distributed (the job engine)

    port = int(url.rsplit(":", 1)[1].split("/")[0])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise RuntimeError(f"no process listens on port {port}")


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000, zoom: float = 1.0):
    """A Playwright page in headless Debian Chromium with a fresh, temporary profile.

    ``zoom`` is the browser's zoom level: at 1.5 a 1280x720 window shows a page 853x480 CSS
    pixels wide, drawn with 1.5 device pixels per CSS pixel, as Chromium's 150% zoom does."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="aelab-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": round(width / zoom), "height": round(height / zoom)}, device_scale_factor=zoom,
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


# JavaScript snippets shared by the browser tests and the benchmark.
TABLE_IMAGES = "sel => Array.from(document.querySelectorAll(sel + ' img')).map(i => i.src)"  # a digit table's PNGs
IDLE = "!document.querySelector('[data-testid=stStatusWidget]')"  # no script run in progress
MAPS_READY = ("n => (window.__aelabMaps || []).length >= n"
              " && window.__aelabMaps.every(m => m.shown > 0 && m.data)")
PROBE_SCREEN = """name => {
  const m = window.__aelabMaps.find(m => m.data.model.startsWith(name + ':'));
  const r = m.canvas.getBoundingClientRect(); const d = window.devicePixelRatio || 1;
  const [sx, sy] = m.toScreen(m.probe.x, m.probe.y);
  return {x: r.left + sx / d, y: r.top + sy / d, left: r.left, top: r.top, width: r.width, height: r.height,
          probe: [m.probe.x, m.probe.y], decodes: m.decodes};
}"""


# Text cut off on the page: an element whose content is wider than its box (an ellipsis, hidden
# overflow), a Latin word broken across two lines ("Projectio / n"), or text running past the right
# edge of the window. Returns [what, text] pairs for visible elements matching the selector.
CLIPPED = r"""sel => {
  const found = []; const right = document.documentElement.clientWidth + 1;
  for (const el of document.querySelectorAll(sel)) {
    const box = el.getBoundingClientRect();
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true}) || box.width === 0
        || box.height === 0) continue;  // hidden (e.g. a top-bar link folded into its "more" menu)
    const text = (el.innerText || '').trim().slice(0, 80);
    if (!text) continue;
    const style = getComputedStyle(el);
    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') found.push(['clipped', text]);
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let past = false;
    while (walker.nextNode()) {
      const node = walker.currentNode; const word = /[A-Za-z0-9][A-Za-z0-9.,']*[A-Za-z0-9]/g; let m;
      const parent = node.parentElement;  // skip text nobody sees (KaTeX's MathML copy for screen readers)
      if (!parent || parent.closest('.katex-mathml') || !parent.checkVisibility({visibilityProperty: true})) continue;
      const ink = document.createRange(); ink.selectNodeContents(node);  // the text itself, not its padding
      past = past || ink.getBoundingClientRect().right > right;
      while ((m = word.exec(node.data))) {
        const range = document.createRange(); range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) found.push(['word broken across lines', m[0] + ' in ' + text]);
      }
    }
    if (past) found.push(['past the right edge', text]);
  }
  return found;
}"""
# Visible prose in English (three Latin words in a row) outside formulas and code: on a page shown in
# Chinese, each is a text that escaped translation. Returns the texts.
ENGLISH_PROSE = r"""() => {
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('[data-testid="stMain"]'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode; const parent = node.parentElement;
    if (!parent || parent.closest('.katex, code, [data-testid="stCode"]') || !parent.checkVisibility()) continue;
    const text = node.data.trim();
    if (/[A-Za-z]{3,}[ ,.;:'()-]+[A-Za-z]{3,}[ ,.;:'()-]+[A-Za-z]{3,}/.test(text)) found.push(text.slice(0, 120));
  }
  return found;
}"""
LABELS = ", ".join([  # where a label or a short text sits in a box of its own
    '[data-testid="stWidgetLabel"]', '[data-testid="stMetricLabel"]', '[data-testid="stMetricValue"]',
    '[data-testid="stMarkdownContainer"]', '[data-testid="stCaptionContainer"]', "button", '[role="tab"]',
    "summary", '[data-testid="stHeading"]', '[data-testid="stPageLink"]', '[data-testid="stTopNavLink"]',
    '[data-testid="stSidebarNavLink"]', "[data-table] th", "[data-table] td",
])


def watch_console(page) -> list[str]:
    """Collect the page's errors (console errors and uncaught exceptions) into the returned list, as they come.

    Left out: requests Streamlit's front end makes to the internet, which this machine does not reach,
    and 404s for an older run's media files, which Streamlit drops while the browser may still fetch them.
    """
    problems: list[str] = []

    def console(message) -> None:
        url = (message.location or {}).get("url", "")
        offline = "ERR_NAME_NOT_RESOLVED" in message.text
        stale_media = "/media/" in url or "/media/" in message.text or "status of 404" in message.text
        if message.type == "error" and not (offline or stale_media):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems
