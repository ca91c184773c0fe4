"""The identity trap: does an autoencoder with a code as large as its input learn to copy anything?

Shipped one-layer AEs from 16 to 1024 code units, and a DAE and an SAE with 1024, are handed
images that are not digits. Every sentence on the page is computed from those models over 500
images per probe set, with paired bootstrap intervals wherever two models are compared.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aelab import pretrained
from aelab.app import labkit, labstate, resources
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.explore import reconstruct
from aelab.labs import identity
from aelab.metrics import mse_per_image

PAGE = Page("Identity trap", ":material/content_copy:", "identity", prefix="id_", order=35)

UNITS = pretrained.IDENTITY_UNITS
PIXELS = 784
SPAN_K = 256  # the digits' principal directions a probe image is measured along
N_IMAGES = 8
# What the page calls a share R^2 of a set's variance reproduced, from the least share that earns the words.
PARTLY = 0.5  # from this share on, a set is copied at least in part
WORDS = ((0.95, "copies {}"), (0.8, "copies most of {}"), (PARTLY, "copies {} in part"), (0.0, "barely copies {}"),
         (-float("inf"), "does not copy {}"))
PARAMS = [
    Param("id_probe", "inputs", labstate.choice(tuple(identity.PROBES)), "probe set"),
    Param("id_units", "units", lambda text: next((u for u in UNITS if str(u) == text), None), "code size"),
    Param("id_draw", "draw", labstate.number_in(0, 10**6, integer=True), "image draw"),
]


def render() -> None:
    st.title("The identity trap")
    st.markdown(
        "An autoencoder squeezes each 28x28 digit (784 pixels) through a code of d numbers and rebuilds it. With "
        "d below 784 it is **undercomplete**: it must compress, so it has to learn what digits have in common. "
        "With d of 784 or more it is **overcomplete**, and nothing in its loss stops it from learning the "
        "identity, g(f(x)) = x: a perfect score that has learned nothing about digits, since it would copy "
        f"anything. Does it? Below, one-layer autoencoders (a linear code, one layer each way) with {UNITS[0]} to "
        f"{UNITS[-1]} code units, all trained on the same {len(resources.load_data('mnist5k').train):,} digits from "
        f"the same seed, are shown images that are not digits. A denoising AE (DAE) and a sparse AE (SAE) with "
        f"{UNITS[-1]} units show what a regularizer changes.")
    st.latex(r"f(x) = W x + b,\quad g(z) = \sigma(V z + c),\quad z \in \mathbb{R}^{d};\qquad "
             r"d \ge 784 \;\Rightarrow\; V W \approx I \text{ is within reach}")
    st.caption("The sigmoid sigma keeps the output's pixels between 0 and 1, so a copy can come close but is never "
               "exact.")
    notices = labstate.restore("id_", PARAMS)
    try:
        shipped = tuple(resources.shipped_models())
    except AelabError as exc:
        st.error(f"The models could not be read: {resources.plain(str(exc), 600)}")
        return
    ours = [e for e in shipped if e.name in {r.name for r in pretrained.IDENTITY_RECIPES}]
    for notice in notices + resources.manifest_problems() + labkit.unloadable(ours):
        st.warning(notice)
    family = _family(shipped)
    if len(family["aes"]) < 2:
        st.warning("The identity-trap models are not built. Run `python -m aelab pretrained` to build them.")
        return
    _controls(family)
    labstate.publish(PARAMS)
    figures = _figures(tuple((name, e.path) for name, e in _named(family).items()))
    _images(family)
    _findings(family, figures)
    _chart(family, figures)
    _table(family, figures)


def _family(shipped: tuple[resources.ModelEntry, ...]) -> dict:
    """The shipped identity-trap models that load: plain AEs by code size, the DAE and the SAE."""
    by_name = {e.name: e for e in shipped if labkit.loaded(e) is not None}
    recipes = [r for r in pretrained.IDENTITY_RECIPES if r.name in by_name]
    return {"aes": {r.model["latent_dim"]: by_name[r.name] for r in recipes if r.kind == "ae"},
            "others": {r.kind: by_name[r.name] for r in recipes if r.kind != "ae"}}


def _named(family: dict) -> dict[str, resources.ModelEntry]:
    return {e.name: e for e in (*family["aes"].values(), *family["others"].values())}


def _label(entry: resources.ModelEntry) -> str:
    return f"{entry.kind.upper()}, {entry.latent_dim} units"


def _controls(family: dict) -> None:
    state, sizes = st.session_state, list(family["aes"])
    if state.get("id_units") not in sizes:
        if "id_units" in state:
            st.warning(f"No AE with {state.id_units} code units is built; showing {sizes[-1]}.")
        state.id_units = sizes[-1]
    st.radio("Probe set", list(identity.PROBES), key="id_probe", horizontal=True,
                    format_func=lambda p: identity.PROBES[p].title,
                    help="\n".join(f"- **{p.title}**: {p.what}." for p in identity.PROBES.values()))
    size_col, draw_col = st.columns([3, 1], vertical_alignment="bottom")
    size_col.select_slider("Plain AE's code size", sizes, key="id_units", format_func=lambda u: f"{u} units",
                           help=f"Below {PIXELS} units the AE must compress; from {PIXELS} on it could copy.")
    draw_col.button("New images", key="do_id_redraw", icon=":material/refresh:", on_click=_redraw,
                    help="Show other images of the probe set.")


def _redraw() -> None:
    st.session_state.id_draw = int(st.session_state.get("id_draw", 0)) + 1


def _images(family: dict) -> None:
    probe, seed = st.session_state.id_probe, int(st.session_state.get("id_draw", 0))
    entries = [family["aes"][st.session_state.id_units], *family["others"].values()]
    st.html(_images_html(probe, seed, tuple((_label(e), e.name, e.path) for e in entries)))
    st.caption("Under each reconstruction: its squared error per pixel against the input (0 is an exact copy; "
               "pixels run from 0 to 1).")


@st.cache_data(show_spinner=False, max_entries=256)
def _images_html(probe: str, seed: int, models: tuple[tuple[str, str, str], ...]) -> str:
    """The probe images and each model's copy (models as (label, name, path)), as a digit table: computed once
    per probe set, draw and models, so a slider move back to a seen stop costs no forward pass or PNG."""
    splits = resources.load_data("mnist5k")
    images = identity.probe_images(probe, splits.train.images, splits.val.images, N_IMAGES, seed)
    rows = [labkit.Row("Input", images, note=identity.PROBES[probe].title)]
    for label, name, path in models:
        recon = reconstruct(resources.load_model(path).model, images)
        rows.append(labkit.Row(label, recon, tuple(f"{e:.4f}" for e in mse_per_image(images, recon)), name))
    return labkit.table_html(tuple(rows), "identity", 64)


@st.cache_data(show_spinner="Measuring every model on every probe set (once)...")
def _figures(paths: tuple[tuple[str, str], ...]) -> dict:
    """Per-image errors of each model on each probe set, and what explains them."""
    splits = resources.load_data("mnist5k")
    loaded = {name: resources.load_model(path) for name, path in paths}
    models = {name: found.model for name, found in loaded.items()}
    directions = identity.digit_directions(splits.train.images, SPAN_K)
    mask = identity.ink_mask(splits.train.images)
    probes = {}
    for name in identity.PROBES:
        images = identity.probe_images(name, splits.train.images, splits.val.images)
        errors = identity.errors(models, images)
        probes[name] = {"errors": errors, "span": float(identity.span_share(images, directions).mean()),
                        "copied": {model: identity.copied_share(images, e) for model, e in errors.items()},
                        "summary": {model: identity.summary(e) for model, e in errors.items()}}
    return {"probes": probes, "variance_share": directions.variance_share, "lit": int(mask.sum()),
            "weights": {name: identity.weight_rms(model, mask) for name, model in models.items()},
            "unmoved": {name: identity.unmoved_share(c.model, _initial(c), mask) for name, c in loaded.items()},
            "init": identity.initial_weight_rms(mask.size), "n": len(splits.val.images)}


def _initial(found):
    """The model as its training started: rebuilt from its seed (the training seed in its config.json)."""
    return identity.initial_model(found.model, int(found.info.get("training", {}).get("seed", 0)))


def copied(figures: dict, probe: str, name: str) -> float:
    """The share of the probe set's variance that model ``name`` reproduces (see identity.copied_share)."""
    return figures["probes"][probe]["copied"][name]


