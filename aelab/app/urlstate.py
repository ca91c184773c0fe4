"""The explorer's state: restored from the URL once, kept in the session, written back.

The query string holds ``models``, their latent sizes (``dims``), the projection, the
first map's probe, the digit it is on (``pick``), the first map's view, the display
toggles and the interpolation's ends ``a`` and ``b`` (a digit's number, or a position "x,y" on
the first map). Anything in it that is missing, malformed or no longer fits the models is
replaced by a sane default, with a notice.

Each map has its own probe. A clicked digit moves the probe of every map of the same data
to that map's own code of the digit; a free position is shared, by coordinates, by the maps
of 2-D latents only (on a projected map the same coordinates mean another point altogether).
A map that is no longer shown forgets its probe, so when it is shown again it joins the others.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aelab import explore
from aelab.app import labstate, resources
from aelab.app.components.latent_map import new_report
from aelab.app.maps import ModelMap
from aelab.app.resources import plain
from aelab.i18n import N_, _

FLAGS = {"manifold": "ex_manifold", "sigma": "ex_sigma", "prior": "ex_prior"}
MAX_MODELS = 4
ENDS = {"a": "ex_a", "b": "ex_b"}  # the interpolation's ends: query name -> session key
# How a notice names a value of the link, in the user's terms (the query name follows it).
LINK_VALUES = {"probe": N_("probe position"), "view": N_("view of the map"), "pick": N_("digit"),
               "a": N_("interpolation end A"), "b": N_("interpolation end B")}


def restore(entries: dict[str, resources.ModelEntry]) -> None:
    """On a session's first run, and when a link sent the session here with a scene of its own (a lesson
    step's), read the URL into the session state."""
    if st.session_state.get("ex_restored") and not labstate.linked_from_outside(["models"]):
        return
    st.session_state.ex_restored = True
    params = st.query_params
    notices: list[str] = []
    listed = [n for n in params.get("models", "").split(",") if n]
    dims = dict(zip(listed, params.get("dims", "").split(","), strict=False))  # paired before any is dropped
    asked = list(dict.fromkeys(listed))  # a model named twice is shown once
    unknown = [n for n in asked if n not in entries]
    names = [n for n in asked if n in entries]
    if unknown:
        notices.append(_("The link names model(s) that are not available: {models}. Showing the others, or the "
                         "default model.", models=plain(", ".join(unknown))))
    if len(names) > MAX_MODELS:
        notices.append(_("At most {n} models fit side by side; {models} left out.", n=MAX_MODELS,
                         models=plain(", ".join(names[MAX_MODELS:]))))
        names = names[:MAX_MODELS]
    changed = [n for n in names if dims.get(n) and dims[n] != str(entries[n].latent_dim)]
    if changed:
        notices.append(_("The latent size of {models} changed since the link was made; its probe and view were "
                         "reset.", models=", ".join(changed)))
    st.session_state.ex_models = names or [_default_model(entries)]
    st.session_state.ex_projection = _projection(params.get("proj", "pca"), notices)
    for flag, key in FLAGS.items():
        st.session_state[key] = params.get(flag) == "1"
    st.session_state.ex_url_probe = _url_value(params, "probe", explore.parse_pair, notices, changed)
    st.session_state.ex_url_view = _url_value(params, "view", explore.parse_view, notices, changed)
    st.session_state.ex_url_pick = _url_value(params, "pick", _parse_index, notices, changed)
    st.session_state.ex_url_ends = {end: _url_value(params, end, _parse_end, notices, changed) for end in ENDS}
    st.session_state.ex_probes, st.session_state.ex_views, st.session_state.ex_picked = {}, {}, {}
    st.session_state.ex_notices = notices


def _projection(asked: str, notices: list[str]) -> str:
    if asked in ("pca", "umap"):
        return asked
    notices.append(_("Unknown projection {value} in the link; using PCA.", value=plain(repr(asked), 60)))
    return "pca"


def _url_value(params, name: str, parse, notices: list[str], changed: list[str]):
    text = params.get(name)
    if text is None or changed:
        return None
    value = parse(text)
    if value is None:
        notices.append(_("The link's {what} “{value}” is not valid; using the default.", what=_(LINK_VALUES[name]),
                         value=plain(f"{name}={text}", 60)))
    return value


