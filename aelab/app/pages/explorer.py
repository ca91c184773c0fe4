"""The latent explorer: drag a probe over a model's latent map and watch its decode change.

The maps decode in the browser while the probe moves; on release the probe comes back
here and the Python model's exact decode replaces the browser's. Model, probe, view,
projection and the interpolation's ends A and B live in the URL, so a scene can be bookmarked.
In presenter mode (:func:`aelab.app.chrome.presenting`) each map and its decoded digit stand
side by side, drawn bolder, with larger axis labels.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aelab import explore
from aelab.app import chrome, payload, resources, session, urlstate
from aelab.app.components.latent_map import latent_map, mount_part
from aelab.app.maps import ModelMap, model_map, originals_part
from aelab.app.pages import Page
from aelab.errors import AelabError
from aelab.i18n import N_, _

PAGE = Page(N_("Latent explorer"), ":material/scatter_plot:", "explore", prefix="ex_", order=10, default=True)
PROJECTIONS = {"pca": N_("PCA"), "umap": N_("UMAP")}


def render() -> None:
    """Draw the page: pick models, explore their maps, interpolate between two points."""
    controls_box = _heading(chrome.presenting())
    try:
        entries = {m.name: m for m in session.available_models()}
    except AelabError as exc:
        st.error(_("The shipped models could not be read: {problem}", problem=resources.plain(str(exc), 600)))
        return
    if not entries:
        st.warning(_("No models are available. Run `python -m aelab pretrained` to build them."))
        return
    urlstate.restore(entries)
    with controls_box:
        _controls(entries, chrome.presenting())
    names = st.session_state.ex_models
    if not names:
        urlstate.forget_hidden([])
        st.info(_("Choose at least one model above."))
        return
    for problem in resources.manifest_problems():
        st.warning(resources.plain(problem, 600))
    maps = _load_maps(entries, names)
    if maps:
        _scene(maps)


def _load_maps(entries: dict[str, resources.ModelEntry], names: list[str]) -> list[ModelMap]:
    """The chosen models' maps; a model that cannot be loaded is left out, with a note."""
    maps = []
    for name in names:
        try:
            maps.append(model_map(entries[name], st.session_state.ex_projection))
        except AelabError as exc:
            st.error(_("{model} could not be loaded: {problem}", model=name, problem=resources.plain(str(exc), 600)))
    return maps


def _scene(maps: list[ModelMap]) -> None:
    urlstate.settle(maps)
    urlstate.take_reports(maps)
    for notice in st.session_state.pop("ex_notices", []):
        st.warning(notice)
    maps_area = st.container()  # drawn after the interpolation controls, so A and B reach the maps at once
    _interpolation(maps)
    with maps_area:
        _map_grid(maps)
    urlstate.write(maps)


def _heading(presenter: bool):
    """The title and what the page shows; returns where the controls go. On a projector the maps must
    fit under them at 1280x720: the explanation moves into the title's tooltip, the controls into a menu."""
    intro = _("Each dot is one handwritten digit, placed where the encoder puts its code (the numbers it squeezes "
              "the image into); its colour says which digit (0-9) it shows. Drag the round probe: the decoder "
              "turns the point under it back into an image, shown beside the map. Hover a dot to see the digit "
              "next to its reconstruction, the model's attempt to redraw it from its code.")
    if not presenter:
        st.title(_("Latent explorer"))
        st.caption(intro)
        return st.container()
    title, menu = st.columns([3, 2], vertical_alignment="center")
    title.title(_("Latent explorer"), help=intro, anchor=False)
    return menu.popover(_("Models and display"), icon=":material/tune:", width="stretch")