def copy_words(share: float, what: str = "them") -> str:
    """What the page says for a share of a set's variance reproduced (R^2): thresholds in WORDS, highest first."""
    return next(words for least, words in WORDS if share >= least).format(what)


def _findings(family: dict, figures: dict) -> None:
    probe = st.session_state.id_probe
    st.subheader(f"Measured on {figures['n']} images of {identity.PROBES[probe].title}")
    st.latex(r"\mathrm{err}(x) = \frac{1}{784}\sum_{p=1}^{784} (x_p - \hat x_p)^2,\qquad "
             r"R^2 = 1 - \frac{\sum_i \lVert x_i - \hat x_i \rVert^2}{\sum_i \lVert x_i - \bar x \rVert^2}")
    st.caption("err: an image's squared error per pixel; R^2: the share of the set's variance the reconstructions "
               "reproduce (1: exact copies; 0: no better than answering the set's mean image x-bar for every input; "
               "below 0: worse than that). Intervals are 95% paired bootstrap intervals over the images; a "
               "difference whose interval holds 0 is called a tie.")
    st.markdown(probe_sentences(family, figures, probe))
    st.markdown(overall_sentences(family, figures))


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.3f}"


def _versus(c: identity.Comparison) -> str:
    """Two mean errors and their paired difference with its interval, in parentheses."""
    return (f"({_num(c.mean_a)} against {_num(c.mean_b)}; difference {c.mean_a - c.mean_b:+.2g}, 95% interval "
            f"{c.low:+.2g} to {c.high:+.2g})")


