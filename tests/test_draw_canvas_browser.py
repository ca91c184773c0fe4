"""The drawing canvas in a real browser: strokes drawn with the mouse and by touch reach Python as digits.

Runs tests/apps/draw_canvas_app.py (the canvas, and the digit aelab.digit_image makes of the
drawing, as text) under `streamlit run` and drives Debian's Chromium with Playwright. Fails
(never skips) in CI when Chromium is missing; elsewhere it skips with a reason. The last tests
check, without a browser, that Python ignores a malformed report.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from aelab.app.components import draw_canvas
from tools import devtools

APP = devtools.ROOT / "tests" / "apps" / "draw_canvas_app.py"
DIGIT_TEXT = re.compile(r"Digit: ink ([\d.]+), centre of mass \(([\d.]+), ([\d.]+)\), rows (\d+)-(\d+), "
                        r"columns (\d+)-(\d+), from a 56x56 drawing")


@pytest.fixture(scope="module")
def app_url():
    with devtools.serve_app(script=APP) as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url, chromium):
    with devtools.chromium_page(1280, 720) as page:
        page.problems = devtools.watch_console(page)
        page.goto(app_url)
        page.wait_for_function("(window.__aelabCanvases || []).length === 1", timeout=90_000)
        yield page


def _canvas_box(page) -> dict:
    return page.locator('[data-testid="draw-canvas"]').bounding_box()


def _mouse_stroke(page, points: list[tuple[float, float]]) -> None:
    """One stroke through ``points``, given as fractions of the canvas's width and height."""
    box = _canvas_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=10)
    page.mouse.up()


def _touch_stroke(page, points: list[tuple[float, float]]) -> None:
    """One stroke by a finger: real touch input through the DevTools protocol (pointerType "touch")."""
    box = _canvas_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xy[0][0], "y": xy[0][1]}]})
    for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:], strict=True):
        for i in range(1, 11):
            x, y = x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _received(page, n: int) -> None:
    page.get_by_text(f"Drawings received: {n}", exact=True).wait_for(timeout=20_000)


def _digit(page) -> dict:
    """What Python made of the drawing, as the app writes it."""
    text = page.get_by_text("Digit: ink").inner_text()
    ink, row, col, top, bottom, left, right = DIGIT_TEXT.search(text).groups()
    return {"ink": float(ink), "centre": (float(row), float(col)),
            "height": int(bottom) - int(top) + 1, "width": int(right) - int(left) + 1}


def test_mouse_strokes_reach_python_and_clear_empties_the_canvas(page):
    _mouse_stroke(page, [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])  # a 7: a bar, then down to the left
    _received(page, 1)
    seven = _digit(page)
    assert seven["height"] == 20 and 8 <= seven["width"] <= 20  # taller than wide: scaled to 20 rows
    assert abs(seven["centre"][0] - 14) <= 1 and abs(seven["centre"][1] - 14) <= 1
    assert 30 < seven["ink"] < 150  # MNIST's digits hold about 100 (sevens about 85)

    page.locator('[data-testid="draw-clear"]').click()
    _received(page, 2)
    page.get_by_text("Nothing drawn yet.").wait_for(timeout=20_000)
    assert page.evaluate("window.__aelabCanvases[0].strokes") == 0

    _mouse_stroke(page, [(0.5, 0.15), (0.5, 0.85)])  # a 1
    _received(page, 3)
    one = _digit(page)
    assert one["height"] == 20 and one["width"] <= 5
    assert abs(one["centre"][0] - 14) <= 1 and abs(one["centre"][1] - 14) <= 1
    assert page.locator('[data-testid="draw-canvas"]').get_attribute("aria-label").startswith("Drawing area")
    assert not page.problems, page.problems


def test_a_finger_draws_too(page):
    page.locator('[data-testid="draw-clear"]').click()
    page.get_by_text("Nothing drawn yet.").wait_for(timeout=20_000)
    received = int(re.search(r"\d+", page.get_by_text("Drawings received:").inner_text()).group())
    _touch_stroke(page, [(0.3, 0.5), (0.7, 0.5)])  # a horizontal bar: wider than tall
    _received(page, received + 1)
    assert page.evaluate("window.__aelabCanvases[0].pointerType") == "touch"
    bar = _digit(page)
    assert bar["width"] == 20 and bar["height"] <= 5
    assert not page.problems, page.problems


def test_a_canvas_mounted_again_shows_the_drawing_python_holds(page):
    """Hidden and shown again (as after a page switch), the canvas repaints the last drawing Python received."""
    page.locator('[data-testid="draw-clear"]').click()
    page.get_by_text("Nothing drawn yet.").wait_for(timeout=20_000)
    _mouse_stroke(page, [(0.5, 0.15), (0.5, 0.85)])
    page.get_by_text("Digit: ink").wait_for(timeout=20_000)
    before = _digit(page)
    toggle = page.get_by_text("Hide the canvas")
    toggle.click()
    page.wait_for_function("(window.__aelabCanvases || []).length === 0", timeout=20_000)
    toggle.click()
    page.wait_for_function("(window.__aelabCanvases || []).length === 1", timeout=20_000)
    painted = page.evaluate("""() => { const c = window.__aelabCanvases[0].canvas;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lit = 0; for (let i = 0; i < d.length; i += 4) lit += d[i] > 128; return lit / (d.length / 4); }""")
    assert 0.03 < painted < 0.2  # the 1's stroke: about a fourteenth of the width, most of the height
    assert _digit(page) == before
    assert not page.problems, page.problems


@pytest.mark.parametrize("report", [
    None, "drawing", {"width": 2, "height": 2, "pixels": "AAAAAA=="},  # no id
    {"id": "a", "width": 2, "height": 2, "pixels": "AAAA"},  # 3 bytes for 4 pixels
    {"id": "a", "width": 2, "height": 2, "pixels": "AA*AAA=="},  # not base64
    {"id": "a", "width": 10_000, "height": 10_000, "pixels": ""},  # larger than any canvas sends
    {"id": "a", "width": 2.0, "height": 2, "pixels": "AAAAAA=="},
], ids=["none", "text", "no-id", "short", "not-base64", "huge", "float-size"])
def test_a_malformed_report_from_the_browser_is_ignored(report):
    assert draw_canvas._pixels(report) is None


def test_a_report_is_read_row_by_row():
    pixels = draw_canvas._pixels({"id": "a", "width": 3, "height": 2, "pixels": "AAH/AgME"})  # bytes 0 1 255 2 3 4
    assert pixels.dtype == np.uint8 and pixels.tolist() == [[0, 1, 255], [2, 3, 4]]
