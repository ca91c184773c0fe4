"""The identity trap: does an autoencoder with a code as large as its input learn to copy anything?

Shipped one-layer AEs from 16 to 1024 code units, and a DAE and an SAE with 1024, are handed
images that are not digits. Every sentence on the page is computed from those models over 500
images per probe set, with paired bootstrap intervals wherever two models are compared.
"""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from aelab import i18n, pretrained
from aelab.app import labkit, labstate, resources
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.explore import reconstruct
from aelab.i18n import N_, _
from aelab.labs import identity
from aelab.metrics import mse_per_image

PAGE = Page(N_("Identity trap"), ":material/content_copy:", "identity", prefix="id_", order=35)

UNITS = pretrained.IDENTITY_UNITS
PIXELS = 784
SPAN_K = 256  # the digits' principal directions a probe image is measured along
N_IMAGES = 8
# What the page calls a share R^2 of a set's variance reproduced, from the least share that earns the words.
PARTLY = 0.5  # from this share on, a set is copied at least in part
WORDS = ((0.95, N_("copies {what}")), (0.8, N_("copies most of {what}")), (PARTLY, N_("copies {what} in part")),
         (0.0, N_("barely copies {what}")), (-float("inf"), N_("does not copy {what}")))
MODEL_FORMULA = (r"\begin{gathered}f(x) = W_e\, x + b_e,\qquad g(z) = \sigma(W_d\, z + b_d),"
                 r"\\ z \in \mathbb{R}^{d},\ x \in [0, 1]^{784}\end{gathered}")
TRAP_FORMULA = (r"\begin{gathered}\hat x = W_d W_e\, x,\qquad W_d W_e = I \;\Rightarrow\; \hat x = x\ \ \forall x,"
                r"\\ \operatorname{rank}(W_d W_e) \le d,\quad W_d W_e = I \;\Rightarrow\; d \ge 784\end{gathered}")
PARAMS = [
    Param("id_probe", "inputs", labstate.choice(tuple(identity.PROBES)), N_("probe set")),
    Param("id_units", "units", lambda text: next((u for u in UNITS if str(u) == text), None), N_("code size")),
    Param("id_draw", "draw", labstate.number_in(0, 10**6, integer=True), N_("image draw")),
]


def render() -> None:
    st.title(_("The identity trap"))
    st.markdown(_(
        "An autoencoder squeezes each 28x28 digit (784 pixels) through a code of d numbers and rebuilds it. With d "
        "below 784 it is **undercomplete**: it must compress, so it has to learn what digits have in common. With d "
        "of 784 or more it is **overcomplete**, and nothing in its loss stops it from learning the identity, "
        "g(f(x)) = x: a perfect score that has learned nothing about digits, since it would copy anything. Does it? "
        "Below, one-layer autoencoders (a linear code, one layer each way) with {low} to {high} code units, all "
        "trained on the same {n:,} digits from the same seed, are shown images that are not digits. A denoising AE "
        "(DAE) and a sparse AE (SAE) with {high} units show what a regularizer (an extra term or noise in training "
        "that discourages copying) changes.", low=UNITS[0], high=UNITS[-1],
        n=len(resources.load_data("mnist5k").train)))
    _formulas()
    notices = labstate.restore("id_", PARAMS)
    try:
        shipped = tuple(resources.shipped_models())
    except AelabError as exc:
        st.error(_("The models could not be read: {why}", why=resources.plain(str(exc), 600)))
        return
    ours = [e for e in shipped if e.name in {r.name for r in pretrained.IDENTITY_RECIPES}]
    for notice in notices + resources.manifest_problems() + labkit.unloadable(ours):
        st.warning(notice)
    family = _family(shipped)
    if len(family["aes"]) < 2:
        st.warning(_("The identity-trap models are not built. Run `python -m aelab pretrained` to build them."))
        return
    _controls(family)
    labstate.publish(PARAMS)
    with st.spinner(_("Measuring every model on every probe set (once)...")):
        figures = _figures(tuple((name, e.path) for name, e in _named(family).items()))
    _images(family)
    _findings(family, figures)
    _chart(family, figures)
    _table(family, figures)


