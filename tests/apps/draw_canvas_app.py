"""A tiny app for the drawing canvas's browser test: draw, and see the digit Python made of it.

Run with ``streamlit run tests/apps/draw_canvas_app.py`` from the checkout.
"""

import numpy as np
import streamlit as st

from aelab import digit_image
from aelab.app.components.draw_canvas import draw_canvas, last_drawing, new_drawing
from aelab.errors import DataError

st.set_page_config(page_title="aelab: drawing canvas", layout="wide")
if "pad" in st.session_state:  # keep the drawing while the canvas is hidden, as the app keeps a page's state
    st.session_state["pad"] = st.session_state["pad"]  # (resources.keep_widget_state) while another page runs
if new_drawing("pad") is not None:  # read before anything is drawn, so each report is counted once
    st.session_state["received"] = st.session_state.get("received", 0) + 1

st.title("Draw a digit")
left, right = st.columns([1, 2])
with left:
    if not st.toggle("Hide the canvas", key="hide"):  # mounted again, it shows the drawing Python holds
        draw_canvas("pad")
with right:
    st.caption(f"Drawings received: {st.session_state.get('received', 0)}")
    drawing = last_drawing("pad")
    if drawing is None:
        st.write("Nothing drawn yet.")
    else:
        try:
            digit = digit_image.digit_from_drawing(drawing)
        except DataError as exc:
            st.error(str(exc))
        else:
            row, col = digit_image.centre_of_mass(digit)
            rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
            st.write(f"Digit: ink {digit.sum():.1f}, centre of mass ({row:.2f}, {col:.2f}), "
                     f"rows {rows[0]}-{rows[-1]}, columns {cols[0]}-{cols[-1]}, "
                     f"from a {drawing.shape[1]}x{drawing.shape[0]} drawing")
            st.image(np.kron(digit, np.ones((6, 6), dtype=np.float32)), caption="The 28x28 digit", clamp=True)
