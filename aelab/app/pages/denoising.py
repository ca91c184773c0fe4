"""The denoising lab: slide the noise and watch a plain AE and a denoising AE clean the same damaged digits.

Every model on the page is given the corrupted copy; the clean digit is only the target
the scores compare against. The sliders answer from shipped models and cached curves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from aelab import digit_image, explore, i18n
from aelab.app import labkit, labstate, resources, session
from aelab.app.components.draw_canvas import draw_canvas, new_drawing
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.i18n import N_, _
from aelab.labs import denoising
from aelab.models.dae import CORRUPTIONS, max_noise_level
from aelab.projection import PCAProjection
from aelab.train import TrainConfig

PAGE = Page(N_("Denoising lab"), ":material/blur_on:", "denoise", prefix="dn_", order=30)

LEVELS = tuple(round(0.05 * i, 2) for i in range(21))
CURVE_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
N_DIGITS = 6
NOISE_NAMES = {"gaussian": N_("Gaussian"), "mask": N_("masking"), "salt_pepper": N_("salt and pepper")}
LEVEL_MEANING = {
    "gaussian": N_("For Gaussian noise, the level s is the noise's standard deviation (pixels run from 0, black, "
                   "to 1, white)."),
    "mask": N_("For masking, the level s is the share of pixels set to black (0.5: half of them)."),
    "salt_pepper": N_("For salt and pepper, the level s is the share of pixels set to black or white at random "
                      "(0.25: a quarter of them)."),
}
# How the corrupted copy x~ is made from the clean digit x, pixel by pixel, as aelab.models.dae.corrupt does it.
CORRUPTION_LATEX = {
    "gaussian": r"\tilde x_p = \mathrm{clip}_{[0,1]}\big(x_p + \epsilon_p\big),\qquad "
                r"\epsilon_p \sim \mathcal{N}(0,\ s^2)",
    "mask": r"\tilde x_p = m_p\, x_p,\qquad m_p \sim \mathrm{Bernoulli}(1 - s)",
    "salt_pepper": r"\tilde x_p = (1 - h_p)\, x_p + h_p\, b_p,\qquad h_p \sim \mathrm{Bernoulli}(s),\quad "
                   r"b_p \sim \mathrm{Bernoulli}(\tfrac12)",
}
CORRUPTION_WORDS = {
    "gaussian": N_("Gaussian noise: $x_p$ is one pixel of the clean digit, $\\epsilon_p$ a fresh random number "
                   "from a normal distribution with mean 0 and standard deviation $s$ (the noise level), and clip "
                   "keeps the result between 0 (black) and 1 (white)."),
    "mask": N_("Masking: $x_p$ is one pixel of the clean digit and $m_p$ a coin toss for it: 0 (the pixel turns "
               "black) with probability $s$, the noise level, else 1 (the pixel is kept)."),
    "salt_pepper": N_("Salt and pepper: $x_p$ is one pixel of the clean digit; $h_p$ is 1 (the pixel is hit) with "
                      "probability $s$, the noise level, and a hit pixel becomes $b_p$, black (0) or white (1) "
                      "at even odds."),
}
NOISY_LABEL = N_("noisy input")  # how the charts name denoising.NOISY, the corrupted copy's own score
AUTO = "auto"
JOB = "dn_job"
# One click trains a DAE at the current noise: the shipped recipe, fewer epochs, to answer in about a minute.
LAB_TRAINING = TrainConfig(epochs=20, batch_size=64, lr=2e-3, seed=0)
PARAMS = [
    Param("dn_noise", "noise", labstate.choice(CORRUPTIONS), N_("noise type")),
    Param("dn_level", "level", labstate.one_of(LEVELS), N_("noise level"), labstate.fmt_number),
    Param("dn_latent", "latent", labstate.number_in(1, 1024, integer=True), N_("latent size")),
    Param("dn_dae", "dae", lambda text: text if 0 < len(text) <= 80 else None, N_("DAE")),
    Param("dn_digits", "digits", labstate.number_in(0, 10**6, integer=True), N_("digit draw")),
]


def render() -> None:
    st.title(_("Denoising lab"))
    st.markdown(_(
        "A **denoising autoencoder** (DAE) is trained on damaged copies of each digit but scored against the "
        "clean one, so it has to learn what digits look like rather than copy its input. Below, the same "
        "damaged digits go into a plain AE and a DAE of the same size, trained on the same digits from the "
        "same random starting point (seed). Slide the noise and compare what comes back. The digits shown are "
        "**held out**: kept aside from training, so no model has seen them."))
    st.latex(r"\mathcal{L}_\mathrm{DAE}(x) = L\big(x,\ g(f(\tilde x))\big)")
    st.markdown(_(
        "What a DAE is trained to make small: $x$ is a clean digit, $\\tilde x$ a corrupted copy of it (fresh "
        "noise each time training uses the digit), $f$ the encoder, $g$ the decoder and $L$ the reconstruction "
        "error between the clean digit and what comes back (binary cross-entropy summed over the 784 pixels, "
        "for the shipped models). A plain AE is trained on the same loss with $\\tilde x = x$."))
    notices = labstate.restore("dn_", PARAMS)
    labkit.training_status(JOB, on_done=_show_trained)  # first: a run that just finished joins the models
    try:
        families = _families(tuple(session.available_models()))
    except AelabError as exc:
        st.error(_("The models could not be read: {problem}", problem=resources.plain(str(exc), 600)))
        return
    for notice in notices + resources.manifest_problems() + _unloadable():
        st.warning(notice)
    if not families:
        st.warning(_("No plain AE and DAE pair of the same size is available. Run `python -m aelab pretrained` "
                     "to build the shipped lab models."))
        return
    ae, dae = _controls(families)
    family_daes = families[ae.latent_dim]["daes"]
    labstate.publish(PARAMS)
    _lab(ae, dae, family_daes)


def _unloadable() -> list[str]:
    """A note for each AE or DAE that could be on this page but does not load."""
    return labkit.unloadable([e for e in session.available_models() if e.kind in ("ae", "dae")])


def _families(entries: tuple[resources.ModelEntry, ...]) -> dict[int, dict]:
    """Plain AEs and DAEs on the built-in digits, by latent size, where both kinds exist and load."""
    families: dict[int, dict] = {}
    for entry in entries:
        if entry.kind not in ("ae", "dae") or entry.data != "mnist5k" or entry.latent_dim < 4:
            continue
        model = labkit.loaded(entry)
        if model is None or model.arch != "mlp":
            continue
        family = families.setdefault(entry.latent_dim, {"ae": None, "daes": []})
        if entry.kind == "ae" and family["ae"] is None:
            family["ae"] = entry
        elif entry.kind == "dae":
            family["daes"].append(entry)
    return {dim: f for dim, f in sorted(families.items()) if f["ae"] and f["daes"]}


def _controls(families: dict[int, dict]) -> tuple[resources.ModelEntry, resources.ModelEntry]:
    """Draw the sliders; return the AE and the DAE to compare."""
    state = st.session_state
    if state.get("dn_latent") not in families:
        state.dn_latent = 16 if 16 in families else next(iter(families))
    noise_col, level_col = st.columns([1, 1])
    noise_col.radio(_("Noise type"), CORRUPTIONS, key="dn_noise", format_func=lambda k: _(NOISE_NAMES[k]),
                    horizontal=True, help=_("How the digits are damaged before the models see them."))
    corruption = state.dn_noise
    level_col.select_slider(_("Noise level"), LEVELS, value=0.5, key="dn_level",
                            help=_(LEVEL_MEANING[corruption]))
    st.latex(CORRUPTION_LATEX[corruption])
    st.caption(_(CORRUPTION_WORDS[corruption]))
    size_col, dae_col, buttons = st.columns([1, 2.2, 2.3], vertical_alignment="bottom")
    draw_col = train_col = buttons.container(horizontal=True)  # side by side where they fit, else one above
    size_col.radio(_("Latent size"), list(families), key="dn_latent", horizontal=True,
                   help=_("How many numbers make up each model's code, the encoder's compressed description of a "
                          "digit (the dimension of its latent space)."))
    family = families[state.dn_latent]
    names = {e.name: e for e in family["daes"]}
    if state.get("dn_dae") not in (AUTO, *names):
        state.dn_dae = AUTO
    closest = _closest(family["daes"], corruption, state.dn_level)
    dae_col.selectbox(_("DAE to compare"), [AUTO, *names], key="dn_dae",
                      format_func=lambda n: _("nearest to this noise: {name}", name=closest.name) if n == AUTO else n,
                      help=_("Each DAE was trained at one noise type and level:") + "\n\n"
                           + "\n".join(_dae_line(e) for e in family["daes"]))
    draw_col.button(_("New digits"), key="do_dn_redraw", on_click=_redraw, icon=":material/refresh:",
                    help=_("Show other held-out digits."))
    with train_col:
        _train_button(family, corruption, float(state.dn_level))
    return family["ae"], closest if state.dn_dae == AUTO else names[state.dn_dae]


def _dae_line(entry: resources.ModelEntry) -> str:
    """One line of the DAE list: the model's name and the noise it was trained on."""
    trained = denoising.trained_level(labkit.loaded(entry))
    if trained is None:
        return _("- **{name}**: trained without noise", name=entry.name)
    return _("- **{name}**: {noise} noise, level {level:g}", name=entry.name, noise=_(NOISE_NAMES[trained[0]]),
             level=trained[1])