def _controls(entries: dict[str, resources.ModelEntry], presenter: bool) -> None:
    left, middle, right = (st.container(),) * 3 if presenter else st.columns([3, 2, 3])
    left.multiselect(_("Models"), list(entries), key="ex_models", max_selections=urlstate.MAX_MODELS,
                     help=_model_list(entries), placeholder=_("Choose up to four models"))
    middle.radio(_("Projection"), list(PROJECTIONS), key="ex_projection", horizontal=True,
                 format_func=lambda k: _(PROJECTIONS[k]), help=_projection_help())
    with right:
        st.toggle(_("Decoded manifold"), key="ex_manifold",
                  help=_("Tiles the visible map with the images the decoder makes at each place, so you can see "
                         "which digit each region of the latent space turns into. Drawn by your browser, for "
                         "models whose decoder it can run."))
        st.toggle(_("VAE: sigma ellipses"), key="ex_sigma",
                  help=_("A VAE encodes an image not as one point but as a small cloud of likely codes: a centre "
                         "μ (the dot) and a spread σ along each axis. Each ellipse spans one σ on each side of its "
                         "dot, for up to 300 of the digits. Shown on maps of 2-D latents only."))
        st.toggle(_("VAE: prior N(0, I) circles"), key="ex_prior",
                  help=_("Dashed circles at 1, 2 and 3 standard deviations of the prior N(0, I), the standard "
                         "normal distribution a VAE samples new codes from."))


def _projection_help() -> str:
    return _("A code of more than two numbers cannot be drawn on a flat map as it is: it is projected, that is "
             "laid flat. **PCA** keeps the flat plane along which the codes vary most; every point of that plane "
             "decodes exactly, but the plane leaves out the other directions. **UMAP** keeps neighbours near each "
             "other; a point of its map decodes through an approximate inverse. Maps of 1-D and 2-D latents are "
             "drawn as they are, with no projection.")


def _model_list(entries: dict[str, resources.ModelEntry]) -> str:
    """Every model's name and what it is, for the picker's help (its chips show names only)."""
    lines = [_("Up to {n} models, shown side by side.", n=urlstate.MAX_MODELS)]
    lines += [f"- **{name}**: {resources.plain(entry.shown_description)}" for name, entry in entries.items()]
    return "\n".join(lines)


def _map_grid(maps: list[ModelMap]) -> None:
    originals = {spec: originals_part(spec) for spec in dict.fromkeys(m.entry.data for m in maps)}
    for part in originals.values():  # each data set's images, for the hover panel: sent once, shared by its maps
        if part is not None:
            mount_part(part)
    columns = st.columns(1 if len(maps) == 1 else 2)
    for i, model_map_ in enumerate(maps):
        with columns[i % len(columns)]:
            _one_map(model_map_, maps, originals[model_map_.entry.data])


def _one_map(m: ModelMap, maps: list[ModelMap], originals: payload.Shared | None) -> None:
    presenter = chrome.presenting()
    if not presenter:  # on a projector the map names its model itself, beside its decoded digit: less height
        st.subheader(m.entry.name, anchor=False)
        st.caption(resources.plain(m.entry.shown_description))
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
        "present": presenter,
        "title": [m.entry.name, m.entry.shown_description] if presenter else None,  # shown as plain text
    }
    latent_map(urlstate.component_key(m), dynamic, (m.shared,), mounted=(originals,) if originals else ())
    st.caption(_probe_caption(m, probe, maps), help=_decode_help(m))
    _map_notes(m)


def _map_notes(m: ModelMap) -> None:
    if m.method == "latent" and st.session_state.ex_sigma and m.static["sigma"] is None:
        st.caption(_("Sigma ellipses are for VAEs only: this model encodes points, not distributions."))
    if st.session_state.ex_manifold and m.static["decoder"] is None:
        st.caption(_("No decoded manifold here: your browser draws it, and it does not run this model's "
                     "convolutional decoder."))


