"""VAE versus plain AE, side by side: continuity and completeness, shown and measured.

Both models share architecture, data, latent size and seed; only the variational part
differs. The maps are linked (one probe, one pair of digits), and the measured figures
come with a verdict computed from them, so the page never claims more than it shows.
Its controls are kept in the link (``pair``, ``latent``, ``beta``, ``ae``, ``vae``,
``holes``, ``digit_a``, ``digit_b``, ``steps``), so a prepared view can be sent as an address.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aelab import explore, i18n, metrics, regularity
from aelab.app import labkit, labstate, measured, payload, resources, session
from aelab.app.components.latent_map import latent_map, new_report
from aelab.app.labstate import Param
from aelab.app.maps import ModelMap, model_map
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.i18n import N_, _

PAGE = Page(N_("VAE vs AE"), ":material/compare:", "compare", prefix="cmp_", order=20)

MODES = {"shipped": N_("the shipped pair"), "any": N_("choose any two (your trained or uploaded ones too)")}
SAMPLE_GRIDS = (("vae", "prior", N_("VAE: N(0, I) prior")), ("ae", "gaussian", N_("AE: Gaussian fitted to its codes")),
                ("ae", "box", N_("AE: uniform over its codes' box")))
LINKED = "cmp_link_"  # a link's value waits under this prefix until the page knows the options it must be one of


def _model_name(text: str) -> str | None:
    return text if 0 < len(text) <= 80 else None


PARAMS = [  # the link's names for the page's controls; LINKED ones are checked against the options when drawn
    Param("cmp_mode", "pair", labstate.choice(tuple(MODES)), N_("choice of models")),
    Param(LINKED + "latent", "latent", labstate.number_in(1, 10**5, integer=True), N_("latent size")),
    Param(LINKED + "beta", "beta", labstate.number_in(0, 10**6), N_("beta"), labstate.fmt_number),
    Param(LINKED + "ae", "ae", _model_name, N_("model without a prior")),
    Param(LINKED + "vae", "vae", _model_name, N_("VAE")),
    Param("cmp_holes", "holes", {"1": True, "0": False}.get, N_("hole map switch"), lambda on: "1" if on else "0"),
    Param(LINKED + "digit_a", "digit_a", labstate.number_in(0, 10**6, integer=True), N_("digit A")),
    Param(LINKED + "digit_b", "digit_b", labstate.number_in(0, 10**6, integer=True), N_("digit B")),
    Param("cmp_steps", "steps", labstate.number_in(4, 16, integer=True), N_("number of steps")),
]


def render() -> None:
    st.title(_("VAE versus plain AE"))
    st.markdown(_(
        "A VAE is trained to make its latent space **regular**: *continuous* (nearby points decode to "
        "similar images) and *complete* (points drawn from its prior decode to real-looking digits). "
        "A plain AE is only trained to reconstruct. Here the two share architecture, data, latent size and "
        "seed; only the variational part differs. Drag the probe on either map: both follow."))
    _losses()
    for notice in labstate.restore("cmp_", PARAMS):
        st.warning(notice)
    _page()
    labstate.publish([p for p in PARAMS if not p.key.startswith(LINKED)], _link())


def _losses() -> None:
    """The two losses side by side: what the variational part adds, and what beta weighs."""
    st.markdown(_(
        "The plain AE's encoder f gives each digit x one code z = f(x), and its loss is only the reconstruction "
        "error of x̂ = g(z) (for the shipped models binary cross-entropy, summed over the pixels):"))
    st.latex(r"\begin{gathered}"
             r"\mathcal{L}_\mathrm{AE}(x) = -\sum_{i}\big[x_i \log \hat x_i + (1 - x_i)\log(1 - \hat x_i)\big],"
             r"\\ \hat x = g(f(x))\end{gathered}")
    st.markdown(_(
        "The VAE's encoder gives each digit a Gaussian q(z|x) = N(μ, diag σ²) instead of a point; the decoder "
        "reconstructs from a code drawn from it, and a KL term pulls the Gaussian toward the prior N(0, I). β "
        "weighs that pull (the slider below); with β = 1 the loss is the negative ELBO, the evidence lower bound "
        "on log p(x), in nats per digit:"))
    st.latex(r"\begin{gathered}\mathcal{L}_\beta(x) = \mathbb{E}_{z \sim q(z\mid x)}\big[-\log p(x\mid z)\big]"
             r" \\ + \beta\,\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal{N}(0, I)\big),"
             r"\\ z = \mu + \sigma \odot \varepsilon,\ \ \varepsilon \sim \mathcal{N}(0, I)\end{gathered}")
    st.latex(r"\mathrm{KL}\big(\mathcal{N}(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal{N}(0, I)\big)"
             r" = \sum_{j=1}^{d} \tfrac{1}{2}\big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)")
    st.caption(_(
        "−log p(x|z) is the same binary cross-entropy as the AE's, with x̂ = g(z); d is the latent size, and μ_j, "
        "σ_j are the mean and standard deviation of code dimension j. The KL term is 0 only when μ = 0 and σ = 1. "
        "A nat is the natural-log unit of information: a loss of n nats means probability e^-n, and lower is "
        "better."))


def _page() -> None:
    try:
        usable, problems = resources.loadable(resources.shipped_models())
        for problem in resources.manifest_problems() + problems:  # one broken model does not take the page down
            st.warning(resources.plain(problem, 600))
        shipped = {e.name: e for e in usable}
        mode = st.radio(_("Models"), list(MODES), key="cmp_mode", horizontal=True, format_func=lambda m: _(MODES[m]))
        pair = _choose_pair(shipped) if mode == "shipped" else _choose_any({e.name: e for e in
                                                                             session.available_models()})
    except AelabError as exc:
        st.error(_("The models could not be read: {problem}", problem=resources.plain(str(exc), 600)))
        return
    if pair is None:
        if mode == "shipped":
            st.warning(_("No matching VAE and AE pair is shipped. Run `python -m aelab pretrained`."))
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


def _link() -> dict[str, str]:
    """The link's values of the controls whose options depend on the models: the pair, or the size and beta."""
    state = st.session_state
    out = {}
    if state.get("cmp_mode", "shipped") == "shipped":
        size = state.get("cmp_size")
        if size is not None:
            out["latent"] = str(size)
            if state.get(f"cmp_beta_{size}") is not None:
                out["beta"] = labstate.fmt_number(float(state[f"cmp_beta_{size}"]))
    else:
        out |= {url: str(state[key]) for url, key in (("ae", "cmp_any_ae"), ("vae", "cmp_any_vae"))
                if state.get(key) is not None}
    out |= {url: str(state[key]) for url, key in (("digit_a", "cmp_a"), ("digit_b", "cmp_b"))
            if state.get(key) is not None}
    return out


