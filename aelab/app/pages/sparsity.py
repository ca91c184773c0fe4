"""The sparsity lab: slide the penalty's weight and target rate, and watch how few code units stay on.

Every slider stop is a shipped one-layer sparse autoencoder with 128 code units; a setting
with no model yet is one click from being trained, and then joins the sliders for the session.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from aelab import i18n, metrics, pretrained
from aelab.app import labkit, labstate, resources, session
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.explore import decode
from aelab.i18n import N_, _
from aelab.labs import sparsity
from aelab.train import TrainConfig

PAGE = Page(N_("Sparsity lab"), ":material/grain:", "sparsity", prefix="sp_", order=40)

UNITS = pretrained.SPARSE_UNITS
PENALTY_NAMES = {"l1": N_("L1 on the code"), "kl": N_("KL to a target rate ρ")}
# One click trains a setting with the shipped recipe but fewer epochs, to answer in seconds.
LAB_TRAINING = TrainConfig(epochs=40, batch_size=64, lr=2e-3, seed=0)
JOB = "sp_job"
WEIGHT_HELP = N_("λ, how much the penalty counts against the reconstruction error; 0 is no penalty, a plain "
                 "autoencoder.")
RHO_HELP = N_("KL penalty only: ρ, the average activation each unit should have over the digits (0.05: on for "
              "about one digit in twenty).")
PARAMS = [
    Param("sp_penalty", "penalty", labstate.choice(tuple(PENALTY_NAMES)), N_("penalty")),
    Param("sp_weight", "weight", labstate.number_in(0, 1000), N_("sparsity weight"), labstate.fmt_number),
    Param("sp_rho", "rho", labstate.number_in(1e-4, 0.9999), N_("target rate ρ"), labstate.fmt_number),
]


def render() -> None:
    st.title(_("Sparsity lab"))
    st.markdown(_(
        "A **sparse autoencoder** (SAE) is free to use many code units ({units} here, far more than the 2 of the "
        "latent maps) but pays a **penalty** for each one it switches on, so each digit ends up described by a "
        "few units out of many. A unit is one number of the code; it is *on* for a digit when its activation "
        "(its value) is above zero (above one half for the sigmoid units of the KL penalty). Slide the penalty's "
        "weight and watch the code go quiet, the units specialise into strokes, and the reconstructions pay the "
        "price.", units=UNITS))
    _formulas()
    from_link = not st.session_state.get("sp_restored")  # this run reads the link
    notices = labstate.restore("sp_", PARAMS)
    saes = [e for e in session.available_models() if e.kind == "sae"]
    for notice in notices + resources.manifest_problems() + labkit.unloadable(saes):
        st.warning(notice)
    labkit.training_status(JOB, on_done=_show_trained)  # first: a run that just finished joins the grid
    try:
        grid = _grid(tuple(session.available_models()))
    except AelabError as exc:
        st.error(_("The models could not be read: {problem}", problem=resources.plain(str(exc), 600)))
        return
    if not grid:
        st.warning(_("No sparse lab models are available. Run `python -m aelab pretrained` to build them."))
        return
    setting = _controls(grid, from_link)
    labstate.publish(PARAMS)
    entry = grid.get(setting)
    if entry is None:
        _missing(setting)
    else:
        _lab(entry, grid, setting)
    _another_setting(grid)


def _formulas() -> None:
    """The two penalties as training computes them on a batch (aelab.models.sae)."""
    left, right = st.columns(2)
    with left:
        st.markdown(_("**L1 penalty**: the sum of the code's absolute values"))
        st.latex(r"\begin{gathered}\mathcal{L} = \frac{1}{B}\sum_{i=1}^{B} \Big[ L\big(x_i, g(z_i)\big)"
                 r" \\ + \lambda \sum_j |z_{ij}| \Big]\end{gathered}")
        st.caption(_("$x_i$ is one of the $B$ digits of a training batch ({batch} for the shipped models), $z_i = "
                     "f(x_i)$ its code, $z_{{ij}}$ the activation of unit $j$ (a ReLU unit: 0 or positive), $g$ the "
                     "decoder, $L$ the reconstruction error (binary cross-entropy summed over the {pixels} pixels) "
                     "and $\\lambda$ the sparsity weight on the slider.", batch=64, pixels=784))
    with right:
        st.markdown(_("**KL penalty**: each unit's average rate pulled toward ρ"))
        st.latex(r"\begin{gathered}\mathcal{L} = \frac{1}{B}\sum_{i=1}^{B} L\big(x_i, g(z_i)\big)"
                 r" \\ + \lambda \sum_j \mathrm{KL}(\rho \,\|\, \hat\rho_j)\end{gathered}")
        st.caption(_("Here the code passes through a sigmoid, so every activation lies between 0 and 1, and the "
                     "penalty is counted once per batch, not per digit: it compares each unit's mean activation "
                     "$\\hat\\rho_j$ over the batch with the target rate $\\rho$."))
    st.latex(r"\begin{gathered}\mathrm{KL}(\rho \,\|\, \hat\rho_j) = \rho \log\frac{\rho}{\hat\rho_j}"
             r" + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}, \\ \hat\rho_j = \frac{1}{B}\sum_{i=1}^{B} z_{ij}"
             r"\end{gathered}")
    st.caption(_("KL is the Kullback-Leibler divergence: 0 when $\\hat\\rho_j = \\rho$, larger the further a unit's "
                 "mean activation strays from the target. With sigmoid units $\\hat\\rho_j$ reads as how often unit "
                 "$j$ fires: $\\rho = 0.05$ asks each unit to be on for about one digit in twenty. The weight "
                 "$\\lambda$ sets how much the penalty counts against the reconstruction error."))


def _show_trained(job) -> None:
    """Move the sliders to the setting just trained."""
    st.session_state.sp_penalty = job.settings["penalty"]
    st.session_state.sp_weight = float(job.settings["sparsity_weight"])
    if "target_rho" in job.settings:
        st.session_state.sp_rho = float(job.settings["target_rho"])


def _another_setting(grid: dict) -> None:
    penalty = st.session_state.sp_penalty
    with st.expander(_("Train another setting ({penalty})", penalty=_(PENALTY_NAMES[penalty]))):
        weight_col, rho_col, button_col = st.columns(3, vertical_alignment="bottom")
        weight = weight_col.number_input(_("Sparsity weight λ"), 0.0, 100.0, 0.5, step=0.05, format="%g",
                                         key="sp_new_weight", help=_(WEIGHT_HELP))
        rho = rho_col.number_input(_("Target rate ρ"), 0.001, 0.999, 0.15, step=0.01, format="%g", key="sp_new_rho",
                                   disabled=penalty != "kl", help=_(RHO_HELP))
        setting = _key(penalty, weight, rho)
        with button_col:
            if setting in grid:
                st.caption(_("Already on the sliders."))
            else:
                _train_button(setting, _("Train it"), "it")


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
    penalty_col.radio(_("Penalty"), list(PENALTY_NAMES), key="sp_penalty", format_func=lambda k: _(PENALTY_NAMES[k]),
                      help=_("L1 adds up the code's absolute values, pushing them to exactly 0 (the heavier the weight, "
                             "the more of them). KL treats each unit as firing with some probability and pulls its "
                             "average rate toward ρ."))
    penalty = state.sp_penalty
    weights = sorted({k[1] for k in grid if k[0] == penalty} | {0.0})
    _snap("sp_weight", weights, 0.1 if 0.1 in weights else weights[len(weights) // 2], from_link)
    weight_col.select_slider(_("Sparsity weight λ"), weights, key="sp_weight", format_func=lambda v: f"{v:g}",
                             help=_(WEIGHT_HELP))
    rhos = sorted({k[2] for k in grid if k[0] == "kl" and k[2] is not None}) or [0.05]
    _snap("sp_rho", rhos, 0.05 if 0.05 in rhos else rhos[0], from_link and penalty == "kl")
    no_rho = penalty != "kl" or state.sp_weight == 0
    rho_col.select_slider(_("Target rate ρ"), rhos, key="sp_rho", format_func=lambda v: f"{v:g}", disabled=no_rho,
                          help=_(RHO_HELP))
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
            st.info(_("No model here has been trained at the link's {value:g}; showing the nearest, {nearest:g}. "
                      "Train that setting under \"Train another setting\" below.", value=value, nearest=nearest))


def _missing(setting: tuple) -> None:
    penalty, weight, rho = setting
    if rho is None:
        st.info(_("No model has been trained at this setting ({penalty}, weight {weight:g}) yet.",
                  penalty=_(PENALTY_NAMES[penalty]), weight=weight))
    else:
        st.info(_("No model has been trained at this setting ({penalty}, weight {weight:g}, ρ = {rho:g}) yet.",
                  penalty=_(PENALTY_NAMES[penalty]), weight=weight, rho=rho))
    _train_button(setting, _("Train this setting"), "setting")


def _train_button(setting: tuple, label: str, key: str) -> None:
    penalty, weight, rho = setting
    settings = {"latent_dim": UNITS, "hidden": [], "penalty": penalty, "sparsity_weight": weight,
                "activation": "relu", **({"target_rho": rho} if rho is not None else {})}
    name = f"my-sae-{UNITS}u-{penalty}-w{weight:g}" + (f"-rho{rho:g}" if rho is not None else "")  # i18n: not shown
    busy = st.session_state.get(JOB) is not None
    st.button(label, key=f"do_sp_train_{key}", disabled=busy, icon=":material/model_training:",
              on_click=labkit.start_training, args=(JOB, "sae", settings, name, LAB_TRAINING),
              help=_("Trains a {units}-unit sparse AE at this setting for {epochs} epochs (passes over the training "
                     "digits; the shipped ones had up to 150), in the background; it then joins the sliders for "
                     "this session.", units=UNITS, epochs=LAB_TRAINING.epochs))


# Shared by every session and read only, never copied: a slider move reads about ten models' figures
# (the shown one, the unpenalised one and the cost curve's), which cache_data would unpickle each time.
@st.cache_resource(show_spinner=resources.Shown(N_("Measuring the code (once per model)...")), max_entries=64)
def _measure(path: str) -> dict:
    """Activity statistics, features and reconstruction cost of one model on every held-out digit, and the
    charts' tables made from them (Arrow tables, so a rerun does not convert them again); no words, so the
    same for every language."""
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
        ("rates", [{"unit": i, "rho_hat": float(stats.rho_hat[j]), "dead": bool(stats.dead[j])}
                   for i, j in enumerate(order)]))}


def _describe(entry: resources.ModelEntry) -> str:
    """What the model is, from its settings: its units, penalty and weight."""
    model = labkit.loaded(entry)
    kind, weight = sparsity.code_kind(model), float(model.sparsity_weight)
    values = {"units": model.latent_dim, "weight": weight, "rho": model.target_rho}
    if weight == 0:
        return (_("sparse AE, {units} sigmoid units, no penalty", **values) if kind == "sigmoid"
                else _("sparse AE, {units} ReLU units, no penalty", **values))
    if model.penalty == "kl":
        return _("sparse AE, {units} sigmoid units, KL penalty of weight {weight:g} toward ρ = {rho:g}", **values)
    return _("sparse AE, {units} ReLU units, L1 penalty of weight {weight:g}", **values)


def _lab(entry: resources.ModelEntry, grid: dict, setting: tuple) -> None:
    measured = _measure(entry.path)
    stats: sparsity.Activity = measured["stats"]
    baseline = grid.get(_key(setting[0], 0.0, 0.0))
    base_bce = _measure(baseline.path)["bce"] if baseline else None
    st.caption(_("Model: **{name}**, {description}. All figures on the {n} held-out digits (kept aside from "
                 "training, so never seen by the model).", name=resources.plain(entry.name),
                 description=_describe(entry), n=len(stats.codes)))
    a, b, c = st.columns(3)
    threshold = 0.0 if measured["kind"] == "relu" else stats.threshold
    a.metric(_("Units on per digit"), _("{on:.1f} of {units}", on=measured["on"], units=UNITS),
             help=_("The average number of units whose activation is above {t:g} for a digit, out of the {units} "
                    "code units; fewer is sparser.", t=threshold, units=UNITS))
    b.metric(_("Dead units"), _("{dead} of {units}", dead=int(stats.dead.sum()), units=UNITS),
             help=_("Units that stay at 0 for every held-out digit: they never contribute to a reconstruction.")
             if measured["kind"] == "relu" else
             _("Units whose activation stays at or below {t:g} for every held-out digit: they never fire.",
               t=threshold))
    cost = None if base_bce is None or setting[1] == 0 else measured["bce"] - base_bce
    c.metric(_("Reconstruction error"), _("{bce:.1f} nats", bce=measured["bce"]),
             delta=None if cost is None else _("{cost:+.1f} vs no penalty", cost=cost), delta_color="inverse",
             help=_("Binary cross-entropy summed over a digit's 784 pixels, averaged over the held-out digits, in "
                    "nats (natural-log units of information); lower is better. The change is against the same "
                    "model trained without the penalty."))
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
    text = _("Against the same model trained without the penalty: {on:.1f} units on per digit instead of "
             "{free_on:.1f}, and {dead} dead units instead of {free_dead}.", on=on, free_on=free_on, dead=dead,
             free_dead=free_dead)
    if kind == "relu" and free_dead:
        text = _("{before} Even without a penalty {free_dead} ReLU units never switch on: a unit whose input is "
                 "negative for every digit outputs 0 and gets no gradient (no signal telling training how to change "
                 "it), so training cannot bring it back.", before=text,
                 free_dead=free_dead)
    return text


# Charts are plain Vega-Lite specs (no Altair: building and validating Altair charts took most of a
# slider move's time on the server), their data passed apart, so a slider move that changes only
# the data updates the drawn chart instead of building it again.
def _histogram(measured: dict) -> None:
    st.markdown(_("**Every activation of every unit**, all held-out digits"))
    data = measured["tables"]["histogram"]
    start, stop, count = _("from"), _("to"), _("how many")
    st.vega_lite_chart(data, spec={"height": 240, "mark": {"type": "bar", "color": "#4c78a8"},
                             "encoding": {
                                 "x": {"field": "from", "type": "quantitative", "bin": "binned",
                                       "title": _("activation")},
                                 "x2": {"field": "to"},
                                 "y": {"field": "count", "type": "quantitative", "title": _("how many (log scale)"),
                                       "scale": {"type": "symlog"}},
                                 "tooltip": [{"field": "from", "title": start, "format": ".3g"},
                                             {"field": "to", "title": stop, "format": ".3g"},
                                             {"field": "count", "title": count}]}}, width="stretch")
    st.caption(_("How many activations (one per unit and digit) fall in each range; the height grows on a log "
                 "scale. A tall bar near 0 means most units are quiet for most digits."))


def _units_on(measured: dict) -> None:
    st.markdown(_("**Units on per digit**, one count per held-out digit"))
    data = measured["tables"]["units_on"]
    on, digits = _("units on (of {units})", units=UNITS), _("digits")
    st.vega_lite_chart(data, spec={"height": 240, "mark": {"type": "bar", "color": "#72b7b2"},
                             "encoding": {
                                 "x": {"field": "on", "type": "quantitative", "title": on,
                                       "scale": {"domain": [0, UNITS]}},
                                 "y": {"field": "digits", "type": "quantitative", "title": digits},
                                 "tooltip": [{"field": "on", "title": on}, {"field": "digits", "title": digits}]}},
                       width="stretch")


def _rates(measured: dict, setting: tuple) -> None:
    rho = setting[2]
    st.markdown(_("**Each unit's mean activation** $\\hat\\rho_j$ over the held-out digits, the target $\\rho$ "
                  "as a line") if rho else _("**Each unit's mean activation** $\\hat\\rho_j$ over the held-out digits"))
    some, never = _("sometimes on"), _("never on")
    label = f"datum.dead ? {json.dumps(never)} : {json.dumps(some)}"  # i18n: not shown (an expression)
    status = {"calculate": label, "as": "status"}
    bars = {"mark": "bar", "transform": [status], "encoding": {
        "x": {"field": "unit", "type": "ordinal", "title": _("units, most often on first"),
              "axis": {"labels": False, "ticks": False}},
        "y": {"field": "rho_hat", "type": "quantitative", "title": _("mean activation")},
        "color": {"field": "status", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                  "scale": {"domain": [some, never], "range": ["#4c78a8", "#bbbbbb"]}}}}
    target = {"data": {"values": [{"rho": rho}]}, "mark": {"type": "rule", "color": "#d6336c", "strokeWidth": 2},
              "encoding": {"y": {"field": "rho", "type": "quantitative"}}}
    st.vega_lite_chart(measured["tables"]["rates"], spec={"height": 240, "layer": [bars, *([target] if rho else [])]},
                       width="stretch")


@st.cache_data(show_spinner=False, max_entries=64)
def _feature_png(path: str) -> str:
    """The feature grid of a model as a PNG data URI, one image pixel per feature pixel (CSS enlarges it)."""
    return labkit.diverging_png_uri(sparsity.feature_grid(_measure(path)["features"], columns=16))


def _features(path: str, stats: sparsity.Activity) -> None:
    st.markdown(_("**What each unit draws**: the change in the decoded image when that unit alone switches on"))
    alt = html.escape(_("the {n} units' features", n=len(stats.dead)), quote=True)
    st.html(f'<img src="{_feature_png(path)}" alt="{alt}" '  # i18n: not shown (HTML)
            'style="width:100%; image-rendering:pixelated; border-radius:4px">')  # i18n: not shown (CSS)
    dead = int(stats.dead.sum())
    st.caption(_("Orange adds ink, blue removes it. Ordered from the unit on for the most digits; the last {dead} "
                 "never switch on for a held-out digit.", dead=dead) if dead else
               _("Orange adds ink, blue removes it. Ordered from the unit on for the most digits; every unit is on "
                 "for some digit."))


def _examples(path: str) -> None:
    st.html(_examples_html(path, i18n.language()))


@st.cache_data(show_spinner=False, max_entries=64)
def _examples_html(path: str, lang: str) -> str:
    """Eight held-out digits and the model's reconstructions, as a digit table (once per model and language)."""
    stats = _measure(path)["stats"]
    pick = np.random.default_rng(0).choice(len(stats.codes), size=8, replace=False)
    images = resources.load_data("mnist5k").val.images[pick]
    recon = decode(resources.load_model(path).model, stats.codes[pick].astype(np.float32))
    on = stats.active[pick].sum(1)
    units_on = i18n.translate(N_("{n} units on"), lang)
    return labkit.table_html((labkit.Row(i18n.translate(N_("Held-out digit"), lang), images),
                              labkit.Row(i18n.translate(N_("Reconstruction"), lang), recon,
                                         tuple(units_on.format(n=n) for n in on))), "sparse", 64)


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
    st.markdown(_("**What sparsity costs**, across the weights at ρ = {rho:g}; the larger dot is the model shown "
                  "above", rho=rho) if rho else
                _("**What sparsity costs**, across the weights; the larger dot is the model shown above"))
    order = [r["weight"] for r in rows]
    weight_title = _("sparsity weight λ")
    for column, field, title in zip(st.columns(2), ("bce", "on"),
                                    (_("error per digit (nats)"), _("units on per digit")), strict=True):
        x = {"field": "weight", "type": "ordinal", "sort": order, "title": weight_title, "axis": {"labelAngle": 0}}
        y = {"field": field, "type": "quantitative", "title": title, "scale": {"zero": False}}
        line = {"mark": {"type": "line", "point": {"filled": True}},
                "encoding": {"x": x, "y": y, "tooltip": [{"field": "weight", "title": weight_title},
                                                         {"field": field, "title": title, "format": ".1f"}]}}
        current = {"filter": "datum.current"}  # i18n: not shown (an expression)
        marker = {"transform": [current], "mark": {"type": "point", "size": 220, "filled": True, "color": "#d6336c"},
                  "encoding": {"x": x, "y": y}}
        column.vega_lite_chart(pd.DataFrame(rows), spec={"height": 220, "layer": [line, marker]}, width="stretch")
    st.caption(_("Left: the reconstruction error in nats per digit (lower is better). Right: how many of the "
                 "{units} units are on for a digit, on average. Compare the two to see what a "
                 "sparser code costs.", units=UNITS))

if __name__ == "__main__":
    render()
