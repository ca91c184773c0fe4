"""The anomaly lab: reconstruction error as an anomaly score, digits against out-of-distribution images.

Every figure comes from `aelab.labs.anomaly` and `aelab.labs.ood`; this page arranges them.
Scores are cached per model and image set, so the threshold slider (in a fragment) reruns
only the figures it drives.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from aelab import data, explore
from aelab._files import MiB
from aelab.app import labstate, resources, session
from aelab.app.labstate import Param
from aelab.app.pages import Page
from aelab.data import ImageSet
from aelab.errors import AelabError
from aelab.labs import anomaly, ood

PAGE = Page("Anomaly lab", ":material/troubleshoot:", "anomaly", prefix="an_", order=50)

KINDS = {"ae": "AE", "dae": "DAE", "sae": "SAE", "vae": "VAE"}
DEFAULTS = {"ae": "ae-16d", "dae": "dae-16d-gauss0.5", "sae": "sae-128u-l1-w0.1", "vae": "vae-16d"}
UPLOAD = "upload"
SETS = {name: s.title for name, s in ood.OOD_SETS.items()} | {UPLOAD: "your own images (upload)"}
SCORE_NAMES = {"bce": "reconstruction BCE", "mse": "reconstruction MSE", "neg_elbo": "-ELBO"}
SHORT = {"bce": "BCE", "mse": "MSE", "neg_elbo": "\u2212ELBO"}  # a minus sign: a table cell never breaks after it
FORMULAS = {
    "bce": r"\mathrm{score}(x) = -\sum_i \big[x_i \log \hat x_i + (1 - x_i) \log(1 - \hat x_i)\big],"
           r"\qquad \hat x = g(f(x))",
    "mse": r"\mathrm{score}(x) = \frac{1}{D} \sum_i (x_i - \hat x_i)^2,\qquad \hat x = g(f(x))",
    "neg_elbo": r"\mathrm{score}(x) = -\mathrm{ELBO}(x) = \mathbb{E}_{z \sim q(z|x)}\big[-\log p(x|z)\big]"
                r" + \mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)",
}
DETECTOR_FORMULA = (r"\begin{gathered}\mathrm{flagged}(x) = [\,\mathrm{score}(x) \ge t\,],\quad \mathrm{precision} = "
                    r"\frac{TP}{TP + FP},\quad \mathrm{recall} = \frac{TP}{TP + FN}\\ \mathrm{AUC} = P(s_\mathrm{OOD} "
                    r"> s_\mathrm{digit}) + \tfrac{1}{2} P(s_\mathrm{OOD} = s_\mathrm{digit})\end{gathered}")
PARAMS = [Param("an_kind", "kind", labstate.choice(list(KINDS)), "model kind"),
          Param("an_set", "set", labstate.choice(list(SETS)), "out-of-distribution set"),
          Param("an_score", "score", labstate.choice(list(SCORE_NAMES)), "score")]
ALL_PARAMS = PARAMS + [Param("an_threshold", "t", float, "threshold", labstate.fmt_number)]  # restored in the fragment


def render() -> None:
    st.title("Anomaly lab")
    st.markdown(
        "An autoencoder trained only on digits has learned to rebuild digits. Show it something else and "
        "its reconstruction goes wrong, so the **reconstruction error is an anomaly score**: high means "
        "*this does not look like my training data*. Below, 500 held-out digits (never trained on) are "
        "scored against 500 out-of-distribution (OOD) images. Look at how far the two histograms overlap: "
        "the less they do, the higher the AUC. Move the threshold to trade missed anomalies (recall) "
        "against false alarms on real digits (precision). Then look at what fools the detector.")
    notices = labstate.restore("an_", PARAMS)
    lab, notes = _lab_models()
    for line in notices + notes:
        st.warning(line)
    if not lab:
        st.error("No shipped model of any kind could be loaded, so there is nothing to score with. Run "
                 "`python -m aelab pretrained` to build them.")
        return
    entry, set_key, score = _controls(lab)
    try:
        if set_key is not None:
            st.subheader(f"Held-out digits against {_title(set_key)}", anchor=False)
            st.caption(f"{ood.OOD_SETS[set_key].what.capitalize()}; 500 images, generated with seed 0."
                       if set_key in ood.OOD_SETS else "Up to 500 of your images, chosen with seed 0.")
            st.latex(DETECTOR_FORMULA)
            _threshold_view(entry.path, set_key, score, _title(set_key))
            _examples(entry, set_key, score, _title(set_key))
            _auc_table(lab, set_key, score)
    except AelabError as exc:
        st.error(f"The scores could not be computed: {resources.plain(str(exc), 600)}")
    labstate.publish(ALL_PARAMS)


def _lab_models() -> tuple[dict[str, resources.ModelEntry], list[str]]:
    """The model shown for each kind: the lab's default, else another shipped one of its kind; and notes."""
    try:
        shipped = [e for e in resources.shipped_models() if e.data == "mnist5k"]
    except AelabError as exc:
        return {}, [f"The shipped models could not be read: {resources.plain(str(exc), 600)}"]
    lab, notes = {}, [resources.plain(p, 600) for p in resources.manifest_problems()]
    for kind in KINDS:  # the default first, then the others of its kind, the nearest to 16-D first
        usable, problems = resources.loadable(sorted((e for e in shipped if e.kind == kind), key=lambda e: (
            e.name != DEFAULTS[kind], abs(e.latent_dim - 16), e.name)))
        notes += [resources.plain(p, 600) for p in problems]
        if usable:
            lab[kind] = usable[0]
        if not usable or usable[0].name != DEFAULTS[kind]:
            instead = (f"{usable[0].name} ({resources.plain(usable[0].description)}) is shown instead" if usable
                       else "none is shown")
            notes.append(f"The lab's {KINDS[kind]}, {DEFAULTS[kind]}, is not available; {instead}.")
    return lab, notes


