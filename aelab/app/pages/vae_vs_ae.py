"""VAE versus plain AE, side by side: continuity and completeness, shown and measured.

Both models share architecture, data, latent size and seed; only the variational part
differs. The maps are linked (one probe, one pair of digits), and the measured figures
come with a verdict computed from them, so the page never claims more than it shows.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aelab import explore, metrics, pretrained, regularity
from aelab.app import payload, resources
from aelab.app.components.latent_map import latent_map, new_report
from aelab.app.maps import ModelMap, model_map
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.judge import judge_for
from aelab.labs import completeness

MEANING = {
    "jump_ratio_median": "largest step / mean step along a line between two digits (median)",
    "jump_ratio_p90": "the same, 90th percentile: the worst cliffs",
    "sensitivity_median": "pixel change per unit of latent spread, tiny moves along the dimensions it uses (median)",
    "sensitivity_p99": "the same, 99th percentile",
    "frechet_distance": "samples vs real digits in a classifier's features (like FID)",
    "hole_fraction": "share of samples landing where no training digit's code is",
}

PAGE = Page("VAE vs AE", ":material/compare:", "compare", prefix="cmp_", order=20)


def render() -> None:
    st.title("VAE versus plain AE")
    st.markdown(
        "A VAE is trained to make its latent space **regular**: *continuous* (nearby points decode to "
        "similar images) and *complete* (points drawn from its prior decode to real-looking digits). "
        "A plain AE is only trained to reconstruct. Here the two share architecture, data, latent size and "
        "seed; only the variational part differs. Drag the probe on either map: both follow."
    )
    try:
        usable, problems = resources.loadable(resources.shipped_models())
        for problem in resources.manifest_problems() + problems:  # one broken model does not take the page down
            st.warning(resources.plain(problem, 600))
        shipped = {e.name: e for e in usable}
        mode = st.radio("Models", ["shipped", "any"], key="cmp_mode", horizontal=True,
                        format_func=lambda m: {"shipped": "the shipped pair",
                                               "any": "choose any two (your trained or uploaded ones too)"}[m])
        pair = _choose_pair(shipped) if mode == "shipped" else _choose_any({e.name: e for e in
                                                                             resources.available_models()})
    except AelabError as exc:
        st.error(f"The models could not be read: {resources.plain(str(exc), 600)}")
        return
    if pair is None:
        if mode == "shipped":
            st.warning("No matching VAE and AE pair is shipped. Run `python -m aelab pretrained`.")
        return
    ae, vae = (model_map(entry, "pca") for entry in pair)
    figures = {m.entry.name: _measures(m.entry.path, m.entry.data) for m in (ae, vae)}
    _maps(ae, vae)
    _verdict(ae.entry.name, vae.entry.name, figures, ae.entry.latent_dim)
    _beta_table(st.session_state.cmp_vaes)
    _interpolations(ae, vae)
    _samples(ae, vae)


def _choose_pair(entries: dict) -> tuple | None:
    sizes = sorted({e.latent_dim for e in entries.values() if e.kind == "ae"}
                   & {e.latent_dim for e in entries.values() if e.has_prior})
    if not sizes:
        return None
    left, right = st.columns([1, 2])
    size = left.radio("Latent size", sizes, key="cmp_size", horizontal=True, format_func=lambda d: f"{d}-D")
    ae = next(e for e in entries.values() if e.kind == "ae" and e.latent_dim == size)
    vaes = {_beta(e): e for e in entries.values() if e.has_prior and e.latent_dim == size}
    betas = sorted(vaes)
    beta = right.select_slider(
        "VAE beta (weight of the KL term)", betas, value=1.0 if 1.0 in betas else betas[0], key=f"cmp_beta_{size}",
        help="Each stop is a shipped VAE trained with that beta; the table under 'Measured' shows what it trades.",
        disabled=len(betas) == 1,
    )
    st.session_state.cmp_vaes = vaes
    return ae, vaes[beta]


def _choose_any(entries: dict) -> tuple | None:
    """Any VAE against any other model, when the two can be compared fairly."""
    vaes = [n for n, e in entries.items() if e.has_prior]
    others = [n for n, e in entries.items() if not e.has_prior]
    left, right = st.columns(2)
    other = left.selectbox("Model without a prior (AE, DAE, SAE)", others, key="cmp_any_ae",
                           format_func=lambda n: f"{n}: {entries[n].description}")
    vae = right.selectbox("VAE", vaes, key="cmp_any_vae", format_func=lambda n: f"{n}: {entries[n].description}")
    if other is None or vae is None:
        return None
    problem = regularity.comparability_problem(resources.load_model(entries[other].path).model,
                                               resources.load_model(entries[vae].path).model)
    if entries[other].data != entries[vae].data:
        problem = (f"they were trained on different data ({entries[other].data} and {entries[vae].data}), so the "
                   "same digits cannot be followed in both")
    if problem:
        st.warning(f"{other} and {vae} cannot be compared fairly: {problem}.")
        return None
    st.session_state.cmp_vaes = {_beta(entries[vae]): entries[vae]}
    return entries[other], entries[vae]


def _beta(entry: resources.ModelEntry) -> float:
    return float(resources.load_model(entry.path).info["model"].get("beta", 1.0))


@st.cache_data(show_spinner="Measuring continuity and completeness (a few seconds, once per model)...")
def _measures(path: str, spec: str) -> dict:
    splits = resources.load_data(spec)
    judge = _judge(spec)
    model = resources.load_model(path).model
    figures = regularity.measure(model, splits.train.images, splits.val.images, judge)
    figures["recon_bce"] = resources.load_model(path).info.get("metrics", {}).get("recon_bce")
    figures["recon_per_digit"] = metrics.per_image_bce(model, splits.val.images)  # each code decoded (VAE: its mean)
    return figures


@st.cache_data(show_spinner=False, max_entries=32)
def _prior_fit(path: str, spec: str) -> dict:
    """How well a VAE's held-out codes fill its prior (aelab.labs.completeness)."""
    model = resources.load_model(path).model
    mean, sigma = explore.encode(model, resources.load_data(spec).val.images)
    inside = completeness.share_inside(mean, completeness.two_sigma_radius(mean.shape[1]))
    kl = completeness.aggregate_divergences(mean, sigma, samples=2000) if mean.shape[1] <= 2 else {}
    return {"inside": inside, "kl_p_q": kl.get("kl_p_q"), "sigma": float(np.median(sigma))}


