"""VAE versus plain AE, side by side: continuity and completeness, shown and measured.

Both models share architecture, data, latent size and seed; only the variational part
differs. The maps are linked (one probe, one pair of digits), and the measured figures
come with a verdict computed from them, so the page never claims more than it shows.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aelab import explore, metrics, regularity
from aelab.app import labkit, measured, payload, resources, session
from aelab.app.components.latent_map import latent_map, new_report
from aelab.app.maps import ModelMap, model_map
from aelab.app.pages import Page
from aelab.errors import AelabError

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
                                                                             session.available_models()})
    except AelabError as exc:
        st.error(f"The models could not be read: {resources.plain(str(exc), 600)}")
        return
    if pair is None:
        if mode == "shipped":
            st.warning("No matching VAE and AE pair is shipped. Run `python -m aelab pretrained`.")
        return
    ae, vae = (model_map(entry, "pca") for entry in pair)
    _maps(ae, vae)
    _verdict(ae.entry, vae.entry)
    if mode == "shipped":
        measured.beta_table(st.session_state.cmp_vaes)
        _prior(vae.entry, st.session_state.cmp_vaes)
        _kinds(ae.entry, vae.entry, shipped)
    _interpolations(ae, vae)
    _samples(ae, vae)


def _choose_pair(entries: dict) -> tuple | None:
    # the compared pairs and the beta slider's VAEs share one recipe; the lab and best-recipe models do not
    entries = {n: e for n, e in entries.items() if e.tags in ((), ("beta",))}
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


@st.cache_resource(show_spinner=False, max_entries=16)
def _hole_grid(path: str, spec: str, bounds: tuple[float, float, float, float]) -> payload.Shared:
    """The hole map over ``bounds``, as a part of the map's data sent once (its field "holes")."""
    reference = regularity.posterior_codes(resources.load_model(path).model, resources.load_data(spec).train.images)
    grid = regularity.hole_map(reference, bounds[:2], bounds[2:])
    return payload.shared({"holes": {"grid": payload.b64(grid), "resolution": int(grid.shape[0]),
                                     "x_range": list(bounds[:2]), "y_range": list(bounds[2:])}})


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
            parts = (m.shared,)
            if show_holes and m.method == "latent":
                parts += (_hole_grid(m.entry.path, m.entry.data, _padded(bounds)),)
            latent_map(key, dynamic, parts)
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


def _verdict(ae: resources.ModelEntry, vae: resources.ModelEntry) -> None:
    st.subheader("Measured", anchor=False)
    winners = measured.verdict_table((ae.name, vae.name), (ae, vae))
    st.caption(f"Lines between {regularity.measure.__kwdefaults__['pairs']} pairs of held-out digits; "
               f"{regularity.measure.__kwdefaults__['samples']:,} samples, the AE's from a Gaussian fitted to its "
               "codes, the VAE's from its prior N(0, I). Density and coverage compare samples with the 500 held-out "
               "digits in the features of a small convolutional digit classifier (Naeem et al., 2020). The "
               "interval is a 95% bootstrap interval over the digits, lines or samples; when it contains 0 the "
               "two models tie.")
    lines = measured.verdict_sentences(winners)
    ae_recon, vae_recon = (measured.figures(e.path, e.data)["recon_per_digit"] for e in (ae, vae))
    lines.append(measured.recon_sentence(ae_recon, vae_recon))
    st.markdown("\n\n".join(lines))


def _prior(vae: resources.ModelEntry, vaes: dict[float, resources.ModelEntry]) -> None:
    """Where the VAE's codes sit against its prior, beside the beta = 1 VAE: what the KL term is for."""
    beta = _beta(vae)
    st.subheader("The codes against the prior", anchor=False)
    fit = measured.prior_fit(vae.path, vae.data)
    reference = vaes.get(1.0) if beta != 1.0 else None
    ref_fit = measured.prior_fit(reference.path, reference.data) if reference else None
    beside = (reference.name, ref_fit) if reference else None
    st.markdown(" ".join(measured.prior_sentences(vae.name, beta, fit, beside)))
    measured.sigma_chart({vae.name: fit} | ({reference.name: ref_fit} if reference else {}))


def _kinds(ae: resources.ModelEntry, vae: resources.ModelEntry, shipped: dict) -> None:
    """The article: DAE and SAE are not trained for a regular latent space either. Measured beside the VAE."""
    others = [shipped[f"{kind}-{ae.latent_dim}d"] for kind in ("dae", "sae") if f"{kind}-{ae.latent_dim}d" in shipped]
    if not others or vae.name not in shipped:
        return
    with st.expander("DAE and SAE: are they regular? Measured the same way, against this VAE"):
        st.markdown("A denoising or sparse AE is trained to reconstruct too, with noise on its input or a penalty "
                    "on its code; nothing in its loss asks codes drawn at random to decode to digits. The DAE and "
                    "SAE are sampled like the AE, from a Gaussian fitted to their codes.")
        lines = measured.kinds_table([ae, *others], vae)
        st.markdown("\n\n".join(lines))


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
        st.image(_interpolation_png(m.entry.path, m.entry.data, start + a, start + b, steps), output_format="PNG",
                 caption=m.entry.name)


# The strips and sample grids depend on the models and these inputs only, never on the probe: each is
# decoded and PNG-encoded once per server, and a probe release sends the same image again (by its URL).
@st.cache_data(show_spinner=False, max_entries=256)
def _interpolation_png(path: str, spec: str, a: int, b: int, steps: int) -> bytes:
    """The decodes of ``steps`` points on the line between digits a's and b's codes (indices of the map's
    points, train then validation), as one PNG."""
    codes = resources.encoded(path, spec)[0]
    _, images = explore.interpolate(resources.load_model(path).model, codes[a], codes[b], steps)
    return labkit.png_bytes(resources.to_png_array(explore.tile(images[None]), scale=2))


def _samples(ae: ModelMap, vae: ModelMap) -> None:
    st.subheader("Completeness: random codes, decoded", anchor=False)
    st.caption("Each model sampled the way a user would: the VAE from its prior; the AE, which has no prior, "
               "from a Gaussian fitted to its training codes and uniformly over their bounding box.")
    grids = [(vae, "prior", "VAE: N(0, I) prior"), (ae, "gaussian", "AE: Gaussian fitted to its codes"),
             (ae, "box", "AE: uniform over its codes' box")]
    for column, (m, sampler, title) in zip(st.columns(3), grids, strict=True):
        column.image(_samples_png(m.entry.path, m.entry.data, sampler), output_format="PNG", caption=title)


@st.cache_data(show_spinner=False, max_entries=64)
def _samples_png(path: str, spec: str, sampler: str) -> bytes:
    """36 codes drawn by ``sampler`` (the model's prior, or a Gaussian or box fitted to its training codes),
    decoded, as one 6x6 PNG."""
    model = resources.load_model(path).model
    if sampler == "prior":  # the model's own prior
        codes = model.sample_prior(36, torch.Generator().manual_seed(1)).numpy()
    else:  # a distribution fitted to the training digits' codes
        train = resources.encoded(path, spec)[0][: len(resources.load_data(spec).train)]
        codes = regularity.sample_codes(train, 36, sampler, seed=1)
    images = explore.decode(model, codes)
    return labkit.png_bytes(resources.to_png_array(explore.tile(images.reshape(6, 6, *images.shape[1:])), scale=2))


if __name__ == "__main__":  # run by Streamlit as a page
    render()
