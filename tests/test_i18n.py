"""Every text the app shows exists in English and in Chinese (aelab/i18n.py).

Two checks, per source file so that a failure names the file:
- no prose is shown untranslated: a string of words in ``aelab/app`` (or a page's chart and
  table titles) sits inside ``_()`` or ``N_()``, except docstrings, widget keys, formulas
  (``st.latex``), and lines marked ``# i18n: not shown`` (CSS, HTML attributes, log lines);
- every marked message has a Chinese translation in ``aelab/locale/zh/LC_MESSAGES/*.po``
  that keeps its ``{placeholders}`` and is not marked fuzzy.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from aelab import i18n

ROOT = Path(__file__).resolve().parent.parent
APP = sorted((ROOT / "aelab" / "app").rglob("*.py"))
MARKED = sorted((ROOT / "aelab").rglob("*.py"))  # the library marks texts the app shows with N_()
KEYWORDS = {"_": None, "N_": None}
PROSE = re.compile(r"[A-Za-z]{2,}[ ,.;:!?'()-]+[A-Za-z]{2,}")
NOT_SHOWN_CALLS = {"latex", "code", "getLogger", "exception", "debug", "info_log", "set_page_config", "get_option"}
NOT_SHOWN_KWARGS = {"key", "icon", "url_path", "type", "format", "page_icon", "selection_mode"}
MARKS = ("i18n: not shown", "i18n: same in every language")  # e.g. CSS; file formats such as "NPZ, ZIP"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _untranslated(path: Path) -> list[str]:
    """Prose in ``path`` that is not inside _() or N_() and not exempt."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    skip: set[int] = set()  # ids of string nodes that are fine
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))  # a docstring
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            inside = [*node.args, *(k.value for k in node.keywords)] if name in {"_", "N_"} | NOT_SHOWN_CALLS \
                else [k.value for k in node.keywords if k.arg in NOT_SHOWN_KWARGS]
            for arg in inside:
                skip.update(id(n) for n in ast.walk(arg))
        if isinstance(node, ast.Subscript):  # st.session_state["a key"], a_dict["a key"]
            skip.update(id(n) for n in ast.walk(node.slice))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            skip.update(id(v) for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if not PROSE.search(text) or any(mark in lines[n - 1] for n in range(node.lineno, node.end_lineno + 1)
                                         for mark in MARKS):
            continue
        found.append(f"{_rel(path)}:{node.lineno}: {text[:70]!r}")
    return found


@pytest.mark.parametrize("path", APP, ids=_rel)
def test_no_prose_is_shown_untranslated(path):
    found = _untranslated(path)
    assert not found, "wrap in _() (or mark the line '# i18n: not shown'):\n" + "\n".join(found)


def _messages(path: Path) -> list[tuple[int, str]]:
    """Every literal text in _() or N_(), found in the syntax tree (so also one that Babel's extractor
    misses, e.g. a _() inside another _() call's arguments)."""
    return [(node.lineno, node.args[0].value) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KEYWORDS
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]


@pytest.mark.parametrize("path", [p for p in MARKED if "_(" in p.read_text(encoding="utf-8")], ids=_rel)
def test_babel_extracts_every_marked_text(path):
    """tools/i18n_po.py and pybabel see what the code marks (a _() nested in another's arguments they miss)."""
    seen = {text for _, text, _, _ in extract_from_file("python", path, keywords=KEYWORDS) if isinstance(text, str)}
    missed = [f"{_rel(path)}:{line}: {text[:70]!r}" for line, text in _messages(path) if text not in seen]
    assert not missed, "Babel's extractor does not see these (move the inner _() out):\n" + "\n".join(missed)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("path", [p for p in MARKED if "_(" in p.read_text(encoding="utf-8")], ids=_rel)
def test_every_marked_text_has_a_chinese_translation(path):
    zh = i18n.catalog("zh")
    missing = [f"{_rel(path)}:{line}: {text[:70]!r}" for line, text in _messages(path) if text not in zh]
    assert not missing, "no Chinese translation (add it to a .po under aelab/locale/zh):\n" + "\n".join(missing)
    wrong = [f"{_rel(path)}:{line}: {text[:50]!r} -> {zh[text][:50]!r}" for line, text in _messages(path)
             if _fields(zh[text]) != _fields(text)]
    assert not wrong, "a translation must keep the same {placeholders}:\n" + "\n".join(wrong)


def _built_text(node: ast.expr) -> bool:
    """An f-string, or text glued with + or %: the extractor cannot see it as one message."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and any(
        isinstance(n, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(n, "value", ""), str)
        for n in (node.left, node.right)))


def test_a_marked_message_is_one_literal_text():
    """N_() takes a string literal; _() takes a literal or a name marked with N_() where it is defined,
    never an f-string or glued text (the extractor would not see it, so it would stay English)."""
    bad = []
    for path in MARKED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_"):
                literal = bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value,
                                                                                                   str)
                if not node.args or (node.func.id == "N_" and not literal) or _built_text(node.args[0]):
                    bad.append(f"{_rel(path)}:{node.lineno}")
    assert not bad, "N_() with something other than a string literal, or _() with built text:\n" + "\n".join(bad)


def test_translation_switches_with_the_language_and_falls_back_to_english():
    zh = i18n.catalog("zh")
    assert zh, "the Chinese catalogs are empty"
    english, chinese = next(iter(zh.items()))
    i18n.set_language("zh")
    try:
        assert i18n._(english) == chinese
        assert i18n._("a text nobody translated") == "a text nobody translated"
    finally:
        i18n.set_language("en")
    assert i18n._(english) == english
    assert i18n.set_language("xx") == "en"  # an unknown language is English


def test_a_cached_function_that_translates_takes_the_language():
    """A result cached across sessions must not keep the first session's language: a function under
    st.cache_data / st.cache_resource that calls _() has a ``lang`` parameter (part of its cache key)."""
    bad = []
    for path in APP:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any("cache" in ast.unparse(d) for d in node.decorator_list):
                translates = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
                                 for n in ast.walk(node))
                if translates and "lang" not in [a.arg for a in node.args.args]:
                    bad.append(f"{_rel(path)}:{node.lineno} {node.name}")
    assert not bad, "cached, translating, without a lang argument:\n" + "\n".join(bad)