def _controls(lab: dict[str, resources.ModelEntry]) -> tuple[resources.ModelEntry, str | None, str]:
    """The model kind, OOD set and score widgets; returns the model, the set's cache key (None: no
    usable upload yet) and the score."""
    if st.session_state.get("an_kind") not in lab:
        st.session_state.an_kind = next(iter(lab))
    left, middle, right = st.columns([1, 2, 2])
    kind = left.selectbox("Model kind", list(lab), key="an_kind", format_func=KINDS.get)
    entry = lab[kind]
    scores = ["bce", "mse"] + (["neg_elbo"] if entry.has_prior else [])
    if st.session_state.get("an_score") not in scores:
        if st.session_state.get("an_score") == "neg_elbo":
            st.info(f"The -ELBO is a VAE's score; the {KINDS[kind]} is scored by its reconstruction BCE.")
        st.session_state.an_score = "bce"
    set_name = middle.selectbox("Out-of-distribution images", list(SETS), key="an_set", format_func=SETS.get)
    score = right.radio("Score", scores, key="an_score", horizontal=True, format_func=SCORE_NAMES.get,
                        help="BCE: nats per image, the loss the models trained with. MSE: per pixel. "
                             "-ELBO (VAE only): BCE under sampled codes plus the KL term.")
    st.caption(f"**{KINDS[kind]}**: {entry.name}, {resources.plain(entry.description)}. Score: "
               f"{anomaly.SCORES[score]}.")
    st.latex(FORMULAS[score])
    return entry, (set_name if set_name != UPLOAD else _upload()), score


