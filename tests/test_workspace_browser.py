"""Workspaces in a real browser: an uploaded model is still listed after a reload and a page switch.

Runs ``streamlit run app.py`` and Debian's Chromium through Playwright (tools/devtools.py).
Fails (never skips) in CI when Chromium is missing; elsewhere it skips with a reason.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

import torch

from aelab import checkpoint, models
from tools import devtools

SCREENSHOT_DIR = os.environ.get("AELAB_SCREENSHOTS")  # where to keep the screenshot to look at, if set


def _ws(url: str) -> str | None:
    return (parse_qs(urlparse(url).query).get("ws") or [None])[0]


def test_an_uploaded_model_survives_a_reload(chromium, tmp_path):
    torch.manual_seed(0)
    folder = checkpoint.save(models.build("ae", image_shape=(28, 28), latent_dim=2, hidden=[16]),
                             tmp_path / "classroom-ae", {"data": {"spec": "mnist5k"}, "description": "a tiny AE"})
    upload = tmp_path / "classroom-ae.zip"
    upload.write_bytes(checkpoint.export_zip(folder))
    env = {"AELAB_CACHE_DIR": str(tmp_path / "cache"), "AELAB_WORKSPACES": str(tmp_path / "store")}
    with devtools.serve_app(env=env) as url, devtools.chromium_page(1280, 720) as page:
        problems = devtools.watch_console(page)
        page.goto(f"{url}/train")
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=90_000)
        assert _ws(page.url) is None  # no workspace before the first upload
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').last.set_input_files(str(upload))
        page.get_by_text("Loaded classroom-ae").wait_for(timeout=60_000)
        page.wait_for_function("location.search.includes('ws=')", timeout=30_000)
        token = _ws(page.url)
        assert token and re.fullmatch(r"[A-Za-z0-9_-]{32}", token)

        page.reload()
        listed = page.get_by_text(re.compile(r"classroom-ae: a tiny AE \(uploaded\)"))
        listed.wait_for(timeout=90_000)
        page.wait_for_function(devtools.IDLE, timeout=60_000)
        assert _ws(page.url) == token
        assert page.get_by_text(re.compile(r"holds 1 of its 20 models")).count() == 1
        page.get_by_role("button", name="Share", exact=True).click()
        link = page.get_by_text(re.compile(r"/explore\?share=[A-Za-z0-9_-]{32}&models=classroom-ae"))
        link.wait_for(timeout=30_000)
        assert token not in link.inner_text()  # the read-only link does not give the workspace away
        listed.scroll_into_view_if_needed()
        if SCREENSHOT_DIR:
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, "workspace-after-reload.png"), full_page=False)

        page.get_by_role("link", name="Latent explorer").click()  # another page, its own link
        page.wait_for_function(devtools.MAPS_READY, arg=1, timeout=90_000)
        page.wait_for_function(f"location.search.includes('ws={token}')", timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not problems, problems
