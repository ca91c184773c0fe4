"""The identity-trap page in a real browser: it loads without console errors, and its controls redraw the images.

Runs ``streamlit run app.py`` and Debian's Chromium through Playwright (tools/devtools.py).
Fails (never skips) in CI when Chromium is missing; elsewhere it skips with a reason.
"""

from __future__ import annotations

from tools import devtools

TABLE_IMAGES, IDLE = devtools.TABLE_IMAGES, devtools.IDLE
TABLE = '[data-table="identity"]'
CHART = '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]'


def _images(page) -> list[str]:
    return page.evaluate(TABLE_IMAGES, TABLE)


def _changed(page, row: int, before: str) -> None:
    """Wait until row ``row`` of the digit table shows another image than ``before``, and the run is over."""
    page.wait_for_function(f"([row, src]) => ({TABLE_IMAGES})('{TABLE}')[row] !== src", arg=[row, before],
                           timeout=30_000)
    page.wait_for_function(IDLE, timeout=30_000)


def test_the_page_loads_and_its_controls_redraw_the_images(page, app_url):
    page.goto(f"{app_url}/identity")
    page.wait_for_selector(f"{TABLE} img", timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    before = _images(page)
    assert len(before) == 4  # the inputs, the AE, the DAE and the SAE: one image per row
    page.wait_for_selector(CHART, state="attached", timeout=30_000)
    assert page.locator(CHART).count() == 1

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="code size").locator('input[type="range"]')
    slider.focus()
    page.keyboard.press("Home")  # the smallest AE
    _changed(page, 1, before[1])
    after = _images(page)
    assert after[0] == before[0] and after[2:] == before[2:]  # only the AE's row changes
    assert "units=16" in page.url

    page.get_by_text("letters", exact=True).first.click()
    _changed(page, 0, after[0])
    assert "inputs=letters" in page.url
    assert all(a != b for a, b in zip(_images(page), after, strict=True))  # new inputs, new reconstructions
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.problems, page.problems
