"""What every page shares around it: the language and presenter mode, both kept in the link.

``lang=zh`` shows the app in Simplified Chinese; ``present=1`` is presenter mode, for a
projector: larger type, no sidebar (the pages' links move to a bar at the top), and pages
that know it lay their pictures out side by side and draw them bolder (:func:`presenting`).
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from aelab import i18n
from aelab.i18n import _

LANG_KEY = "app_lang"  # the language switch's widget key: "en" or "zh"
PRESENT_KEY = "app_present"  # the presenter-mode switch's widget key
_ON = ("1", "true", "on", "yes")

# Presenter mode: 125% type, no sidebar, the page using the whole width.
PRESENTER_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 4.25rem 1.25rem 2rem; max-width: 100%; }
</style>
"""  # i18n: not shown


# Always: a page link's label wraps rather than running past a narrow column (150% zoom, Chinese).
APP_CSS = """
<style>
[data-testid="stPageLink"] a, [data-testid="stPageLink"] a * { white-space: normal; height: auto; }
</style>
"""  # i18n: not shown


# In Chinese: the file uploaders' own button says 上传 and their English line of limits is hidden
# (Streamlit writes both itself; each uploader's label and help give its limits in the page's words).
CHINESE_CSS = """
<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p { font-size: 0; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {
  content: "上传"; font-size: 1rem; }
[data-testid="stFileUploaderDropzoneInstructions"] { display: none; }
</style>
"""  # i18n: not shown


def setup() -> bool:
    """At the start of every run: this session's language and presenter mode, from the link on its
    first run and from the switches after; the link is kept in step. Returns whether presenting."""
    state = st.session_state
    if LANG_KEY not in state:
        asked = st.query_params.get("lang", i18n.SOURCE)
        state[LANG_KEY] = asked if asked in i18n.LANGUAGES else i18n.SOURCE
    if PRESENT_KEY not in state:
        state[PRESENT_KEY] = st.query_params.get("present", "").lower() in _ON
    i18n.set_language(state[LANG_KEY])
    _in_link("lang", state[LANG_KEY] if state[LANG_KEY] != i18n.SOURCE else None)
    _in_link("present", "1" if state[PRESENT_KEY] else None)
    return bool(state[PRESENT_KEY])


def session_language() -> str | None:
    """The language this browser session chose (for code that runs before the script, e.g. callbacks)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None  # not a session's thread (the job engine's): English
    return st.session_state.get(LANG_KEY)


def presenting() -> bool:
    """Whether this session is in presenter mode (for pages that lay out differently for a projector)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def controls(presenter: bool) -> None:
    """The language switch and the presenter-mode switch: in the sidebar, or in a row on top when presenting."""
    st.html(APP_CSS)
    if i18n.language() == "zh":
        st.html(CHINESE_CSS)
    if presenter:  # out of the way: one small button at the top right opens both switches
        st.html(PRESENTER_CSS)
        row = st.container(horizontal=True, horizontal_alignment="right")
        box = row.popover(i18n.LANGUAGES[i18n.language()], icon=":material/translate:", width="content")
    else:
        box = st.sidebar
    box.radio("Language · 语言", list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, key=LANG_KEY,
              horizontal=True)
    box.toggle(_("Presenter mode"), key=PRESENT_KEY,
               help=_("For a projector: larger type, no sidebar, pictures side by side. "
                      "It is kept in the link (present=1), so a prepared link opens in it."))


def _in_link(name: str, value: str | None) -> None:
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value