def _closest(daes: list[resources.ModelEntry], corruption: str, level: float) -> resources.ModelEntry:
    """The DAE trained on this noise type at the nearest level; else the Gaussian one nearest in level."""
    def trained(entry):
        return denoising.trained_level(labkit.loaded(entry)) or ("gaussian", 0.0)
    same = [e for e in daes if trained(e)[0] == corruption] or [e for e in daes if trained(e)[0] == "gaussian"]
    return min(same or daes, key=lambda e: abs(trained(e)[1] - level))


def _train_button(family: dict, corruption: str, level: float) -> None:
    """One click trains a DAE at exactly this noise, beside the shipped ones of this size."""
    latent = family["ae"].latent_dim
    have = any(denoising.trained_level(labkit.loaded(e)) == (corruption, level) for e in family["daes"])
    top = max_noise_level({"corruption": corruption})
    why = (_("Not now: one is already here.") if have
           else _("Not now: there is nothing to learn from at no noise.") if level == 0
           else _("Not now: training stops at {top:g} for this noise.", top=top) if level > top else "")
    settings = {"latent_dim": latent, "corruption": corruption, "noise_level": level}
    name = f"my-dae-{latent}d-{corruption}{level:g}"  # i18n: not shown (a model name)
    st.button(_("Train a DAE here"), key="do_dn_train", icon=":material/model_training:",
              disabled=bool(why) or st.session_state.get(JOB) is not None,
              on_click=labkit.start_training, args=(JOB, "dae", settings, name, LAB_TRAINING),
              help=why or _("Train a {latent}-D DAE at {noise} noise, level {level:g}, for {epochs} epochs (passes "
                            "over the training digits; the shipped ones had up to 150), in the background; it "
                            "joins this page for the session.", latent=latent, noise=_(NOISE_NAMES[corruption]),
                            level=level, epochs=LAB_TRAINING.epochs))


