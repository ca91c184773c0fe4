"""The compare page's measured figures: each table, and the sentences computed from it.

Every sentence here is built from the figures it sits under (aelab.regularity,
aelab.labs.completeness), so the page cannot state a direction its models do not show. A
difference whose 95% bootstrap interval contains 0 is called a tie.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from aelab import data, explore, metrics, pretrained, regularity
from aelab.app import resources
from aelab.judge import judge_for
from aelab.labs import completeness

BETTER = {True: "lower is better", False: "higher is better"}


@st.cache_data(show_spinner="Measuring continuity and completeness (a few seconds, once per model)...",
               max_entries=32)
def figures(path: str, spec: str) -> dict:
    """regularity.measure's figures at the page's settings, with reconstruction errors beside them."""
    splits = resources.load_data(spec)
    loaded = resources.load_model(path)
    folders = [pretrained.default_dir() / pretrained.FIGURES_DIR, data.cache_dir() / "figures"]
    out = regularity.stored_measure(loaded.model, Path(path), splits.train.images, splits.val.images, judge(spec),
                                    folders=folders)
    out["recon_bce"] = loaded.info.get("metrics", {}).get("recon_bce")  # as the ELBO counts it (VAE: sampled)
    out["recon_per_digit"] = metrics.per_image_bce(loaded.model, splits.val.images)  # each code decoded (VAE: mean)
    return out


@st.cache_data(show_spinner=False, max_entries=32)
def prior_fit(path: str, spec: str) -> dict:
    """How a VAE's held-out codes sit against its prior: sigmas, spread, share inside 2 sigma, divergences."""
    mean, sigma = explore.encode(resources.load_model(path).model, resources.load_data(spec).val.images)
    dim = mean.shape[1]
    out = {"inside": completeness.share_inside(mean, completeness.two_sigma_radius(dim)),
           "prior_inside": completeness.prior_mass_inside(completeness.two_sigma_radius(dim), dim),
           "sigma": float(np.median(sigma)), "spread": regularity.spread(mean),
           "log10_sigma": np.log10(np.maximum(sigma, 1e-12)).ravel()}
    if dim <= 2:  # the Monte Carlo divergences need the mixture's density: cheap and reliable in 2-D
        out |= completeness.aggregate_divergences(mean, sigma, samples=2000)
    images = resources.load_data(spec).val.images
    out["neg_elbo"] = float(metrics.per_image_neg_elbo(resources.load_model(path).model, images).mean())
    out["neg_iwae"] = float(-completeness.iwae_bound(resources.load_model(path).model, images, k=IWAE_K).mean())
    return out


IWAE_K = 64  # importance samples per digit: 0.6 s per VAE, and on vae-2d 145.1 against 144.3 nats at K = 256


@st.cache_resource(show_spinner="Loading the judge classifier...")
def judge(spec: str):
    return judge_for(resources.load_data(spec), pretrained.judge_dir())


@st.cache_data(show_spinner=False, max_entries=64)
def compared(first: tuple[str, str], second: tuple[str, str]) -> dict:
    """regularity.compare of two models' figures (each given as (path, spec)), without the Measure objects."""
    result = regularity.compare(figures(*first), figures(*second))
    return {key: {k: v for k, v in row.items() if k != "measure"} for key, row in result.items()}


def verdict_table(names: tuple[str, str], entries: tuple, kinds: tuple[str, str] = ("AE", "VAE")) -> dict:
    """The table of every measure for two models, the difference's interval, and who is more regular."""
    rows = verdict_rows(names, tuple(entries), kinds)
    st.dataframe(rows, hide_index=True, width="stretch")
    st.markdown(meanings())
    return {r["measure"]: r["more regular"] for r in rows}


@st.cache_data(show_spinner=False, max_entries=64)
def verdict_rows(names: tuple[str, str], entries: tuple, kinds: tuple[str, str] = ("AE", "VAE")) -> list[dict]:
    """verdict_table's rows (cached: a probe release reruns the page, and the models did not change)."""
    result = compared(*((e.path, e.data) for e in entries))
    rows = []
    for m in regularity.MEASURES:
        row = result[regularity.label(m)]
        low, high = row["interval"]
        rows.append({"measure": m.name, names[0]: _round(row["first"]), names[1]: _round(row["second"]),
                     f"{kinds[0]} − {kinds[1]} [95%]": f"{row['difference']:+.3g} [{low:+.3g}, {high:+.3g}]",
                     "more regular": {"first": kinds[0], "second": kinds[1]}.get(row["more regular"], "tie"),
                     "which way": BETTER[m.lower_is_better]})
    return rows