def _from_link(name: str, offered, label: str):
    """The link's value of ``name`` when it is one of ``offered`` (else a notice, and None); None when the
    link gave none. ``offered`` is a collection, or a function from the value to the offered value or None."""
    key = LINKED + name
    if key not in st.session_state:
        return None
    value = st.session_state.pop(key)
    found = offered(value) if callable(offered) else (value if value in offered else None)
    if found is None:
        st.warning(_("The link's {name} {value} is not one this page offers; using the default.", name=_(label),
                     value=resources.plain(repr(value), 40)))
    return found


def _choose_pair(entries: dict) -> tuple | None:
    # the compared pairs and the beta slider's VAEs share one recipe; the lab and best-recipe models do not
    entries = {n: e for n, e in entries.items() if e.tags in ((), ("beta",))}
    sizes = sorted({e.latent_dim for e in entries.values() if e.kind == "ae"}
                   & {e.latent_dim for e in entries.values() if e.has_prior})
    if not sizes:
        return None
    linked_size = _from_link("latent", sizes, N_("latent size"))
    if linked_size is not None:
        st.session_state.cmp_size = linked_size
    left, right = st.columns([1, 2])
    size = left.radio(_("Latent size"), sizes, key="cmp_size", horizontal=True,
                      format_func=lambda d: _("{dim}-D", dim=d),
                      help=_("How many numbers each code has. 2-D codes are drawn as they are; larger ones on the "
                             "plane of their two main directions (PCA)."))
    ae = next(e for e in entries.values() if e.kind == "ae" and e.latent_dim == size)
    vaes = {_beta(e): e for e in entries.values() if e.has_prior and e.latent_dim == size}
    betas = sorted(vaes)
    linked_beta = _from_link("beta", lambda b: next((v for v in betas if abs(v - b) <= 1e-9 * max(1.0, v)), None),
                             N_("beta"))
    if linked_beta is not None:
        st.session_state[f"cmp_beta_{size}"] = linked_beta
    beta = right.select_slider(
        _("VAE beta (weight of the KL term)"), betas, value=1.0 if 1.0 in betas else betas[0], key=f"cmp_beta_{size}",
        help=_("Each stop is a shipped VAE trained with that beta (β in the loss above; 0 drops the KL term). The "
               "table under 'Measured' shows what it trades."),
        disabled=len(betas) == 1,
    )
    st.session_state.cmp_vaes = vaes
    return ae, vaes[beta]


