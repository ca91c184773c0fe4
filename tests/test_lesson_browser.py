"""The lesson path in a real browser: a step's link opens its page already set up, a page seen before takes
the next step's state, and at 1280x720 nothing is wider than the window, in English and in Chinese.

Runs ``streamlit run app.py`` and Debian's Chromium through Playwright (tools/devtools.py).
Fails (never skips) in CI when Chromium is missing; elsewhere it skips with a reason.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tools import devtools

IDLE = devtools.IDLE
LINKS = '[data-testid="stPageLink"]'
# What sticks out sideways: the document's scroll width against the window's, formulas scrolling inside their
# box (KaTeX's aligned rows may overhang by a pixel or two), and elements of the page past the window's edge.
SIDEWAYS = """() => {
  const root = document.documentElement, right = root.clientWidth + 1;
  return {
    scroll: [root.scrollWidth, root.clientWidth],
    formulas: Array.from(document.querySelectorAll('.katex-display'))
      .filter(e => e.scrollWidth > e.clientWidth + 3).map(e => e.innerText.slice(0, 40)),
    past: Array.from(document.querySelectorAll('[data-testid="stMain"] *'))
      .filter(e => e.getBoundingClientRect().right > right)
      .map(e => e.tagName + ' ' + (e.innerText || '').slice(0, 40)),
  };
}"""


def _query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _open_lesson(page, app_url: str, query: str = "") -> None:
    page.goto(f"{app_url}/lesson{query}")
    page.wait_for_function(f"document.querySelectorAll('{LINKS}').length >= 8", timeout=90_000)
    page.wait_for_function("document.querySelectorAll('.katex-display').length >= 8", timeout=30_000)
    page.wait_for_function(IDLE, timeout=60_000)


def _follow(page, label: str, url_path: str) -> None:
    page.locator(LINKS).filter(has_text=label).click()
    page.wait_for_url(f"**/{url_path}?**", timeout=60_000)
    page.wait_for_function(IDLE, timeout=90_000)


def test_a_steps_link_opens_the_sparsity_lab_at_the_linked_weight(page, app_url):
    _open_lesson(page, app_url)
    _follow(page, "Sparsity lab", "sparsity")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
    page.wait_for_function(IDLE, timeout=60_000)
    query = _query(page)
    assert query["penalty"] == "l1" and query["weight"] == "0", page.url  # the page's own default is 0.1
    weight = page.locator('[data-testid="stSlider"]').first  # the page's first slider: the penalty's weight
    assert weight.locator('[data-testid="stSliderThumbValue"]').inner_text() == "0"
    assert not page.problems, page.problems


def test_the_explorer_opened_in_step_one_takes_step_sixs_vae_with_sigma_and_prior(page, app_url):
    _open_lesson(page, app_url)
    _follow(page, "Latent explorer, ae-2d", "")
    page.wait_for_function(devtools.MAPS_READY, arg=1, timeout=90_000)
    assert _query(page)["models"] == "ae-2d"
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Lesson path").click()
    page.wait_for_function(f"document.querySelectorAll('{LINKS}').length >= 8", timeout=60_000)
    _follow(page, "vae-2d", "")
    page.wait_for_function("() => new URLSearchParams(location.search).get('models') === 'vae-2d'", timeout=60_000)
    page.wait_for_function(devtools.MAPS_READY, arg=1, timeout=90_000)
    query = _query(page)
    assert query["sigma"] == "1" and query["prior"] == "1", page.url
    assert not page.problems, page.problems


def test_nothing_is_wider_than_the_window_at_1280x720_in_english_and_chinese(page, app_url):
    for lang, present in (("en", ""), ("zh", ""), ("en", "1"), ("zh", "1")):
        _open_lesson(page, app_url, f"?lang={lang}" + (f"&present={present}" if present else ""))
        found = page.evaluate(SIDEWAYS)
        assert found["scroll"][0] <= found["scroll"][1], (lang, present, found)
        assert not found["formulas"] and not found["past"], (lang, present, found)
        hrefs = page.locator(f"{LINKS} a").evaluate_all("links => links.map(a => a.href)")
        assert len(hrefs) == 8
        if lang == "zh":
            assert all("lang=zh" in href for href in hrefs), hrefs
            assert "什么是自编码器" in page.locator('[data-testid="stMain"]').inner_text()
        if present:
            assert all("present=1" in href for href in hrefs), hrefs
    assert not page.problems, page.problems
