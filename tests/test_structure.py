"""The shape of the code: layers kept apart, no import cycles, one home per concept."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aelab
from aelab import models, pretrained
from aelab.app import pages

PACKAGE = Path(aelab.__file__).resolve().parent
ROOT = PACKAGE.parent
LIBRARY = sorted(m.name for m in pkgutil.walk_packages(aelab.__path__, "aelab.")
                 if not m.name.startswith("aelab.app") and m.name != "aelab.__main__")


def _module_file(name: str) -> Path:
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(name: str) -> set[str]:
    """The aelab modules that module ``name`` imports, anywhere in it (lazy imports too)."""
    file = _module_file(name)
    return _imports_in(file.read_text(), name, file.name == "__init__.py")


def _imports_in(source: str, name: str, is_package: bool) -> set[str]:
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from . import checkpoint`
    known = {m.name for m in pkgutil.walk_packages(aelab.__path__, "aelab.")} | {"aelab"}
    return {m for m in found if m in known and m != name}


def test_the_library_never_imports_streamlit_or_playwright():
    """Every module of the package but aelab.app, imported in a fresh interpreter."""
    assert len(LIBRARY) > 20  # the walk found the package, not an empty list
    code = "import sys\n" + "".join(f"import {name}\n" for name in LIBRARY) + (
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'playwright'))\n"
        "print(', '.join(bad), file=sys.stderr)\n"
        "sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_nothing_in_the_package_mentions_playwright():
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "playwright" in p.read_text()]
    assert not offenders


def test_there_are_no_import_cycles():
    names = [m.name for m in pkgutil.walk_packages(aelab.__path__, "aelab.")]
    graph = {name: _imports(name) for name in names}
    assert graph["aelab.cli"] >= {"aelab.runs", "aelab.checkpoint"}  # the reader sees real edges
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in names:
        if name not in state:
            visit(name, [name])


def test_the_reader_sees_lazy_and_relative_imports():
    """The old hidden cycle: pretrained imported the CLI inside a function."""
    lazy = "def build():\n    from .cli import train_and_save\n"
    assert "aelab.cli" in _imports_in(lazy, "aelab.pretrained", False)
    assert _imports_in("from .. import data\nfrom .base import X\n", "aelab.models.vae", False) >= \
        {"aelab.data", "aelab.models.base"}


def test_no_kind_checks_outside_the_models():
    """Whether a model has a prior is asked through its interface, never by its kind or class."""
    pattern = re.compile(r"""isinstance\([^)]*\bVAE\b|kind\s*[!=]=\s*["']vae["']|["']vae["']\s*[!=]=""")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in PACKAGE.rglob("*.py") if "models" not in p.parts
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders


def test_one_atomic_write_helper():
    """Files are written through aelab._files only: no os.replace or os.rename elsewhere."""
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in PACKAGE.rglob("*.py") if p.name != "_files.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"\bos\.(replace|rename)\(|\.replace\(\w*path\)|NamedTemporaryFile|mkdtemp", line)]
    assert not offenders


def test_library_defaults_are_what_the_shipped_recipes_use():
    """Every shipped model shares one architecture, the library's default one (bug: the library and CLI
    defaulted to (512, 256) hidden widths while every recipe used (256, 128)). Deliberate exceptions: the
    sparsity lab's and the identity trap's one-layer models differ only in their hidden layers, the losses page's
    AEs only in their loss."""
    for recipe in pretrained.RECIPES:
        shallow = recipe in pretrained.SPARSITY_RECIPES + pretrained.IDENTITY_RECIPES
        assert not shallow or recipe.model["hidden"] == []
        for option in models.SHARED_OPTIONS:
            exempt = {"hidden"} if shallow else {"recon_loss"} if recipe in pretrained.LOSS_RECIPES else set()
            if option.name in exempt:
                continue
            if option.name != "latent_dim":
                default = list(option.default) if option.type == "widths" else option.default
                assert recipe.model[option.name] == default, (recipe.name, option.name)


def test_pages_are_discovered_with_distinct_prefixes_and_names():
    found = pages.discover()
    files = sorted(p.stem for p in (PACKAGE / "app" / "pages").glob("*.py") if p.stem != "__init__")
    assert sorted(p.path.stem for p in found) == files  # every page file declares itself
    prefixes = [p.prefix for p in found]
    assert len(set(prefixes)) == len(prefixes)
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)
    assert "do_" not in prefixes  # reserved for action widgets, which are never written back
    library = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    assert not set(files) & library  # no page module named like a library module
    assert sum(p.default for p in found) == 1


def test_the_server_does_not_collect_all_garbage_after_every_run():
    """Streamlit's collection after every run took 37% of the server's CPU with 30 sessions
    (bench/classroom_load.py); .streamlit/config.toml turns it off, and Streamlit must read it so."""
    import tomllib
    from streamlit import config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False
    assert "runner.postScriptGC" in config._config_options_template  # the option still exists under this name
