"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """`streamlit run app.py` on a free loopback port, stopped after the module."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{server.stdout.read().decode()}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A fresh headless Chromium profile and page; fails (never skips) in CI without Chromium."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"Chromium not found at {CHROMIUM}; install Debian's `chromium` package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _decoded_src(page) -> str:
    return page.locator('[data-testid="stImage"] img').first.get_attribute("src")


def test_app_opens_with_a_latent_map_and_a_decoded_digit(app_url, page):
    page.goto(app_url)
    page.wait_for_selector(".js-plotly-plot .scatterlayer", timeout=60_000)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Latent explorer").first.is_visible()
    # the map holds the encoded digits: one legend entry per label plus the probe
    assert page.locator(".legend .traces").count() == 11


def test_moving_a_slider_redraws_the_decoded_digit(app_url, page):
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
    before = _decoded_src(page)
    thumb = page.get_by_role("slider").first
    thumb.focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "before => { const img = document.querySelector('[data-testid=\"stImage\"] img');"
        " return img && img.getAttribute('src') !== before; }",
        arg=before, timeout=20_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0