def _formulas() -> None:
    """The models' two layers, and why an overcomplete linear AE can copy anything."""
    st.latex(MODEL_FORMULA)
    st.caption(_("The encoder f multiplies the image x (784 pixels) by a d x 784 matrix W_e and adds b_e: that is the "
                 "code z of d numbers. The decoder g multiplies z by a 784 x d matrix W_d, adds b_d and passes each "
                 "pixel through the sigmoid sigma, which keeps it between 0 and 1, so a copy can come close but is "
                 "never exact."))
    st.latex(TRAP_FORMULA)
    st.caption(_("Leave out the biases and the sigmoid and the reconstruction is x-hat = W_d W_e x. If the decoder's "
                 "matrix undoes the encoder's, W_d W_e = I (the identity matrix), every image comes back unchanged, a "
                 "digit or not. The product of the two matrices has rank at most d (it cannot pass on more than d "
                 "independent directions), so it can be I only when d is at least 784: an undercomplete AE cannot "
                 "copy everything, an overcomplete one could."))


def _family(shipped: tuple[resources.ModelEntry, ...]) -> dict:
    """The shipped identity-trap models that load: plain AEs by code size, the DAE and the SAE."""
    by_name = {e.name: e for e in shipped if labkit.loaded(e) is not None}
    recipes = [r for r in pretrained.IDENTITY_RECIPES if r.name in by_name]
    return {"aes": {r.model["latent_dim"]: by_name[r.name] for r in recipes if r.kind == "ae"},
            "others": {r.kind: by_name[r.name] for r in recipes if r.kind != "ae"}}


def _named(family: dict) -> dict[str, resources.ModelEntry]:
    return {e.name: e for e in (*family["aes"].values(), *family["others"].values())}


def _label(entry: resources.ModelEntry) -> str:
    return _("{kind}, {units} units", kind=entry.kind.upper(), units=entry.latent_dim)


def _title(probe: str) -> str:
    return _(identity.PROBES[probe].title)


def _controls(family: dict) -> None:
    state, sizes = st.session_state, list(family["aes"])
    if state.get("id_units") not in sizes:
        if "id_units" in state:
            st.warning(_("No AE with {units} code units is built; showing {shown}.", units=state.id_units,
                         shown=sizes[-1]))
        state.id_units = sizes[-1]
    st.radio(_("Probe set"), list(identity.PROBES), key="id_probe", horizontal=True, format_func=_title,
             help="\n".join("- " + _("**{title}**: {what}.", title=_(p.title), what=_(p.what))
                            for p in identity.PROBES.values()))
    size_col, draw_col = st.columns([3, 1], vertical_alignment="bottom")
    size_col.select_slider(_("Plain AE's code size"), sizes, key="id_units", format_func=lambda u: _("{n} units", n=u),
                           help=_("The number d of code units, the numbers the image is squeezed into. Below "
                                  "{pixels} units the AE must compress; from {pixels} on it could copy.",
                                  pixels=PIXELS))
    draw_col.button(_("New images"), key="do_id_redraw", icon=":material/refresh:", on_click=_redraw,
                    help=_("Show other images of the probe set."))


def _redraw() -> None:
    st.session_state.id_draw = int(st.session_state.get("id_draw", 0)) + 1


def _images(family: dict) -> None:
    probe, seed = st.session_state.id_probe, int(st.session_state.get("id_draw", 0))
    entries = [family["aes"][st.session_state.id_units], *family["others"].values()]
    models = tuple((_label(e), e.name, e.path) for e in entries)
    st.html(_images_html(probe, seed, models, i18n.language()))
    st.caption(_("Under each reconstruction: its squared error per pixel against the input (0 is an exact copy; "
                 "pixels run from 0 to 1, so the error is in squared pixel values)."))


@st.cache_data(show_spinner=False, max_entries=256)
def _images_html(probe: str, seed: int, models: tuple[tuple[str, str, str], ...], lang: str) -> str:
    """The probe images and each model's copy (models as (label, name, path)), as a digit table: computed once
    per probe set, draw, models and language, so a slider move back to a seen stop costs no forward pass or PNG."""
    splits = resources.load_data("mnist5k")
    images = identity.probe_images(probe, splits.train.images, splits.val.images, N_IMAGES, seed)
    rows = [labkit.Row(_("Input"), images, note=_title(probe))]
    for label, name, path in models:
        recon = reconstruct(resources.load_model(path).model, images)
        rows.append(labkit.Row(label, recon, tuple(f"{e:.4f}" for e in mse_per_image(images, recon)), name))
    return labkit.table_html(tuple(rows), "identity", 64)


@st.cache_data(show_spinner=False)
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


