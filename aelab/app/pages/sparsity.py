"""The sparsity lab: slide the penalty's weight and target rate, and watch how few code units stay on.

Every slider stop is a shipped one-layer sparse autoencoder with 128 code units; a setting
with no model yet is one click from being trained, and then joins the sliders for the session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from aelab import metrics, pretrained
from aelab.app import labkit, labstate, resources, session
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.explore import decode
from aelab.labs import sparsity
from aelab.train import TrainConfig

PAGE = Page("Sparsity lab", ":material/grain:", "sparsity", prefix="sp_", order=40)

UNITS = pretrained.SPARSE_UNITS
PENALTY_NAMES = {"l1": "L1 on the code", "kl": "KL to a target rate rho"}
# One click trains a setting with the shipped recipe but fewer epochs, to answer in seconds.
LAB_TRAINING = TrainConfig(epochs=40, batch_size=64, lr=2e-3, seed=0)
JOB = "sp_job"
PARAMS = [
    Param("sp_penalty", "penalty", labstate.choice(tuple(PENALTY_NAMES)), "penalty"),
    Param("sp_weight", "weight", labstate.number_in(0, 1000), "sparsity weight", labstate.fmt_number),
    Param("sp_rho", "rho", labstate.number_in(1e-4, 0.9999), "target rate rho", labstate.fmt_number),
]


def render() -> None:
    st.title("Sparsity lab")
    st.markdown(
        f"A **sparse autoencoder** is free to use many code units ({UNITS} here, far more than the 2 of the "
        "latent maps) but pays for each one it switches on, so each digit ends up described by a few units "
        "out of many. Slide the penalty's weight and watch the code go quiet, the units specialise into strokes, "
        "and the reconstructions pay the price.")
    left, right = st.columns(2)
    with left:
        st.markdown("**L1 penalty**: the sum of the code's absolute values")
        st.latex(r"\mathcal{L} = L\big(x, g(f(x))\big) + \lambda \sum_j |z_j|")
    with right:
        st.markdown("**KL penalty**: each unit's average rate pulled toward rho")
        st.latex(r"\mathcal{L} = L\big(x, g(f(x))\big) + \lambda \sum_j \mathrm{KL}(\rho \,\|\, \hat\rho_j)")
    st.latex(r"\mathrm{KL}(\rho \,\|\, \hat\rho_j) = \rho \log\frac{\rho}{\hat\rho_j}"
             r" + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j},\qquad \hat\rho_j = \frac{1}{N}\sum_{i=1}^{N} z_j(x_i)")
    st.caption("rho-hat of a unit is its average activation over the digits: with sigmoid units (between 0 and 1) "
               "it reads as how often the unit fires. The weight lambda sets how much the penalty counts.")
    from_link = not st.session_state.get("sp_restored")  # this run reads the link
    notices = labstate.restore("sp_", PARAMS)
    saes = [e for e in session.available_models() if e.kind == "sae"]
    for notice in notices + resources.manifest_problems() + labkit.unloadable(saes):
        st.warning(notice)
    labkit.training_status(JOB, on_done=_show_trained)  # first: a run that just finished joins the grid
    try:
        grid = _grid(tuple(session.available_models()))
    except AelabError as exc:
        st.error(f"The models could not be read: {resources.plain(str(exc), 600)}")
        return
    if not grid:
        st.warning("No sparse lab models are available. Run `python -m aelab pretrained` to build them.")
        return
    setting = _controls(grid, from_link)
    labstate.publish(PARAMS)
    entry = grid.get(setting)
    if entry is None:
        _missing(setting)
    else:
        _lab(entry, grid, setting)
    _another_setting(grid)


def _show_trained(job) -> None:
    """Move the sliders to the setting just trained."""
    st.session_state.sp_penalty = job.settings["penalty"]
    st.session_state.sp_weight = float(job.settings["sparsity_weight"])
    if "target_rho" in job.settings:
        st.session_state.sp_rho = float(job.settings["target_rho"])


def _another_setting(grid: dict) -> None:
    penalty = st.session_state.sp_penalty
    with st.expander(f"Train another setting ({PENALTY_NAMES[penalty]})"):
        weight_col, rho_col, button_col = st.columns(3, vertical_alignment="bottom")
        weight = weight_col.number_input("Sparsity weight lambda", 0.0, 100.0, 0.5, step=0.05, format="%g",
                                         key="sp_new_weight")
        rho = rho_col.number_input("Target rate rho", 0.001, 0.999, 0.15, step=0.01, format="%g", key="sp_new_rho",
                                   disabled=penalty != "kl")
        setting = _key(penalty, weight, rho)
        with button_col:
            if setting in grid:
                st.caption("Already on the sliders.")
            else:
                _train_button(setting, "Train it")


def _grid(entries: tuple[resources.ModelEntry, ...]) -> dict[tuple, resources.ModelEntry]:
    """Lab SAEs by setting (penalty, weight, rho; rho None where it does not apply)."""
    grid = {}
    for entry in entries:
        if entry.kind != "sae" or entry.data != "mnist5k" or entry.latent_dim != UNITS:
            continue
        model = labkit.loaded(entry)
        if model is None or model.hidden or (model.penalty == "l1" and model.activation != "relu"):
            continue
        grid.setdefault(_key(model.penalty, model.sparsity_weight, model.target_rho), entry)
    return grid


def _key(penalty: str, weight: float, rho: float) -> tuple:
    return penalty, float(weight), float(rho) if penalty == "kl" and weight > 0 else None


def _controls(grid: dict, from_link: bool = False) -> tuple:
    state = st.session_state
    if state.get("sp_penalty") not in PENALTY_NAMES:
        state.sp_penalty = "l1"
    penalty_col, weight_col, rho_col = st.columns([2, 3, 3])
    penalty_col.radio("Penalty", list(PENALTY_NAMES), key="sp_penalty", format_func=PENALTY_NAMES.get)
    penalty = state.sp_penalty
    weights = sorted({k[1] for k in grid if k[0] == penalty} | {0.0})
    _snap("sp_weight", weights, 0.1 if 0.1 in weights else weights[len(weights) // 2], from_link)
    weight_col.select_slider("Sparsity weight lambda", weights, key="sp_weight", format_func=lambda v: f"{v:g}",
                             help="How much the penalty counts against reconstruction; 0 is no penalty.")
    rhos = sorted({k[2] for k in grid if k[0] == "kl" and k[2] is not None}) or [0.05]
    _snap("sp_rho", rhos, 0.05 if 0.05 in rhos else rhos[0], from_link and penalty == "kl")
    no_rho = penalty != "kl" or state.sp_weight == 0
    rho_col.select_slider("Target rate rho", rhos, key="sp_rho", format_func=lambda v: f"{v:g}", disabled=no_rho,
                          help="KL penalty only: the average activation each unit should have over the digits "
                               "(0.05: on for about one digit in twenty).")
    return _key(penalty, state.sp_weight, state.sp_rho)


def _snap(key: str, stops: list[float], default: float, say: bool = False) -> None:
    """Keep a slider's value on one of its stops (a link or another penalty may have left it off);
    ``say``: tell the user, when the value came from a link."""
    value = st.session_state.get(key)
    if not isinstance(value, (int, float)) or not stops:
        st.session_state[key] = default
    elif value not in stops:
        st.session_state[key] = nearest = min(stops, key=lambda s: abs(s - value))
        if say:
            st.info(f"No model here has been trained at the link's {value:g}; showing the nearest, {nearest:g}. "
                    "Train that setting under \"Train another setting\" below.")


def _missing(setting: tuple) -> None:
    penalty, weight, rho = setting
    words = f"{PENALTY_NAMES[penalty]}, weight {weight:g}" + (f", rho {rho:g}" if rho is not None else "")
    st.info(f"No model has been trained at this setting ({words}) yet.")
    _train_button(setting)


def _train_button(setting: tuple, label: str = "Train this setting") -> None:
    penalty, weight, rho = setting
    settings = {"latent_dim": UNITS, "hidden": [], "penalty": penalty, "sparsity_weight": weight,
                "activation": "relu", **({"target_rho": rho} if rho is not None else {})}
    name = f"my-sae-{UNITS}u-{penalty}-w{weight:g}" + (f"-rho{rho:g}" if rho is not None else "")
    busy = st.session_state.get(JOB) is not None
    st.button(label, key=f"do_sp_train_{label.split()[-1]}", disabled=busy, icon=":material/model_training:",
              on_click=labkit.start_training, args=(JOB, "sae", settings, name, LAB_TRAINING),
              help=f"Trains a {UNITS}-unit sparse AE at this setting for {LAB_TRAINING.epochs} epochs (the shipped "
                   "ones had up to 150), in the background; it then joins the sliders for this session.")


# Shared by every session and read only, never copied: a slider move reads about ten models' figures
# (the shown one, the unpenalised one and the cost curve's), which cache_data would unpickle each time.
@st.cache_resource(show_spinner="Measuring the code (once per model)...", max_entries=64)
def _measure(path: str) -> dict:
    """Activity statistics, features and reconstruction cost of one model on every held-out digit, and the
    charts' tables made from them (Arrow tables, so a rerun does not convert them again)."""
    model = resources.load_model(path).model
    images = resources.load_data("mnist5k").val.images
    stats = sparsity.model_activity(model, images)
    counts, edges = sparsity.histogram(stats.codes)
    order = np.lexsort((-stats.rho_hat, -stats.firing_rate))
    measured = {"stats": stats, "counts": counts, "edges": edges, "order": order,
                "features": sparsity.features(model, stats)[order],
                "bce": float(metrics.per_image_bce(model, images).mean()), "kind": sparsity.code_kind(model),
                "on": float(stats.active.sum(1).mean())}
    return measured | {"tables": _tables(measured)}