@st.cache_resource(show_spinner="Loading the judge classifier...")
def _judge(spec: str):
    return judge_for(resources.load_data(spec), pretrained.judge_dir())


@st.cache_resource(show_spinner=False, max_entries=16)
def _hole_grid(path: str, spec: str, bounds: tuple[float, float, float, float]) -> dict:
    reference = regularity.posterior_codes(resources.load_model(path).model, resources.load_data(spec).train.images)
    grid = regularity.hole_map(reference, bounds[:2], bounds[2:])
    return {"grid": payload.b64(grid), "resolution": int(grid.shape[0]),
            "x_range": list(bounds[:2]), "y_range": list(bounds[2:])}


def _maps(ae: ModelMap, vae: ModelMap) -> None:
    show_holes = st.toggle("Hole map: shade where no training digit put its code (decodes there are guesses)",
                           value=True, key="cmp_holes", disabled=ae.method != "latent")
    if ae.method != "latent":
        st.caption(f"The maps show a PCA plane of the {ae.entry.latent_dim}-D codes; the hole map is drawn for "
                   "2-D latents only.")
    probes = st.session_state.setdefault("cmp_probes", {})
    digits = st.session_state.setdefault("cmp_digits", {})
    for key in [k for k in probes if k not in (_component_key(ae), _component_key(vae))]:
        del probes[key]  # a map not shown now: shown again, it joins the other map's digit
        digits.pop(key, None)
    for m, other in ((ae, vae), (vae, ae)):
        if _component_key(m) in probes:
            continue
        # a new map (first view, or another beta or model) joins the digit the other map is on
        digit = digits.get(_component_key(other)) if _component_key(other) in probes else None
        if digit is None or digit >= len(m.points):
            digit = _start_digit(ae.entry.path, vae.entry.path, ae.entry.data)
        probes[_component_key(m)], digits[_component_key(m)] = m.position_of(digit), digit
    _take_reports((ae, vae))
    for column, m in zip(st.columns(2), (ae, vae), strict=True):
        with column:
            st.subheader(f"{m.entry.name}", anchor=False)
            key = _component_key(m)
            bounds = m.static["data_bounds"]
            probe = probes[key]
            image = explore.decode_at(resources.load_model(m.entry.path).model, np.array([probe]), m.to_latent)[0]
            dynamic = {"probe": list(probe), "view": bounds, "show_manifold": False, "show_sigma": False,
                       "prior": m.static["prior"], "segment": None, "link": {"group": "compare", "follow": "digits"},
                       "server": payload.server_image(probe, image)}
            if show_holes and m.method == "latent":
                dynamic["holes"] = _hole_grid(m.entry.path, m.entry.data, _padded(bounds))
            latent_map(key, m.static | dynamic)
            st.caption(_digit_caption(m, digits.get(key), probe))
            _neighbourhood(m, probe)