def _show_trained(job) -> None:
    """Compare against the DAE just trained."""
    st.session_state.dn_latent = int(job.settings["latent_dim"])
    st.session_state.dn_dae = job.out.name


def _redraw() -> None:
    st.session_state.dn_digits = int(st.session_state.get("dn_digits", 0)) + 1


def _lab(ae_entry: resources.ModelEntry, dae_entry: resources.ModelEntry,
         family_daes: list[resources.ModelEntry]) -> None:
    state = st.session_state
    corruption, level, seed = state.dn_noise, float(state.dn_level), int(state.get("dn_digits", 0))
    ae, dae = labkit.loaded(ae_entry), labkit.loaded(dae_entry)
    if ae is None or dae is None:
        for note in labkit.unloadable([ae_entry, dae_entry]):
            st.error(note)
        return
    view = _stop(ae_entry.path, dae_entry.path, corruption, level, seed, (ae_entry.name, dae_entry.name),
                 i18n.language())
    st.html(view["table"])
    st.caption(_("Under each image: its PSNR against the clean digit in decibels (dB; higher is closer) · its mean "
                 "squared pixel error, MSE (lower is closer)."))
    st.latex(r"\mathrm{PSNR}(x, \hat x) = 10 \log_{10} \frac{1}{\mathrm{MSE}(x, \hat x)}\ \mathrm{dB},\qquad "
             r"\mathrm{MSE}(x, \hat x) = \frac{1}{784} \sum_{p=1}^{784} (x_p - \hat x_p)^2")
    st.caption(_("PSNR, peak signal-to-noise ratio: $x$ is the clean digit, $\\hat x$ the image scored (the "
                 "corrupted copy or a model's output), $x_p$ one of the 784 pixels, which run from 0 to 1, so the "
                 "peak is 1. +6 dB halves the typical pixel error; an exact copy would be infinite and is counted "
                 "as 100 dB."))
    overall = _overall(ae_entry.path, dae_entry.path, corruption, level)
    st.markdown(_summary(overall, level))
    curve_col, shift_col = st.columns(2)
    with curve_col:
        _curve_chart(ae_entry, family_daes, corruption, level)
    with shift_col:
        _shift_chart(ae_entry, dae_entry, view["arrows"])
    _own_digit(ae, dae, corruption, level, seed)