def probe_sentences(family: dict, figures: dict, probe: str) -> str:
    """What the page says about one probe set: the AE's curve, its copying, and the DAE's and SAE's."""
    errors, aes = figures["probes"][probe]["errors"], family["aes"]
    small, large = aes[min(aes)], aes[max(aes)]
    grow = identity.compare(errors[large.name], errors[small.name])
    way = {-1: f"falls {1 / grow.ratio:.1f}-fold", 1: "rises", 0: "stays the same within noise"}[grow.verdict]
    lines = [f"- With {large.latent_dim} code units instead of {small.latent_dim}, the plain AE's error {way} "
             f"{_versus(grow)}."]
    under = [u for u in aes if u < PIXELS]
    if under and max(aes) >= PIXELS:
        best = aes[max(under)]
        past = identity.compare(errors[large.name], errors[best.name])
        said = {0: "ties with", -1: "beats", 1: "does worse than"}[past.verdict]
        lines.append(f"- Past the {PIXELS} pixels: the {large.latent_dim}-unit AE {said} the {best.latent_dim}-unit "
                     f"one {_versus(past)}.")
    share = copied(figures, probe, large.name)
    lines.append(f"- The {large.latent_dim}-unit AE's R^2 on this set is {share:.2f}: it "
                 f"**{copy_words(share, identity.PROBES[probe].title)}**"
                 + (" (below 0: its reconstructions are farther from the inputs than the set's mean image is)."
                    if share < 0 else "."))
    for kind, entry in family["others"].items():
        vs = identity.compare(errors[entry.name], errors[large.name])
        said = {1: f"reconstructs them worse, {vs.ratio:.1f} times the AE's error", -1: "reconstructs them better "
                "than the AE", 0: "ties with the AE"}[vs.verdict]
        lines.append(f"- The {kind.upper()} with the same {entry.latent_dim} units {said} {_versus(vs)}.")
    return "\n".join(lines)


def overall_sentences(family: dict, figures: dict) -> str:
    """Which sets the largest AE copies and which it does not, why, and what the DAE and SAE change."""
    large = family["aes"][max(family["aes"])]
    return "\n\n".join([_copying(figures, large), _beside(figures, large, family["others"])]) + (
        f"\n\nThe plainest case: {PIXELS - figures['lit']} of the {PIXELS} pixels are black in every training digit. "
        f"Their input is 0 at every step, so the gradient of the encoder's weights from them is 0 and training never "
        f"moves them: " + _border(family, figures, large))


def _copying(figures: dict, large: resources.ModelEntry) -> str:
    """Which sets the AE copies, grouped by the page's words, and whether the digits' directions tell them apart."""
    probes = figures["probes"]
    shares = {name: copied(figures, name, large.name) for name in probes}
    groups = [(words, [n for n in probes if copy_words(shares[n]) == words.format("them")]) for _, words in WORDS]
    told = "; ".join("it " + words.format(_names([f"{identity.PROBES[n].title} (R^2 {shares[n]:.2f})"
                                                  for n in names])) for words, names in groups if names)
    every = all(v >= WORDS[0][0] for v in shares.values())
    text = (f"**Across the probe sets**, the {large.latent_dim}-unit AE: {told}. "
            + ("It copies every one: it has learned the identity." if every else "So it has not learned the identity."))
    kept = [probes[n]["span"] for n in probes if shares[n] >= PARTLY]
    lost = [probes[n]["span"] for n in probes if shares[n] < 0]
    if kept and lost and min(kept) > max(lost):  # said only where the digits' directions separate the two
        spans = ", ".join(f"{identity.PROBES[n].title} {probes[n]['span']:.0%}" for n in probes)
        text += (f" What it copies lies along the directions in which the training digits vary: the {SPAN_K} leading "
                 f"ones hold {figures['variance_share']:.0%} of the digits' variance, and of each set's images (their "
                 f"difference from the mean digit) they hold {spans}. Along those directions the AE was trained to "
                 "pass an image through; along the others it hardly ever was.")
    return text


