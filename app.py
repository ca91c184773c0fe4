"""aelab: an interactive lab for autoencoders. Run with ``streamlit run app.py``."""

import streamlit as st

from aelab import i18n
from aelab.app import chrome, pages, resources

resources.prepare_thread()  # torch on one thread in this run's thread: the other core serves the rest
i18n.set_fallback(chrome.session_language)  # widget callbacks run before this script sets the language
st.set_page_config(page_title="aelab", page_icon=":material/blur_on:", layout="wide")
presenter = chrome.setup()  # the language and presenter mode, from the link or the switches
found = pages.discover()
page = st.navigation([st.Page(p.path, title=i18n._(p.title), icon=p.icon, url_path=p.url_path, default=p.default)
                      for p in found], position="top" if presenter else "sidebar")
chrome.controls(presenter)
resources.keep_widget_state(tuple(p.prefix for p in found))  # switching pages keeps each page's settings
resources.freeze_startup_objects()  # Python's full garbage collections then skip the libraries' objects
page.run()
