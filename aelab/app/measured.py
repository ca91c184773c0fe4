"""The compare page's measured figures: each table, and the sentences computed from it.

Every sentence here is built from the figures it sits under (aelab.regularity,
aelab.labs.completeness), so the page cannot state a direction its models do not show. A
difference whose 95% bootstrap interval contains 0 is called a tie. Texts are shown in the reader's
language (aelab.i18n): a cached function that returns text takes the language as its ``lang`` argument.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from aelab import data, explore, i18n, metrics, pretrained, regularity
from aelab.app import resources
from aelab.i18n import N_, _
from aelab.judge import judge_for
from aelab.labs import completeness

BETTER = {True: N_("lower is better"), False: N_("higher is better")}
TIE = "tie"  # who is more regular when the interval contains 0 (translated where shown)


@st.cache_data(show_spinner=resources.Shown(N_("Measuring continuity and completeness (a few seconds, once per "
                                              "model)...")), max_entries=32)
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
           "radius": completeness.two_sigma_radius(dim),
           "sigma": float(np.median(sigma)), "spread": regularity.spread(mean),
           "log10_sigma": np.log10(np.maximum(sigma, 1e-12)).ravel()}
    if dim <= 2:  # the Monte Carlo divergences need the mixture's density: cheap and reliable in 2-D
        out |= completeness.aggregate_divergences(mean, sigma, samples=2000)
    images = resources.load_data(spec).val.images
    out["neg_elbo"] = float(metrics.per_image_neg_elbo(resources.load_model(path).model, images).mean())
    out["neg_iwae"] = float(-completeness.iwae_bound(resources.load_model(path).model, images, k=IWAE_K).mean())
    return out


IWAE_K = 64  # importance samples per digit: 0.6 s per VAE, and on vae-2d 145.1 against 144.3 nats at K = 256


@st.cache_resource(show_spinner=resources.Shown(N_("Loading the judge classifier...")))
def judge(spec: str):
    return judge_for(resources.load_data(spec), pretrained.judge_dir())


@st.cache_data(show_spinner=False, max_entries=64)
def compared(first: tuple[str, str], second: tuple[str, str]) -> dict:
    """regularity.compare of two models' figures (each given as (path, spec)), without the Measure objects."""
    result = regularity.compare(figures(*first), figures(*second))
    return {key: {k: v for k, v in row.items() if k != "measure"} for key, row in result.items()}


def _who(code: str, kinds: tuple[str, str]) -> str:
    """compare's "more regular" ("first", "second" or "tie") as one of ``kinds`` or TIE."""
    return {"first": kinds[0], "second": kinds[1]}.get(code, TIE)


def _shown_who(who: str) -> str:
    return _("tie") if who == TIE else who


def winners(entries: tuple, kinds: tuple[str, str] = ("AE", "VAE")) -> dict[str, str]:
    """Each measure's name (as in regularity.MEASURES) -> the more regular of ``kinds``, or TIE."""
    result = compared(*((e.path, e.data) for e in entries))
    return {m.name: _who(result[regularity.label(m)]["more regular"], kinds) for m in regularity.MEASURES}


def verdict_table(names: tuple[str, str], entries: tuple, kinds: tuple[str, str] = ("AE", "VAE")) -> dict:
    """The table of every measure for two models, the difference's interval, and who is more regular.
    Returns :func:`winners` (untranslated, for :func:`verdict_sentences`)."""
    rows = verdict_rows(names, tuple(entries), kinds, i18n.language())
    st.dataframe(rows, hide_index=True, width="stretch", column_config=_verdict_help(names, kinds))
    st.markdown(meanings())
    return winners(tuple(entries), kinds)


