"""The app's two languages: English in the code, Simplified Chinese in gettext catalogs.

Every text the app shows is written in English inside ``_()`` (or ``N_()`` where it is defined
long before it is shown, e.g. a table of measures), so Babel's extractor finds it:

    st.caption(_("Probe at ({x:.3f}, {y:.3f})", x=x, y=y))

``_`` looks the English text up in the current language's catalog and then fills in the named
values with ``str.format`` (the translation keeps the same ``{names}``; a missing translation
falls back to the English). The catalogs are ordinary gettext ``.po`` files under
``aelab/locale/<lang>/LC_MESSAGES/``, one per part of the app so that parts can be translated
apart; they are read with Babel when first needed (no compiled ``.mo`` files are kept).

The language is per thread of execution (a :class:`contextvars.ContextVar`): Streamlit runs
each browser session's script in its own thread, and the app sets it at the start of every
run from the link's ``lang=``. Code outside the app (the CLI, the job workers) stays English.
A cached function must not return translated text unless the language is among its arguments.

Extract and update the catalogs with Babel's command line (see README, "Translations"):
``pybabel extract -F babel.cfg -k N_ -o /tmp/aelab.pot .`` then edit the ``.po`` files;
``tests/test_i18n.py`` fails on any shown text that has no translation.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

LANGUAGES = {"en": "English", "zh": "中文"}  # code -> the language's own name, as the switch shows it
SOURCE = "en"  # the language the code is written in
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("aelab_language", default=None)
_fallback: list[Callable[[], str | None]] = []  # asked where no language was set (see set_fallback)


def set_language(code: str) -> str:
    """Use ``code`` for this thread's texts from now on (an unknown code means English); returns the one used."""
    code = code if code in LANGUAGES else SOURCE
    _language.set(code)
    return code


def set_fallback(source: Callable[[], str | None]) -> None:
    """Where no language was set in this thread (e.g. a widget's callback, which Streamlit runs before
    the script), ask ``source``; the app passes one that reads the browser session's choice."""
    _fallback[:] = [source]


def language() -> str:
    """The language this thread's texts are shown in."""
    code = _language.get()
    if code is None and _fallback:
        code = _fallback[0]()
    return code if code in LANGUAGES else SOURCE


def _(message: str, /, **values: Any) -> str:
    """``message`` in the current language, with ``values`` filled into its ``{named}`` places."""
    text = translate(message, language())
    return text.format(**values) if values else text


def N_(message: str, /) -> str:  # noqa: N802 (gettext's name for it)
    """Mark ``message`` for translation where it is defined; ``_(message)`` translates it where it is shown."""
    return message


def translate(message: str, language_code: str) -> str:
    """``message`` in ``language_code``, or as written when it has no translation there."""
    if language_code == SOURCE:
        return message
    return catalog(language_code).get(message) or message


@functools.cache
def catalog(code: str) -> dict[str, str]:
    """Every translated message of language ``code``: English text -> translation (fuzzy ones left out)."""
    from babel.messages.pofile import read_po

    messages: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / code / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=code):
                if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
                    messages.setdefault(message.id, message.string)
    return messages