def _upload() -> str | None:
    """An uploaded data set to score as the OOD images: its cache key, or None with a message why not."""
    files = st.file_uploader(
        "Your images: an .npz with an `images` array (N x 28 x 28), a .zip of 28x28 PNG files, or the IDX "
        "files of an MNIST-format set (e.g. t10k-images-idx3-ubyte.gz)", accept_multiple_files=True,
        key="do_an_upload", max_upload_size=data.UPLOAD_LIMITS.max_bytes // MiB)
    st.caption(f"Up to {data.UPLOAD_LIMITS.max_images:,} images; 500 of them, chosen at random, are scored.")
    if not files:
        st.info("Upload images to score them against the held-out digits.")
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
        return None, f"{names}: uploads are limited to {data.UPLOAD_LIMITS.max_bytes // MiB} MiB a file."
    digest = hashlib.sha1("".join(f.file_id for f in files).encode()).hexdigest()[:12]
    folder = session.session_dir() / "data" / f"an-{digest}"
    try:
        spec = ood.save_upload([(f.name, f.getvalue()) for f in files], folder)
        images = ood.from_splits(resources.load_data(spec))
    except AelabError as exc:
        for path in folder.glob("*"):
            path.unlink(missing_ok=True)
        return None, f"{names} cannot be used: {resources.plain(str(exc).replace(f'{folder}/', ''), 600)}"
    return spec, f"{names}: {len(images)} of its 28x28 images, chosen at random, are scored."


def _title(set_key: str) -> str:
    return "your uploaded set" if set_key.startswith(UPLOAD) else SETS[set_key]


@st.cache_resource(show_spinner="Making the images...", max_entries=16)
def _images(set_key: str) -> ImageSet:
    """The held-out digits ("digits"), an OOD set by name, or ("upload:SPEC") 500 of an uploaded set."""
    if set_key == "digits":
        return ood.held_out_digits()
    if set_key.startswith(f"{UPLOAD}:"):
        return ood.from_splits(resources.load_data(set_key.partition(":")[2]))
    return ood.make(set_key, _images("digits"))


@st.cache_data(show_spinner="Scoring the images...", max_entries=256)
def _scores(path: str, set_key: str, score: str) -> np.ndarray:
    """Each image's score under the model at ``path`` (cached per model, image set and score)."""
    return anomaly.anomaly_scores(resources.load_model(path).model, _images(set_key).images, score)


@st.fragment
def _threshold_view(path: str, set_key: str, score: str, title: str) -> None:
    """The threshold slider and what it drives; a slider move reruns only this."""
    inlier, outlier = _scores(path, "digits", score), _scores(path, set_key, score)
    grid = [float(v) for v in anomaly.threshold_grid(inlier, outlier)]
    _settle_threshold(grid, inlier, (path, score))
    threshold = st.select_slider("Threshold: an image scoring at least this is flagged as out of distribution",
                                 options=grid, key="an_threshold", format_func=lambda v: f"{v:.3g}")
    report = anomaly.at_threshold(inlier, outlier, threshold)
    auc = anomaly.separation_auc(inlier, outlier)
    cells = st.columns(4)
    cells[0].metric("AUC", f"{auc:.3f}", help="The chance that an OOD image scores above a digit; 0.5 is chance.")
    cells[1].metric("Precision", "none flagged" if np.isnan(report.precision) else f"{report.precision:.1%}",
                    help="Of the images flagged, the share that are really out of distribution.")
    cells[2].metric("Recall", f"{report.recall:.1%}", help=f"Of the images of {title}, the share flagged.")
    cells[3].metric("False alarms", f"{report.false_positive_rate:.1%}", help="Of the digits, the share flagged.")
    st.markdown(f"At {threshold:.3g}, the detector flags **{report.flagged_outliers} of the {report.outliers}** "
                f"images of {title} and **{report.flagged_inliers} of the {report.inliers}** held-out digits. "
                f"Precision depends on the mix: here {report.outliers / (report.outliers + report.inliers):.0%} "
                "of the images are out of distribution.")
    left, right = st.columns([3, 2])
    left.vega_lite_chart(_histogram_spec(inlier, outlier, threshold, title, score), width="stretch")
    right.vega_lite_chart(_roc_spec(inlier, outlier, report, auc), width="stretch")
    labstate.publish(ALL_PARAMS)


def _settle_threshold(grid: list[float], inlier: np.ndarray, scale: tuple[str, str]) -> None:
    """Put the threshold on this grid: the link's value on first view, else kept; a new model or score
    starts where 5% of the digits are flagged."""
    def parse(text: str) -> float | None:
        value = labstate.number_in(grid[0], grid[-1])(text)
        return None if value is None else anomaly.nearest(np.array(grid), value)
    for notice in labstate.restore("an_t_", [Param("an_threshold", "t", parse, "threshold")]):
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
    bins = pd.concat([pd.DataFrame({"start": hist["start"], "end": hist["end"], "share": hist[key], "set": name})
                      for name, key in (("held-out digits", "inlier"), (title, "outlier"))])
    x = {"field": "start", "type": "quantitative", "scale": {"type": "log"},
         "title": f"{SCORE_NAMES[score]} (log scale)"}
    return {"height": 280, "title": "Scores: digits against OOD images",
            "datasets": {"bins": bins, "threshold": pd.DataFrame({"t": [threshold]})}, "layer": [
        {"data": {"name": "bins"}, "mark": {"type": "rect", "opacity": 0.6},
         "encoding": {"x": x, "x2": {"field": "end"}, "y": {"field": "share", "type": "quantitative", "stack": None,
                                                             "title": "share of the set", "axis": {"format": "%"}},
                      "y2": {"datum": 0},
                      "color": {"field": "set", "type": "nominal", "title": None, "legend": {"orient": "top"},
                                "scale": {"domain": ["held-out digits", title], "range": ["#1f77b4", "#d62728"]}}}},
        {"data": {"name": "threshold"}, "mark": {"type": "rule", "strokeDash": [5, 3], "size": 2},
         "encoding": {"x": {"field": "t", "type": "quantitative"}, "color": {"value": "#333"}}},
    ]}


def _roc_spec(inlier: np.ndarray, outlier: np.ndarray, report: anomaly.AtThreshold, auc: float) -> dict:
    """The ROC curve and the threshold's point on it (named datasets, as in the histogram)."""
    fpr, tpr, _ = anomaly.roc(inlier, outlier)
    axis = {"type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"}}
    point = pd.DataFrame({"fpr": [report.false_positive_rate], "tpr": [report.recall]})
    return {"height": 280, "title": f"ROC curve, AUC = {auc:.3f}", "datasets": {
        "chance": pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]}), "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "point": point}, "layer": [
        {"data": {"name": "chance"}, "mark": {"type": "line", "strokeDash": [4, 4], "color": "#aaa"},
         "encoding": {"x": {"field": "fpr", **axis}, "y": {"field": "tpr", **axis}}},
        {"data": {"name": "roc"}, "mark": {"type": "line"},
         "encoding": {"x": {"field": "fpr", **axis, "title": "false alarms (digits flagged)"},
                      "y": {"field": "tpr", **axis, "title": "recall (OOD images flagged)"}, "order": {"value": 0}}},
        {"data": {"name": "point"}, "mark": {"type": "point", "filled": True, "size": 90, "color": "#d62728"},
         "encoding": {"x": {"field": "fpr", "type": "quantitative"}, "y": {"field": "tpr", "type": "quantitative"}}},
    ]}