def _verdict_help(names: tuple[str, str], kinds: tuple[str, str]) -> dict:
    """A tooltip for each column of the verdict table: what its numbers mean."""
    value = _("This model's value of the measure; what it counts and its unit are listed under the table.")
    helps = {_("measure"): _("What is measured; each is defined in words under the table and in formulas below."),
             names[0]: value, names[1]: value,
             _difference_header(kinds): _(
                 "The first model's value minus the second's, and in brackets its 95% bootstrap interval: the digits, "
                 "lines or samples are drawn again at random 1,000 times, and 95% of the differences fall inside it. "
                 "When it contains 0 the two models tie."),
             _("more regular"): _("The model whose value is better by more than the measure's own noise, or a tie."),
             _("which way"): _("Whether a lower or a higher value of this measure is the more regular one.")}
    return {name: st.column_config.Column(help=text) for name, text in helps.items()}


def _difference_header(kinds: tuple[str, str]) -> str:
    return _("{first} − {second} [95%]", first=kinds[0], second=kinds[1])


@st.cache_data(show_spinner=False, max_entries=64)
def verdict_rows(names: tuple[str, str], entries: tuple, kinds: tuple[str, str] = ("AE", "VAE"),
                 lang: str = "en") -> list[dict]:
    """verdict_table's rows in language ``lang`` (cached: a probe release reruns the page, and the models
    did not change)."""
    result = compared(*((e.path, e.data) for e in entries))
    rows = []
    for m in regularity.MEASURES:
        row = result[regularity.label(m)]
        low, high = row["interval"]
        rows.append({_("measure"): _(m.name), names[0]: _round(row["first"]), names[1]: _round(row["second"]),
                     _difference_header(kinds): f"{row['difference']:+.3g} [{low:+.3g}, {high:+.3g}]",
                     _("more regular"): _shown_who(_who(row["more regular"], kinds)),
                     _("which way"): _(BETTER[m.lower_is_better])})
    return rows


def meanings() -> str:
    """One line per measure: what it is, in words (its definition and reference: aelab.regularity)."""
    return "\n".join(_("- **{name}**: {meaning}.", name=_(m.name), meaning=_(m.meaning)) for m in regularity.MEASURES)


def _round(value: float) -> float:
    return round(value, 3) if abs(value) < 100 else round(value, 1)


def _listed(names: list[str]) -> str:
    """Measure names as a list in a sentence."""
    return _(", ").join(_(n) for n in names)  # a list separator: "、" in Chinese


def verdict_sentences(winners: dict[str, str], kinds: tuple[str, str] = ("AE", "VAE")) -> list[str]:
    """What the table says, in words: where each model is more regular and where they tie."""
    named = {who: [m for m, w in winners.items() if w == who] for who in (*kinds, TIE)}
    lines = []
    if named[kinds[1]]:
        lines.append(_("The {kind} is more regular on: {measures}.", kind=kinds[1], measures=_listed(named[kinds[1]])))
    if named[TIE]:
        lines.append(_("No real difference (the 95% interval contains 0) on: {measures}.",
                       measures=_listed(named[TIE])))
    if named[kinds[0]]:
        lines.append(_("**The {kind} does better** on: {measures}.", kind=kinds[0], measures=_listed(named[kinds[0]])))
    return lines


@st.cache_data(show_spinner=False, max_entries=64)  # its bootstrap took a few ms of every rerun
def recon_sentence(ae: np.ndarray, vae: np.ndarray, lang: str = "en") -> str:
    """Both models' reconstruction error, decoded alike (the VAE's posterior mean), and whether they differ."""
    low, high = metrics.bootstrap_interval(vae - ae)
    values = {"ae": ae.mean(), "vae": vae.mean(), "low": low, "high": high}
    if high < 0:
        return _("Reconstruction error (BCE: binary cross-entropy, in nats per held-out digit; lower is better), "
                 "each digit's code decoded (for the VAE the mean of its posterior, not a random draw): {ae:.1f} "
                 "for the AE, {vae:.1f} for the VAE; the VAE's is lower (95% interval of the VAE's minus the AE's: "
                 "{low:+.1f} to {high:+.1f}).", **values)
    if low > 0:
        return _("Reconstruction error (BCE: binary cross-entropy, in nats per held-out digit; lower is better), "
                 "each digit's code decoded (for the VAE the mean of its posterior, not a random draw): {ae:.1f} "
                 "for the AE, {vae:.1f} for the VAE; the AE's is lower (95% interval of the VAE's minus the AE's: "
                 "{low:+.1f} to {high:+.1f}).", **values)
    return _("Reconstruction error (BCE: binary cross-entropy, in nats per held-out digit; lower is better), "
             "each digit's code decoded (for the VAE the mean of its posterior, not a random draw): {ae:.1f} "
             "for the AE, {vae:.1f} for the VAE; a tie: the difference is within its noise (95% interval of the "
             "VAE's minus the AE's: {low:+.1f} to {high:+.1f}).", **values)