@st.cache_data(show_spinner=False, max_entries=16)
def _start_digit(ae_path: str, vae_path: str, spec: str, candidates: int = 50) -> int:
    """Where both probes start: of the held-out digits whose AE code lies nearest the middle of the
    map, the one both models reconstruct best, so the first view shows the same recognisable digit."""
    splits = resources.load_data(spec)
    codes = resources.encoded(ae_path, spec)[0][len(splits.train):]
    central = np.argsort(np.linalg.norm(codes - np.median(codes, axis=0), axis=1))[:candidates]
    errors = [metrics.per_image_bce(resources.load_model(path).model, splits.val.images[central])
              for path in (ae_path, vae_path)]
    return int(len(splits.train) + central[np.argmin(np.maximum(*errors))])


def _digit_caption(m: ModelMap, digit: int | None, probe: tuple[float, float]) -> str:
    if digit is None:
        return f"Free position ({probe[0]:.3f}, {probe[1]:.3f})."
    held_out = digit - (len(m.points) - len(resources.load_data(m.entry.data).val))
    which = f"held-out digit {held_out}" if held_out >= 0 else f"training digit #{digit}"
    if np.allclose(m.position_of(digit), probe, atol=1e-4):
        return f"On {which}, a {m.labels[digit]}, at its code in this model ({probe[0]:.3f}, {probe[1]:.3f})."
    return f"Probe at ({probe[0]:.3f}, {probe[1]:.3f}); the nearest digit is {which}, a {m.labels[digit]}."


def _component_key(m: ModelMap) -> str:
    return f"cmp-{m.entry.name}-{m.method}"


def _take_reports(pair: tuple[ModelMap, ModelMap]) -> None:
    """A released probe: keep it, and put the other model's probe on its own code of the same digit
    (the one clicked, or the one nearest the released probe). A report naming no digit moves only
    its own map's probe, so the other map stays on (and keeps naming) the digit it was on."""
    for m in pair:
        report = new_report(_component_key(m), "probe")
        if report is None or not explore.finite_numbers(report.get("x"), report.get("y")):
            continue
        st.session_state.cmp_probes[_component_key(m)] = (float(report["x"]), float(report["y"]))
        digit = next((d for d in (report.get("picked"), report.get("nearest"))
                      if isinstance(d, int) and not isinstance(d, bool) and 0 <= d < len(m.points)), None)
        st.session_state.cmp_digits[_component_key(m)] = digit
        if digit is not None:
            for other in pair:
                if other is not m and digit < len(other.points):
                    st.session_state.cmp_probes[_component_key(other)] = other.position_of(digit)
                    st.session_state.cmp_digits[_component_key(other)] = digit


def _padded(bounds: list[float], pad: float = 0.3) -> tuple[float, float, float, float]:
    x0, x1, y0, y1 = bounds
    dx, dy = pad * (x1 - x0), pad * (y1 - y0)
    return (x0 - dx, x1 + dx, y0 - dy, y1 + dy)


def _neighbourhood(m: ModelMap, probe: tuple[float, float]) -> None:
    """Decodes of the probe and of 8 points on a tiny circle around it (5% of the codes' spread)."""
    radius = 0.05 * regularity.spread(m.points)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ring = np.array(probe) + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = np.vstack([[probe], ring]).astype(np.float32)
    images = explore.decode_at(resources.load_model(m.entry.path).model, points, m.to_latent)
    change = np.linalg.norm((images[1:] - images[0]).reshape(8, -1), axis=1)
    st.image(resources.to_png_array(explore.tile(images[None]), scale=2), output_format="PNG",
             caption=f"Probe, then a tiny circle around it: mean pixel change {change.mean():.2f}, "
                     f"largest {change.max():.2f}")


