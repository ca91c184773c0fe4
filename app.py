"""aelab: an interactive lab for autoencoders. Run with ``streamlit run app.py``."""

import streamlit as st

from aelab.app import compare, explore, resources, train_page

st.set_page_config(page_title="aelab", page_icon=":material/blur_on:", layout="wide")
page = st.navigation([
    st.Page(explore.render, title="Latent explorer", icon=":material/scatter_plot:", url_path="explore", default=True),
    st.Page(compare.render, title="VAE vs AE", icon=":material/compare:", url_path="compare"),
    st.Page(train_page.render, title="Train", icon=":material/model_training:", url_path="train"),
])
resources.keep_widget_state()  # switching pages keeps each page's settings
page.run()