def _examples(entry: resources.ModelEntry, set_key: str, score: str, title: str) -> None:
    st.subheader("What the detector sees", anchor=False)
    st.caption(f"In each strip the top row is the input and the bottom row {entry.name}'s reconstruction; the "
               "scores follow, left to right. Digits that score high are odd digits, or ones the model never "
               "learned well; OOD images that score low are the ones that fool the detector.")
    for column, (which, name) in zip(st.columns(2), (("digits", "held-out digits"), (set_key, title)), strict=True):
        for strip, caption in _strips(entry.path, which, score, name):
            column.image(strip, caption=caption, output_format="PNG", width="stretch")


@st.cache_data(show_spinner=False, max_entries=64)
def _strips(path: str, set_key: str, score: str, name: str, k: int = 8) -> list[tuple[np.ndarray, str]]:
    """The k most and k least anomalous images of a set over their reconstructions, one PNG array each."""
    images, scores = _images(set_key).images, _scores(path, set_key, score)
    strips = []
    for indices, which in zip(anomaly.extremes(scores, k), ("Most anomalous", "Least anomalous"), strict=True):
        pair = np.stack([images[indices], explore.reconstruct(resources.load_model(path).model, images[indices])])
        figures = ", ".join(f"{s:.3g}" for s in scores[indices])
        strips.append((resources.to_png_array(explore.tile(pair), scale=3), f"{which} {name}: {figures}"))
    return strips