def _own_digit(ae, dae, corruption: str, level: float, seed: int) -> None:
    """Draw or upload a digit; the same noise is added and both models clean it."""
    st.subheader(_("Your own digit"))
    st.markdown(_("Draw a digit (or upload a picture of one): it is framed like the training digits, the same "
                  "noise is added, and both models try to clean it."))
    pad, shown = st.columns([1, 2])
    with pad:
        drawing = new_drawing("dn_canvas")
        if drawing is not None:
            _take(lambda: digit_image.digit_from_drawing(drawing) if drawing.any() else None)
        draw_canvas("dn_canvas")
        upload = st.file_uploader(_("...or upload a picture"), type=list(digit_image.PICTURE_SUFFIXES),
                                  key="do_dn_upload", help=_("A photo or scan of one handwritten digit.") + "\n\n"
                                  + labkit.upload_limits(st.get_option("server.maxUploadSize"),
                                                         ", ".join(digit_image.PICTURE_SUFFIXES).upper()))
        if upload is not None and st.session_state.get("dn_own_file") != upload.file_id:
            st.session_state.dn_own_file = upload.file_id
            _take(lambda: digit_image.digit_from_file(upload.getvalue(), upload.name))
    with shown:
        for problem in st.session_state.pop("dn_own_problem", []):
            st.warning(problem)
        digit = st.session_state.get("dn_own")
        if digit is None:
            st.caption(_("Nothing drawn yet."))
            return
        result = denoising.compare({"ae": ae, "dae": dae}, digit[None], corruption, level, seed=seed)
        labkit.digit_table([
            labkit.Row(_("Your digit"), result.clean, note=_("framed 28x28 pixels")),
            labkit.Row(_("Corrupted"), result.corrupted, [f"{result.psnr[denoising.NOISY][0]:.1f} dB"]),
            labkit.Row(_("Plain AE"), result.recons["ae"], [f"{result.psnr['ae'][0]:.1f} dB"]),
            labkit.Row(_("Denoising AE"), result.recons["dae"], [f"{result.psnr['dae'][0]:.1f} dB"]),
        ], key="own", px=72)
        st.caption(_("Under each image: its PSNR against your framed digit, in dB (higher is closer)."))


def _take(convert) -> None:
    """Keep the converted digit; a picture that cannot be used leaves the last one and says why."""
    try:
        st.session_state.dn_own = convert()
    except AelabError as exc:
        st.session_state.dn_own_problem = [_("That picture could not be used: {problem}",
                                             problem=resources.plain(str(exc), 400))]


# Every session at the same slider stop sees the same digits: computed and encoded once, and the
# element is then byte-identical for each of them (Streamlit's message cache sends a repeat by reference).
@st.cache_data(show_spinner=False, max_entries=512)
def _stop(ae_path: str, dae_path: str, corruption: str, level: float, seed: int, names: tuple[str, str],
          lang: str) -> dict:
    """The six digits at one noise: their table's HTML (its words in ``lang``), and each model's arrows from
    corrupted to clean code."""
    models = {"ae": resources.load_model(ae_path).model, "dae": resources.load_model(dae_path).model}
    result = denoising.compare(models, labkit.held_out(seed, N_DIGITS), corruption, level, seed=seed)
    arrows = {}
    for name, path in (("ae", ae_path), ("dae", dae_path)):
        plane = _plane(path)[0]
        clean_xy = plane.transform(explore.encode(models[name], result.clean)[0])
        noisy_xy = plane.transform(explore.encode(models[name], result.corrupted)[0])
        arrows[name] = pa.table({"x": noisy_xy[:, 0], "y": noisy_xy[:, 1], "x2": clean_xy[:, 0], "y2": clean_xy[:, 1],
                                 "n": [str(i + 1) for i in range(len(clean_xy))]})
    return {"table": _digit_rows(result, *names, lang=lang), "arrows": arrows}


