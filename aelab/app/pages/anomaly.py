"""The anomaly lab: reconstruction error as an anomaly score, digits against out-of-distribution images.

Every figure comes from `aelab.labs.anomaly` and `aelab.labs.ood`; this page arranges them.
Scores are cached per model and image set, so the threshold slider (in a fragment) reruns
only the figures it drives.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from aelab import data, explore, i18n
from aelab._files import MiB
from aelab.app import labkit, labstate, resources, session
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.data import ImageSet
from aelab.errors import AelabError
from aelab.i18n import N_, _
from aelab.labs import anomaly, ood

PAGE = Page(N_("Anomaly lab"), ":material/troubleshoot:", "anomaly", prefix="an_", order=50)

KINDS = {"ae": "AE", "dae": "DAE", "sae": "SAE", "vae": "VAE"}
DEFAULTS = {"ae": "ae-16d", "dae": "dae-16d-gauss0.5", "sae": "sae-128u-l1-w0.1", "vae": "vae-16d"}
UPLOAD = "upload"
SETS = {name: s.title for name, s in ood.OOD_SETS.items()} | {UPLOAD: N_("your own images (upload)")}  # shown as _()
SCORE_NAMES = {"bce": N_("reconstruction BCE"), "mse": N_("reconstruction MSE"), "neg_elbo": "-ELBO"}
UNITS = {"bce": N_("nats per image"), "mse": N_("mean squared pixel difference"), "neg_elbo": N_("nats per image")}
SHORT = {"bce": "BCE", "mse": "MSE", "neg_elbo": "\u2212ELBO"}  # a minus sign: a table cell never breaks after it
FORMULAS = {  # each score as aelab.labs.anomaly computes it; the -ELBO as aelab.metrics.per_image_neg_elbo does
    "bce": r"\mathrm{score}(x) = -\sum_i \big[x_i \log \hat x_i + (1 - x_i) \log(1 - \hat x_i)\big],"
           r"\qquad \hat x = g(f(x))",
    "mse": r"\mathrm{score}(x) = \frac{1}{D} \sum_i (x_i - \hat x_i)^2,\qquad \hat x = g(f(x)),\quad D = 784",
    "neg_elbo": r"\begin{aligned}\mathrm{score}(x) = -\mathrm{ELBO}(x) &= \mathbb{E}_{z \sim q(z|x)}\big[-\log p(x|z)"
                r"\big] + \mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)\\ &\approx \frac{1}{S}\sum_{s=1}^{S} \mathrm{BCE}"
                r"\big(x, g(z_s)\big) + \frac{1}{2}\sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big),"
                r"\quad z_s \sim \mathcal{N}(\mu, \sigma^2),\ S = 16\end{aligned}",
}
PLAIN = {  # one sentence per score formula
    "bce": N_("x is the image and x-hat = g(f(x)) its reconstruction (the encoder f makes a code, the decoder g "
              "rebuilds the image from it; for the VAE the code is the mean of q(z|x)); the sum runs over the 784 "
              "pixels. The score is the binary cross-entropy in nats per image (natural-log units of information), "
              "the reconstruction loss the lab's models were trained with: higher, the worse the image is rebuilt."),
    "mse": N_("The squared difference of each pixel, averaged over the D = 784 pixels: 0 for an exact copy and at "
              "most 1, since pixels run from 0 (black) to 1 (white)."),
    "neg_elbo": N_("For the VAE only: the BCE of x rebuilt from S = 16 codes z drawn from the encoder's distribution "
                   "q(z|x), a normal distribution with mean mu and spread sigma, plus the KL divergence of q(z|x) from "
                   "the prior p(z) = N(0, I), computed exactly from mu and sigma; in nats per image. The ELBO is a "
                   "lower bound on log p(x), the log-likelihood the VAE gives the image: the higher the score, the "
                   "lower that bound."),
}
THRESHOLD_FORMULA = r"\mathrm{flagged}(x) = \big[\,\mathrm{score}(x) \ge t\,\big]"
RATES_FORMULA = (r"\mathrm{precision} = \frac{TP}{TP + FP},\quad \mathrm{recall} = \frac{TP}{TP + FN},\quad "
                 r"\mathrm{FPR} = \frac{FP}{FP + TN}")
AUC_FORMULA = (r"\mathrm{AUC} = P(s_\mathrm{OOD} > s_\mathrm{digit})"
               r" + \tfrac{1}{2}\, P(s_\mathrm{OOD} = s_\mathrm{digit})")
PARAMS = [Param("an_kind", "kind", labstate.choice(list(KINDS)), N_("model kind")),
          Param("an_set", "set", labstate.choice(list(SETS)), N_("out-of-distribution set")),
          Param("an_score", "score", labstate.choice(list(SCORE_NAMES)), N_("score"))]
# The threshold is restored in the fragment.
ALL_PARAMS = PARAMS + [Param("an_threshold", "t", float, N_("threshold"), labstate.fmt_number)]


def render() -> None:
    st.title(_("Anomaly lab"))
    st.markdown(_(
        "An autoencoder trained only on digits has learned to rebuild digits. Show it something else and its "
        "reconstruction goes wrong, so the **reconstruction error is an anomaly score**: high means *this does not "
        "look like my training data*. Below, 500 held-out digits (never trained on) are scored against 500 "
        "out-of-distribution (OOD) images, images of another kind than the training data. Look at how far the two "
        "histograms overlap: the less they do, the higher the AUC. Move the threshold to trade missed anomalies "
        "(recall) against false alarms on real digits (precision). Then look at what fools the detector."))
    notices = labstate.restore("an_", PARAMS)
    lab, notes = _lab_models()
    for line in notices + notes:
        st.warning(line)
    if not lab:
        st.error(_("No shipped model of any kind could be loaded, so there is nothing to score with. Run "
                   "`python -m aelab pretrained` to build them."))
        return
    entry, set_key, score = _controls(lab)
    try:
        if set_key is not None:
            st.subheader(_("Held-out digits against {title}", title=_title(set_key)), anchor=False)
            st.caption(_("{what}; 500 images, made the same way every time (random seed 0).",
                         what=_capital(_(ood.OOD_SETS[set_key].what))) if set_key in ood.OOD_SETS
                       else _("Up to 500 of your images, chosen at random (seed 0)."))
            _detector_formulas()
            with st.spinner(_("Scoring the images...")):
                _scores(entry.path, "digits", score)
                _scores(entry.path, set_key, score)
            _threshold_view(entry.path, set_key, score, _title(set_key))
            _examples(entry, set_key, score, _title(set_key))
            _auc_table(lab, set_key, score)
    except AelabError as exc:
        st.error(_("The scores could not be computed: {why}", why=resources.plain(str(exc), 600)))
    labstate.publish(ALL_PARAMS)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _detector_formulas() -> None:
    """The threshold rule and the figures that judge it, each with what its symbols are."""
    st.latex(THRESHOLD_FORMULA)
    st.caption(_("An image is flagged as out of distribution when its score is at least the threshold t, set with "
                 "the slider below in the score's units. For each model and score the slider starts at the lowest t "
                 "that flags at most 5% of the held-out digits."))
    st.latex(RATES_FORMULA)
    st.caption(_("TP (true positives): OOD images flagged; FP (false positives): digits flagged; FN: OOD images "
                 "missed; TN: digits let through. Precision: of the flagged images, the share that are OOD; recall: "
                 "of the OOD images, the share flagged; FPR (false positive rate, the false alarms): of the digits, "
                 "the share flagged. Each is a share, shown in percent."))
    st.latex(AUC_FORMULA)
    st.caption(_("AUC (area under the ROC curve): the chance that a randomly picked OOD image scores higher than a "
                 "randomly picked digit, a tie counting half. 1 separates the two sets completely, 0.5 is chance; it "
                 "does not depend on the threshold."))


def _lab_models() -> tuple[dict[str, resources.ModelEntry], list[str]]:
    """The model shown for each kind: the lab's default, else another shipped one of its kind; and notes."""
    try:
        shipped = [e for e in resources.shipped_models() if e.data == "mnist5k"]
    except AelabError as exc:
        return {}, [_("The shipped models could not be read: {why}", why=resources.plain(str(exc), 600))]
    lab, notes = {}, [resources.plain(p, 600) for p in resources.manifest_problems()]
    for kind in KINDS:  # the default first, then the others of its kind, the nearest to 16-D first
        usable, problems = resources.loadable(sorted((e for e in shipped if e.kind == kind), key=lambda e: (
            e.name != DEFAULTS[kind], abs(e.latent_dim - 16), e.name)))
        notes += [resources.plain(p, 600) for p in problems]
        if usable:
            lab[kind] = usable[0]
        if not usable:
            notes.append(_("The lab's {kind}, {default}, is not available; none is shown.", kind=KINDS[kind],
                           default=DEFAULTS[kind]))
        elif usable[0].name != DEFAULTS[kind]:
            notes.append(_("The lab's {kind}, {default}, is not available; {name} ({description}) is shown instead.",
                           kind=KINDS[kind], default=DEFAULTS[kind], name=usable[0].name,
                           description=resources.plain(usable[0].shown_description)))
    return lab, notes


