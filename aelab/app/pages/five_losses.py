"""Five reconstruction losses, side by side: the same digits, five models that differ only in their loss.

What the page says about the losses is measured on the shipped models: which keep a digit's
brightness, and how close the cross-entropy and KL models are.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from aelab import checkpoint, explore, i18n, metrics
from aelab.app import chrome, labkit, labstate, resources
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.i18n import N_, _
from aelab.labs import losses as lab
from aelab.losses import NAMES

PAGE = Page(N_("Five losses"), ":material/functions:", "losses", prefix="ls_", order=25)

ORDER = ("mse", "bce", "cce", "kl", "cosine")
# Each loss exactly as aelab.losses computes it for one image: sums over the 784 pixels, x_hat = sigmoid(logits),
# eps = 1e-7 added to every pixel before an image is normalised (cce, kl) and guarding the norms (cosine).
FORMULAS = {
    "mse": r"\ell_\mathrm{MSE}(x, \hat x) = \sum_{i=1}^{784} (x_i - \hat x_i)^2",
    "bce": r"\begin{gathered}\ell_\mathrm{BCE}(x, \hat x) = \\ -\sum_{i=1}^{784} \big[x_i \log \hat x_i"
           r" + (1 - x_i) \log (1 - \hat x_i)\big]\end{gathered}",
    "cce": r"\begin{gathered}\ell_\mathrm{CE}(x, \hat x) = -\sum_i p_i \log q_i,"
           r"\\ p_i = \frac{x_i + \epsilon}{\sum_j (x_j + \epsilon)},"
           r"\quad q_i = \frac{\hat x_i + \epsilon}{\sum_j (\hat x_j + \epsilon)},\quad \epsilon = 10^{-7}"
           r"\end{gathered}",
    "kl": r"\begin{gathered}\ell_\mathrm{KL}(x, \hat x) = \sum_i p_i \log \frac{p_i}{q_i} = \mathrm{CE}(p, q)"
          r" - H(p), \\ H(p) = -\sum_i p_i \log p_i\end{gathered}",
    "cosine": r"\begin{gathered}\ell_\mathrm{cos}(x, \hat x) = 1 - \frac{x \cdot \hat x}{\max(\lVert x \rVert,"
              r" \epsilon)\,\max(\lVert \hat x \rVert, \epsilon)}, \\ \epsilon = 10^{-7}\end{gathered}",
}
PLAIN = {  # one sentence per formula, shown under it
    "mse": N_("Each pixel's difference between the digit and its reconstruction, squared and added up over the 784 "
              "pixels: 0 for an exact copy, in squared pixel values (a pixel runs from 0, black, to 1, white)."),
    "bce": N_("Reads each reconstructed pixel as the probability that the pixel is inked and adds up how surprising "
              "the digit's true pixels are under it, in nats (natural-log units of information): lowest when the "
              "reconstruction equals the digit."),
    "cce": N_("Turns both images into distributions over the 784 pixel positions (each pixel divided by the image's "
              "total ink; the tiny epsilon keeps an all-black image from dividing by zero) and takes their "
              "cross-entropy, in nats: only where the ink is counts, not how bright it is."),
    "kl": N_("The KL divergence between the same two distributions, in nats: the cross-entropy minus the digit's own "
             "entropy H(p), which no model can change, so it is 0 for a reconstruction that matches the digit up to "
             "brightness."),
    "cosine": N_("One minus the cosine of the angle between the two images read as vectors of 784 numbers: 0 when "
                 "they point the same way, whatever their brightness; no unit, and between 0 and 1 here since no "
                 "pixel is negative (epsilon guards against an all-black image)."),
}
BRIGHTNESS = (0.25, 0.5, 0.75, 1.0)
N_DIGITS = 8
PARAMS = [
    Param("ls_bright", "bright", labstate.one_of(BRIGHTNESS), N_("input brightness"), labstate.fmt_number),
    Param("ls_digits", "digits", labstate.number_in(0, 10**6, integer=True), N_("digit draw")),
]


def render() -> None:
    st.title(_("Five reconstruction losses"))
    st.markdown(_(
        "A reconstruction loss says what counts as a good copy. Here five 16-D autoencoders (a code of 16 "
        "numbers) share everything (architecture, digits, seed, training) except that score, so any difference "
        "below comes from the loss. "
        "In every formula x is the digit and x-hat = g(f(x)) its reconstruction: the encoder f turns the digit "
        "into a code, the decoder g turns the code back into an image whose pixels a sigmoid keeps between 0 and "
        "1. Each loss is one number per image; the sums run over the 784 pixels."))
    columns = [st.container()] if chrome.presenting() else st.columns(2)  # a projector's large type: one column
    for i, name in enumerate(ORDER):
        with columns[i % len(columns)]:
            st.markdown(f"**{_(NAMES[name])}** (`{name}`)")
            st.latex(FORMULAS[name])
            st.caption(_(PLAIN[name]))
    for notice in labstate.restore("ls_", PARAMS) + resources.manifest_problems():
        st.warning(notice)
    entries = _models(tuple(resources.shipped_models()))
    missing = [n for n in ORDER if n not in entries]
    if missing:
        st.warning(_("Not every loss has a shipped model (missing: {missing}); run `python -m aelab pretrained` to "
                     "build them. The others are shown.", missing=", ".join(missing)))
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
    left.select_slider(_("Input brightness"), BRIGHTNESS, value=1.0, key="ls_bright", format_func=lambda v: f"{v:.0%}",
                       help=_("Every digit is dimmed to this share of its ink before the models see it: 100% is "
                              "the digit as drawn, 25% a quarter as bright."))
    right.button(_("New digits"), key="do_ls_redraw", icon=":material/refresh:", on_click=_redraw,
                 help=_("Show other held-out digits."))


def _redraw() -> None:
    st.session_state.ls_digits = int(st.session_state.get("ls_digits", 0)) + 1


@st.cache_data(show_spinner=False, max_entries=256)
def _digits_html(bright: float, seed: int, models: tuple[tuple[str, str, str], ...], lang: str) -> str:
    """The dimmed digits and each model's reconstruction (models as (loss, name, path)), as a digit table:
    once per brightness, draw, models and language, shared by every session."""
    clean = labkit.held_out(seed, N_DIGITS)
    shown = clean * bright
    rows = [labkit.Row(_("Input"), shown, note=_("held-out digits at {b:.0%} brightness", b=bright))]
    for loss, name, path in models:
        recon = explore.reconstruct(resources.load_model(path).model, shown)
        ratio = lab.ink(recon) / np.maximum(lab.ink(clean), 1e-9)
        rows.append(labkit.Row(_(NAMES[loss]), recon, tuple(_("ink x{r:.2f}", r=r) for r in ratio), name))
    return labkit.table_html(tuple(rows), "losses", 64)


def _digits(entries: dict[str, resources.ModelEntry]) -> None:
    bright, seed = float(st.session_state.ls_bright), int(st.session_state.get("ls_digits", 0))
    models = tuple((name, entry.name, entry.path) for name, entry in entries.items())
    st.html(_digits_html(bright, seed, models, i18n.language()))
    st.caption(_("Under each reconstruction: its ink (the sum of its pixels, how much white it holds) as a multiple "
                 "of the full-strength digit's. A model that copies what it sees follows the brightness slider; one "
                 "that redraws a digit of its own does not."))


@st.cache_data(show_spinner=False)
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
    with st.spinner(_("Measuring the five models on the held-out digits (once)...")):
        figures = _figures(tuple((name, entry.path) for name, entry in entries.items()))
    st.subheader(_("Measured on all held-out digits"))
    columns = (_("loss"), _("model"), _("squared error per pixel"), _("ink kept [95% interval]"))
    st.table(pd.DataFrame([dict(zip(columns, (_(NAMES[n]), e.name, f"{r['mse']:.4f}",
                                              f"{r['ink']:.2f} [{r['ink_low']:.2f}, {r['ink_high']:.2f}]"),
                                    strict=True))
                           for (n, e), r in zip(entries.items(), figures["rows"].values(), strict=True)]),
             hide_index=True)
    st.caption(_("Over the {n} held-out digits (digits no model trained on). Squared error per pixel: the mean of "
                 "(x_i - x-hat_i)^2 over the pixels and the digits, in squared pixel values (0 is an exact copy). "
                 "Ink kept: the reconstruction's ink over the digit's (1 keeps its brightness), with a 95% bootstrap "
                 "interval: the middle 95% of the means when the digits are drawn again at random, with replacement, "
                 "2,000 times.", n=figures["n"]))
    st.markdown(_brightness_sentence(figures["rows"]))
    _sweep_chart(figures["sweep"])
    if "twins" in figures:
        st.markdown(_twins_sentence(figures["twins"]))


def _joined(sentences: list[str]) -> str:
    """Sentences as one paragraph (Chinese puts no space between sentences)."""
    return ("" if i18n.language() == "zh" else " ").join(sentences)


def _brightness_sentence(rows: dict) -> str:
    kept = [n for n, r in rows.items() if r["ink_low"] <= 1.0 <= r["ink_high"] or abs(r["ink"] - 1) < 0.05]
    free = [n for n in rows if n not in kept]
    said = []
    if kept:
        said.append(_("Reconstructions keep the digit's brightness (ink within 5% of the digit's) for {names}.",
                      names=_names(kept)))
    if free:
        figures = _list([_("{loss} {ink:.2f}", loss=_(NAMES[n]), ink=rows[n]["ink"]) for n in free])
        said.append(_("They do not for {names}: {figures} of the ink.", names=_names(free), figures=figures))
    free_losses = [n for n in rows if n in lab.BRIGHTNESS_FREE]
    if free_losses:
        names = _names(free_losses)
        said.append(_("{names} score a reconstruction the same at any brightness (cross-entropy and KL compare "
                      "normalised images, cosine only the angle), so nothing in training ties its brightness to the "
                      "digit's.", names=names[0].upper() + names[1:]))
        lucky = [n for n in free_losses if n in kept]
        if lucky:
            said.append(_("That {names} keeps it here all the same is this model's doing (its sigmoid outputs and "
                          "black backgrounds), not something its loss asked for.", names=_names(lucky)))
    return _joined(said)


def _list(words: list[str]) -> str:
    return functools.reduce(lambda a, b: _("{a}, {b}", a=a, b=b), words)


def _names(names: list[str]) -> str:
    words = [_(NAMES[n]) for n in names]
    return words[0] if len(words) == 1 else _("{a} and {b}", a=_list(words[:-1]), b=words[-1])


def _sweep_chart(sweep: dict) -> None:
    st.markdown(_("**Dim the input, and what comes back**: the reconstructions' ink against the input's, all "
                  "held-out digits (a copy would follow the dashed line)"))
    values = pd.DataFrame([{"loss": _(NAMES[n]), "brightness": b, "ink": float(v)}
                           for n, curve in sweep.items() for b, v in zip(BRIGHTNESS, curve, strict=True)])
    line = {"mark": {"type": "line", "point": True}, "encoding": {
        "x": {"field": "brightness", "type": "quantitative", "title": _("input brightness"), "axis": {"format": ".0%"}},
        "y": {"field": "ink", "type": "quantitative", "title": _("reconstruction's ink / digit's")},
        "color": {"field": "loss", "type": "nominal", "title": None, "legend": {"orient": "right"}}}}
    copy = {"data": {"values": [{"brightness": 0.25, "ink": 0.25}, {"brightness": 1.0, "ink": 1.0}]},
            "mark": {"type": "line", "strokeDash": [4, 4], "color": "#888"},
            "encoding": {"x": {"field": "brightness", "type": "quantitative"},
                         "y": {"field": "ink", "type": "quantitative"}}}
    st.vega_lite_chart(values, spec={"height": 260, "layer": [line, copy]}, width="stretch")
    same = [(a, b) for a in sweep for b in sweep if a < b and np.array_equal(sweep[a], sweep[b])]
    if same:
        pairs = _("; ").join(_("{a} and {b}", a=_(NAMES[a]), b=_(NAMES[b])) for a, b in same)
        st.caption(_("Lines on top of each other: {pairs}.", pairs=pairs))


def _twins_sentence(twins: dict) -> str:
    return _(
        "**Cross-entropy and KL train the same model.** KL(p || q) = CE(p, q) - H(p), and the entropy H(p) of the "
        "target does not depend on the model, so both losses push the weights the same way. Measured: trained from "
        "the same seed, {alike}; over {epochs} epochs (passes over the training digits) their validation losses "
        "(measured after each epoch on digits they did not train on) differed by {gap:.3f} nats (varying by "
        "{spread:.2g}), against a mean target entropy of {entropy:.3f} nats on the held-out digits.",
        alike=_alike(twins), epochs=twins["epochs"], gap=twins["gap_mean"], spread=twins["gap_spread"],
        entropy=twins["entropy"])


def _alike(twins: dict) -> str:
    if twins["max_weight_difference"] == 0:
        return _("their weights came out identical, bit for bit")
    return _("their weights differ by at most {w:.2g} and their reconstructions by {p:.2g} per pixel on average",
             w=twins["max_weight_difference"], p=twins["mean_pixel_difference"])


if __name__ == "__main__":
    render()