def _tables(measured: dict) -> dict[str, pa.Table]:
    """The three charts' data of one model: every activation binned, units on per digit, each unit's rho-hat."""
    edges, counts, stats, order = measured["edges"], measured["counts"], measured["stats"], measured["order"]
    on = np.bincount(stats.active.sum(1), minlength=1)
    return {name: pa.Table.from_pandas(pd.DataFrame(values)) for name, values in (
        ("histogram", [{"from": float(a), "to": float(b), "count": int(c)}
                       for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]),
        ("units_on", [{"on": int(k), "digits": int(c)} for k, c in enumerate(on) if c]),
        ("rates", [{"unit": i, "rho_hat": float(stats.rho_hat[j]), "dead": "never on" if stats.dead[j] else
                    "sometimes on"} for i, j in enumerate(order)]))}


def _lab(entry: resources.ModelEntry, grid: dict, setting: tuple) -> None:
    measured = _measure(entry.path)
    stats: sparsity.Activity = measured["stats"]
    baseline = grid.get(_key(setting[0], 0.0, 0.0))
    base_bce = _measure(baseline.path)["bce"] if baseline else None
    st.caption(f"Model: **{resources.plain(entry.name)}**, {resources.plain(entry.description)}. "
               f"All figures on the {len(stats.codes)} held-out digits (never trained on).")
    a, b, c = st.columns(3)
    threshold = "above 0" if measured["kind"] == "relu" else f"above {stats.threshold:.3g}"
    a.metric("Units on per digit", f"{measured['on']:.1f} of {UNITS}",
             help=f"The average number of units whose activation is {threshold} for a digit.")
    b.metric("Dead units", f"{int(stats.dead.sum())} of {UNITS}",
             help=f"Units {threshold} for none of the held-out digits: they never contribute.")
    cost = None if base_bce is None or setting[1] == 0 else measured["bce"] - base_bce
    c.metric("Reconstruction error", f"{measured['bce']:.1f} nats",
             delta=None if cost is None else f"{cost:+.1f} vs no penalty", delta_color="inverse",
             help="Binary cross-entropy summed over a digit's 784 pixels (nats per digit); lower is better.")
    if baseline and setting[1] > 0:
        st.markdown(_dead_sentence(stats, _measure(baseline.path)["stats"], measured["kind"]))
    hist_col, share_col, rate_col = st.columns(3)
    with hist_col:
        _histogram(measured)
    with share_col:
        _units_on(measured)
    with rate_col:
        _rates(measured, setting)
    _features(entry.path, stats)
    _examples(entry.path)
    _cost_curve(grid, setting)