def _controls(lab: dict[str, resources.ModelEntry]) -> tuple[resources.ModelEntry, str | None, str]:
    """The model kind, OOD set and score widgets; returns the model, the set's cache key (None: no
    usable upload yet) and the score."""
    if st.session_state.get("an_kind") not in lab:
        st.session_state.an_kind = next(iter(lab))
    left, middle, right = st.columns([1, 2, 2])
    kind = left.selectbox(_("Model kind"), list(lab), key="an_kind", format_func=KINDS.get,
                          help=_("AE: plain autoencoder; DAE: denoising autoencoder; SAE: sparse autoencoder; VAE: "
                                 "variational autoencoder. All trained on the same digits."))
    entry = lab[kind]
    scores = ["bce", "mse"] + (["neg_elbo"] if entry.has_prior else [])
    if st.session_state.get("an_score") not in scores:
        if st.session_state.get("an_score") == "neg_elbo":
            st.info(_("The -ELBO is a VAE's score; the {kind} is scored by its reconstruction BCE.", kind=KINDS[kind]))
        st.session_state.an_score = "bce"
    set_name = middle.selectbox(_("Out-of-distribution images"), list(SETS), key="an_set",
                                format_func=lambda k: _(SETS[k]),
                                help=_("Images of another kind than the training digits, for the detector to find."))
    score = right.radio(_("Score"), scores, key="an_score", horizontal=True, format_func=lambda k: _(SCORE_NAMES[k]),
                        help=_("BCE: binary cross-entropy, nats per image, the loss the lab's models trained with. "
                               "MSE: mean squared difference per pixel. -ELBO (VAE only): the BCE under sampled codes "
                               "plus the KL term, nats per image."))
    st.caption(_("**{kind}**: {name}, {description}. Score: {score}.", kind=KINDS[kind], name=entry.name,
                 description=resources.plain(entry.shown_description), score=_(anomaly.SCORES[score])))
    st.latex(FORMULAS[score])
    st.caption(_(PLAIN[score]))
    return entry, (set_name if set_name != UPLOAD else _upload()), score