def _digit_rows(result: denoising.Comparison, ae_name: str, dae_name: str, lang: str) -> str:
    def captions(name):
        return tuple(f"{p:.1f} dB · {m:.3f}" for p, m in zip(result.psnr[name], result.mse[name], strict=True))

    def say(text):
        return i18n.translate(text, lang)
    return labkit.table_html((
        labkit.Row(say(N_("Clean digit")), result.clean, note=say(N_("the target"))),
        labkit.Row(say(N_("Corrupted")), result.corrupted, captions(denoising.NOISY),
                   say(N_("what both models are given"))),
        labkit.Row(say(N_("Plain AE")), result.recons["ae"], captions("ae"), ae_name),
        labkit.Row(say(N_("Denoising AE")), result.recons["dae"], captions("dae"), dae_name),
    ), "denoise")


@st.cache_data(show_spinner=False, max_entries=256)
def _overall(ae_path: str, dae_path: str, corruption: str, level: float) -> dict[str, float]:
    """Mean PSNR over every held-out digit at this noise (the noise drawn from seed 0)."""
    clean = resources.load_data("mnist5k").val.images
    models = {"ae": resources.load_model(ae_path).model, "dae": resources.load_model(dae_path).model}
    result = denoising.compare(models, clean, corruption, level, seed=0)
    shifts = {name: denoising.relative_shift(model, clean, result.corrupted) for name, model in models.items()}
    return {name: float(np.mean(np.minimum(v, 100))) for name, v in result.psnr.items()} | {
        f"shift_{name}": value for name, value in shifts.items()} | {"n": len(clean)}


def _summary(overall: dict, level: float) -> str:
    scores = {"n": overall["n"], "ae": overall["ae"], "dae": overall["dae"]}
    if level == 0:
        return _("With no noise, on all {n} held-out digits: the plain AE reconstructs at {ae:.1f} dB and the "
                 "DAE at {dae:.1f} dB (mean PSNR).", **scores)
    gap = overall["dae"] - overall["ae"]
    better = (_("The DAE is closer to the clean digits.") if gap >= 0.5 else
              _("The plain AE is closer to the clean digits.") if gap <= -0.5 else
              _("The two are within half a decibel of each other."))
    scores = _("On all {n} held-out digits at this noise: corrupted input {noisy:.1f} dB, plain AE {ae:.1f} dB, "
               "DAE {dae:.1f} dB (mean PSNR).", noisy=overall[denoising.NOISY], **scores)
    shift = _("Noise moves the plain AE's codes {ae:.0%} of the way that swapping in another digit would, and "
              "the DAE's {dae:.0%} (0% would mean the noise does not move the code at all).",
              ae=overall["shift_ae"], dae=overall["shift_dae"])
    return _("{scores} {better} {shift}", scores=scores, better=better, shift=shift)  # sentences, in order


@st.cache_data(show_spinner=resources.Shown(N_("Scoring every noise level (once per model and noise type)...")),
               max_entries=64)
def _curves(paths: tuple[tuple[str, str], ...], corruption: str) -> list[dict]:
    clean = resources.load_data("mnist5k").val.images
    models = {name: resources.load_model(path).model for name, path in paths}
    curves = denoising.psnr_curve(models, clean, corruption, CURVE_LEVELS, seed=0)
    return [{"model": name, "level": lv, "psnr": float(v)}
            for name, values in curves.items() for lv, v in zip(CURVE_LEVELS, values, strict=True)
            if lv > 0 or name != denoising.NOISY]  # the undamaged input itself would be infinite


