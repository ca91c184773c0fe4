"""The denoising lab: slide the noise and watch a plain AE and a denoising AE clean the same damaged digits.

Every model on the page is given the corrupted copy; the clean digit is only the target
the scores compare against. The sliders answer from shipped models and cached curves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from aelab import digit_image, explore
from aelab.app import labkit, labstate, resources, session
from aelab.app.components.draw_canvas import draw_canvas, new_drawing
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.labs import denoising
from aelab.models.dae import CORRUPTIONS, max_noise_level
from aelab.projection import PCAProjection
from aelab.train import TrainConfig

PAGE = Page("Denoising lab", ":material/blur_on:", "denoise", prefix="dn_", order=30)

LEVELS = tuple(round(0.05 * i, 2) for i in range(21))
CURVE_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
N_DIGITS = 6
NOISE_NAMES = {"gaussian": "Gaussian", "mask": "masking", "salt_pepper": "salt and pepper"}
LEVEL_MEANING = {"gaussian": "the noise's standard deviation (pixels run from 0 to 1)",
                 "mask": "the share of pixels set to black", "salt_pepper": "the share of pixels set to black or white"}
AUTO = "auto"
JOB = "dn_job"
# One click trains a DAE at the current noise: the shipped recipe, fewer epochs, to answer in about a minute.
LAB_TRAINING = TrainConfig(epochs=20, batch_size=64, lr=2e-3, seed=0)
PARAMS = [
    Param("dn_noise", "noise", labstate.choice(CORRUPTIONS), "noise type"),
    Param("dn_level", "level", labstate.one_of(LEVELS), "noise level", labstate.fmt_number),
    Param("dn_latent", "latent", labstate.number_in(1, 1024, integer=True), "latent size"),
    Param("dn_dae", "dae", lambda text: text if 0 < len(text) <= 80 else None, "DAE"),
    Param("dn_digits", "digits", labstate.number_in(0, 10**6, integer=True), "digit draw"),
]


def render() -> None:
    st.title("Denoising lab")
    st.markdown(
        "A **denoising autoencoder** (DAE) is trained on damaged copies of each digit but scored against the "
        "clean one, so it has to learn what digits look like rather than copy its input. Below, the same "
        "damaged digits go into a plain AE and a DAE of the same size, trained on the same digits from the "
        "same seed. Slide the noise and compare what comes back. Scores are PSNR in decibels against the "
        "clean digit: higher is closer, and +6 dB halves the typical pixel error.")
    st.latex(r"\mathcal{L}_\mathrm{DAE}(x) = L\big(x,\ g(f(\tilde x))\big),\qquad \tilde x = \mathrm{corrupt}(x)")
    notices = labstate.restore("dn_", PARAMS)
    labkit.training_status(JOB, on_done=_show_trained)  # first: a run that just finished joins the models
    try:
        families = _families(tuple(session.available_models()))
    except AelabError as exc:
        st.error(f"The models could not be read: {resources.plain(str(exc), 600)}")
        return
    for notice in notices + resources.manifest_problems() + _unloadable():
        st.warning(notice)
    if not families:
        st.warning("No plain AE and DAE pair of the same size is available. Run `python -m aelab pretrained` "
                   "to build the shipped lab models.")
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
    noise_col.radio("Noise type", CORRUPTIONS, key="dn_noise", format_func=NOISE_NAMES.get, horizontal=True)
    corruption = state.dn_noise
    level_col.select_slider("Noise level", LEVELS, value=0.5, key="dn_level",
                            help=f"For {NOISE_NAMES[corruption]} noise: {LEVEL_MEANING[corruption]}.")
    size_col, dae_col, draw_col, train_col = st.columns([1, 2.2, 1, 1.3], vertical_alignment="bottom")
    size_col.radio("Latent size", list(families), key="dn_latent", horizontal=True)
    family = families[state.dn_latent]
    names = {e.name: e for e in family["daes"]}
    if state.get("dn_dae") not in (AUTO, *names):
        state.dn_dae = AUTO
    closest = _closest(family["daes"], corruption, state.dn_level)
    dae_col.selectbox("Denoising AE to compare", [AUTO, *names], key="dn_dae",
                      format_func=lambda n: f"nearest to this noise: {closest.name}" if n == AUTO else n,
                      help="Each DAE was trained at one noise type and level.\n\n"
                           + "\n".join(f"- **{e.name}**: {resources.plain(e.description)}" for e in family["daes"]))
    draw_col.button("New digits", key="do_dn_redraw", on_click=_redraw, icon=":material/refresh:",
                    help="Show other held-out digits.")
    with train_col:
        _train_button(family, corruption, float(state.dn_level))
    return family["ae"], closest if state.dn_dae == AUTO else names[state.dn_dae]


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
    why = ("one is already here" if have else "there is nothing to learn from at no noise" if level == 0
           else f"training stops at {top:g} for this noise" if level > top else "")
    settings = {"latent_dim": latent, "corruption": corruption, "noise_level": level}
    name = f"my-dae-{latent}d-{corruption}{level:g}"
    st.button("Train a DAE here", key="do_dn_train", icon=":material/model_training:",
              disabled=bool(why) or st.session_state.get(JOB) is not None,
              on_click=labkit.start_training, args=(JOB, "dae", settings, name, LAB_TRAINING),
              help=(f"Not now: {why}." if why else
                    f"Train a {latent}-D DAE at {NOISE_NAMES[corruption]} noise {level:g} for {LAB_TRAINING.epochs} "
                    "epochs (the shipped ones had up to 150), in the background; it joins this page for the session."))


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
    view = _stop(ae_entry.path, dae_entry.path, corruption, level, seed, (ae_entry.name, dae_entry.name))
    st.html(view["table"])
    st.caption("Under each image: PSNR against the clean digit (dB, higher is better) · mean squared pixel error "
               "(lower is better).")
    overall = _overall(ae_entry.path, dae_entry.path, corruption, level)
    st.markdown(_summary(overall, ae_entry, dae_entry, corruption, level))
    curve_col, shift_col = st.columns(2)
    with curve_col:
        _curve_chart(ae_entry, family_daes, corruption, level)
    with shift_col:
        _shift_chart(ae_entry, dae_entry, view["arrows"])
    _own_digit(ae, dae, corruption, level, seed)


def _own_digit(ae, dae, corruption: str, level: float, seed: int) -> None:
    """Draw or upload a digit; the same noise is added and both models clean it."""
    st.subheader("Your own digit")
    st.markdown("Draw a digit (or upload a picture of one): it is framed like the training digits, the same noise "
                "is added, and both models try to clean it.")
    pad, shown = st.columns([1, 2])
    with pad:
        drawing = new_drawing("dn_canvas")
        if drawing is not None:
            _take(lambda: digit_image.digit_from_drawing(drawing) if drawing.any() else None)
        draw_canvas("dn_canvas")
        upload = st.file_uploader("...or upload a picture", type=list(digit_image.PICTURE_SUFFIXES),
                                  key="do_dn_upload", help="A photo or scan of one handwritten digit.")
        if upload is not None and st.session_state.get("dn_own_file") != upload.file_id:
            st.session_state.dn_own_file = upload.file_id
            _take(lambda: digit_image.digit_from_file(upload.getvalue(), upload.name))
    with shown:
        for problem in st.session_state.pop("dn_own_problem", []):
            st.warning(problem)
        digit = st.session_state.get("dn_own")
        if digit is None:
            st.caption("Nothing drawn yet.")
            return
        result = denoising.compare({"ae": ae, "dae": dae}, digit[None], corruption, level, seed=seed)
        labkit.digit_table([
            labkit.Row("Your digit", result.clean, note="framed 28x28"),
            labkit.Row("Corrupted", result.corrupted, [f"{result.psnr[denoising.NOISY][0]:.1f} dB"]),
            labkit.Row("Plain AE", result.recons["ae"], [f"{result.psnr['ae'][0]:.1f} dB"]),
            labkit.Row("Denoising AE", result.recons["dae"], [f"{result.psnr['dae'][0]:.1f} dB"]),
        ], key="own", px=72)


def _take(convert) -> None:
    """Keep the converted digit; a picture that cannot be used leaves the last one and says why."""
    try:
        st.session_state.dn_own = convert()
    except AelabError as exc:
        st.session_state.dn_own_problem = [f"That picture could not be used: {resources.plain(str(exc), 400)}"]


# Every session at the same slider stop sees the same digits: computed and encoded once, and the
# element is then byte-identical for each of them (Streamlit's message cache sends a repeat by reference).
@st.cache_data(show_spinner=False, max_entries=512)
def _stop(ae_path: str, dae_path: str, corruption: str, level: float, seed: int, names: tuple[str, str]) -> dict:
    """The six digits at one noise: their table's HTML, and each model's arrows from corrupted to clean code."""
    models = {"ae": resources.load_model(ae_path).model, "dae": resources.load_model(dae_path).model}
    result = denoising.compare(models, labkit.held_out(seed, N_DIGITS), corruption, level, seed=seed)
    arrows = {}
    for name, path in (("ae", ae_path), ("dae", dae_path)):
        plane = _plane(path)[0]
        clean_xy = plane.transform(explore.encode(models[name], result.clean)[0])
        noisy_xy = plane.transform(explore.encode(models[name], result.corrupted)[0])
        arrows[name] = pa.table({"x": noisy_xy[:, 0], "y": noisy_xy[:, 1], "x2": clean_xy[:, 0], "y2": clean_xy[:, 1],
                                 "n": [str(i + 1) for i in range(len(clean_xy))]})
    return {"table": _digit_rows(result, *names), "arrows": arrows}


def _digit_rows(result: denoising.Comparison, ae_name: str, dae_name: str) -> str:
    def captions(name):
        return tuple(f"{p:.1f} dB · {m:.3f}" for p, m in zip(result.psnr[name], result.mse[name], strict=True))
    return labkit.table_html((
        labkit.Row("Clean digit", result.clean, note="the target"),
        labkit.Row("Corrupted", result.corrupted, captions(denoising.NOISY), "what both models are given"),
        labkit.Row("Plain AE", result.recons["ae"], captions("ae"), ae_name),
        labkit.Row("Denoising AE", result.recons["dae"], captions("dae"), dae_name),
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


def _summary(overall: dict, ae_entry, dae_entry, corruption: str, level: float) -> str:
    if level == 0:
        return (f"With no noise, on all {overall['n']} held-out digits: the plain AE reconstructs at "
                f"{overall['ae']:.1f} dB and the DAE at {overall['dae']:.1f} dB (mean PSNR).")
    gap = overall["dae"] - overall["ae"]
    better = ("the DAE is closer to the clean digits" if gap >= 0.5 else
              "the plain AE is closer to the clean digits" if gap <= -0.5 else "the two are within half a decibel")
    return (f"On all {overall['n']} held-out digits at this noise: corrupted input {overall[denoising.NOISY]:.1f} dB, "
            f"plain AE {overall['ae']:.1f} dB, DAE {overall['dae']:.1f} dB (mean PSNR), so {better}. "
            f"Noise moves the plain AE's codes {overall['shift_ae']:.0%} of the way that swapping in another "
            f"digit would, and the DAE's {overall['shift_dae']:.0%}.")


@st.cache_data(show_spinner="Scoring every noise level (once per model and noise type)...", max_entries=64)
def _curves(paths: tuple[tuple[str, str], ...], corruption: str) -> list[dict]:
    clean = resources.load_data("mnist5k").val.images
    models = {name: resources.load_model(path).model for name, path in paths}
    curves = denoising.psnr_curve(models, clean, corruption, CURVE_LEVELS, seed=0)
    return [{"model": name, "level": lv, "psnr": float(v)}
            for name, values in curves.items() for lv, v in zip(CURVE_LEVELS, values, strict=True)
            if lv > 0 or name != denoising.NOISY]  # the undamaged input itself would be infinite


def _curve_chart(ae_entry, daes: list[resources.ModelEntry], corruption: str, level: float) -> None:
    st.markdown(f"**PSNR against {NOISE_NAMES[corruption]} noise level**, {ae_entry.latent_dim}-D models, "
                "all held-out digits")
    paths = ((ae_entry.name, ae_entry.path), *((e.name, e.path) for e in daes))
    lines = {"data": {"values": _curves(paths, corruption)}, "mark": {"type": "line", "point": True},
             "encoding": {
                 "x": {"field": "level", "type": "quantitative", "title": "noise level", "scale": {"domain": [0, 1]}},
                 "y": {"field": "psnr", "type": "quantitative", "title": "mean PSNR (dB)", "scale": {"zero": False}},
                 "color": {"field": "model", "type": "nominal", "title": None,
                           "legend": {"orient": "bottom", "columns": 2, "labelLimit": 260}},
                 "tooltip": [{"field": "model"}, {"field": "level"}, {"field": "psnr", "format": ".1f"}]}}
    rule = {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "#444"},
            "encoding": {"x": {"field": "level", "type": "quantitative"}}}
    # Plain Vega-Lite (no Altair: building and validating Altair charts took most of a slider move's
    # time). What a slider move changes is the chart's data, not its spec, so the browser updates the
    # drawn chart instead of building it again.
    st.vega_lite_chart(pd.DataFrame({"level": [level]}), spec={"height": 320, "layer": [lines, rule]},
                       width="stretch")


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
    st.markdown("**How far noise pushes each code** (arrows: from the corrupted digit's code to the clean one's)")
    left, right = st.columns(2)
    for column, entry, name, title in ((left, ae_entry, "ae", "plain AE"), (right, dae_entry, "dae", "DAE")):
        with column:
            st.vega_lite_chart(arrows[name], spec=_arrow_spec(_plane(entry.path)[1], title), width="stretch")
    st.caption("Each map is the model's codes for the held-out digits (coloured by digit) on the two directions "
               "where they spread most (PCA). Numbers match the columns above; a hollow ring is the corrupted "
               "digit's code, the filled dot the clean digit's.")


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