def _choose_any(entries: dict) -> tuple | None:
    """Any VAE against any other model, when the two can be compared fairly."""
    vaes = [n for n, e in entries.items() if e.has_prior]
    others = [n for n, e in entries.items() if not e.has_prior]
    for name, key, options, label in (("ae", "cmp_any_ae", others, N_("model without a prior")),
                                      ("vae", "cmp_any_vae", vaes, N_("VAE"))):
        linked = _from_link(name, options, label)
        if linked is not None:
            st.session_state[key] = linked
    left, right = st.columns(2)
    other = left.selectbox(_("Model without a prior (AE, DAE, SAE)"), others, key="cmp_any_ae",
                           format_func=lambda n: f"{n}: {entries[n].shown_description}")
    vae = right.selectbox(_("VAE"), vaes, key="cmp_any_vae",
                          format_func=lambda n: f"{n}: {entries[n].shown_description}")
    if other is None or vae is None:
        return None
    problem = regularity.comparability_problem(resources.load_model(entries[other].path).model,
                                               resources.load_model(entries[vae].path).model)
    if entries[other].data != entries[vae].data:
        problem = _("they were trained on different data ({first} and {second}), so the same digits cannot be "
                    "followed in both", first=entries[other].data, second=entries[vae].data)
    if problem:
        st.warning(_("{first} and {second} cannot be compared fairly: {problem}.", first=other, second=vae,
                     problem=problem))
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
    show_holes = st.toggle(_("Hole map"), value=True, key="cmp_holes", disabled=ae.method != "latent",
                           help=_("Shades the map where no training digit put its code: the darker, the farther "
                                  "from every training code, so a decode there is a guess."))
    if ae.method != "latent":
        st.caption(_("The maps show a PCA plane of the {dim}-D codes (the plane of their two main directions); the "
                     "hole map is drawn for 2-D latents only.", dim=ae.entry.latent_dim))
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
            st.caption(_digit_caption(m, digits.get(key), probe), help=_(
                "The probe's position on the map: the code itself for a 2-D latent, a point on the map's PCA plane "
                "for a larger one. A free position is one where the probe was let go without naming a digit. "
                "Held-out digits are the 500 the models never trained on."))
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
    where = {"x": probe[0], "y": probe[1]}
    if digit is None:
        return _("Free position ({x:.3f}, {y:.3f}).", **where)
    held_out = digit - (len(m.points) - len(resources.load_data(m.entry.data).val))
    values = where | {"label": m.labels[digit], "n": held_out if held_out >= 0 else digit}
    on = np.allclose(m.position_of(digit), probe, atol=1e-4)
    if held_out >= 0:
        return (_("On held-out digit {n}, a {label}, at its code in this model ({x:.3f}, {y:.3f}).", **values) if on
                else _("Probe at ({x:.3f}, {y:.3f}); the nearest digit is held-out digit {n}, a {label}.", **values))
    return (_("On training digit #{n}, a {label}, at its code in this model ({x:.3f}, {y:.3f}).", **values) if on
            else _("Probe at ({x:.3f}, {y:.3f}); the nearest digit is training digit #{n}, a {label}.", **values))


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
             caption=_("Probe, then a tiny circle around it (radius 5% of the map's spread): mean pixel change "
                       "{mean:.2f}, largest {largest:.2f} (L2 distance from the probe's image; pixels run from 0 "
                       "to 1)", mean=change.mean(), largest=change.max()))


def _verdict(ae: resources.ModelEntry, vae: resources.ModelEntry) -> None:
    st.subheader(_("Measured"), anchor=False)
    winners = measured.verdict_table((ae.name, vae.name), (ae, vae))
    _definitions()
    st.caption(_("Lines between {pairs} pairs of held-out digits; {samples:,} samples, the AE's from a Gaussian "
                 "fitted to its codes, the VAE's from its prior N(0, I). Density and coverage compare samples with "
                 "the 500 held-out digits in the features of a small convolutional digit classifier (Naeem et al., "
                 "2020). The interval is a 95% bootstrap interval over the digits, lines or samples; when it "
                 "contains 0 the two models tie.", pairs=regularity.measure.__kwdefaults__["pairs"],
                 samples=regularity.measure.__kwdefaults__["samples"]))
    lines = measured.verdict_sentences(winners)
    ae_recon, vae_recon = (measured.figures(e.path, e.data)["recon_per_digit"] for e in (ae, vae))
    lines.append(measured.recon_sentence(ae_recon, vae_recon, i18n.language()))
    st.markdown("\n\n".join(lines))


