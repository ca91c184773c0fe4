"""The explorer's state: restored from the URL once, kept in the session, written back.

The query string holds ``models``, their latent sizes (``dims``), the projection, the
probe, the first map's view and the display toggles. Anything in it that is missing,
malformed or no longer fits the models is replaced by a sane default, with a notice.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import explore
from . import resources
from .maps import ModelMap

FLAGS = {"manifold": "ex_manifold", "sigma": "ex_sigma", "prior": "ex_prior"}
MAX_MODELS = 4


def restore(entries: dict[str, resources.ModelEntry]) -> None:
    """On a session's first run, read the URL into the session state."""
    if st.session_state.get("ex_restored"):
        return
    st.session_state.ex_restored = True
    params = st.query_params
    notices: list[str] = []
    asked = [n for n in params.get("models", "").split(",") if n]
    dims = dict(zip(asked, params.get("dims", "").split(","), strict=False))  # paired before any is dropped
    unknown = [n for n in asked if n not in entries]
    names = [n for n in asked if n in entries]
    if unknown:
        notices.append(f"The link names model(s) that are not available: {', '.join(unknown)}. "
                       "Showing the others, or the default model.")
    if len(names) > MAX_MODELS:
        notices.append(f"At most {MAX_MODELS} models fit side by side; {', '.join(names[MAX_MODELS:])} left out.")
        names = names[:MAX_MODELS]
    changed = [n for n in names if dims.get(n) and dims[n] != str(entries[n].latent_dim)]
    if changed:
        notices.append(f"The latent size of {', '.join(changed)} changed since the link was made; "
                       "its probe and view were reset.")
    st.session_state.ex_models = names or [_default_model(entries)]
    projection = params.get("proj", "pca")
    if projection not in ("pca", "umap"):
        notices.append(f"Unknown projection {projection!r} in the link; using PCA.")
        projection = "pca"
    st.session_state.ex_projection = projection
    for flag, key in FLAGS.items():
        st.session_state[key] = params.get(flag) == "1"
    st.session_state.ex_url_probe = _url_value(params, "probe", explore.parse_pair, notices, changed)
    st.session_state.ex_url_view = _url_value(params, "view", explore.parse_view, notices, changed)
    st.session_state.ex_probes, st.session_state.ex_views, st.session_state.ex_picked = {}, {}, {}
    st.session_state.ex_notices = notices


def _url_value(params, name: str, parse, notices: list[str], changed: list[str]):
    text = params.get(name)
    if text is None or changed:
        return None
    value = parse(text)
    if value is None:
        notices.append(f"The link's {name} {text!r} is not valid; using the default.")
    return value


def _default_model(entries: dict[str, resources.ModelEntry]) -> str:
    two_d_vaes = [n for n, e in entries.items() if e.kind == "vae" and e.latent_dim == 2]
    return (two_d_vaes or list(entries))[0]


def _probe_key(m: ModelMap) -> str:
    """2-D latent maps share one probe; projected maps each have their own plane."""
    return "latent-2d" if m.method == "latent" else f"{m.entry.name}:{m.method}"


def component_key(m: ModelMap) -> str:
    """One component per model and plane, so a state reported on one plane never lands on another."""
    return f"map-{m.entry.name}-{m.method}"


def settle(maps: list[ModelMap]) -> None:
    """Give every shown map a valid view and probe (from the URL on first use, else defaults)."""
    st.session_state.ex_latent_maps = {m.entry.name for m in maps if m.method == "latent"}
    for i, m in enumerate(maps):
        bounds = m.static["data_bounds"]
        view_key = f"{m.entry.name}:{m.method}"
        if view_key not in st.session_state.ex_views:
            url_view = st.session_state.pop("ex_url_view", None) if i == 0 else None
            st.session_state.ex_views[view_key] = url_view if url_view and _overlaps(url_view, bounds) else bounds
            if url_view and not _overlaps(url_view, bounds):
                _notice("The link's view shows no data of this model; showing all of it instead.")
        key = _probe_key(m)
        if key not in st.session_state.ex_probes:
            url_probe = st.session_state.pop("ex_url_probe", None) if i == 0 else None
            default = tuple(float(v) for v in np.median(m.points, axis=0))
            st.session_state.ex_probes[key] = _within(url_probe, bounds) if url_probe else default


def _overlaps(view: list[float], bounds: list[float]) -> bool:
    return view[0] < bounds[1] and view[1] > bounds[0] and view[2] < bounds[3] and view[3] > bounds[2]


def _within(point: tuple[float, float], bounds: list[float], reach: float = 2.0) -> tuple[float, float]:
    """Clamp a point into the data's bounds widened by ``reach`` spans on each side, with a notice."""
    x0, x1, y0, y1 = bounds
    wx, wy = reach * (x1 - x0), reach * (y1 - y0)
    clamped = (min(max(point[0], x0 - wx), x1 + wx), min(max(point[1], y0 - wy), y1 + wy))
    if clamped != tuple(point):
        _notice(f"The probe ({point[0]:g}, {point[1]:g}) was far outside the data; it was moved to "
                f"({clamped[0]:.3f}, {clamped[1]:.3f}).")
    return clamped


def _notice(text: str) -> None:
    st.session_state.setdefault("ex_notices", []).append(text)


def probe_for(m: ModelMap) -> tuple[float, float]:
    return st.session_state.ex_probes[_probe_key(m)]


def view_for(m: ModelMap) -> list[float]:
    return st.session_state.ex_views[f"{m.entry.name}:{m.method}"]


def on_probe(m: ModelMap) -> None:
    """The component reported a released probe (or a clicked digit): validate and keep it."""
    probe = (st.session_state.get(component_key(m)) or {}).get("probe")
    if not (isinstance(probe, dict) and explore.finite_numbers(probe.get("x"), probe.get("y"))):
        return
    st.session_state.ex_probes[_probe_key(m)] = (float(probe["x"]), float(probe["y"]))
    picked = probe.get("picked")
    valid = isinstance(picked, int) and not isinstance(picked, bool) and 0 <= picked < len(m.points)
    st.session_state.ex_picked[m.entry.name] = picked if valid else None
    if m.method == "latent":  # the shared probe moved off whatever digit the other 2-D maps had
        for other in st.session_state.get("ex_latent_maps", set()) - {m.entry.name}:
            st.session_state.ex_picked[other] = None


def on_view(m: ModelMap) -> None:
    """The component reported a new view after a pan or zoom: validate and keep it."""
    view = explore.valid_view((st.session_state.get(component_key(m)) or {}).get("view"))
    if view is not None:
        st.session_state.ex_views[f"{m.entry.name}:{m.method}"] = view


def write(maps: list[ModelMap]) -> None:
    """Put the scene into the query string."""
    first = maps[0]
    probe, view = probe_for(first), view_for(first)
    params = {
        "models": ",".join(m.entry.name for m in maps),
        "dims": ",".join(str(m.entry.latent_dim) for m in maps),
        "proj": st.session_state.ex_projection,
        "probe": f"{probe[0]:.4f},{probe[1]:.4f}",
        "view": ",".join(f"{v:.4f}" for v in view),
    } | {flag: "1" for flag, key in FLAGS.items() if st.session_state.get(key)}
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