def _verdict(ae_name: str, vae_name: str, figures: dict, latent_dim: int) -> None:
    st.subheader("Measured", anchor=False)
    winners = regularity.verdict(figures[ae_name], figures[vae_name], ("AE", "VAE"))
    rows, wins = [], {"VAE": [], "AE": [], "tie": []}
    for group, key in regularity.COMPARED:
        who = winners[f"{group}.{key}"]
        wins[who].append(key.replace("_", " "))
        rows.append({"measure": key.replace("_", " "), ae_name: round(figures[ae_name][group][key], 3),
                     vae_name: round(figures[vae_name][group][key], 3), "more regular": who,
                     "what it means": MEANING[key]})
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption("Lower is better everywhere. Samples: the AE from a Gaussian fitted to its codes, the VAE from its "
               "prior N(0, I); 500 held-out line pairs, 2,000 samples. Figures within 10% count as a tie.")
    lines = []
    if wins["VAE"]:
        lines.append(f"The VAE is more regular on: {', '.join(wins['VAE'])}.")
    if wins["tie"]:
        lines.append(f"No real difference on: {', '.join(wins['tie'])}.")
    if wins["AE"]:
        lines.append(f"**The plain AE does better** on: {', '.join(wins['AE'])}. The VAE's advantage is not "
                     "universal" + (": with this many latent dimensions the AE's codes fill a fitted Gaussian well "
                     "enough, and its sharper decoder makes samples that look more like digits." if latent_dim > 2
                                    else "."))
    if latent_dim == 2:
        lines.append("Training length matters too. Retrained and stopped after 5 of their 150 epochs, the VAE is "
                     "already smoother and better covered, but its samples look *less* like digits than the AE's, "
                     "because its decoder is still blurry. It overtakes the AE on that measure only after longer "
                     "training.")
        lines.append("One pair is also one seed. Retrained from five other starting points (seeds), the VAE was "
                     "smoother and left fewer holes every time, and its samples scored closer to real digits "
                     "(Frechet distance) on all five, but by as little as 13% on one, near the 10% line where "
                     "figures count as a tie. How digit-like samples look also depends on the classifier that "
                     "judges them, so of these contrasts it is the least dependable.")
    lines.append(_recon_sentence(figures[ae_name]["recon_per_digit"], figures[vae_name]["recon_per_digit"]))
    st.markdown("\n\n".join(lines))


def _recon_sentence(ae: np.ndarray, vae: np.ndarray) -> str:
    """Both models' reconstruction error, decoded alike (the VAE's posterior mean), and whether they differ."""
    low, high = metrics.bootstrap_interval(vae - ae)
    verdict = ("the VAE's is lower" if high < 0 else "the AE's is lower" if low > 0
               else "a tie: the difference is within its noise")
    return (f"Reconstruction error (BCE, nats per held-out digit), each digit's code decoded (for the VAE the "
            f"mean of its posterior, not a random draw): {ae.mean():.1f} for the AE, {vae.mean():.1f} for the VAE; "
            f"{verdict} (95% interval of the VAE's minus the AE's: {low:+.1f} to {high:+.1f}).")


def _beta_table(vaes: dict[float, resources.ModelEntry]) -> None:
    """The measured trade-off across the shipped betas, with what it does and does not show."""
    if len(vaes) < 2:
        return
    rows = []
    for beta, entry in sorted(vaes.items()):
        figures, fit = _measures(entry.path, entry.data), _prior_fit(entry.path, entry.data)
        rows.append({"beta": beta, "bce sampled": round(figures["recon_bce"], 1),
                     "bce mean": round(float(figures["recon_per_digit"].mean()), 1),
                     "sensitivity": round(figures["continuity"]["sensitivity_median"], 2),
                     "jump p90": round(figures["continuity"]["jump_ratio_p90"], 2),
                     "Frechet": round(figures["completeness"]["frechet_distance"], 1),
                     "holes": round(figures["completeness"]["hole_fraction"], 3),
                     "KL(prior‖codes)": None if fit["kl_p_q"] is None else round(fit["kl_p_q"], 2),
                     "in 2 sigma": round(fit["inside"], 2)})
    with st.expander("Beta: what the slider trades, measured on every shipped VAE of this size"):
        st.dataframe(rows, hide_index=True, width="stretch")
        st.markdown(_prior_fit_sentence(rows))
        st.caption("Raising beta pulls the codes toward the prior: the decoder gets smoother under tiny moves "
                   "(on these shipped models sensitivity falls at every step up in beta) and, at the highest beta, "
                   "reconstructions from sampled codes get worse (decoded from the posterior mean, the highest "
                   "beta is not the worst on these models). Too low a beta leaves the prior poorly matched, and "
                   "its samples "
                   "look least like digits. In a 2-D latent these effects are small next to chance. Retrained "
                   "from five starting points (seeds), the lowest beta's samples scored worst and the highest "
                   "beta was smoother than the lowest every time, and the highest beta reconstructed worst in "
                   "four; but sensitivity fell at every single step in none of them: the steps in between are "
                   "within that noise.")