def meanings() -> str:
    """One line per measure: what it is, in words (its definition and reference: aelab.regularity)."""
    return "\n".join(f"- **{m.name}**: {m.meaning}." for m in regularity.MEASURES)


def _round(value: float) -> float:
    return round(value, 3) if abs(value) < 100 else round(value, 1)


def verdict_sentences(winners: dict[str, str], kinds: tuple[str, str] = ("AE", "VAE")) -> list[str]:
    """What the table says, in words: where each model is more regular and where they tie."""
    named = {who: [m for m, w in winners.items() if w == who] for who in (*kinds, "tie")}
    lines = []
    if named[kinds[1]]:
        lines.append(f"The {kinds[1]} is more regular on: {', '.join(named[kinds[1]])}.")
    if named["tie"]:
        lines.append(f"No real difference (the 95% interval contains 0) on: {', '.join(named['tie'])}.")
    if named[kinds[0]]:
        lines.append(f"**The {kinds[0]} does better** on: {', '.join(named[kinds[0]])}.")
    return lines


@st.cache_data(show_spinner=False, max_entries=64)  # its bootstrap took a few ms of every rerun
def recon_sentence(ae: np.ndarray, vae: np.ndarray) -> str:
    """Both models' reconstruction error, decoded alike (the VAE's posterior mean), and whether they differ."""
    low, high = metrics.bootstrap_interval(vae - ae)
    verdict = ("the VAE's is lower" if high < 0 else "the AE's is lower" if low > 0
               else "a tie: the difference is within its noise")
    return (f"Reconstruction error (BCE, nats per held-out digit), each digit's code decoded (for the VAE the "
            f"mean of its posterior, not a random draw): {ae.mean():.1f} for the AE, {vae.mean():.1f} for the VAE; "
            f"{verdict} (95% interval of the VAE's minus the AE's: {low:+.1f} to {high:+.1f}).")


# ---- beta: what the slider trades --------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def beta_rows(vaes: dict[float, resources.ModelEntry]) -> list[dict]:
    """One row of figures per shipped VAE of one latent size, in order of beta."""
    rows = []
    for beta, entry in sorted(vaes.items()):
        f, fit = figures(entry.path, entry.data), prior_fit(entry.path, entry.data)
        rows.append({"beta": beta, "recon mean": round(float(f["recon_per_digit"].mean()), 1),
                     "recon sampled": None if f["recon_bce"] is None else round(f["recon_bce"], 1),
                     "sensitivity": round(f["continuity"]["sensitivity_data_median"], 2),
                     "density": round(f["completeness"]["density_mean"], 3),
                     "coverage": round(f["completeness"]["coverage_mean"], 3),
                     "KL(prior‖codes)": _maybe(fit.get("kl_p_q"), 2), "KL(codes‖prior)": _maybe(fit.get("kl_q_p"), 2),
                     "in 2σ": round(fit["inside"], 2), "typical σ": float(f"{fit['sigma']:.2g}"),
                     "−ELBO": round(fit["neg_elbo"], 1), "−log p(x) ≤": round(fit["neg_iwae"], 1)})
    return rows