def _level(share: float) -> int:
    """Which of WORDS a share of a set's variance reproduced (R^2) earns: thresholds highest first."""
    return next(i for i, (least, _words) in enumerate(WORDS) if share >= least)


def copy_words(share: float, what: str) -> str:
    """What the page says for a share of a set's variance reproduced (R^2), of the images ``what``."""
    return _(WORDS[_level(share)][1], what=what)


def _findings(family: dict, figures: dict) -> None:
    probe = st.session_state.id_probe
    st.subheader(_("Measured on {n} images of {title}", n=figures["n"], title=_title(probe)))
    st.latex(r"\begin{gathered}\mathrm{err}(x) = \frac{1}{784}\sum_{p=1}^{784} (x_p - \hat x_p)^2,"
             r"\\ R^2 = 1 - \frac{\sum_i \lVert x_i - \hat x_i \rVert^2}{\sum_i \lVert x_i - \bar x \rVert^2}"
             r"\end{gathered}")
    st.caption(_("err: an image's squared error per pixel, in squared pixel values; R^2: the share of the set's "
                 "variance the reconstructions reproduce (1: exact copies; 0: no better than answering the set's mean "
                 "image x-bar for every input; below 0: worse than that). Intervals are 95% paired bootstrap "
                 "intervals: the images drawn again at random, the same draws for both models, and the middle 95% of "
                 "the differences kept; a difference whose interval holds 0 is called a tie."))
    st.markdown(probe_sentences(family, figures, probe))
    st.markdown(overall_sentences(family, figures))


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.3f}"


def _versus(c: identity.Comparison) -> str:
    """Two mean errors and their paired difference with its interval, in parentheses."""
    return _("({a} against {b}; difference {d:+.2g}, 95% interval {low:+.2g} to {high:+.2g})", a=_num(c.mean_a),
             b=_num(c.mean_b), d=c.mean_a - c.mean_b, low=c.low, high=c.high)


GROW = {-1: N_("- With {large} code units instead of {small}, the plain AE's error falls {fold:.1f}-fold {versus}."),
        1: N_("- With {large} code units instead of {small}, the plain AE's error rises {versus}."),
        0: N_("- With {large} code units instead of {small}, the plain AE's error stays the same within noise "
              "{versus}.")}
PAST = {0: N_("- Past the {pixels} pixels: the {large}-unit AE ties with the {best}-unit one {versus}."),
        -1: N_("- Past the {pixels} pixels: the {large}-unit AE beats the {best}-unit one {versus}."),
        1: N_("- Past the {pixels} pixels: the {large}-unit AE does worse than the {best}-unit one {versus}.")}
OTHER = {1: N_("- The {kind} with the same {units} units reconstructs them worse, {ratio:.1f} times the AE's error "
               "{versus}."),
         -1: N_("- The {kind} with the same {units} units reconstructs them better than the AE {versus}."),
         0: N_("- The {kind} with the same {units} units ties with the AE {versus}.")}


def probe_sentences(family: dict, figures: dict, probe: str) -> str:
    """What the page says about one probe set: the AE's curve, its copying, and the DAE's and SAE's."""
    errors, aes = figures["probes"][probe]["errors"], family["aes"]
    small, large = aes[min(aes)], aes[max(aes)]
    grow = identity.compare(errors[large.name], errors[small.name])
    lines = [_(GROW[grow.verdict], large=large.latent_dim, small=small.latent_dim, fold=1 / grow.ratio,
               versus=_versus(grow))]
    under = [u for u in aes if u < PIXELS]
    if under and max(aes) >= PIXELS:
        best = aes[max(under)]
        past = identity.compare(errors[large.name], errors[best.name])
        lines.append(_(PAST[past.verdict], pixels=PIXELS, large=large.latent_dim, best=best.latent_dim,
                       versus=_versus(past)))
    share = copied(figures, probe, large.name)
    words = copy_words(share, _title(probe))
    lines.append(_("- The {units}-unit AE's R^2 on this set is {share:.2f}: it **{words}** (below 0: its "
                   "reconstructions are farther from the inputs than the set's mean image is).", units=large.latent_dim,
                   share=share, words=words) if share < 0 else
                 _("- The {units}-unit AE's R^2 on this set is {share:.2f}: it **{words}**.", units=large.latent_dim,
                   share=share, words=words))
    for kind, entry in family["others"].items():
        vs = identity.compare(errors[entry.name], errors[large.name])
        lines.append(_(OTHER[vs.verdict], kind=kind.upper(), units=entry.latent_dim, ratio=vs.ratio,
                       versus=_versus(vs)))
    return "\n".join(lines)


