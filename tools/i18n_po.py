"""Keep the Chinese catalogs in step with the code: one .po file per source file.

    python tools/i18n_po.py aelab/app/pages/explorer.py [more .py files]

For each file: extracts its marked texts (``_()`` and ``N_()``, with Babel) and rewrites
``aelab/locale/zh/LC_MESSAGES/<module path>.po`` (e.g. ``app.pages.explorer.po``): texts
still in the code keep their translation, new ones come in with an empty one (filled from
another catalog when that already translates the same text), texts gone from the code go.
Then translate the empty ``msgstr`` entries by hand; tests/test_i18n.py lists what is missing.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from aelab import i18n  # noqa: E402

KEYWORDS = {"_": None, "N_": None}
STAMP = datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)  # fixed, so a rewrite changes only what changed


def catalog_path(source: Path, language: str = "zh") -> Path:
    module = source.resolve().relative_to(ROOT / "aelab").with_suffix("")
    return i18n.LOCALE_DIR / language / "LC_MESSAGES" / (".".join(module.parts) + ".po")


def update(source: Path, language: str = "zh") -> tuple[Path, int, int]:
    """Rewrite ``source``'s catalog; returns it, its number of texts and how many still lack a translation."""
    path = catalog_path(source, language)
    old = {}
    if path.exists():
        with path.open("rb") as f:
            old = {m.id: m for m in read_po(f, locale=language) if m.id}
    known = i18n.catalog.__wrapped__(language)  # every catalog's translations, read afresh
    new = Catalog(locale=language, project="aelab", version="1", charset="utf-8", fuzzy=False,
                  header_comment=f"# {i18n.LANGUAGES[language]} translations of the texts in {source.name}.",
                  copyright_holder="the aelab authors", creation_date=STAMP, revision_date=STAMP)
    where = source.resolve().relative_to(ROOT).as_posix()
    for line, text, _, comments in extract_from_file("python", source, keywords=KEYWORDS):
        if not isinstance(text, str):
            continue
        previous = old.get(text)
        translation = previous.string if previous is not None and previous.string else known.get(text, "")
        if text in new:
            new[text].locations.append((where, line))
        else:
            new.add(text, translation, locations=[(where, line)], auto_comments=comments)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, new, width=100, omit_header=False, sort_output=False)
    return path, len(new), sum(1 for m in new if m.id and not m.string)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        path, total, missing = update(Path(name))
        print(f"{path.relative_to(ROOT)}: {total} texts, {missing} without a translation")