# ---- beta: what the slider trades --------------------------------------------------------------

# The beta table's columns: the row key, the header, and the header's tooltip.
BETA_COLUMNS = (
    ("beta", N_("beta"), N_("The weight β of the KL term this VAE was trained with (0: no KL term; 1: the "
                            "standard VAE).")),
    ("recon_mean", N_("recon mean"), N_("Reconstruction error in nats per held-out digit (binary cross-entropy), "
                                        "decoding the mean of each digit's posterior. Lower is better.")),
    ("recon_sampled", N_("recon sampled"), N_("Reconstruction error in nats per held-out digit, decoding codes "
                                              "drawn from q(z|x), as the ELBO counts it. Lower is better.")),
    ("sensitivity", N_("sensitivity"), N_("Sensitivity at digits (median): pixel change per unit of the codes' "
                                          "spread for a tiny move. Lower is smoother.")),
    ("density", N_("density"), N_("Sample density: about 1 when samples land among real digits as real digits do, "
                                  "near 0 for garbage.")),
    ("coverage", N_("coverage"), N_("The share (0 to 1) of held-out digits that some sample lands next to.")),
    ("kl_p_q", N_("KL(prior‖codes)"), N_("In nats: how much of the prior's mass lies where no held-out code "
                                         "lives. 0 when the codes fill the prior. 2-D latents only.")),
    ("kl_q_p", N_("KL(codes‖prior)"), N_("In nats: how far the codes sit from where the prior puts its mass. "
                                         "2-D latents only.")),
    ("inside", N_("in 2σ"), N_("The share (0 to 1) of held-out codes inside the region that holds 95% of the "
                               "prior.")),
    ("sigma", N_("typical σ"), N_("The median posterior standard deviation of a held-out digit's code (the "
                                  "prior's is 1).")),
    ("neg_elbo", N_("−ELBO"), N_("The loss a VAE with beta 1 minimises, in nats per held-out digit: a bound on "
                                 "−log p(x). Lower is better.")),
    ("neg_iwae", N_("−log p(x) ≤"), N_("A tighter bound on −log p(x) in nats per held-out digit, by importance "
                                       "sampling (the IWAE bound). Lower is better.")),
)


@st.cache_data(show_spinner=False, max_entries=16)
def beta_rows(vaes: dict[float, resources.ModelEntry]) -> list[dict]:
    """One row of figures per shipped VAE of one latent size, in order of beta (keyed as in BETA_COLUMNS)."""
    rows = []
    for beta, entry in sorted(vaes.items()):
        f, fit = figures(entry.path, entry.data), prior_fit(entry.path, entry.data)
        rows.append({"beta": beta, "recon_mean": round(float(f["recon_per_digit"].mean()), 1),
                     "recon_sampled": None if f["recon_bce"] is None else round(f["recon_bce"], 1),
                     "sensitivity": round(f["continuity"]["sensitivity_data_median"], 2),
                     "density": round(f["completeness"]["density_mean"], 3),
                     "coverage": round(f["completeness"]["coverage_mean"], 3),
                     "kl_p_q": _maybe(fit.get("kl_p_q"), 2), "kl_q_p": _maybe(fit.get("kl_q_p"), 2),
                     "inside": round(fit["inside"], 2), "sigma": float(f"{fit['sigma']:.2g}"),
                     "neg_elbo": round(fit["neg_elbo"], 1), "neg_iwae": round(fit["neg_iwae"], 1)})
    return rows