def _definitions() -> None:
    """The measures of the table as formulas, each with what its symbols are."""
    with st.expander(_("The measures as formulas")):
        st.markdown(_("**Jump ratio.** The codes z_a = f(x_a) and z_b = f(x_b) of two held-out digits (for a VAE, "
                      "the means of their posteriors) are joined by a straight line cut into T = 32 equal steps; "
                      "Δ_t is how much the decoded image changes in step t (the L2 distance between the two images). "
                      "The table shows the median over 500 pairs and the 90th percentile (the value 9 pairs in 10 "
                      "stay below)."))
        st.latex(r"z_t = z_a + \tfrac{t}{T}(z_b - z_a),\quad \Delta_t = \lVert g(z_t) - g(z_{t-1}) \rVert_2,"
                 r"\quad J = \frac{\max_t \Delta_t}{\tfrac{1}{T}\sum_{t=1}^{T}\Delta_t}")
        st.markdown(_("**Sensitivity.** At a code z (a held-out digit's, or one drawn the way the model is sampled), "
                      "u is a random direction of length 1 in the dimensions the decoder uses (those whose code "
                      "varies across the digits: variance above 0.01), s the spread of the digits' codes in those "
                      "dimensions (root mean variance), and ε = 0.01: the image change per unit of spread for a "
                      "move of 1% of it. The table shows the median."))
        st.latex(r"\begin{gathered}S(z) = \frac{\lVert g(z + \varepsilon s\,u) - g(z) \rVert_2}{\varepsilon},"
                 r"\\ s = \Big(\frac{1}{|D|}\sum_{d \in D}\operatorname{Var}_x[z_d]\Big)^{1/2}\end{gathered}")
        st.markdown(_("**Density and coverage** (Naeem et al., 2020). X_1 … X_N are the judge's features of the N = "
                      "500 held-out digits, Y_1 … Y_M those of M = 2,000 decoded samples; B(X_i) is the ball around "
                      "X_i reaching its k-th nearest other real digit (k = 5), and 1[·] is 1 when the condition holds, "
                      "else 0. Density counts how many real balls hold each sample, over k; coverage is the share "
                      "of real balls with at least one sample inside."))
        st.latex(r"\begin{gathered}"
                 r"\mathrm{density} = \frac{1}{kM}\sum_{j=1}^{M}\sum_{i=1}^{N}\mathbf{1}\big[Y_j \in B(X_i)\big],"
                 r"\\ \mathrm{coverage} = \frac{1}{N}\sum_{i=1}^{N}\mathbf{1}\big[\exists\, j:\ Y_j \in B(X_i)"
                 r"\big]\end{gathered}")


def _prior(vae: resources.ModelEntry, vaes: dict[float, resources.ModelEntry]) -> None:
    """Where the VAE's codes sit against its prior, beside the beta = 1 VAE: what the KL term is for."""
    beta = _beta(vae)
    st.subheader(_("The codes against the prior"), anchor=False)
    fit = measured.prior_fit(vae.path, vae.data)
    _prior_formulas(fit)
    reference = vaes.get(1.0) if beta != 1.0 else None
    ref_fit = measured.prior_fit(reference.path, reference.data) if reference else None
    beside = (reference.name, ref_fit) if reference else None
    st.markdown("\n\n".join(measured.prior_sentences(vae.name, beta, fit, beside)))
    st.caption(_("Typical posterior σ: the median standard deviation of a held-out digit's code, over the digits "
                 "and the code's dimensions (the prior's is 1). The means' spread: the root mean variance of the "
                 "posterior means over the held-out digits."))
    measured.sigma_chart({vae.name: fit} | ({reference.name: ref_fit} if reference else {}))


