"""Opening one page of the app with AppTest's public API, as a link does, for the page tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str, timeout: float = 180, **params: str) -> AppTest:
    """Run the app, set the link's query ``params``, switch to ``page`` (its file) and check it drew cleanly."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert_ok(at)
    return at


def open_in_chinese(page: str, timeout: float = 180) -> AppTest:
    """``page`` opened from a link with lang=zh (the language is read on the app's first run). The test's
    thread should speak Chinese too while it runs: AppTest formats a widget's options in this thread."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params["lang"] = "zh"
    at.run()
    at.switch_page(page).run()
    assert_ok(at)
    return at


def assert_ok(at: AppTest) -> None:
    """No exception and no error message on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