def _maybe(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _columns_text() -> str:
    return _("**recon mean / sampled**: reconstruction error in nats per held-out digit, decoding the posterior mean "
             "or codes drawn from q(z|x) as the ELBO counts it. **Sensitivity**, **density**, **coverage**: as in the "
             "table above. **KL(prior‖codes)**: how much of the prior's mass falls where no held-out digit's code "
             "lives, in nats (0 when the codes fill the prior; a sample from the prior then lands among real codes). "
             "**KL(codes‖prior)**: how far the codes sit from where the prior puts its mass. **In 2σ**: the share of "
             "held-out codes inside the region that holds 95% of the prior. **Typical σ**: the median posterior "
             "standard deviation of a held-out digit's code. **−ELBO**: the loss a VAE with beta 1 minimises, in nats "
             "per held-out digit, a bound on −log p(x). **−log p(x) ≤**: a tighter bound on the same, by importance "
             "sampling with {k} codes per digit (the IWAE bound of Burda et al., 2016); the gap between the two "
             "is how far the encoder's q(z|x) is from the true posterior.", k=IWAE_K)


@st.cache_data(show_spinner=False, max_entries=16)  # bootstraps: a few ms, and the same on every rerun
def beta_sentences(vaes: dict[float, resources.ModelEntry], rows: list[dict], lang: str = "en") -> list[str]:
    """What the beta table shows on these models, computed from it and from bootstrap intervals (in ``lang``)."""
    low, high = (vaes[b] for b in (rows[0]["beta"], rows[-1]["beta"]))
    lines = [_kl_trend(vaes, rows)] if rows[0]["kl_p_q"] is not None else []
    result = compared((low.path, low.data), (high.path, high.data))
    moves = [_move(m, result[regularity.label(m)]) for m in regularity.MEASURES]
    recon = figures(high.path, high.data)["recon_per_digit"] - figures(low.path, low.data)["recon_per_digit"]
    lo, hi = metrics.bootstrap_interval(recon)
    if lo <= 0 <= hi:
        moves.append(_("reconstruction error from the posterior mean stays within its noise ({low:+.1f} to "
                       "{high:+.1f} nats)", low=lo, high=hi))
    elif lo > 0:
        moves.append(_("reconstruction error from the posterior mean rises ({low:+.1f} to {high:+.1f} nats)",
                       low=lo, high=hi))
    else:
        moves.append(_("reconstruction error from the posterior mean falls ({low:+.1f} to {high:+.1f} nats)",
                       low=lo, high=hi))
    lines.append(_("From beta {low:g} to beta {high:g}, on these shipped models: {changes}.", low=rows[0]["beta"],
                   high=rows[-1]["beta"], changes=_("; ").join(moves)))
    return lines


def _move(m: regularity.Measure, row: dict) -> str:
    """How one measure changes from the first model to the second, with the change's 95% interval."""
    lo, hi = row["interval"]  # of first minus second: the change is its negative
    values = {"measure": _(m.name), "first": row["first"], "second": row["second"], "low": -hi, "high": -lo}
    if row["more regular"] == "tie":
        return _("{measure} stays within its noise, {first:.3g} to {second:.3g} (95% interval of the change "
                 "{low:+.3g} to {high:+.3g})", **values)
    if row["difference"] > 0:
        return _("{measure} falls, {first:.3g} to {second:.3g} (95% interval of the change {low:+.3g} to "
                 "{high:+.3g})", **values)
    return _("{measure} rises, {first:.3g} to {second:.3g} (95% interval of the change {low:+.3g} to {high:+.3g})",
             **values)


def _kl_trend(vaes: dict[float, resources.ModelEntry], rows: list[dict]) -> str:
    """Whether KL(prior‖codes) falls at each step up in beta by more than twice its Monte Carlo error."""
    fits = [prior_fit(vaes[r["beta"]].path, vaes[r["beta"]].data) for r in rows]
    steps = [(a["kl_p_q"] - b["kl_p_q"]) > 2 * np.hypot(a["kl_p_q_se"], b["kl_p_q_se"])
             for a, b in zip(fits, fits[1:], strict=False)]
    values = {"first": fits[0]["kl_p_q"], "low": rows[0]["beta"], "last": fits[-1]["kl_p_q"],
              "high": rows[-1]["beta"]}
    if all(steps):
        return _("KL(prior‖codes) goes from {first:.3g} nats at beta {low:g} to {last:.3g} at beta {high:g}, "
                 "falling at every step up in beta by more than twice its Monte Carlo error (the random error of "
                 "an estimate from a finite number of drawn points).", **values)
    flat = [_("{low:g} to {high:g}", low=rows[i]["beta"], high=rows[i + 1]["beta"])
            for i, ok in enumerate(steps) if not ok]
    return _("KL(prior‖codes) goes from {first:.3g} nats at beta {low:g} to {last:.3g} at beta {high:g}; from beta "
             "{steps} it does not fall by more than twice its Monte Carlo error (the random error of an estimate "
             "from a finite number of drawn points).", steps=_(", ").join(flat), **values)


def beta_table(vaes: dict[float, resources.ModelEntry]) -> None:
    """The measured trade-off across the shipped betas, with what it does and does not show."""
    if len(vaes) < 2:
        return
    rows = beta_rows(vaes)
    with st.expander(_("Beta: what the slider trades, measured on every shipped VAE of this size")):
        headers = {key: _(header) for key, header, _help in BETA_COLUMNS}
        st.dataframe(pd.DataFrame(rows).rename(columns=headers), hide_index=True, width="stretch",
                     column_config={headers[key]: st.column_config.Column(help=_(text))
                                    for key, _header, text in BETA_COLUMNS})
        st.markdown(_columns_text())
        st.markdown(_("The last two columns as formulas: the ELBO, and the importance-weighted bound (IWAE) that "
                      "draws K = {k} codes z_1 … z_K from q(z|x) for each digit and averages their weights; with "
                      "K = 1 it is the ELBO again, and it comes closer to log p(x) as K grows.", k=IWAE_K))
        st.latex(r"\begin{gathered}\log p(x) \;\ge\; \mathcal{L}_K(x) = \mathbb{E}\Big[\log \frac{1}{K}\sum_{k=1}^{K}"
                 r"\frac{p(x\mid z_k)\,p(z_k)}{q(z_k\mid x)}\Big] \;\ge\; \mathrm{ELBO}(x),"
                 r"\\ z_k \sim q(z\mid x)\end{gathered}")
        st.markdown("\n\n".join(beta_sentences(vaes, rows, i18n.language())))
        st.caption(_("Each stop is one model trained from one seed; a different seed moves every figure a little, "
                     "so read neighbouring betas as close unless their intervals say otherwise."))


# ---- the codes against the prior: what the KL term is for --------------------------------------


def prior_sentences(name: str, beta: float, fit: dict, reference: tuple[str, dict] | None) -> list[str]:
    """Where this VAE's held-out codes sit against its prior, beside the beta = 1 VAE when there is one."""
    values = {"name": name, "beta": beta, "sigma": fit["sigma"], "spread": fit["spread"], "inside": fit["inside"],
              "prior_inside": fit["prior_inside"]}
    ref_name, ref = reference or (None, None)
    if ref is None:
        lines = [_("**{name}** (beta {beta:g}): typical posterior σ {sigma:.2g}; the means spread {spread:.2f} "
                   "(root mean variance; the prior's is 1); {inside:.0%} of held-out codes lie inside the prior's "
                   "2σ region, which holds {prior_inside:.0%} of the prior itself.", **values)]
    else:
        lines = [_("**{name}** (beta {beta:g}): typical posterior σ {sigma:.2g} ({ref}: {ref_sigma:.2g}); the means "
                   "spread {spread:.2f} ({ref}: {ref_spread:.2f}) (root mean variance; the prior's is 1); {inside:.0%} "
                   "of held-out codes lie inside the prior's 2σ region ({ref}: {ref_inside:.0%}), which holds "
                   "{prior_inside:.0%} of the prior itself.", ref=ref_name, ref_sigma=ref["sigma"],
                   ref_spread=ref["spread"], ref_inside=ref["inside"], **values)]
    if "kl_p_q" in fit:
        kl = {"kl": fit["kl_p_q"], "se": fit["kl_p_q_se"]}
        if ref is not None and "kl_p_q" in ref:
            lines.append(_("KL(prior‖codes) {kl:.3g} ± {se:.2g} nats ({ref}: {ref_kl:.3g}): the prior's mass that "
                           "lies where no held-out code lives (0 when the codes fill the prior).", ref=ref_name,
                           ref_kl=ref["kl_p_q"], **kl))
        else:
            lines.append(_("KL(prior‖codes) {kl:.3g} ± {se:.2g} nats: the prior's mass that lies where no held-out "
                           "code lives (0 when the codes fill the prior).", **kl))
    if beta == 0 and ref is not None and _predicted_collapse(fit, ref):
        lines.append(_("This is what the article predicts without the KL term: nothing keeps the encoder's "
                       "distributions wide or near the origin, so it shrinks each σ about {shrink:.0f} times and "
                       "spreads the means {wider:.1f} times wider than with beta 1. The codes become isolated points, "
                       "most of the prior's mass lies between them, and samples from the prior (below) land where no "
                       "digit was encoded.", shrink=ref["sigma"] / fit["sigma"], wider=fit["spread"] / ref["spread"]))
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
        "title": _("How wide each code's distribution is: the posterior σ of every dimension of every held-out digit"),
        "encoding": {"x": {"field": "from", "type": "quantitative", "bin": "binned",
                           "title": _("posterior σ of a code (log10: -2 is 0.01)")},
                     "x2": {"field": "to"},
                     "y": {"field": "share", "type": "quantitative", "stack": None, "title": _("share of codes"),
                           "axis": {"format": "%"}},
                     "color": {"field": "model", "type": "nominal", "legend": {"orient": "top", "title": None}}}},
        width="stretch")


