"""How long each step of the lesson path takes to open, cold and warm, in a real browser.

For each link on the lesson page (/lesson), in order: a fresh server (``streamlit run app.py``)
and a fresh Chromium open the link: the **cold** load (the server has loaded nothing for that page
yet: models, data, shipped layouts and figures are read on first use). A second, fresh browser
then opens the same link on the same server: the **warm** load (what the rest of a class sees).
A load is timed from navigation until the page's heading is shown and no script run is in
progress; for the explorer, until its maps have drawn. Prints one row per step.

Run: python bench/lesson_load.py [--lang en|zh] [--present] [--repeat 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import statistics
import time
from urllib.parse import urlsplit

from tools import devtools

HEADING = '[data-testid="stMainBlockContainer"] [data-testid="stHeading"]'


def lesson_links(url: str, query: str) -> list[str]:
    """The lesson page's links into the app (path and query), in the order they appear."""
    with devtools.chromium_page(1280, 720) as page:
        page.goto(f"{url}/lesson?{query}")
        page.wait_for_selector(HEADING, timeout=90_000)
        page.wait_for_function(devtools.IDLE, timeout=90_000)
        page.wait_for_selector('[data-testid="stPageLink"] a', timeout=60_000)
        hrefs = page.evaluate("""() => Array.from(document.querySelectorAll(
            '[data-testid="stPageLink"] a')).map(a => a.getAttribute('href'))""")
    # Streamlit writes a page link relative to the app's root: "sparsity?weight=0", and "?models=..." for
    # the default page (the explorer, at "/").
    return list(dict.fromkeys("/" + href for href in hrefs if href is not None))


def timed_load(url: str, link: str) -> float:
    with devtools.chromium_page(1280, 720) as page:
        tic = time.perf_counter()
        page.goto(url + link)
        page.wait_for_selector(HEADING, timeout=120_000)
        page.wait_for_function(devtools.IDLE, timeout=120_000)
        if urlsplit(link).path in ("", "/"):
            page.wait_for_function(devtools.MAPS_READY, arg=1, timeout=120_000)
        return time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    parser.add_argument("--present", action="store_true", help="in presenter mode")
    parser.add_argument("--repeat", type=int, default=1, help="cold and warm loads per step (medians shown)")
    args = parser.parse_args()
    query = f"lang={args.lang}" + ("&present=1" if args.present else "")
    with devtools.serve_app() as url:
        links = lesson_links(url, query)
    print(f"{len(links)} lesson steps, lang={args.lang}{', presenter mode' if args.present else ''}")
    print(f"{'step':>4}  {'cold s':>7}  {'warm s':>7}  link")
    for i, link in enumerate(links, 1):
        cold, warm = [], []
        for _ in range(args.repeat):
            with devtools.serve_app() as url:
                cold.append(timed_load(url, link))
                warm.append(timed_load(url, link))
        print(f"{i:>4}  {statistics.median(cold):7.2f}  {statistics.median(warm):7.2f}  {link}", flush=True)


if __name__ == "__main__":
    main()
