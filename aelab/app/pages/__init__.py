"""The app's pages: one file each, found here, so adding a page is adding a file.

A page file declares ``PAGE`` (its title, icon, URL path, order and the prefix of its
widget keys) and draws itself when Streamlit runs it as a script. :func:`discover` lists
the declared pages in order; ``app.py`` puts them in the navigation and keeps every
page's widget values across page switches by their prefixes.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Page:
    """What the navigation needs to know about a page file."""

    title: str
    icon: str
    url_path: str
    prefix: str  # every widget key the page owns starts with this (action widgets start with "do_")
    order: int
    default: bool = False
    path: Path = field(default=HERE, compare=False)  # the page's file, filled in by discover()


@functools.cache
def discover() -> tuple[Page, ...]:
    """Every page module in this folder that declares ``PAGE``, in their declared order (found once
    per process: app.py asks on every run)."""
    pages = []
    for info in pkgutil.iter_modules([str(HERE)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        page = getattr(module, "PAGE", None)
        if isinstance(page, Page):
            pages.append(Page(**{**page.__dict__, "path": HERE / f"{info.name}.py"}))
    return tuple(sorted(pages, key=lambda p: p.order))