def _upload() -> str | None:
    """An uploaded data set to score as the OOD images: its cache key, or None with a message why not."""
    files = st.file_uploader(
        _("Your images"), accept_multiple_files=True, key="do_an_upload",
        max_upload_size=data.UPLOAD_LIMITS.max_bytes // MiB,
        help=_("An .npz with an `images` array (N x 28 x 28), a .zip of 28x28 PNG files, or the IDX files of an "
               "MNIST-format set (e.g. t10k-images-idx3-ubyte.gz).") + "\n\n"
        + labkit.upload_limits(data.UPLOAD_LIMITS.max_bytes // MiB, "NPZ, ZIP, IDX"))  # i18n: same in every language
    st.caption(_("Up to {n:,} images; 500 of them, chosen at random, are scored.", n=data.UPLOAD_LIMITS.max_images))
    if not files:
        st.info(_("Upload images to score them against the held-out digits."))
        return None
    known = st.session_state.setdefault("an_uploads", {})
    ids = tuple(sorted(f.file_id for f in files))
    if ids not in known:
        known[ids] = _accept(files)
    spec, message = known[ids]
    (st.success if spec else st.error)(message)
    return f"{UPLOAD}:{spec}" if spec else None


def _accept(files: list) -> tuple[str | None, str]:
    """Save uploaded files in this session's folder and read them with aelab's readers: (spec or None, message)."""
    names = ", ".join(resources.plain(f.name, 60) for f in files)
    if any(f.size > data.UPLOAD_LIMITS.max_bytes for f in files):
        return None, _("{names}: uploads are limited to {mib} MiB a file.", names=names,
                       mib=data.UPLOAD_LIMITS.max_bytes // MiB)
    digest = hashlib.sha1("".join(f.file_id for f in files).encode()).hexdigest()[:12]
    folder = session.session_dir() / "data" / f"an-{digest}"
    try:
        spec = ood.save_upload([(f.name, f.getvalue()) for f in files], folder)
        images = ood.from_splits(resources.load_data(spec))
    except AelabError as exc:
        for path in folder.glob("*"):
            path.unlink(missing_ok=True)
        return None, _("{names} cannot be used: {why}", names=names,
                       why=resources.plain(_without_folder(str(exc), folder), 600))
    return spec, _("{names}: {n} of its 28x28 images, chosen at random, are scored.", names=names, n=len(images))


def _without_folder(message: str, folder: Path) -> str:
    """A reader's message with the server's folder of the upload left out (the user never saw it)."""
    return message.replace(f"{folder}/", "").replace(str(folder), _("the uploaded files"))


def _title(set_key: str) -> str:
    return _("your uploaded set") if set_key.startswith(UPLOAD) else _(SETS[set_key])


@st.cache_resource(show_spinner=False, max_entries=16)
def _images(set_key: str) -> ImageSet:
    """The held-out digits ("digits"), an OOD set by name, or ("upload:SPEC") 500 of an uploaded set."""
    if set_key == "digits":
        return ood.held_out_digits()
    if set_key.startswith(f"{UPLOAD}:"):
        return ood.from_splits(resources.load_data(set_key.partition(":")[2]))
    return ood.make(set_key, _images("digits"))


@st.cache_data(show_spinner=False, max_entries=256)
def _scores(path: str, set_key: str, score: str) -> np.ndarray:
    """Each image's score under the model at ``path`` (cached per model, image set and score)."""
    return anomaly.anomaly_scores(resources.load_model(path).model, _images(set_key).images, score)


@st.fragment
def _threshold_view(path: str, set_key: str, score: str, title: str) -> None:
    """The threshold slider and what it drives; a slider move reruns only this."""
    inlier, outlier = _scores(path, "digits", score), _scores(path, set_key, score)
    grid = [float(v) for v in anomaly.threshold_grid(inlier, outlier)]
    _settle_threshold(grid, inlier, (path, score))
    unit = _(UNITS[score])
    threshold = st.select_slider(_("Threshold"), options=grid, key="an_threshold", format_func=lambda v: f"{v:.3g}",
                                 help=_("An image scoring at least this is flagged as out of distribution. In the "
                                        "score's units: {unit}.", unit=unit))
    report = anomaly.at_threshold(inlier, outlier, threshold)
    auc = anomaly.separation_auc(inlier, outlier)
    mix = report.outliers / (report.outliers + report.inliers)
    cells = st.columns(4)
    cells[0].metric(_("AUC"), f"{auc:.3f}", help=_(
        "Area under the ROC curve, from 0 to 1: the chance that an OOD image scores above a digit. 1 separates "
        "them completely, 0.5 is chance. It does not depend on the threshold."))
    cells[1].metric(_("Precision"), _("none flagged") if np.isnan(report.precision) else f"{report.precision:.1%}",
                    help=_("Of the images flagged, the share that are really out of distribution. It depends on the "
                           "mix: here {mix:.0%} of the images scored are OOD.", mix=mix))
    cells[2].metric(_("Recall"), f"{report.recall:.1%}", help=_(
        "Of the images of {title}, the share flagged; the rest are missed anomalies.", title=title))
    cells[3].metric(_("False alarms"), f"{report.false_positive_rate:.1%}", help=_(
        "Of the held-out digits, the share flagged by mistake."))
    st.markdown(_("At a threshold of {t:.3g} ({unit}), the detector flags **{fo} of the {o}** images of {title} and "
                  "**{fi} of the {i}** held-out digits. Precision depends on the mix: here {mix:.0%} of the images are "
                  "out of distribution.", t=threshold, unit=unit, fo=report.flagged_outliers, o=report.outliers,
                  title=title, fi=report.flagged_inliers, i=report.inliers, mix=mix))
    left, right = st.columns([3, 2])
    left.vega_lite_chart(_histogram_spec(inlier, outlier, threshold, title, score), width="stretch")
    right.vega_lite_chart(_roc_spec(inlier, outlier, report, auc), width="stretch")
    st.caption(_("Left: how each set's scores spread (a bar: the share of its set in that range of scores; the "
                 "dashed line: the threshold). Right: the ROC curve (receiver operating characteristic), recall "
                 "against false alarms as the threshold moves from high to low; the red dot is the threshold set "
                 "above, the dashed diagonal is chance."))
    labstate.publish(ALL_PARAMS)


def _settle_threshold(grid: list[float], inlier: np.ndarray, scale: tuple[str, str]) -> None:
    """Put the threshold on this grid: the link's value on first view, else kept; a new model or score
    starts where 5% of the digits are flagged."""
    def parse(text: str) -> float | None:
        value = labstate.number_in(grid[0], grid[-1])(text)
        return None if value is None else anomaly.nearest(np.array(grid), value)
    for notice in labstate.restore("an_t_", [Param("an_threshold", "t", parse, N_("threshold"))]):
        st.warning(notice)
    if "an_threshold" in st.session_state and "an_threshold_for" not in st.session_state:
        st.session_state.an_threshold_for = scale  # the link's threshold belongs to the link's model and score
    if st.session_state.get("an_threshold_for") != scale or "an_threshold" not in st.session_state:
        st.session_state.an_threshold = anomaly.default_threshold(inlier, np.array(grid))
        st.session_state.an_threshold_for = scale
    st.session_state.an_threshold = anomaly.nearest(np.array(grid), float(st.session_state.an_threshold))


def _histogram_spec(inlier: np.ndarray, outlier: np.ndarray, threshold: float, title: str, score: str) -> dict:
    """Both histograms and the threshold. The values go in named datasets, so while the spec stays the
    same a slider move only swaps the threshold's data in the browser instead of redrawing the chart."""
    hist = anomaly.histogram(inlier, outlier)
    digits = _("held-out digits")
    bins = pd.concat([pd.DataFrame({"start": hist["start"], "end": hist["end"], "share": hist[key], "set": name})
                      for name, key in ((digits, "inlier"), (title, "outlier"))])
    x = {"field": "start", "type": "quantitative", "scale": {"type": "log"},
         "title": _("{score}, {unit} (log scale)", score=_(SCORE_NAMES[score]), unit=_(UNITS[score]))}
    return {"height": 280, "title": _("Scores: digits against OOD images"),
            "datasets": {"bins": bins, "threshold": pd.DataFrame({"t": [threshold]})}, "layer": [
        {"data": {"name": "bins"}, "mark": {"type": "rect", "opacity": 0.6},
         "encoding": {"x": x, "x2": {"field": "end"}, "y": {"field": "share", "type": "quantitative", "stack": None,
                                                             "title": _("share of the set"), "axis": {"format": "%"}},
                      "y2": {"datum": 0},
                      "color": {"field": "set", "type": "nominal", "title": None, "legend": {"orient": "top"},
                                "scale": {"domain": [digits, title], "range": ["#1f77b4", "#d62728"]}}}},
        {"data": {"name": "threshold"}, "mark": {"type": "rule", "strokeDash": [5, 3], "size": 2},
         "encoding": {"x": {"field": "t", "type": "quantitative"}, "color": {"value": "#333"}}},
    ]}


def _roc_spec(inlier: np.ndarray, outlier: np.ndarray, report: anomaly.AtThreshold, auc: float) -> dict:
    """The ROC curve and the threshold's point on it (named datasets, as in the histogram)."""
    fpr, tpr, _thresholds = anomaly.roc(inlier, outlier)
    axis = {"type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"}}
    point = pd.DataFrame({"fpr": [report.false_positive_rate], "tpr": [report.recall]})
    return {"height": 280, "title": _("ROC curve, AUC = {auc:.3f}", auc=auc), "datasets": {
        "chance": pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]}), "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "point": point}, "layer": [
        {"data": {"name": "chance"}, "mark": {"type": "line", "strokeDash": [4, 4], "color": "#aaa"},
         "encoding": {"x": {"field": "fpr", **axis}, "y": {"field": "tpr", **axis}}},
        {"data": {"name": "roc"}, "mark": {"type": "line"},
         "encoding": {"x": {"field": "fpr", **axis, "title": _("false alarms (digits flagged)")},
                      "y": {"field": "tpr", **axis, "title": _("recall (OOD images flagged)")},
                      "order": {"value": 0}}},
        {"data": {"name": "point"}, "mark": {"type": "point", "filled": True, "size": 90, "color": "#d62728"},
         "encoding": {"x": {"field": "fpr", "type": "quantitative"}, "y": {"field": "tpr", "type": "quantitative"}}},
    ]}


