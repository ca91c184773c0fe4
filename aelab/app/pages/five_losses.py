"""Five reconstruction losses, side by side: the same digits, five models that differ only in their loss.

What the page says about the losses is measured on the shipped models: which keep a digit's
brightness, and how close the cross-entropy and KL models are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from aelab import checkpoint, explore, metrics
from aelab.app import labkit, labstate, resources
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.labs import losses as lab
from aelab.losses import NAMES

PAGE = Page("Five losses", ":material/functions:", "losses", prefix="ls_", order=25)

ORDER = ("mse", "bce", "cce", "kl", "cosine")
FORMULAS = {
    "mse": r"\sum_i (x_i - \hat x_i)^2",
    "bce": r"-\sum_i \big[x_i \log \hat x_i + (1 - x_i) \log (1 - \hat x_i)\big]",
    "cce": r"-\sum_i p_i \log q_i,\quad p = \tfrac{x}{\sum_j x_j},\ q = \tfrac{\hat x}{\sum_j \hat x_j}",
    "kl": r"\sum_i p_i \log \tfrac{p_i}{q_i} = \mathrm{CE}(p, q) - H(p)",
    "cosine": r"1 - \frac{x \cdot \hat x}{\lVert x \rVert\, \lVert \hat x \rVert}",
}
BRIGHTNESS = (0.25, 0.5, 0.75, 1.0)
N_DIGITS = 8
PARAMS = [
    Param("ls_bright", "bright", labstate.one_of(BRIGHTNESS), "input brightness", labstate.fmt_number),
    Param("ls_digits", "digits", labstate.number_in(0, 10**6, integer=True), "digit draw"),
]


def render() -> None:
    st.title("Five reconstruction losses")
    st.markdown(
        "A reconstruction loss says what counts as a good copy. Here five 16-D autoencoders share everything "
        "(architecture, digits, seed, training) except that score, so any difference below comes from the loss. "
        "x is the digit, x-hat the reconstruction; the sums run over the 784 pixels.")
    columns = st.columns(2)
    for i, name in enumerate(ORDER):
        with columns[i % 2]:
            st.markdown(f"**{NAMES[name]}** (`{name}`)")
            st.latex(FORMULAS[name])
    for notice in labstate.restore("ls_", PARAMS) + resources.manifest_problems():
        st.warning(notice)
    entries = _models(tuple(resources.shipped_models()))
    missing = [n for n in ORDER if n not in entries]
    if missing:
        st.warning(f"Not every loss has a shipped model (missing: {', '.join(missing)}); run "
                   "`python -m aelab pretrained` to build them. The others are shown.")
    if len(entries) < 2:
        return
    _controls()
    labstate.publish(PARAMS)
    _digits(entries)
    _measures(entries)


def _models(shipped: tuple[resources.ModelEntry, ...]) -> dict[str, resources.ModelEntry]:
    """The shipped 16-D plain AEs by reconstruction loss (ae-16d is the binary cross-entropy one)."""
    found = {}
    for entry in shipped:
        if entry.kind == "ae" and entry.latent_dim == 16 and entry.data == "mnist5k":
            model = labkit.loaded(entry)
            if model is not None and model.hidden == (256, 128) and model.recon_loss not in found:
                found[model.recon_loss] = entry
    return {name: found[name] for name in ORDER if name in found}


def _controls() -> None:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.select_slider("Input brightness", BRIGHTNESS, value=1.0, key="ls_bright", format_func=lambda v: f"{v:.0%}",
                       help="Every digit is dimmed to this share of its ink before the models see it.")
    right.button("New digits", key="do_ls_redraw", icon=":material/refresh:", on_click=_redraw)


def _redraw() -> None:
    st.session_state.ls_digits = int(st.session_state.get("ls_digits", 0)) + 1


@st.cache_data(show_spinner=False, max_entries=256)
def _digits_html(bright: float, seed: int, models: tuple[tuple[str, str, str], ...]) -> str:
    """The dimmed digits and each model's reconstruction (models as (loss, name, path)), as a digit table:
    once per brightness, draw and models, shared by every session."""
    clean = labkit.held_out(seed, N_DIGITS)
    shown = clean * bright
    rows = [labkit.Row("Input", shown, note=f"held-out digits at {bright:.0%} brightness")]
    for loss, name, path in models:
        recon = explore.reconstruct(resources.load_model(path).model, shown)
        ratio = lab.ink(recon) / np.maximum(lab.ink(clean), 1e-9)
        rows.append(labkit.Row(NAMES[loss], recon, tuple(f"ink x{r:.2f}" for r in ratio), name))
    return labkit.table_html(tuple(rows), "losses", 64)


def _digits(entries: dict[str, resources.ModelEntry]) -> None:
    bright, seed = float(st.session_state.ls_bright), int(st.session_state.get("ls_digits", 0))
    st.html(_digits_html(bright, seed, tuple((name, entry.name, entry.path) for name, entry in entries.items())))
    st.caption("Under each reconstruction: its ink (the sum of its pixels) as a multiple of the full-strength "
               "digit's. A model that copies what it sees follows the brightness slider; one that redraws a "
               "digit of its own does not.")


@st.cache_data(show_spinner="Measuring the five models on the held-out digits (once)...")
def _figures(paths: tuple[tuple[str, str], ...]) -> dict:
    """Held-out measures of each model, the brightness sweep, and how alike the cce and kl models are."""
    images = resources.load_data("mnist5k").val.images
    models = {name: resources.load_model(path).model for name, path in paths}
    rows = {}
    for name, model in models.items():
        ratio = lab.ink_ratio(model, images)
        low, high = metrics.bootstrap_interval(ratio)
        rows[name] = {"mse": metrics.evaluate(model, images)["recon_mse_per_pixel"], "ink": float(ratio.mean()),
                      "ink_low": low, "ink_high": high}
    figures = {"rows": rows, "sweep": lab.brightness_sweep(models, images, BRIGHTNESS), "n": len(images)}
    if "cce" in models and "kl" in models:
        histories = {n: checkpoint.read_config(path)["history"] for n, path in paths if n in ("cce", "kl")}
        gap = lab.loss_gap(histories["cce"], histories["kl"])
        figures["twins"] = lab.same_model(models["cce"], models["kl"], images) | {
            "gap_mean": float(gap.mean()), "gap_spread": float(gap.max() - gap.min()), "epochs": len(gap),
            "entropy": float(lab.target_entropy(images).mean())}
    return figures


def _measures(entries: dict[str, resources.ModelEntry]) -> None:
    figures = _figures(tuple((name, entry.path) for name, entry in entries.items()))
    st.subheader("Measured on all held-out digits")
    st.table(pd.DataFrame([{"loss": NAMES[n], "model": e.name, "squared error per pixel": f"{r['mse']:.4f}",
                            "ink kept [95% interval]": f"{r['ink']:.2f} [{r['ink_low']:.2f}, {r['ink_high']:.2f}]"}
                           for (n, e), r in zip(entries.items(), figures["rows"].values(), strict=True)]),
             hide_index=True)
    st.caption(f"Over the {figures['n']} held-out digits. Ink kept: the reconstruction's ink over the digit's (1 keeps "
               "its brightness), with a 95% bootstrap interval over the digits.")
    st.markdown(_brightness_sentence(figures["rows"]))
    _sweep_chart(figures["sweep"])
    if "twins" in figures:
        st.markdown(_twins_sentence(figures["twins"]))


def _brightness_sentence(rows: dict) -> str:
    kept = [n for n, r in rows.items() if r["ink_low"] <= 1.0 <= r["ink_high"] or abs(r["ink"] - 1) < 0.05]
    free = [n for n in rows if n not in kept]
    text = ""
    if kept:
        text += f"Reconstructions keep the digit's brightness (ink within 5% of the digit's) for {_names(kept)}. "
    if free:
        text += (f"They do not for {_names(free)}: " + ", ".join(f"{NAMES[n]} {rows[n]['ink']:.2f}" for n in free)
                 + " of the ink. ")
    free_losses = [n for n in rows if n in lab.BRIGHTNESS_FREE]
    if free_losses:
        names = _names(free_losses)
        text += (f"{names[0].upper() + names[1:]} score a reconstruction the same at any brightness (cross-entropy "
                 "and KL compare normalised images, cosine only the angle), so nothing in training ties its "
                 "brightness to the digit's.")
        lucky = [n for n in free_losses if n in kept]
        if lucky:
            text += (f" That {_names(lucky)} keeps it here all the same is this model's doing (its sigmoid outputs "
                     "and black backgrounds), not something its loss asked for.")
    return text


def _names(names: list[str]) -> str:
    words = [NAMES[n] for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _sweep_chart(sweep: dict) -> None:
    st.markdown("**Dim the input, and what comes back**: the reconstructions' ink against the input's, all held-out "
                "digits (a copy would follow the dashed line)")
    values = pd.DataFrame([{"loss": NAMES[n], "brightness": b, "ink": float(v)}
                           for n, curve in sweep.items() for b, v in zip(BRIGHTNESS, curve, strict=True)])
    line = {"mark": {"type": "line", "point": True}, "encoding": {
        "x": {"field": "brightness", "type": "quantitative", "title": "input brightness", "axis": {"format": ".0%"}},
        "y": {"field": "ink", "type": "quantitative", "title": "reconstruction's ink / digit's"},
        "color": {"field": "loss", "type": "nominal", "title": None, "legend": {"orient": "right"}}}}
    copy = {"data": {"values": [{"brightness": 0.25, "ink": 0.25}, {"brightness": 1.0, "ink": 1.0}]},
            "mark": {"type": "line", "strokeDash": [4, 4], "color": "#888"},
            "encoding": {"x": {"field": "brightness", "type": "quantitative"},
                         "y": {"field": "ink", "type": "quantitative"}}}
    st.vega_lite_chart(values, spec={"height": 260, "layer": [line, copy]}, width="stretch")
    same = [(a, b) for a in sweep for b in sweep if a < b and np.array_equal(sweep[a], sweep[b])]
    if same:
        st.caption("Lines on top of each other: " + "; ".join(f"{NAMES[a]} and {NAMES[b]}" for a, b in same) + ".")


def _twins_sentence(twins: dict) -> str:
    return (
        f"**Cross-entropy and KL train the same model.** KL(p || q) = CE(p, q) - H(p), and the entropy H(p) of the "
        f"target does not depend on the model, so both losses push the weights the same way. Measured: trained from "
        f"the same seed, {_alike(twins)}; over {twins['epochs']} epochs "
        f"their validation losses differed by {twins['gap_mean']:.3f} nats (varying by {twins['gap_spread']:.2g}), "
        f"against a mean target entropy of {twins['entropy']:.3f} nats on the held-out digits.")


def _alike(twins: dict) -> str:
    if twins["max_weight_difference"] == 0:
        return "their weights came out identical, bit for bit"
    return (f"their weights differ by at most {twins['max_weight_difference']:.2g} and their reconstructions by "
            f"{twins['mean_pixel_difference']:.2g} per pixel on average")


if __name__ == "__main__":
    render()
