"""Presenter mode on a projector, in a real browser: the lesson path from start to end (each step's
page as its link sets it up) and every other page, in English and in Chinese, at 1280x720 and at
150% zoom, without a clipped label or a page wider than the window, and in Chinese without an
English sentence left on the page.

A label is clipped when its text is wider than its box (cut or ending in an ellipsis), when a
word is broken across two lines ("Projectio / n"), or when it runs past the window's right edge
(tools/devtools.py: CLIPPED, LABELS). Screenshots of each view go to $AELAB_SHOTS when it is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aelab.app import pages
from aelab.app.pages import lesson
from tools import devtools

VIEWS = [("en", 1.0), ("zh", 1.0), ("en", 1.5), ("zh", 1.5)]
DEFAULT = next(p.url_path for p in pages.discover() if p.default)  # served at "/"


def _link(page: str, query: dict[str, str]) -> str:
    return ("" if page == DEFAULT else page) + "?" + "".join(f"{k}={v}&" for k, v in query.items())


# The lesson path from start to end (the lesson, then each step's page as its link sets it up), then
# every page not on the path with its defaults.
ON_THE_PATH = {lesson.PAGE.url_path, *(s.page for s in lesson.STEPS)}
PATHS = [_link(lesson.PAGE.url_path, {}), *(_link(s.page, s.query) for s in lesson.STEPS),
         *(_link(p.url_path, {}) for p in pages.discover() if p.url_path not in ON_THE_PATH)]


@pytest.mark.parametrize(("lang", "zoom"), VIEWS, ids=[f"{lang}-{zoom:g}x" for lang, zoom in VIEWS])
def test_presenter_mode_clips_no_label(app_url, chromium, lang, zoom):
    shots = os.environ.get("AELAB_SHOTS")
    problems = {}
    with devtools.chromium_page(1280, 720, zoom=zoom) as page:
        errors = devtools.watch_console(page)
        for path in PATHS:
            page.goto(f"{app_url}/{path}present=1&lang={lang}")
            page.wait_for_selector('[data-testid="stMainBlockContainer"] [data-testid="stHeading"]', timeout=90_000)
            page.wait_for_function(devtools.IDLE, timeout=90_000)
            page.wait_for_timeout(300)  # let the last delta paint
            assert page.locator('[data-testid="stSidebar"]').is_hidden()  # presenter mode: no sidebar
            found = page.evaluate(devtools.CLIPPED, devtools.LABELS)
            width, client = page.evaluate("[document.documentElement.scrollWidth,"
                                          " document.documentElement.clientWidth]")
            if width > client:
                found.append(["the page is wider than the window", f"{width} > {client} px"])
            if lang == "zh":  # the page really speaks Chinese: a Chinese heading, no English sentence left
                heading = page.locator('[data-testid="stMainBlockContainer"] [data-testid="stHeading"]').first
                assert any("\u4e00" <= c <= "\u9fff" for c in heading.inner_text()), (path, heading.inner_text())
                found += [["English on the Chinese page", text] for text in page.evaluate(devtools.ENGLISH_PROSE)]
            if found:
                problems["/" + path] = found
            if shots:
                name = "".join(c if c.isalnum() else "-" for c in path).strip("-") or "explorer"
                page.screenshot(path=str(Path(shots) / f"presenter-{name}-{lang}-{zoom:g}x.png"))
        assert not errors, errors
    assert not problems, "\n".join(f"{path}: {what}: {text}" for path, found in problems.items()
                                   for what, text in found)