def _examples(entry: resources.ModelEntry, set_key: str, score: str, title: str) -> None:
    st.subheader(_("What the detector sees"), anchor=False)
    st.caption(_("In each strip the top row is the input and the bottom row {model}'s reconstruction; the scores "
                 "({unit}) follow, left to right. Digits that score high are odd digits, or ones the model never "
                 "learned well; OOD images that score low are the ones that fool the detector.",
                 model=entry.name, unit=_(UNITS[score])))
    for column, (which, name) in zip(st.columns(2), (("digits", _("held-out digits")), (set_key, title)), strict=True):
        for strip, caption in _strips(entry.path, which, score, name, i18n.language()):
            column.image(strip, caption=caption, output_format="PNG", width="stretch")


@st.cache_data(show_spinner=False, max_entries=64)
def _strips(path: str, set_key: str, score: str, name: str, lang: str, k: int = 8) -> list[tuple[np.ndarray, str]]:
    """The k most and k least anomalous images of a set over their reconstructions, one PNG array each,
    captioned in ``lang``."""
    images, scores = _images(set_key).images, _scores(path, set_key, score)
    strips = []
    for indices, words in zip(anomaly.extremes(scores, k), (N_("Most anomalous {name}: {scores}"),
                                                            N_("Least anomalous {name}: {scores}")), strict=True):
        pair = np.stack([images[indices], explore.reconstruct(resources.load_model(path).model, images[indices])])
        figures = ", ".join(f"{s:.3g}" for s in scores[indices])
        strips.append((resources.to_png_array(explore.tile(pair), scale=3), _(words, name=name, scores=figures)))
    return strips