def _dead_sentence(stats: sparsity.Activity, free: sparsity.Activity, kind: str) -> str:
    """Compare the dead units with the same kind of model trained without the penalty."""
    dead, free_dead = int(stats.dead.sum()), int(free.dead.sum())
    on, free_on = stats.active.sum(1).mean(), free.active.sum(1).mean()
    text = (f"Against the same model trained without the penalty: {on:.1f} units on per digit instead of "
            f"{free_on:.1f}, and {dead} dead units instead of {free_dead}.")
    if kind == "relu" and free_dead:
        text += (f" Even without a penalty {free_dead} ReLU units never switch on: a unit whose input is negative "
                 "for every digit gets no gradient, so training cannot bring it back.")
    return text


# Charts are plain Vega-Lite specs (no Altair: building and validating Altair charts took most of a
# slider move's time on the server), their data passed apart, so a slider move that changes only
# the data updates the drawn chart instead of building it again.
def _histogram(measured: dict) -> None:
    st.markdown("**Every activation of every unit**, all held-out digits")
    data = measured["tables"]["histogram"]
    st.vega_lite_chart(data, spec={"height": 240, "mark": {"type": "bar", "color": "#4c78a8"},
                             "encoding": {
                                 "x": {"field": "from", "type": "quantitative", "bin": "binned", "title": "activation"},
                                 "x2": {"field": "to"},
                                 "y": {"field": "count", "type": "quantitative", "title": "how many (log scale)",
                                       "scale": {"type": "symlog"}},
                                 "tooltip": [{"field": "from", "format": ".3g"}, {"field": "to", "format": ".3g"},
                                             {"field": "count"}]}}, width="stretch")


