"""aelab: an interactive lab for autoencoders. Run with ``streamlit run app.py``."""

import streamlit as st

from aelab.app import pages, resources

resources.prepare_thread()  # torch on one thread in this run's thread: the other core serves the rest
st.set_page_config(page_title="aelab", page_icon=":material/blur_on:", layout="wide")
found = pages.discover()
page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
                      for p in found])
resources.keep_widget_state(tuple(p.prefix for p in found))  # switching pages keeps each page's settings
resources.freeze_startup_objects()  # each run's garbage collection then skips the libraries' objects
page.run()