def _auc_table(lab: dict[str, resources.ModelEntry], set_key: str, score: str) -> None:
    """Every kind's AUC on every OOD set, the same inputs for all, and what the figures say."""
    st.subheader(_("Every kind, every OOD set: AUC"), anchor=False)
    recon = "mse" if score == "mse" else "bce"
    sets = [*ood.OOD_SETS, *([set_key] if set_key.startswith(UPLOAD) else [])]
    scorers = {(kind, s): entry for kind, entry in lab.items()
               for s in (recon, *(["neg_elbo"] if entry.has_prior else []))}
    with st.spinner(_("Scoring every kind on every set (once)...")):
        inlier = {row: _scores(e.path, "digits", row[1]) for row, e in scorers.items()}
        outliers = {row: {_title(k): _scores(e.path, k, row[1]) for k in sets} for row, e in scorers.items()}
    table = anomaly.auc_table(inlier, outliers)
    model, score_column = _("model"), _("score")
    st.table([{model: resources.plain(f"{e.name} ({e.shown_description})"), score_column: SHORT[s],
               **{name: f"{v:.3f}" for name, v in table[(kind, s)].items()}} for (kind, s), e in scorers.items()],
             hide_index=True)
    st.caption(_("AUC of each score at telling the 500 held-out digits from each set's images, from 0 to 1: 1 "
                 "separates them completely, 0.5 is chance, below 0.5 the OOD images score *lower* than digits. "
                 "{recon} rows decode each image's code; the -ELBO averages {n} sampled codes per image.",
                 recon=SHORT[recon], n=anomaly.ELBO_SAMPLES))
    with st.spinner(_("Resampling the digits to tell real differences from noise (once)...")):
        draws = _draws(tuple((row, e.path) for row, e in scorers.items()), tuple(sets), i18n.language())
    st.markdown("\n\n".join(_findings(table, draws, recon)))