def _prior_fit_sentence(rows: list[dict]) -> str:
    """What the prior-fit columns mean, and what they show across these betas, computed from them."""
    text = ("**bce sampled / mean**: reconstruction error in nats per held-out digit, decoding codes drawn from "
            "q(z|x) as the ELBO counts it, or the posterior mean. **Sensitivity**, **jump p90**, **Frechet**, "
            "**holes**: the table above's median sensitivity, 90th-percentile jump ratio, Frechet distance and "
            "hole fraction. **KL(prior‖codes)**: how much "
            "of the prior's mass falls where no held-out digit's code lives, in nats (0 when the codes fill the "
            "prior; sampling from the prior then lands among real codes). **In 2 sigma**: the share of "
            "held-out codes inside the region that holds 95% of the prior.")
    kls = [r["KL(prior‖codes)"] for r in rows]
    if None not in kls and len(kls) > 1:
        falls = all(b < a for a, b in zip(kls, kls[1:], strict=False))
        how = "falls at every step up in beta" if falls else "does not fall at every step up in beta"
        text += (f" On these shipped models KL(prior‖codes) {how}, from {kls[0]:g} at beta {rows[0]['beta']:g} "
                 f"to {kls[-1]:g} at beta {rows[-1]['beta']:g}.")
    return text


def _interpolations(ae: ModelMap, vae: ModelMap) -> None:
    st.subheader("Continuity: the same two digits, interpolated in each model", anchor=False)
    held_out = resources.load_data(ae.entry.data).val
    start = len(ae.points) - len(held_out)  # map points are train then validation
    cols = st.columns([1, 1, 1, 2])
    a = cols[0].number_input("Digit A (held-out index)", 0, len(held_out) - 1, 0, key="cmp_a")
    b = cols[1].number_input("Digit B (held-out index)", 0, len(held_out) - 1, 7, key="cmp_b")
    steps = cols[2].slider("Steps", 4, 16, 10, key="cmp_steps")
    cols[3].caption(f"A is a {held_out.labels[a]}, B is a {held_out.labels[b]}. Look for a step where the "
                    "image jumps: a cliff in the latent space.")
    for m in (ae, vae):
        _, images = explore.interpolate(resources.load_model(m.entry.path).model, m.codes[start + a],
                                        m.codes[start + b], steps)
        st.image(resources.to_png_array(explore.tile(images[None]), scale=2), output_format="PNG",
                 caption=m.entry.name)


def _samples(ae: ModelMap, vae: ModelMap) -> None:
    st.subheader("Completeness: random codes, decoded", anchor=False)
    st.caption("Each model sampled the way a user would: the VAE from its prior; the AE, which has no prior, "
               "from a Gaussian fitted to its training codes and uniformly over their bounding box.")
    train = resources.load_data(ae.entry.data).train
    grids = [(vae, "prior", "VAE: N(0, I) prior"), (ae, "gaussian", "AE: Gaussian fitted to its codes"),
             (ae, "box", "AE: uniform over its codes' box")]
    for column, (m, sampler, title) in zip(st.columns(3), grids, strict=True):
        model = resources.load_model(m.entry.path).model
        if sampler == "prior":  # the model's own prior
            codes = model.sample_prior(36, torch.Generator().manual_seed(1)).numpy()
        else:  # a distribution fitted to the training digits' codes
            codes = regularity.sample_codes(m.codes[: len(train)], 36, sampler, seed=1)
        images = explore.decode(model, codes)
        column.image(resources.to_png_array(explore.tile(images.reshape(6, 6, *images.shape[1:])), scale=2),
                     output_format="PNG", caption=title)


if __name__ == "__main__":  # run by Streamlit as a page
    render()