def _beside(figures: dict, large: resources.ModelEntry, others: dict) -> str:
    """Where each regularized model reconstructs the non-digit sets better than the AE, as well, or worse, and
    which of them copies less of every set the AE copies at least in part."""
    sets = [name for name in figures["probes"] if name != "digits"]
    copied_sets = [n for n in sets if copied(figures, n, large.name) >= PARTLY]
    told, less = [], []
    for kind, entry in others.items():
        said: dict[int, list[str]] = {-1: [], 0: [], 1: []}
        for name in sets:
            errors = figures["probes"][name]["errors"]
            said[identity.compare(errors[entry.name], errors[large.name]).verdict].append(name)
        told.append(f"the {kind.upper()} does " + _names([f"{words} on {_names(_titles(said[v]))}" for v, words in (
            (1, "worse"), (0, "as well, within noise,"), (-1, "better")) if said[v]]))
        less += [kind.upper()] if copied_sets and set(copied_sets) <= set(said[1]) else []
    if not told:
        return ""
    text = f"Beside it, on the sets that are not digits, {'; '.join(told)}."
    if copied_sets:
        rest = [k.upper() for k in others if k.upper() not in less]
        text += (f" So {'the ' + _names(less) if less else 'neither'} copies less of what the AE copies "
                 f"({_names(_titles(copied_sets))})" + (f"; the {_names(rest)} does not." if less and rest else "."))
    return text


def _titles(names: list[str]) -> list[str]:
    return [identity.PROBES[n].title for n in names]


def _border(family: dict, figures: dict, large: resources.ModelEntry) -> str:
    """What training did to the encoder's weights from the never-lit pixels, model by model."""
    ink, border = figures["weights"][large.name]
    unmoved = {e.kind.upper(): figures["unmoved"][e.name] for e in (large, *family["others"].values())}
    kept = [kind for kind, share in unmoved.items() if share == 1.0]
    moved = {kind: share for kind, share in unmoved.items() if share is not None and share < 1.0}
    text = (f"in the {_names(kept)} with {large.latent_dim} units they are, bit for bit, the random values the "
            f"weights started from " if kept else "")
    text += (f"(in the AE their root mean square is {border:.4f}, a fresh layer's 1/sqrt(3 x 784) = "
             f"{figures['init']:.4f}, while the weights from inked pixels grew to {ink:.4f}).")
    for kind, share in moved.items():
        text += (f" The {kind}'s training {'noise lights those pixels too' if kind == 'DAE' else 'moved them'}: "
                 f"{1 - share:.0%} of its weights from them changed.")
    return text


def _names(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _chart(family: dict, figures: dict) -> None:
    st.markdown(f"**Reconstruction error against code size**, {figures['n']} images per probe set (the dashed line: "
                f"the {PIXELS}-pixel input; hollow marks: the DAE and SAE at {max(family['aes'])} units)")
    records = [found["summary"][e.name] | {"units": e.latent_dim, "set": identity.PROBES[probe].title,
                                           "model": e.kind.upper()}
               for probe, found in figures["probes"].items() for e in _named(family).values()]
    colour = {"field": "set", "type": "nominal", "title": None, "legend": {"orient": "bottom", "columns": 5},
              "scale": {"domain": [p.title for p in identity.PROBES.values()]}}
    x = {"field": "units", "type": "quantitative", "title": "code units (log scale)",
         "scale": {"type": "log", "domain": [min(family["aes"]) * 0.8, max(family["aes"]) * 1.25], "nice": False},
         "axis": {"values": list(family["aes"]), "format": "d", "labelOverlap": False}}
    y = {"field": "error", "type": "quantitative", "title": "error per pixel (log scale)",
         "scale": {"type": "log"}}
    tip = [{"field": f} for f in ("set", "model", "units")] + [
        {"field": f, "format": ".4f"} for f in ("error", "low", "high")]
    layers = [
        {"transform": [{"filter": "datum.model == 'AE'"}], "mark": {"type": "line", "point": True},
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tip}},
        {"transform": [{"filter": "datum.model != 'AE'"}], "mark": {"type": "point", "size": 90, "strokeWidth": 2},
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tip,
                      "shape": {"field": "model", "type": "nominal", "title": None, "legend": {"orient": "right"}}}},
        {"data": {"values": [{"units": PIXELS}]}, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#444"},
         "encoding": {"x": {"field": "units", "type": "quantitative"}}},
    ]
    st.vega_lite_chart(pd.DataFrame(records), spec={"height": 340, "layer": layers}, width="stretch")


def _table(family: dict, figures: dict) -> None:
    entries = list(_named(family).values())
    table = {identity.PROBES[probe].title: [_interval(found["summary"][e.name]) for e in entries]
             for probe, found in figures["probes"].items()}
    with st.expander("Every figure: mean error per pixel [95% interval] of each model on each probe set"):
        st.table(pd.DataFrame(table, index=[_label(e) for e in entries]))


def _interval(row: dict) -> str:
    return f"{row['error']:.4f} [{row['low']:.4f}, {row['high']:.4f}]"


if __name__ == "__main__":
    render()