def _units_on(measured: dict) -> None:
    st.markdown("**Units on per digit**, one count per held-out digit")
    data = measured["tables"]["units_on"]
    st.vega_lite_chart(data, spec={"height": 240, "mark": {"type": "bar", "color": "#72b7b2"},
                             "encoding": {
                                 "x": {"field": "on", "type": "quantitative", "title": f"units on (of {UNITS})",
                                       "scale": {"domain": [0, UNITS]}},
                                 "y": {"field": "digits", "type": "quantitative", "title": "digits"},
                                 "tooltip": [{"field": "on"}, {"field": "digits"}]}}, width="stretch")


def _rates(measured: dict, setting: tuple) -> None:
    rho = setting[2]
    st.markdown("**Each unit's mean activation rho-hat**" + (", target rho as a line" if rho else ""))
    bars = {"mark": "bar", "encoding": {
        "x": {"field": "unit", "type": "ordinal", "title": "units, most often on first",
              "axis": {"labels": False, "ticks": False}},
        "y": {"field": "rho_hat", "type": "quantitative", "title": "mean activation"},
        "color": {"field": "dead", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                  "scale": {"domain": ["sometimes on", "never on"], "range": ["#4c78a8", "#bbbbbb"]}}}}
    target = {"data": {"values": [{"rho": rho}]}, "mark": {"type": "rule", "color": "#d6336c", "strokeWidth": 2},
              "encoding": {"y": {"field": "rho", "type": "quantitative"}}}
    st.vega_lite_chart(measured["tables"]["rates"], spec={"height": 240, "layer": [bars, *([target] if rho else [])]},
                       width="stretch")


@st.cache_data(show_spinner=False, max_entries=64)
def _feature_png(path: str) -> str:
    """The feature grid of a model as a PNG data URI, one image pixel per feature pixel (CSS enlarges it)."""
    return labkit.diverging_png_uri(sparsity.feature_grid(_measure(path)["features"], columns=16))


def _features(path: str, stats: sparsity.Activity) -> None:
    st.markdown("**What each unit draws**: the change in the decoded image when that unit alone switches on")
    st.html(f'<img src="{_feature_png(path)}" alt="the {len(stats.dead)} units\' features" '
            'style="width:100%; image-rendering:pixelated; border-radius:4px">')
    dead = int(stats.dead.sum())
    st.caption("Orange adds ink, blue removes it. Ordered from the unit on for the most digits; "
               + (f"the last {dead} never switch on for a held-out digit." if dead
                  else "every unit is on for some digit."))


def _examples(path: str) -> None:
    st.html(_examples_html(path))


@st.cache_data(show_spinner=False, max_entries=64)
def _examples_html(path: str) -> str:
    """Eight held-out digits and the model's reconstructions, as a digit table (once per model)."""
    stats = _measure(path)["stats"]
    pick = np.random.default_rng(0).choice(len(stats.codes), size=8, replace=False)
    images = resources.load_data("mnist5k").val.images[pick]
    recon = decode(resources.load_model(path).model, stats.codes[pick].astype(np.float32))
    on = stats.active[pick].sum(1)
    return labkit.table_html((labkit.Row("Held-out digit", images),
                              labkit.Row("Reconstruction", recon, tuple(f"{n} units on" for n in on))), "sparse", 64)


def _cost_curve(grid: dict, setting: tuple) -> None:
    penalty, current, rho = setting
    family = {k[1]: e for k, e in grid.items() if k[0] == penalty and (k[2] in (rho, None))}
    if len(family) < 2:
        return
    rows = []
    for weight, entry in sorted(family.items()):
        measured = _measure(entry.path)
        rows.append({"weight": f"{weight:g}", "bce": measured["bce"], "on": measured["on"],
                     "current": weight == current})
    st.markdown("**What sparsity costs**, across the weights" + (f" at rho {rho:g}" if rho else "")
                + "; the larger dot is the model shown above")
    order = [r["weight"] for r in rows]
    for column, field, title in zip(st.columns(2), ("bce", "on"),
                                    ("error per digit (nats)", "units on per digit"), strict=True):
        x = {"field": "weight", "type": "ordinal", "sort": order, "title": "sparsity weight lambda",
             "axis": {"labelAngle": 0}}
        y = {"field": field, "type": "quantitative", "title": title, "scale": {"zero": False}}
        line = {"mark": {"type": "line", "point": {"filled": True}},
                "encoding": {"x": x, "y": y, "tooltip": [{"field": "weight"}, {"field": field, "format": ".1f"}]}}
        marker = {"transform": [{"filter": "datum.current"}], "mark": {"type": "point", "size": 220, "filled": True,
                                                                       "color": "#d6336c"},
                  "encoding": {"x": x, "y": y}}
        column.vega_lite_chart(pd.DataFrame(rows), spec={"height": 220, "layer": [line, marker]}, width="stretch")


if __name__ == "__main__":
    render()