def _prior_formulas(fit: dict) -> None:
    """The completeness figures of this section as formulas: the aggregate posterior against the prior."""
    st.markdown(_("The held-out digits' posteriors together form the *aggregate posterior* q(z), where the data put "
                  "the codes; the prior p(z) = N(0, I) is where a sample is drawn from. The divergence from p to q "
                  "is large when the prior has mass where no code lives (a hole a sample falls into); the other "
                  "direction, when codes sit where the prior has little mass. Both are in nats, estimated from "
                  "2,000 random points each (so they carry a small random error, the ± below)."))
    st.latex(r"\begin{gathered}"
             r"q(z) = \frac{1}{N}\sum_{i=1}^{N}\mathcal{N}\big(z;\ \mu_i, \operatorname{diag}\sigma_i^2\big),"
             r"\\ \mathrm{KL}(p\,\|\,q) = \mathbb{E}_{z\sim p}\big[\log p(z) - \log q(z)\big],"
             r"\\ \mathrm{KL}(q\,\|\,p) = \mathbb{E}_{z\sim q}\big[\log q(z) - \log p(z)\big]\end{gathered}")
    st.markdown(_("The share in the prior's 2σ region counts the posterior means μ_i of the N = 500 held-out digits "
                  "that lie within the radius r that holds as much of N(0, I) as ±2σ holds in one dimension (95.45%; "
                  "r = {radius:.2f} here):", radius=fit["radius"]))
    st.latex(r"\begin{gathered}\frac{1}{N}\sum_{i=1}^{N}\mathbf{1}\big[\lVert \mu_i \rVert \le r\big],"
             r"\\ P_{\varepsilon \sim \mathcal{N}(0, I)}\big(\lVert \varepsilon \rVert \le r\big) = 95.45\%"
             r"\end{gathered}")


def _kinds(ae: resources.ModelEntry, vae: resources.ModelEntry, shipped: dict) -> None:
    """The article: DAE and SAE are not trained for a regular latent space either. Measured beside the VAE."""
    others = [shipped[f"{kind}-{ae.latent_dim}d"] for kind in ("dae", "sae") if f"{kind}-{ae.latent_dim}d" in shipped]
    if not others or vae.name not in shipped:
        return
    with st.expander(_("DAE and SAE: are they regular? Measured the same way, against this VAE")):
        st.markdown(_("A denoising or sparse AE is trained to reconstruct too, with noise on its input or a penalty "
                      "on its code; nothing in its loss asks codes drawn at random to decode to digits. The DAE and "
                      "SAE are sampled like the AE, from a Gaussian fitted to their codes."))
        lines = measured.kinds_table([ae, *others], vae)
        st.markdown("\n\n".join(lines))


def _interpolations(ae: ModelMap, vae: ModelMap) -> None:
    st.subheader(_("Continuity: the same two digits, interpolated in each model"), anchor=False)
    held_out = resources.load_data(ae.entry.data).val
    start = len(ae.points) - len(held_out)  # map points are train then validation
    for name, key, label in (("digit_a", "cmp_a", N_("digit A")), ("digit_b", "cmp_b", N_("digit B"))):
        linked = _from_link(name, range(len(held_out)), label)
        if linked is not None:
            st.session_state[key] = linked
    cols = st.columns([1, 1, 1, 2])
    index_help = _("Which of the {n} held-out digits (numbered from 0), the ones the models never trained on.",
                   n=len(held_out))
    a = cols[0].number_input(_("Digit A (held-out index)"), 0, len(held_out) - 1, 0, key="cmp_a", help=index_help)
    b = cols[1].number_input(_("Digit B (held-out index)"), 0, len(held_out) - 1, 7, key="cmp_b", help=index_help)
    steps = cols[2].slider(_("Steps"), 4, 16, 10, key="cmp_steps",
                           help=_("How many images along the straight line between the two codes, both ends "
                                  "included."))
    cols[3].caption(_("A is a {a}, B is a {b}. Look for a step where the image jumps: a cliff in the latent space.",
                      a=held_out.labels[a], b=held_out.labels[b]))
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
    _path, images = explore.interpolate(resources.load_model(path).model, codes[a], codes[b], steps)
    return labkit.png_bytes(resources.to_png_array(explore.tile(images[None]), scale=2))


def _samples(ae: ModelMap, vae: ModelMap) -> None:
    st.subheader(_("Completeness: random codes, decoded"), anchor=False)
    st.caption(_("Each model sampled the way a user would: the VAE from its prior; the AE, which has no prior, "
                 "from a Gaussian fitted to its training codes and uniformly over their bounding box."))
    models = {"vae": vae, "ae": ae}
    for column, (which, sampler, title) in zip(st.columns(3), SAMPLE_GRIDS, strict=True):
        m = models[which]
        column.image(_samples_png(m.entry.path, m.entry.data, sampler), output_format="PNG", caption=_(title))


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
