"""The lesson path page, driven headless with AppTest: eight steps in the article's order, each linking to a
page already set up through its URL state, in English and in Chinese."""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
from apptest_pages import APP, assert_ok
from streamlit.testing.v1 import AppTest

from aelab.app import urlstate
from aelab.app.pages import Page, discover

ROOT = Path(APP).parent
LESSON = "aelab/app/pages/lesson.py"
ARTICLE_ORDER = [  # the article's order, as the issue lists it
    ("What an autoencoder is", "explore"),
    ("Undercomplete and overcomplete", "identity"),
    ("The reconstruction losses", "losses"),
    ("Sparse autoencoders", "sparsity"),
    ("Denoising autoencoders", "denoise"),
    ("Variational autoencoders", "explore"),
    ("Continuity and completeness", "compare"),
    ("What autoencoders are used for", "anomaly"),
]
EXPLORER_READS = {"models", "dims", "proj", "probe", "pick", "view", *urlstate.FLAGS}
APP_WIDE = {"lang", "present", "ws", "share"}


def _open_lesson(**params: str) -> AppTest:
    """The app opened with a link's ``params`` (so the language is read from it), then the lesson page."""
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update(params)
    at.run()
    at.switch_page(LESSON).run()
    assert_ok(at)
    return at


def _links(at: AppTest) -> list[tuple[str, str, dict[str, str]]]:
    """Each page link on the page: (label, target url_path, query parameters)."""
    return [(link.proto.label, link.proto.page, dict(parse_qsl(link.proto.query_string)))
            for link in at.get("page_link")]


def _target(url_path: str) -> Page:
    """The discovered page a link's url_path names ("" is the default page, served at /)."""
    found = [p for p in discover() if (p.url_path == url_path) or (url_path == "" and p.default)]
    assert len(found) == 1, f"no page at /{url_path}"
    return found[0]


def _params(target: Page) -> list:
    """The Param declarations of a lab page (its URL state)."""
    module = importlib.import_module(f"aelab.app.pages.{target.path.stem}")
    return list(getattr(module, "ALL_PARAMS", getattr(module, "PARAMS", ())))


def _reads(target: Page) -> dict:
    """The query parameters the target page reads, with their parsers (None: read by urlstate)."""
    if target.url_path == "explore":
        return dict.fromkeys(EXPLORER_READS)
    return {p.url: p.parse for p in _params(target)}


def test_the_page_lists_the_eight_steps_in_the_articles_order():
    at = _open_lesson()
    assert at.title[0].value == "Lesson path"
    assert [h.value for h in at.subheader] == [f"{i}. {title}" for i, (title, _) in enumerate(ARTICLE_ORDER, 1)]
    assert [_target(page).url_path for _, page, _ in _links(at)] == [page for _, page in ARTICLE_ORDER]
    assert len(at.latex) >= 6  # the core formula of most steps (L(x, g(f(x))), the DAE's, the ELBO, ...)
    text = " ".join(m.value for m in at.markdown)
    assert text.count("**Try:**") == 8 and text.count("**Look for:**") == 8


def test_every_link_opens_its_page_with_state_the_page_reads():
    """Follow each link in one session, as a teacher would: back to the lesson after each step."""
    at = _open_lesson()
    links = _links(at)
    assert len(links) == len(ARTICLE_ORDER)
    for label, url_path, query in links:
        target = _target(url_path)
        reads = _reads(target)
        unread = set(query) - set(reads) - APP_WIDE
        assert not unread, f"{label}: /{url_path} does not read {unread}"
        for name, value in query.items():
            if reads.get(name) is not None:
                assert reads[name](value) is not None, f"{label}: {name}={value!r} is not valid there"
        at.query_params.clear()
        at.query_params.update(query)
        at.switch_page(target.path.relative_to(ROOT).as_posix()).run()
        assert_ok(at)
        assert not at.warning, (label, [w.value for w in at.warning])  # e.g. "... is not one this page offers"
        _assert_state(at, target, query)
        at.switch_page(LESSON).run()  # back to the lesson, whose links are then followed again
        assert_ok(at)


def _assert_state(at: AppTest, target: Page, query: dict[str, str]) -> None:
    """The page took the link's state (a page seen earlier in the session too: the lesson lets it read again)."""
    state = at.session_state
    if target.url_path == "explore":
        assert state["ex_models"] == query["models"].split(",")
        for flag, key in urlstate.FLAGS.items():
            assert state[key] == (query.get(flag) == "1")
        return
    if target.url_path == "compare":  # the size and beta wait for the page's options, then set the slider
        assert state[f"cmp_beta_{query['latent']}"] == float(query["beta"])
    for param in _params(target):
        if param.url in query and param.key in state:
            assert state[param.key] == param.parse(query[param.url]), (target.url_path, param.url)


def test_the_explorer_takes_the_second_links_state_after_the_first():
    """Steps 1 and 6 both open the explorer: the second visit shows the VAE with sigma and prior on."""
    at = _open_lesson()
    first, sixth = _links(at)[0], _links(at)[5]
    for _, url_path, query in (first, sixth):
        at.query_params.clear()
        at.query_params.update(query)
        at.switch_page(_target(url_path).path.relative_to(ROOT).as_posix()).run()
        assert_ok(at)
        at.switch_page(LESSON).run()
    at.query_params.clear()
    at.query_params.update(sixth[2])
    at.switch_page("aelab/app/pages/explorer.py").run()
    assert at.session_state["ex_models"] == ["vae-2d"]
    assert at.session_state["ex_sigma"] and at.session_state["ex_prior"]


def test_in_chinese_the_page_is_chinese_and_its_links_keep_the_language_and_presenter_mode():
    at = _open_lesson(lang="zh", present="1")
    assert at.title[0].value == "学习路线"
    assert at.subheader[0].value == "1. 什么是自编码器"
    assert at.subheader[6].value == "7. 连续性与完整性"
    text = " ".join(m.value for m in at.markdown)
    assert "欠完备" in text and "**试一试**" in text
    links = _links(at)
    assert len(links) == 8
    for label, _, query in links:
        assert query.get("lang") == "zh" and query.get("present") == "1", (label, query)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label, _, _ in links)
    assert at.query_params.get("lang") == "zh"


def test_what_the_sparse_step_says_holds_for_the_shipped_models():
    """Step 4: "Each model has 128 units"; "the heavier the penalty, the fewer units any one digit turns on;
    at the heaviest weights here most of them stay at zero" (median share of units on per held-out digit)."""
    from aelab import checkpoint, data, pretrained
    from aelab.labs import sparsity

    held_out = data.load_splits("mnist5k").val.images
    sparse = {e["name"]: e for e in pretrained.read_index() if "sparsity" in e.get("tags", [])}
    assert sparse and all(e["latent_dim"] == 128 for e in sparse.values())

    def share_on(name: str) -> float:
        stats = sparsity.model_activity(checkpoint.load(sparse[name]["path"]).model, held_out)
        return float(np.median(stats.active.mean(axis=1)))
    l1 = [share_on(f"sae-128u-l1-w{w:g}") for w in pretrained.L1_WEIGHTS]
    assert all(a > b for a, b in itertools.pairwise(l1)), l1  # fewer units on at every heavier L1 weight
    kl = {rho: [share_on(f"sae-128u-kl-w{w:g}-rho{rho:g}") for w in pretrained.KL_WEIGHTS[1:]]
          for rho in pretrained.KL_RHOS}
    assert all(a > b for shares in kl.values() for a, b in itertools.pairwise(shares)), kl
    assert l1[-1] < 0.5 and all(shares[-1] < 0.5 for shares in kl.values())  # the heaviest: most units off