def _probe_caption(m: ModelMap, probe: tuple[float, float], maps: list[ModelMap]) -> str:
    picked = urlstate.picked_for(m)
    x, y = probe
    if picked is not None:
        text = _("Probe at ({x:.3f}, {y:.3f}): digit #{index} (label {label}).", x=x, y=y, index=picked,
                 label=m.labels[picked])
    elif shared := urlstate.shared_with(m, maps):
        text = _("Probe at ({x:.3f}, {y:.3f}): free position, the same coordinates as on {models} (which may "
                 "decode to another digit there).", x=x, y=y, models=", ".join(shared))
    else:
        text = _("Probe at ({x:.3f}, {y:.3f}): free position.", x=x, y=y)
    return text if m.exact else text + " " + _("Approximate: through UMAP's inverse.")


def _decode_help(m: ModelMap) -> str:
    where = _("The two numbers are the probe's place on the map, in the coordinates written along the map's "
              "edges: for a 1-D or 2-D latent, the code itself; on a projected map, coordinates on the "
              "projection's plane. They have no unit. A *free position* is any place you dragged the probe to, "
              "not a digit's own code. *Digit #n* is image number n of the data set (counted from 0); its "
              "*label* is the digit (0-9) it shows.")
    live = _("While you drag, your browser decodes the probe with the model's own weights; when you let go, the "
             "Python model on the server decodes the exact point and its image replaces the browser's.")
    if m.static["decoder"] is None:
        live = _("This model's decoder is convolutional, which the browser does not run: its image comes from "
                 "the Python model on the server each time you let go of the probe, and is dimmed while you drag.")
    follow = _("Clicking a digit moves the probe of every map of the same data to that digit's own code there.")
    return "\n\n".join((where, live, follow))


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
    st.subheader(_("Interpolation"), anchor=False, help=_("Decoding the points along the straight line from A "
                                                           "to B in the latent space: a smooth strip of digits "
                                                           "means the space between the two codes decodes to "
                                                           "sensible images."))
    first = maps[0]
    picked = urlstate.picked_for(first)
    here = {"index": picked, "position": urlstate.probe_for(first), "method": first.method, "data": first.entry.data}
    cols = st.columns([1, 1, 1])
    for column, end in zip(cols[:2], "AB", strict=True):
        label = (_("Set {end} to digit #{index}", end=end, index=picked) if picked is not None
                 else _("Set {end} to the probe's position", end=end))
        if column.button(label, key=f"do_set_{end.lower()}", help=_("Kept in the link (a=, b=)."),
                         width="stretch"):
            st.session_state[f"ex_{end.lower()}"] = here
    steps = cols[2].slider(_("Steps"), 3, 24, 10, key="ex_steps",
                           help=_("How many images the strip shows from A to B, both ends included."))
    if not (st.session_state.get("ex_a") and st.session_state.get("ex_b")):
        st.caption(_("Click a digit on a map (or drag the probe), then set A; pick another and set B. A and B "
                     "chosen on data points are the same two images in every model."))
        return
    for m in maps:
        _strip(m, steps)


def _strip(m: ModelMap, steps: int) -> None:
    ends = [st.session_state.ex_a, st.session_state.ex_b]
    model = resources.load_model(m.entry.path).model
    if any(end["index"] is not None and end["data"] != m.entry.data for end in ends):
        st.caption(_("{model}: A or B is a digit of other data; this model was trained on {data}.",
                     model=m.entry.name, data=resources.plain(m.entry.data, 80)))
        return
    if all(end["index"] is not None for end in ends):
        codes = [m.codes[end["index"]] for end in ends]  # the images' own codes, exact in any latent size
        _path, images = explore.interpolate(model, codes[0], codes[1], steps)
    else:
        positions = [_endpoint_position(m, end) for end in ends]
        if None in positions:
            st.caption(_("{model}: A or B is a free position on another kind of map; pick data points instead.",
                         model=m.entry.name))
            return
        _path, images = explore.interpolate(model, positions[0], positions[1], steps, m.to_latent)
    strip = explore.tile(images[None])
    st.image(resources.to_png_array(strip, scale=3), output_format="PNG",
             caption=_("{model}: A to B in {steps} steps", model=m.entry.name, steps=steps))


if __name__ == "__main__":  # run by Streamlit as a page
    render()
