"""The latent explorer: drag a probe over a model's latent map and watch its decode change.

The maps decode in the browser while the probe moves; on release the probe comes back
here and the Python model's exact decode replaces the browser's. Model, probe, view and
projection live in the URL, so a scene can be bookmarked.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aelab import explore
from aelab.app import payload, resources, session, urlstate
from aelab.app.components.latent_map import latent_map
from aelab.app.maps import ModelMap, model_map
from aelab.app.pages import Page
from aelab.errors import AelabError

PAGE = Page("Latent explorer", ":material/scatter_plot:", "explore", prefix="ex_", order=10, default=True)


def render() -> None:
    """Draw the page: pick models, explore their maps, interpolate between two points."""
    st.title("Latent explorer")
    try:
        entries = {m.name: m for m in session.available_models()}
    except AelabError as exc:
        st.error(f"The shipped models could not be read: {resources.plain(str(exc), 600)}")
        return
    if not entries:
        st.warning("No models are available. Run `python -m aelab pretrained` to build them.")
        return
    urlstate.restore(entries)
    _controls(entries)
    names = st.session_state.ex_models
    if not names:
        urlstate.forget_hidden([])
        st.info("Choose at least one model above.")
        return
    for problem in resources.manifest_problems():
        st.warning(resources.plain(problem, 600))
    maps = []
    for name in names:  # a model that cannot be loaded is left out, with a note; the others are shown
        try:
            maps.append(model_map(entries[name], st.session_state.ex_projection))
        except AelabError as exc:
            st.error(f"{name} could not be loaded: {resources.plain(str(exc), 600)}")
    if not maps:
        return
    urlstate.settle(maps)
    urlstate.take_reports(maps)
    for notice in st.session_state.pop("ex_notices", []):
        st.warning(notice)
    maps_area = st.container()  # drawn after the interpolation controls, so A and B reach the maps at once
    _interpolation(maps)
    with maps_area:
        _map_grid(maps)
    urlstate.write(maps)


def _controls(entries: dict[str, resources.ModelEntry]) -> None:
    left, middle, right = st.columns([3, 1, 2])
    left.multiselect("Models (up to four, side by side)", list(entries), key="ex_models",
                     max_selections=urlstate.MAX_MODELS, help=_model_list(entries))
    middle.radio("Projection for latents > 2-D", ["pca", "umap"], key="ex_projection",
                 format_func=str.upper, help="PCA decodes exactly on its plane; UMAP's inverse is approximate.")
    with right:
        st.toggle("Decoded manifold behind the points", key="ex_manifold")
        st.toggle("VAE: posterior sigma ellipses", key="ex_sigma")
        st.toggle("VAE: prior N(0, I) circles", key="ex_prior",
                  help="Circles at 1, 2 and 3 standard deviations of the prior N(0, I) that a VAE samples codes from.")


def _model_list(entries: dict[str, resources.ModelEntry]) -> str:
    """Every model's name and what it is, for the picker's help (its chips show names only)."""
    return "\n".join(f"- **{name}**: {resources.plain(entry.description)}" for name, entry in entries.items())


def _map_grid(maps: list[ModelMap]) -> None:
    columns = st.columns(1 if len(maps) == 1 else 2)
    for i, model_map_ in enumerate(maps):
        with columns[i % len(columns)]:
            _one_map(model_map_, maps)


def _one_map(m: ModelMap, maps: list[ModelMap]) -> None:
    name = m.entry.name
    st.subheader(name, anchor=False)
    st.caption(resources.plain(m.entry.description))
    probe = urlstate.probe_for(m)
    image = explore.decode_at(resources.load_model(m.entry.path).model, np.array([probe]), m.to_latent)[0]
    dynamic = {
        "probe": list(probe),
        "view": urlstate.view_for(m),
        "show_manifold": st.session_state.ex_manifold,
        "show_sigma": st.session_state.ex_sigma,
        "prior": m.static["prior"] if st.session_state.ex_prior else None,
        "segment": _segment(m),
        # maps of one data set follow each other; a digit index means another image in other data
        "link": {"group": f"explorer:{m.entry.data}", "follow": "coords" if m.method == "latent" else None},
        "server": payload.server_image(probe, image),
    }
    latent_map(urlstate.component_key(m), dynamic, (m.shared,))
    st.caption(_probe_caption(m, probe, maps), help=_decode_help(m))
    if m.method == "latent" and st.session_state.ex_sigma and m.static["sigma"] is None:
        st.caption("Sigma ellipses are for VAEs only: this model encodes points, not distributions.")
    if st.session_state.ex_manifold and m.static["decoder"] is None:
        st.caption("No decoded manifold here: your browser draws it, and it does not run this model's "
                   "convolutional decoder.")


def _probe_caption(m: ModelMap, probe: tuple[float, float], maps: list[ModelMap]) -> str:
    picked = urlstate.picked_for(m)
    where = f"Probe at ({probe[0]:.3f}, {probe[1]:.3f}): "
    if picked is not None:
        where += f"digit #{picked} (label {m.labels[picked]})."
    else:
        shared = urlstate.shared_with(m, maps)
        where += "free position" + (f", the same coordinates as on {', '.join(shared)} (which may decode to "
                                    "another digit there)." if shared else ".")
    return where + ("" if m.exact else " Approximate: through UMAP's inverse.")


def _decode_help(m: ModelMap) -> str:
    live = ("While you drag, your browser decodes the probe with the model's own weights; when you let go, "
            "the Python model decodes the exact point and its image replaces the browser's.")
    if m.static["decoder"] is None:
        live = ("This model's decoder is convolutional, which the browser does not run: its image comes from the "
                "Python model each time you let go of the probe, and is dimmed while you drag.")
    return live + " Clicking a digit moves the probe of every map of the same data to that digit's own code there."


def _segment(m: ModelMap) -> dict | None:
    ends = [st.session_state.get("ex_a"), st.session_state.get("ex_b")]
    if None in ends:
        return None
    a, b = (_endpoint_position(m, end) for end in ends)
    return None if a is None or b is None else {"a": list(a), "b": list(b)}


def _endpoint_position(m: ModelMap, end: dict) -> tuple[float, float] | None:
    """Where an interpolation end lies on this map: a data point's own position (None for a digit of
    other data), or a probe position (None for one on another kind of map)."""
    if end["index"] is not None:
        return m.position_of(end["index"]) if end["data"] == m.entry.data else None
    return end["position"] if end["method"] == m.method else None


def _interpolation(maps: list[ModelMap]) -> None:
    st.divider()
    st.subheader("Interpolation", anchor=False)
    first = maps[0]
    picked = urlstate.picked_for(first)
    here = {"index": picked, "position": urlstate.probe_for(first), "method": first.method, "data": first.entry.data}
    where = f"digit #{picked}" if picked is not None else "the probe's position"
    cols = st.columns([1, 1, 1])
    if cols[0].button(f"Set A to {where}", key="do_set_a"):
        st.session_state.ex_a = here
    if cols[1].button(f"Set B to {where}", key="do_set_b"):
        st.session_state.ex_b = here
    steps = cols[2].slider("Steps", 3, 24, 10, key="ex_steps")
    if not (st.session_state.get("ex_a") and st.session_state.get("ex_b")):
        st.caption("Click a digit on a map (or drag the probe), then set A; pick another and set B. "
                   "A and B chosen on data points are the same two images in every model.")
        return
    for m in maps:
        _strip(m, steps)


def _strip(m: ModelMap, steps: int) -> None:
    ends = [st.session_state.ex_a, st.session_state.ex_b]
    model = resources.load_model(m.entry.path).model
    if any(end["index"] is not None and end["data"] != m.entry.data for end in ends):
        st.caption(f"{m.entry.name}: A or B is a digit of other data; this model was trained on "
                   f"{resources.plain(m.entry.data, 80)}.")
        return
    if all(end["index"] is not None for end in ends):
        codes = [m.codes[end["index"]] for end in ends]  # the images' own codes, exact in any latent size
        _, images = explore.interpolate(model, codes[0], codes[1], steps)
    else:
        positions = [_endpoint_position(m, end) for end in ends]
        if None in positions:
            st.caption(f"{m.entry.name}: A or B is a free position on another kind of map; pick data points instead.")
            return
        _, images = explore.interpolate(model, positions[0], positions[1], steps, m.to_latent)
    strip = explore.tile(images[None])
    st.image(resources.to_png_array(strip, scale=3), output_format="PNG",
             caption=f"{m.entry.name}: A to B in {steps} steps")


if __name__ == "__main__":  # run by Streamlit as a page
    render()