@st.cache_data(show_spinner=False, max_entries=16)
def _draws(scorers: tuple, sets: tuple, lang: str) -> dict:
    """Paired bootstrap AUCs of every row on every set (see anomaly.auc_draws), the sets by their titles in
    ``lang``."""
    inlier = {row: _scores(path, "digits", row[1]) for row, path in scorers}
    outliers = {row: {_title(k): _scores(path, k, row[1]) for k in sets} for row, path in scorers}
    return anomaly.auc_draws(inlier, outliers)


def _list(words: list[str]) -> str:
    return functools.reduce(lambda a, b: _("{a}, {b}", a=a, b=b), words)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else _("{a} and {b}", a=_list(words[:-1]), b=words[-1])


def _findings(table: dict, draws: dict, recon: str) -> list[str]:
    """Sentences computed from the table: the easiest and hardest sets, the best kinds, the -ELBO's effect."""
    facts = anomaly.summary({row: sets for row, sets in table.items() if row[1] == recon}, draws)
    low, high = facts["hardest_range"]
    floor = facts["easiest_auc"]
    how = (_("every kind tells them apart completely, AUC 1.000") if f"{floor:.3f}" == "1.000"
           else _("every kind's AUC at least {floor:.3f}", floor=floor))
    lines = [_("Easiest to tell from digits: **{easiest}** ({how}). Hardest: **{hardest}** (AUCs {low:.3f} to "
               "{high:.3f}).", easiest=_and(facts["easiest"]), how=how, hardest=facts["hardest"], low=low, high=high)]
    if facts["best"]:
        best = _("; ").join(_("{set}: {kinds} ({auc:.3f})", set=name, kinds=_and([KINDS[r[0]] for r in rows]),
                              auc=top) for name, (rows, top) in facts["best"].items())
        lines.append(_("Best kind per set, where the top one beats another beyond noise (a paired bootstrap: the "
                       "images drawn again at random 200 times, the same draws for every kind; the kinds it does not "
                       "beat tie with it): {best}.", best=best))
    if facts["below_chance"]:
        cells = _list([_("the {kind} on {set} ({auc:.3f})", kind=KINDS[r[0]], set=name, auc=auc)
                       for r, name, auc in facts["below_chance"]])
        lines.append(_("Below chance: {cells}. There the OOD images score *lower* than digits, so this score would "
                       "flag digits first.", cells=cells))
    for kind, score in [row for row in table if row[1] == "neg_elbo" and (row[0], recon) in table]:
        verdict = anomaly.compare_rows(draws[(kind, score)], draws[(kind, recon)])
        parts = [_(words, sets=_list(verdict[key])) for key, words in (
            ("better", N_("better on {sets}")), ("worse", N_("worse on {sets}")),
            ("tie", N_("as well, within noise, on {sets}"))) if verdict[key]]
        lines.append(_("The {kind}'s -ELBO, against its {score}: {parts}.", kind=KINDS[kind],
                       score=_(SCORE_NAMES[recon]), parts=_("; ").join(parts)))
    return lines


if __name__ == "__main__":  # run by Streamlit as a page
    render()