def _parse_index(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 9 else None


def _parse_end(text: str) -> tuple[str, int | tuple[float, float]] | None:
    """An interpolation end from the link: a digit's number ("12") or a position on the first map ("x,y")."""
    index = _parse_index(text)
    if index is not None:
        return "digit", index
    position = explore.parse_pair(text)
    return None if position is None else ("position", position)


def _default_model(entries: dict[str, resources.ModelEntry]) -> str:
    two_d_vaes = [n for n, e in entries.items() if e.has_prior and e.latent_dim == 2]
    return (two_d_vaes or list(entries))[0]


def component_key(m: ModelMap) -> str:
    """One component per model and plane, so a state reported on one plane never lands on another."""
    return f"map-{m.entry.name}-{m.method}"


def settle(maps: list[ModelMap]) -> None:
    """Give every shown map a valid view and probe (from the URL on first use, else defaults)."""
    st.session_state.ex_maps = maps
    forget_hidden(maps)
    for i, m in enumerate(maps):
        bounds = m.static["data_bounds"]
        key = component_key(m)
        if key not in st.session_state.ex_views:
            url_view = st.session_state.pop("ex_url_view", None) if i == 0 else None
            st.session_state.ex_views[key] = url_view if url_view and _overlaps(url_view, bounds) else bounds
            if url_view and not _overlaps(url_view, bounds):
                _notice(_("The link's view shows no data of this model; showing all of it instead."))
        if key not in st.session_state.ex_probes:
            _first_probe(m, i, maps)
    st.session_state.ex_url_pick = None  # the link's digit placed the first maps; later ones follow them
    _restore_ends(maps[0])


def _restore_ends(first: ModelMap) -> None:
    """The link's interpolation ends, on the first map: a digit of its data, or a position on it."""
    for end, asked in st.session_state.pop("ex_url_ends", {}).items():
        if asked is None:
            continue
        kind, value = asked
        name = _(LINK_VALUES[end])
        if kind == "digit" and value >= len(first.points):
            _notice(_("Digit #{index} is not in the data set of {model}; the {end} was left unset.", index=value,
                      model=first.entry.name, end=name))
            continue
        bounds = first.static["data_bounds"]
        position = first.position_of(value) if kind == "digit" else _within(value, bounds, LINK_VALUES[end])
        st.session_state[ENDS[end]] = {"index": value if kind == "digit" else None, "position": position,
                                       "method": first.method, "data": first.entry.data}


def forget_hidden(maps: list[ModelMap]) -> None:
    """Drop the probes of maps not shown now (another model or plane): kept, they would come back
    at a position, or on a digit, the shown maps have since left."""
    shown = {component_key(m) for m in maps}
    for key in [k for k in st.session_state.ex_probes if k not in shown]:
        del st.session_state.ex_probes[key]
        st.session_state.ex_picked.pop(key, None)


def _first_probe(m: ModelMap, i: int, maps: list[ModelMap]) -> None:
    """A new map's probe: the link's digit, else the link's position (first map), else the position
    the other 2-D maps share, else the middle of the data."""
    same_data = [o for o in maps if o is not m and o.entry.data == m.entry.data]
    pick = st.session_state.get("ex_url_pick") if m.entry.data == maps[0].entry.data else None
    if pick is None:  # a map added later joins the digit the others are on
        pick = next((picked_for(o) for o in same_data if picked_for(o) is not None), None)
    if pick is not None and pick >= len(m.points):
        _notice(_("Digit #{index} is not in the data set of {model}; its probe was left free.", index=pick,
                  model=m.entry.name))
        pick = st.session_state.ex_url_pick = None
    url_probe = st.session_state.pop("ex_url_probe", None) if i == 0 else None
    shared = next((st.session_state.ex_probes[component_key(o)] for o in maps if o is not m and _same_plane(m, o)
                   and component_key(o) in st.session_state.ex_probes
                   and picked_for(o) is None), None)
    if pick is not None:
        probe = m.position_of(pick)
    elif url_probe:
        probe = _within(url_probe, m.static["data_bounds"], LINK_VALUES["probe"])
    else:
        probe = shared or tuple(float(v) for v in np.median(m.points, axis=0))
    st.session_state.ex_probes[component_key(m)] = probe
    st.session_state.ex_picked[component_key(m)] = pick


def _overlaps(view: list[float], bounds: list[float]) -> bool:
    return view[0] < bounds[1] and view[1] > bounds[0] and view[2] < bounds[3] and view[3] > bounds[2]


def _within(point: tuple[float, float], bounds: list[float], what: str, reach: float = 2.0) -> tuple[float, float]:
    """Clamp a point into the data's bounds widened by ``reach`` spans on each side, with a notice naming
    the link's value ``what`` (one of :data:`LINK_VALUES`)."""
    x0, x1, y0, y1 = bounds
    wx, wy = reach * (x1 - x0), reach * (y1 - y0)
    clamped = (min(max(point[0], x0 - wx), x1 + wx), min(max(point[1], y0 - wy), y1 + wy))
    if clamped != tuple(point):
        _notice(_("The link's {what} ({x:g}, {y:g}) was far outside the data; it was moved to ({cx:.3f}, "
                  "{cy:.3f}).", what=_(what), x=point[0], y=point[1], cx=clamped[0], cy=clamped[1]))
    return clamped


def _notice(text: str) -> None:
    st.session_state.setdefault("ex_notices", []).append(text)


def probe_for(m: ModelMap) -> tuple[float, float]:
    return st.session_state.ex_probes[component_key(m)]


def view_for(m: ModelMap) -> list[float]:
    return st.session_state.ex_views[component_key(m)]


def picked_for(m: ModelMap) -> int | None:
    return st.session_state.ex_picked.get(component_key(m))


def take_reports(maps: list[ModelMap]) -> None:
    """Apply what the maps reported since the last run: released probes, clicked digits, new views."""
    for m in maps:
        probe = new_report(component_key(m), "probe")
        if probe is not None:
            apply_probe(m, probe, maps)
        view = new_report(component_key(m), "view")
        if view is not None:
            bounds = explore.valid_view(view.get("bounds"))
            if bounds is not None:
                st.session_state.ex_views[component_key(m)] = bounds


def apply_probe(m: ModelMap, report: dict, maps: list[ModelMap]) -> None:
    """A released probe or a clicked digit on map ``m``: validate it and move the linked probes."""
    if not explore.finite_numbers(report.get("x"), report.get("y")):
        return
    picked = report.get("picked")
    if isinstance(picked, int) and not isinstance(picked, bool) and 0 <= picked < len(m.points):
        for other in maps:  # the same digit on every map of the same data, each at its own code of it
            if other.entry.data == m.entry.data:
                st.session_state.ex_probes[component_key(other)] = other.position_of(picked)
                st.session_state.ex_picked[component_key(other)] = picked
        return
    position = (float(report["x"]), float(report["y"]))
    for other in maps:
        if other is m or _same_plane(m, other):
            st.session_state.ex_probes[component_key(other)] = position
            st.session_state.ex_picked[component_key(other)] = None


def _same_plane(a: ModelMap, b: ModelMap) -> bool:
    """Two maps whose coordinates are shared: 2-D latents of models of the same data (as in the browser)."""
    return a.method == "latent" and b.method == "latent" and a.entry.data == b.entry.data


def shared_with(m: ModelMap, maps: list[ModelMap]) -> list[str]:
    """The other maps whose free probe sits at the same coordinates as ``m``'s (2-D latents only)."""
    if m.method != "latent" or picked_for(m) is not None:
        return []
    return [o.entry.name for o in maps if o is not m and _same_plane(m, o) and picked_for(o) is None
            and probe_for(o) == probe_for(m)]


def write(maps: list[ModelMap]) -> None:
    """Put the scene into the query string."""
    first = maps[0]
    probe, view, picked = probe_for(first), view_for(first), picked_for(first)
    params = {
        "models": ",".join(m.entry.name for m in maps),
        "dims": ",".join(str(m.entry.latent_dim) for m in maps),
        "proj": st.session_state.ex_projection,
        "probe": f"{probe[0]:.4f},{probe[1]:.4f}",
        "view": ",".join(f"{v:.4f}" for v in view),
    } | ({"pick": str(picked)} if picked is not None else {}) \
      | {flag: "1" for flag, key in FLAGS.items() if st.session_state.get(key)} | _ends_in_link(first) \
      | labstate.kept()
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    st.session_state[labstate.PUBLISHED] = params


def _ends_in_link(first: ModelMap) -> dict[str, str]:
    """The interpolation ends as the link keeps them: a digit's number, or a position on the first map
    (an end the first map cannot name, a digit of other data or a position on another plane, is left out)."""
    params = {}
    for end, key in ENDS.items():
        value = st.session_state.get(key)
        if not value or value["data"] != first.entry.data:
            continue
        if value["index"] is not None:
            params[end] = str(value["index"])
        elif value["method"] == first.method:
            params[end] = f"{value['position'][0]:.4f},{value['position'][1]:.4f}"
    return params