def _joined(sentences: list[str]) -> str:
    """Sentences as one paragraph (Chinese puts no space between sentences)."""
    return ("" if i18n.language() == "zh" else " ").join(s for s in sentences if s)


def overall_sentences(family: dict, figures: dict) -> str:
    """Which sets the largest AE copies and which it does not, why, and what the DAE and SAE change."""
    large = family["aes"][max(family["aes"])]
    plainest = _("The plainest case: {black} of the {pixels} pixels are black in every training digit. Their input "
                 "is 0 at every step, so the gradient of the encoder's weights from them (how training would change "
                 "them) is 0 and training never moves them: {border}", black=PIXELS - figures["lit"], pixels=PIXELS,
                 border=_border(family, figures, large))
    return "\n\n".join([_copying(figures, large), _beside(figures, large, family["others"]), plainest])


def _copying(figures: dict, large: resources.ModelEntry) -> str:
    """Which sets the AE copies, grouped by the page's words, and whether the digits' directions tell them apart."""
    probes = figures["probes"]
    shares = {name: copied(figures, name, large.name) for name in probes}
    groups = [[n for n in probes if _level(shares[n]) == level] for level in range(len(WORDS))]
    named = {n: _("{title} (R^2 {share:.2f})", title=_title(n), share=shares[n]) for n in probes}
    told = _("; ").join(_("it {words}", words=_(WORDS[level][1], what=_names([named[n] for n in names])))
                        for level, names in enumerate(groups) if names)
    every = all(v >= WORDS[0][0] for v in shares.values())
    said = [_("**Across the probe sets**, the {units}-unit AE: {told}.", units=large.latent_dim, told=told),
            _("It copies every one: it has learned the identity.") if every else
            _("So it has not learned the identity.")]
    kept = [probes[n]["span"] for n in probes if shares[n] >= PARTLY]
    lost = [probes[n]["span"] for n in probes if shares[n] < 0]
    if kept and lost and min(kept) > max(lost):  # said only where the digits' directions separate the two
        spans = _names([_("{title} {share:.0%}", title=_title(n), share=probes[n]["span"]) for n in probes])
        said.append(_("What it copies lies along the directions in which the training digits vary: the {k} leading "
                      "ones (their principal directions) hold {share:.0%} of the digits' variance, and of each set's "
                      "images (their difference from the mean digit) they hold {spans}. Along those directions the AE "
                      "was trained to pass an image through; along the others it hardly ever was.", k=SPAN_K,
                      share=figures["variance_share"], spans=spans))
    return _joined(said)


DOES = ((1, N_("worse on {sets}")), (0, N_("as well, within noise, on {sets}")), (-1, N_("better on {sets}")))


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
        parts = [_(words, sets=_names(_titles(said[v]))) for v, words in DOES if said[v]]
        what = functools.reduce(_and_also, parts)
        told.append(_("the {kind} does {what}", kind=kind.upper(), what=what))
        less += [kind.upper()] if copied_sets and set(copied_sets) <= set(said[1]) else []
    if not told:
        return ""
    text = [_("Beside it, on the sets that are not digits, {told}.", told=_("; ").join(told))]
    if copied_sets:
        rest = [k.upper() for k in others if k.upper() not in less]
        sets_named = _names(_titles(copied_sets))
        if not less:
            text.append(_("So neither copies less of what the AE copies ({sets}).", sets=sets_named))
        elif rest:
            text.append(_("So the {less} copies less of what the AE copies ({sets}); the {rest} does not.",
                          less=_names(less), sets=sets_named, rest=_names(rest)))
        else:
            text.append(_("So the {less} copies less of what the AE copies ({sets}).", less=_names(less),
                          sets=sets_named))
    return _joined(text)


def _and_also(done: str, more: str) -> str:
    """Two things a model does, one after the other."""
    return _("{done} and {more}", done=done, more=more)


def _titles(names: list[str]) -> list[str]:
    return [_title(n) for n in names]