def _maybe(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


COLUMNS = ("**recon mean / sampled**: reconstruction error in nats per held-out digit, decoding the posterior mean "
           "or codes drawn from q(z|x) as the ELBO counts it. **Sensitivity**, **density**, **coverage**: as in the "
           "table above. **KL(prior‖codes)**: how much of the prior's mass falls where no held-out digit's code "
           "lives, in nats (0 when the codes fill the prior; a sample from the prior then lands among real codes). "
           "**KL(codes‖prior)**: how far the codes sit from where the prior puts its mass. **In 2σ**: the share of "
           "held-out codes inside the region that holds 95% of the prior. **Typical σ**: the median posterior "
           "standard deviation of a held-out digit's code. **−ELBO**: the loss a VAE with beta 1 minimises, in nats "
           f"per held-out digit, a bound on −log p(x). **−log p(x) ≤**: a tighter bound on the same, by importance "
           f"sampling with {IWAE_K} codes per digit (the IWAE bound of Burda et al., 2016); the gap between the two "
           "is how far the encoder's q(z|x) is from the true posterior.")


@st.cache_data(show_spinner=False, max_entries=16)  # bootstraps: a few ms, and the same on every rerun
def beta_sentences(vaes: dict[float, resources.ModelEntry], rows: list[dict]) -> list[str]:
    """What the beta table shows on these models, computed from it and from bootstrap intervals."""
    low, high = (vaes[b] for b in (rows[0]["beta"], rows[-1]["beta"]))
    ends = f"beta {rows[0]['beta']:g} to beta {rows[-1]['beta']:g}"
    lines = [_kl_trend(vaes, rows)] if rows[0]["KL(prior‖codes)"] is not None else []
    result = compared((low.path, low.data), (high.path, high.data))
    moves = []
    for m in regularity.MEASURES:
        row = result[regularity.label(m)]
        lo, hi = row["interval"]
        verb = "stays within its noise" if row["more regular"] == "tie" else (
            "falls" if row["difference"] > 0 else "rises")
        moves.append(f"{m.name} {verb}, {row['first']:.3g} to {row['second']:.3g} (95% interval of the change "
                     f"{-hi:+.3g} to {-lo:+.3g})")
    recon = figures(high.path, high.data)["recon_per_digit"] - figures(low.path, low.data)["recon_per_digit"]
    lo, hi = metrics.bootstrap_interval(recon)
    verb = "stays within its noise" if lo <= 0 <= hi else ("rises" if lo > 0 else "falls")
    moves.append(f"reconstruction error from the posterior mean {verb} ({lo:+.1f} to {hi:+.1f} nats)")
    lines.append(f"From {ends}, on these shipped models: " + "; ".join(moves) + ".")
    return lines


def _kl_trend(vaes: dict[float, resources.ModelEntry], rows: list[dict]) -> str:
    """Whether KL(prior‖codes) falls at each step up in beta by more than twice its Monte Carlo error."""
    fits = [prior_fit(vaes[r["beta"]].path, vaes[r["beta"]].data) for r in rows]
    steps = [(a["kl_p_q"] - b["kl_p_q"]) > 2 * np.hypot(a["kl_p_q_se"], b["kl_p_q_se"])
             for a, b in zip(fits, fits[1:], strict=False)]
    text = (f"KL(prior‖codes) goes from {fits[0]['kl_p_q']:.3g} nats at beta {rows[0]['beta']:g} to "
            f"{fits[-1]['kl_p_q']:.3g} at beta {rows[-1]['beta']:g}")
    if all(steps):
        return text + ", falling at every step up in beta by more than twice its Monte Carlo error."
    flat = [f"{rows[i]['beta']:g} to {rows[i + 1]['beta']:g}" for i, ok in enumerate(steps) if not ok]
    return text + f"; from beta {', '.join(flat)} it does not fall by more than twice its Monte Carlo error."


def beta_table(vaes: dict[float, resources.ModelEntry]) -> None:
    """The measured trade-off across the shipped betas, with what it does and does not show."""
    if len(vaes) < 2:
        return
    rows = beta_rows(vaes)
    with st.expander("Beta: what the slider trades, measured on every shipped VAE of this size"):
        st.dataframe(rows, hide_index=True, width="stretch")
        st.markdown(COLUMNS)
        st.markdown("\n\n".join(beta_sentences(vaes, rows)))
        st.caption("Each stop is one model trained from one seed; a different seed moves every figure a little, "
                   "so read neighbouring betas as close unless their intervals say otherwise.")


# ---- the codes against the prior: what the KL term is for --------------------------------------


def prior_sentences(name: str, beta: float, fit: dict, reference: tuple[str, dict] | None) -> list[str]:
    """Where this VAE's held-out codes sit against its prior, beside the beta = 1 VAE when there is one."""
    ref_name, ref = reference or (None, None)
    beside = (lambda key, fmt: f" ({ref_name}: {format(ref[key], fmt)})") if ref is not None else (lambda *_: "")
    lines = [f"**{name}** (beta {beta:g}): typical posterior σ {fit['sigma']:.2g}{beside('sigma', '.2g')}; the "
             f"means spread {fit['spread']:.2f}{beside('spread', '.2f')} (root mean variance; the prior's is 1); "
             f"{fit['inside']:.0%} of held-out codes lie inside the prior's 2σ region{beside('inside', '.0%')}, "
             f"which holds {fit['prior_inside']:.0%} of the prior itself."]
    if "kl_p_q" in fit:
        lines.append(f"KL(prior‖codes) {fit['kl_p_q']:.3g} ± {fit['kl_p_q_se']:.2g} nats"
                     f"{beside('kl_p_q', '.3g') if ref is not None and 'kl_p_q' in ref else ''}.")
    if beta == 0 and ref is not None and _predicted_collapse(fit, ref):
        lines.append(f"This is what the article predicts without the KL term: nothing keeps the encoder's "
                     f"distributions wide or near the origin, so it shrinks each σ about "
                     f"{ref['sigma'] / fit['sigma']:.0f} times and spreads the means "
                     f"{fit['spread'] / ref['spread']:.1f} times wider than with beta 1. The codes become isolated "
                     "points, most of the prior's mass lies between them, and samples from the prior (below) land "
                     "where no digit was encoded.")
    return lines


def _predicted_collapse(fit: dict, ref: dict) -> bool:
    """The beta = 0 lesson holds on these figures: smaller sigmas, wider means, fewer codes in 2 sigma,
    and more of the prior left empty than with beta 1."""
    return (fit["sigma"] < ref["sigma"] / 3 and fit["spread"] > ref["spread"] and fit["inside"] < ref["inside"]
            and fit.get("kl_p_q", np.inf) > ref.get("kl_p_q", -np.inf))


def sigma_chart(fits: dict[str, dict]) -> None:
    """Histograms of log10 posterior sigma (every dimension of every held-out digit), one colour per model."""
    values = []
    for name, fit in fits.items():
        counts, edges = np.histogram(fit["log10_sigma"], bins=40, range=(-4, 0.5))
        values += [{"model": name, "from": float(a), "to": float(b), "share": float(c) / max(counts.sum(), 1)}
                   for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    st.vega_lite_chart(pd.DataFrame(values), spec={
        "height": 200, "mark": {"type": "bar", "opacity": 0.6},
        "encoding": {"x": {"field": "from", "type": "quantitative", "bin": "binned",
                           "title": "posterior σ of a code (log10: -2 is 0.01)"},
                     "x2": {"field": "to"},
                     "y": {"field": "share", "type": "quantitative", "stack": None, "title": "share of codes"},
                     "color": {"field": "model", "type": "nominal", "legend": {"orient": "top", "title": None}}}},
        width="stretch")


# ---- DAE and SAE: not regular either? ----------------------------------------------------------


def kinds_table(others: list[resources.ModelEntry], vae: resources.ModelEntry) -> list[str]:
    """Every measure for the AE, DAE and SAE beside the VAE, each compared with the VAE; the reading in words."""
    rows, lines = kinds_rows(tuple(others), vae)
    st.dataframe(rows, hide_index=True, width="stretch")
    return lines


@st.cache_data(show_spinner=False, max_entries=16)
def kinds_rows(others: tuple[resources.ModelEntry, ...], vae: resources.ModelEntry) -> tuple[list[dict], list[str]]:
    """kinds_table's rows and sentences."""
    rows = {m.name: {"measure": m.name} for m in regularity.MEASURES}
    lines = []
    for entry in [*others, vae]:
        f = figures(entry.path, entry.data)
        for m in regularity.MEASURES:
            rows[m.name][entry.name] = _round(f[m.group][regularity.label(m)])
    for entry in others:
        result = compared((entry.path, entry.data), (vae.path, vae.data))
        who = {m.name: {"first": entry.kind.upper(), "second": "VAE"}.get(result[regularity.label(m)]["more regular"],
                                                                          "tie") for m in regularity.MEASURES}
        for m in regularity.MEASURES:
            rows[m.name][f"{entry.name} vs {vae.name}"] = who[m.name]
        lines.append(f"**{entry.name}** against {vae.name}: " + " ".join(verdict_sentences(who, (entry.kind.upper(),
                                                                                                 "VAE"))))
    return list(rows.values()), lines