def _auc_table(lab: dict[str, resources.ModelEntry], set_key: str, score: str) -> None:
    """Every kind's AUC on every OOD set, the same inputs for all, and what the figures say."""
    st.subheader("Every kind, every OOD set: AUC", anchor=False)
    recon = "mse" if score == "mse" else "bce"
    sets = [*ood.OOD_SETS, *([set_key] if set_key.startswith(UPLOAD) else [])]
    scorers = {(kind, s): entry for kind, entry in lab.items()
               for s in (recon, *(["neg_elbo"] if entry.has_prior else []))}
    inlier = {row: _scores(e.path, "digits", row[1]) for row, e in scorers.items()}
    outliers = {row: {_title(k): _scores(e.path, k, row[1]) for k in sets} for row, e in scorers.items()}
    table = anomaly.auc_table(inlier, outliers)
    st.table([{"model": resources.plain(f"{e.name} ({e.description})"), "score": SHORT[s],
               **{name: f"{v:.3f}" for name, v in table[(kind, s)].items()}} for (kind, s), e in scorers.items()],
             hide_index=True)
    st.caption(f"AUC of each score at telling the 500 held-out digits from each set's images: 1 separates them "
               f"completely, 0.5 is chance, below 0.5 the OOD images score *lower* than digits. "
               f"{'MSE' if recon == 'mse' else 'BCE'} rows decode each image's code; the -ELBO averages "
               f"{anomaly.ELBO_SAMPLES} sampled codes per image.")
    draws = _draws(tuple((row, e.path) for row, e in scorers.items()), tuple(sets))
    st.markdown("\n\n".join(_findings(table, draws, recon)))


@st.cache_data(show_spinner="Resampling the digits to tell real differences from noise (once)...", max_entries=16)
def _draws(scorers: tuple, sets: tuple) -> dict:
    """Paired bootstrap AUCs of every row on every set (see anomaly.auc_draws)."""
    inlier = {row: _scores(path, "digits", row[1]) for row, path in scorers}
    outliers = {row: {_title(k): _scores(path, k, row[1]) for k in sets} for row, path in scorers}
    return anomaly.auc_draws(inlier, outliers)


def _findings(table: dict, draws: dict, recon: str) -> list[str]:
    """Sentences computed from the table: the easiest and hardest sets, the best kinds, the -ELBO's effect."""
    facts = anomaly.summary({row: sets for row, sets in table.items() if row[1] == recon}, draws)
    low, high = facts["hardest_range"]
    floor = facts["easiest_auc"]
    how = ("every kind tells them apart completely, AUC 1.000" if f"{floor:.3f}" == "1.000"
           else f"every kind's AUC at least {floor:.3f}")
    lines = [f"Easiest to tell from digits: **{' and '.join(facts['easiest'])}** ({how}). "
             f"Hardest: **{facts['hardest']}** (AUCs {low:.3f} to {high:.3f})."]
    if facts["best"]:
        best = "; ".join(f"{name}: {' and '.join(KINDS[r[0]] for r in rows)} ({top:.3f})"
                         for name, (rows, top) in facts["best"].items())
        lines.append(f"Best kind per set, where the top one beats another beyond noise (a paired bootstrap "
                     f"over the images; the kinds it does not beat tie with it): {best}.")
    if facts["below_chance"]:
        cells = ", ".join(f"the {KINDS[r[0]]} on {name} ({auc:.3f})" for r, name, auc in facts["below_chance"])
        lines.append(f"Below chance: {cells}. There the OOD images score *lower* than digits, so this score "
                     "would flag digits first.")
    for kind, score in [row for row in table if row[1] == "neg_elbo" and (row[0], recon) in table]:
        verdict = anomaly.compare_rows(draws[(kind, score)], draws[(kind, recon)])
        parts = [f"{how} on {', '.join(verdict[key])}" for key, how in (("better", "better"), ("worse", "worse"),
                 ("tie", "as well, within noise")) if verdict[key]]
        lines.append(f"The {KINDS[kind]}'s -ELBO, against its {SCORE_NAMES[recon]}: {'; '.join(parts)}.")
    return lines


if __name__ == "__main__":  # run by Streamlit as a page
    render()
