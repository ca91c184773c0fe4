"""The lab pages in a real browser: sliders redraw the digits, and a drawn digit comes back denoised.

Runs ``streamlit run app.py`` and Debian's Chromium through Playwright (tools/devtools.py).
Fails (never skips) in CI when Chromium is missing; elsewhere it skips with a reason.
"""

from __future__ import annotations

from tools import devtools

TABLE_IMAGES, IDLE = devtools.TABLE_IMAGES, devtools.IDLE


def _images(page, table: str) -> list[str]:
    return page.evaluate(TABLE_IMAGES, f'[data-table="{table}"]')


def _slide(page, label: str, key: str = "ArrowRight") -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]')
    slider.focus()
    page.keyboard.press(key)


def test_noise_slider_redraws_the_digits_and_a_drawn_digit_comes_back_denoised(page, app_url):
    page.goto(f"{app_url}/denoise")
    page.wait_for_selector('[data-table="denoise"] img', timeout=90_000)
    page.wait_for_function(IDLE, timeout=60_000)
    before = _images(page, "denoise")
    assert len(before) == 4  # clean, corrupted, AE, DAE: one image per row
    _slide(page, "Noise level")
    page.wait_for_function(f"src => ({TABLE_IMAGES})('[data-table=\"denoise\"]')[1] !== src", arg=before[1],
                           timeout=20_000)
    page.wait_for_function(IDLE, timeout=20_000)
    after = _images(page, "denoise")
    assert after[0] == before[0]  # the clean digits stay
    assert all(a != b for a, b in zip(after[1:], before[1:], strict=True))  # corrupted, AE and DAE rows change
    assert "0.55" in page.url

    canvas = page.locator('[data-testid="draw-canvas"]')
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.15 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.85 * box["height"], steps=15)  # a 1
    page.mouse.up()
    page.wait_for_selector('[data-table="own"] img', timeout=30_000)
    own = page.locator('[data-table="own"]')
    assert own.locator("img").count() == 4
    assert own.inner_text().count("dB") == 3
    # The denoised one is a real image: some bright pixels in the middle column, where the 1 was drawn.
    bright = page.evaluate("""async () => {
      const imgs = document.querySelectorAll('[data-table="own"] img');
      const img = imgs[imgs.length - 1]; await img.decode();
      const c = document.createElement('canvas'); c.width = 28; c.height = 28;
      const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(12, 4, 4, 20).data; let s = 0;
      for (let i = 0; i < d.length; i += 4) s += d[i];
      return s / (d.length / 4);
    }""")
    assert bright > 80, bright
    assert not page.problems, page.problems


def test_sparsity_weight_slider_changes_the_code(page, app_url):
    page.goto(f"{app_url}/sparsity?penalty=l1&weight=0")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
    page.wait_for_function(IDLE, timeout=60_000)
    metric = page.locator('[data-testid="stMetric"]').first
    before = metric.inner_text()
    _slide(page, "Sparsity weight", "End")  # one input event: the heaviest penalty
    page.wait_for_function("t => document.querySelector('[data-testid=stMetric]').innerText !== t", arg=before,
                           timeout=20_000)
    page.wait_for_function(IDLE, timeout=20_000)
    assert "weight=1&" in page.url
    on_before = float(before.split("\n")[-1].split()[0])
    on_after = float(metric.inner_text().split("\n")[-1].split()[0])
    assert on_after < on_before
    assert not page.problems, page.problems


def test_anomaly_threshold_slider_moves_precision_and_recall(page, app_url):
    page.goto(f"{app_url}/anomaly?set=letters")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
    page.wait_for_function(IDLE, timeout=60_000)
    # The page has settled once it has written its threshold into the URL; a key pressed before that
    # can land on a slider that the settling run then replaces.
    page.wait_for_function("location.search.includes('t=')", timeout=30_000)
    page.wait_for_function(IDLE, timeout=20_000)
    figures = page.locator('[data-testid="stMetric"]')
    before = figures.all_inner_texts()
    start = page.url
    _slide(page, "Threshold", "Home")  # the lowest threshold: everything is flagged
    page.wait_for_function("u => location.href !== u", arg=start, timeout=20_000)
    page.wait_for_function(IDLE, timeout=20_000)
    assert figures.all_inner_texts() != before
    after = {lines[0]: lines[-1] for lines in ([x for x in t.split("\n") if x.strip()]
                                               for t in figures.all_inner_texts())}
    assert after["Recall"] == "100.0%"  # every letter is flagged at the lowest threshold
    assert "t=" in page.url
    assert not page.problems, page.problems