# ---- DAE and SAE: not regular either? ----------------------------------------------------------


def kinds_table(others: list[resources.ModelEntry], vae: resources.ModelEntry) -> list[str]:
    """Every measure for the AE, DAE and SAE beside the VAE, each compared with the VAE; the reading in words."""
    rows, lines = kinds_rows(tuple(others), vae, i18n.language())
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={name: st.column_config.Column(help=_(
                     "Which of the two is more regular on this measure, or a tie when the 95% interval of the "
                     "difference contains 0.")) for name in [_kinds_header(e, vae) for e in others]})
    return lines


def _kinds_header(entry: resources.ModelEntry, vae: resources.ModelEntry) -> str:
    return _("{model} vs {vae}", model=entry.name, vae=vae.name)


@st.cache_data(show_spinner=False, max_entries=16)
def kinds_rows(others: tuple[resources.ModelEntry, ...], vae: resources.ModelEntry,
               lang: str = "en") -> tuple[list[dict], list[str]]:
    """kinds_table's rows and sentences, in language ``lang``."""
    rows = {m.name: {_("measure"): _(m.name)} for m in regularity.MEASURES}
    lines = []
    for entry in [*others, vae]:
        f = figures(entry.path, entry.data)
        for m in regularity.MEASURES:
            rows[m.name][entry.name] = _round(f[m.group][regularity.label(m)])
    for entry in others:
        who = winners((entry, vae), (entry.kind.upper(), "VAE"))
        for m in regularity.MEASURES:
            rows[m.name][_kinds_header(entry, vae)] = _shown_who(who[m.name])
        lines.append(_("**{model}** against {vae}: {verdict}", model=entry.name, vae=vae.name,
                       verdict=" ".join(verdict_sentences(who, (entry.kind.upper(), "VAE")))))
    return list(rows.values()), lines