def _curve_chart(ae_entry, daes: list[resources.ModelEntry], corruption: str, level: float) -> None:
    st.markdown(_("**PSNR against {noise} noise level**, {latent}-D models, all held-out digits",
                  noise=_(NOISE_NAMES[corruption]), latent=ae_entry.latent_dim))
    paths = ((ae_entry.name, ae_entry.path), *((e.name, e.path) for e in daes))
    noisy = _(NOISY_LABEL)
    records = [r | {"model": noisy} if r["model"] == denoising.NOISY else r for r in _curves(paths, corruption)]
    model, noise, psnr = _("model"), _("noise level"), _("mean PSNR (dB)")
    lines = {"data": {"values": records}, "mark": {"type": "line", "point": True},
             "encoding": {
                 "x": {"field": "level", "type": "quantitative", "title": noise, "scale": {"domain": [0, 1]}},
                 "y": {"field": "psnr", "type": "quantitative", "title": psnr, "scale": {"zero": False}},
                 "color": {"field": "model", "type": "nominal", "title": None,
                           "legend": {"orient": "bottom", "columns": 2, "labelLimit": 260}},
                 "tooltip": [{"field": "model", "title": model}, {"field": "level", "title": noise},
                             {"field": "psnr", "title": psnr, "format": ".1f"}]}}
    rule = {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "#444"},
            "encoding": {"x": {"field": "level", "type": "quantitative"}}}
    # Plain Vega-Lite (no Altair: building and validating Altair charts took most of a slider move's
    # time). What a slider move changes is the chart's data, not its spec, so the browser updates the
    # drawn chart instead of building it again.
    st.vega_lite_chart(pd.DataFrame({"level": [level]}), spec={"height": 320, "layer": [lines, rule]},
                       width="stretch")
    st.caption(_("Each line is one model's mean PSNR over the held-out digits at each noise level (higher is "
                 "closer to the clean digits); \"{noisy}\" scores the corrupted digits themselves. The dashed "
                 "line marks the slider's level.", noisy=noisy))


@st.cache_data(show_spinner=False, max_entries=32)
def _plane(path: str) -> tuple[PCAProjection, list[dict]]:
    """A PCA plane fitted to the clean held-out codes, and those codes on it as chart records (to 3 significant
    digits, plenty for a 260-pixel chart: the records are resent with the arrows on every slider move)."""
    splits = resources.load_data("mnist5k")
    model = resources.load_model(path).model
    codes = explore.encode(model, splits.val.images)[0]
    plane = PCAProjection().fit(codes)
    xy = plane.transform(codes)
    return plane, [{"x": float(f"{x:.3g}"), "y": float(f"{y:.3g}"), "digit": str(d)}
                   for (x, y), d in zip(xy, splits.val.labels, strict=True)]


def _shift_chart(ae_entry, dae_entry, arrows: dict[str, pa.Table]) -> None:
    st.markdown(_("**How far noise pushes each code** (arrows: from the corrupted digit's code to the clean "
                  "one's)"))
    left, right = st.columns(2)
    for column, entry, name, title in ((left, ae_entry, "ae", _("plain AE")), (right, dae_entry, "dae", _("DAE"))):
        with column:
            st.vega_lite_chart(arrows[name], spec=_arrow_spec(_plane(entry.path)[1], title), width="stretch")
    st.caption(_("Each map is the model's codes for the held-out digits (coloured by digit) on the two directions "
                 "where they spread most (PCA, principal component analysis). Numbers match the columns above; a "
                 "hollow ring is the corrupted digit's code, the filled dot the clean digit's."))


def _arrow_spec(background: list[dict], title: str) -> dict:
    """A Vega-Lite layer: the held-out codes, and arrows (the chart's data) from corrupted to clean codes."""
    axis = {"labels": False, "ticks": False, "title": None}
    xy = {"x": {"field": "x", "type": "quantitative", "axis": axis},
          "y": {"field": "y", "type": "quantitative", "axis": axis}}
    ends = {"x": {"field": "x2", "type": "quantitative"}, "y": {"field": "y2", "type": "quantitative"}}
    dots = {"data": {"values": background}, "mark": {"type": "circle", "size": 12, "opacity": 0.35},
            "encoding": xy | {"color": {"field": "digit", "type": "nominal", "legend": None,
                                        "scale": {"range": resources.LABEL_COLOURS}}}}
    pushes = {"layer": [
        {"mark": {"type": "rule", "strokeWidth": 2, "color": "#222"}, "encoding": xy | {
            "x2": {"field": "x2"}, "y2": {"field": "y2"}}},
        {"mark": {"type": "circle", "size": 70, "color": "#222"}, "encoding": ends},
        {"mark": {"type": "point", "size": 90, "filled": False, "strokeWidth": 2, "color": "#d6336c"}, "encoding": xy},
        {"mark": {"type": "text", "dx": 9, "dy": -9, "fontWeight": "bold", "color": "#d6336c"},
         "encoding": xy | {"text": {"field": "n", "type": "nominal"}}},
    ]}
    return {"title": title, "height": 260, "layer": [dots, pushes]}


if __name__ == "__main__":
    render()
