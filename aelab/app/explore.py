"""The latent explorer page: a model's 2-D latent map and the decode of a chosen point."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ..errors import AelabError
from . import resources

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def render() -> None:
    """Draw the page: pick a model, see its latent map, probe a point."""
    st.title("Latent explorer")
    try:
        models = resources.shipped_models()
    except AelabError as exc:
        st.error(f"The shipped models could not be read: {exc}")
        return
    if not models:
        st.warning("No models are available. Run `python -m aelab pretrained` to build them.")
        return
    by_name = {m.name: m for m in models}
    name = st.selectbox("Model", list(by_name), format_func=lambda n: f"{n}: {by_name[n].description}",
                        key="model")
    entry = by_name[name]
    try:
        codes, labels = resources.encoded(entry.path, entry.data)
        info = resources.load_model(entry.path).info
    except AelabError as exc:
        st.error(f"The model {name} could not be loaded: {exc}")
        return
    if entry.latent_dim != 2:
        st.info(f"{name} has a {entry.latent_dim}-D latent space; this page draws 2-D latents only.")
        return
    _model_facts(info)
    _probe_defaults(name, codes)
    map_col, probe_col = st.columns([3, 2])
    with map_col:
        _latent_map(name, codes, labels)
    with probe_col:
        _probe(entry, codes)


def _model_facts(info: dict) -> None:
    """One line on how the model was made and how well it reconstructs held-out digits."""
    metrics = info.get("metrics", {})
    parts = [f"{k.replace('_', ' ')} {v:.4g}" for k, v in metrics.items() if k != "n"]
    data = info.get("data", {})
    st.caption(f"Trained on {data.get('spec', '?')} ({data.get('n_train', '?')} images). "
               f"On {metrics.get('n', '?')} held-out digits: " + ", ".join(parts) +
               " (bce and elbo in nats per image, mse per pixel).")


def _probe_defaults(name: str, codes: np.ndarray) -> None:
    """Centre the probe on the data when the page opens or the model changes."""
    if st.session_state.get("probe_model") != name:
        st.session_state.probe_model = name
        centre = np.median(codes, axis=0)
        st.session_state.z1, st.session_state.z2 = float(centre[0]), float(centre[1])


def _latent_map(name: str, codes: np.ndarray, labels: np.ndarray) -> None:
    fig = go.Figure()
    for digit in np.unique(labels):
        mask = labels == digit
        fig.add_trace(go.Scattergl(
            x=codes[mask, 0], y=codes[mask, 1], mode="markers", name=str(digit),
            marker=dict(size=4, color=PALETTE[int(digit) % len(PALETTE)], opacity=0.75),
            customdata=np.flatnonzero(mask), hovertemplate="digit %{fullData.name}, #%{customdata}<extra></extra>",
        ))
    fig.add_trace(go.Scatter(
        x=[st.session_state.z1], y=[st.session_state.z2], mode="markers", name="probe",
        marker=dict(size=16, symbol="x-thin", line=dict(width=3, color="black")), hoverinfo="skip",
    ))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="label",
                      xaxis_title="z1", yaxis_title="z2", dragmode="pan")
    event = st.plotly_chart(fig, key=f"map-{name}", on_select="rerun", selection_mode="points",
                            width="stretch")
    points = event.selection.points if event and event.selection else []
    if points:
        picked = (round(float(points[0]["x"]), 6), round(float(points[0]["y"]), 6))
        if st.session_state.get("picked") != picked:
            st.session_state.picked = picked
            st.session_state.z1, st.session_state.z2 = picked
            st.rerun()
    st.caption("Colour = digit label, for reference only (the model never saw labels). "
               "Click a point to move the probe there.")


def _probe(entry: resources.ModelEntry, codes: np.ndarray) -> None:
    low, high = codes.min(axis=0), codes.max(axis=0)
    pad = 0.25 * (high - low)
    low, high = low - pad, high + pad
    for axis, key in enumerate(("z1", "z2")):
        st.session_state[key] = float(np.clip(st.session_state[key], low[axis], high[axis]))
        st.slider(key, float(low[axis]), float(high[axis]), key=key, step=float((high[axis] - low[axis]) / 200))
    z = np.array([[st.session_state.z1, st.session_state.z2]], dtype=np.float32)
    image = resources.decode(entry.path, z)[0]
    st.image(resources.to_png_array(image), caption=f"decode(z) at ({z[0, 0]:.2f}, {z[0, 1]:.2f})",
             width=224, output_format="PNG")