def _border(family: dict, figures: dict, large: resources.ModelEntry) -> str:
    """What training did to the encoder's weights from the never-lit pixels, model by model."""
    ink, border = figures["weights"][large.name]
    unmoved = {e.kind.upper(): figures["unmoved"][e.name] for e in (large, *family["others"].values())}
    kept = [kind for kind, share in unmoved.items() if share == 1.0]
    moved = {kind: share for kind, share in unmoved.items() if share is not None and share < 1.0}
    sizes = {"border": border, "init": figures["init"], "ink": ink}
    said = [_("in the {kept} with {units} units they are, bit for bit, the random values the weights started from "
              "(in the AE their root mean square, the typical size of a weight, is {border:.4f}, a fresh layer's "
              "1/sqrt(3 x 784) = {init:.4f}, while the weights from inked pixels grew to {ink:.4f}).",
              kept=_names(kept), units=large.latent_dim, **sizes) if kept else
            _("(in the AE their root mean square, the typical size of a weight, is {border:.4f}, a fresh layer's "
              "1/sqrt(3 x 784) = {init:.4f}, while the weights from inked pixels grew to {ink:.4f}).", **sizes)]
    for kind, share in moved.items():
        said.append(_("The DAE's training noise lights those pixels too: {share:.0%} of its weights from them "
                      "changed.", share=1 - share) if kind == "DAE" else
                    _("The {kind}'s training moved them: {share:.0%} of its weights from them changed.", kind=kind,
                      share=1 - share))
    return _joined(said)


def _list(words: list[str]) -> str:
    return functools.reduce(lambda a, b: _("{a}, {b}", a=a, b=b), words)


def _names(words: list[str]) -> str:
    return words[0] if len(words) == 1 else _("{a} and {b}", a=_list(words[:-1]), b=words[-1])


def _chart(family: dict, figures: dict) -> None:
    st.markdown(_("**Reconstruction error against code size**, {n} images per probe set (the dashed line: the "
                  "{pixels}-pixel input; hollow marks: the DAE and SAE at {units} units)", n=figures["n"],
                  pixels=PIXELS, units=max(family["aes"])))
    records = [found["summary"][e.name] | {"units": e.latent_dim, "set": _title(probe), "model": e.kind.upper()}
               for probe, found in figures["probes"].items() for e in _named(family).values()]
    colour = {"field": "set", "type": "nominal", "title": None, "legend": {"orient": "bottom", "columns": 5},
              "scale": {"domain": [_title(p) for p in identity.PROBES]}}
    x = {"field": "units", "type": "quantitative", "title": _("code units (log scale)"),
         "scale": {"type": "log", "domain": [min(family["aes"]) * 0.8, max(family["aes"]) * 1.25], "nice": False},
         "axis": {"values": list(family["aes"]), "format": "d", "labelOverlap": False}}
    y = {"field": "error", "type": "quantitative", "title": _("error per pixel (log scale)"),
         "scale": {"type": "log"}}
    tip = [{"field": "set", "title": _("probe set")}, {"field": "model", "title": _("model")},
           {"field": "units", "title": _("code units")}] + [
        {"field": f, "format": ".4f", "title": title} for f, title in (
            ("error", _("mean error per pixel")), ("low", _("95% interval, low")), ("high", _("95% interval, high")))]
    layers = [  # the filters are Vega expressions
        {"transform": [{"filter": "datum.model == 'AE'"}], "mark": {"type": "line", "point": True},  # i18n: not shown
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tip}},
        {"transform": [{"filter": "datum.model != 'AE'"}],  # i18n: not shown
         "mark": {"type": "point", "size": 90, "strokeWidth": 2},
         "encoding": {"x": x, "y": y, "color": colour, "tooltip": tip,
                      "shape": {"field": "model", "type": "nominal", "title": None, "legend": {"orient": "right"}}}},
        {"data": {"values": [{"units": PIXELS}]}, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#444"},
         "encoding": {"x": {"field": "units", "type": "quantitative"}}},
    ]
    st.vega_lite_chart(pd.DataFrame(records), spec={"height": 340, "layer": layers}, width="stretch")


def _table(family: dict, figures: dict) -> None:
    entries = list(_named(family).values())
    table = {_title(probe): [_interval(found["summary"][e.name]) for e in entries]
             for probe, found in figures["probes"].items()}
    with st.expander(_("Every figure: mean error per pixel [95% interval] of each model on each probe set")):
        st.table(pd.DataFrame(table, index=[_label(e) for e in entries]))


def _interval(row: dict) -> str:
    return f"{row['error']:.4f} [{row['low']:.4f}, {row['high']:.4f}]"


if __name__ == "__main__":
    render()
