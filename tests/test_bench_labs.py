"""bench/labs_browser.py: how a move is judged, and one real move through its in-page instrumentation.

The benchmark itself is never run here; this only guards what would make its figures wrong
without an error: a move that changed nothing counted as 0 ms, or a Streamlit upgrade that
the in-page hooks (script state, slider inputs, WebSocket) no longer see.
"""

from __future__ import annotations

import pytest

from bench import labs_browser as bench
from tools import devtools


def result(content=(), t0=100.0, timed_out=False):
    """What the page reports after a move (times in ms from navigation start)."""
    return {"t0": t0, "content": list(content), "timedOut": timed_out, "exception": False, "messages": 3,
            "bytes": 900, "sent": 110.0, "firstIn": 120.0, "lastIn": 450.0, "inTimes": [120.0, 280.0, 450.0]}


def change(t, kind="chart"):
    """A content change at `t`, painted 8 ms later."""
    return {"kind": kind, "t": t, "raf": t + 5, "painted": t + 8}


def test_a_move_is_timed_to_the_paint_of_its_last_change():
    record = bench.summarise(result([change(300, "html"), change(420), change(360, "image-load")]), "0.5", "0.55")
    assert record["outcome"] == "redrawn"
    assert record["ms"] == pytest.approx(328) and record["last_kind"] == "chart"
    assert record["carrier_in_ms"] == pytest.approx(180)  # the last message before the change
    assert record["last_in_ms"] == pytest.approx(350)  # script finished: no change came with it


@pytest.mark.parametrize(("content", "before", "after", "outcome"), [
    ([], "1", "1", "no-op"),                      # the slider was at its end
    ([change(300)], "1", "1", "no-op"),           # something else moved, not this control
    ([], "0.5", "0.55", "no visible change"),     # the rerun drew the same page
])
def test_a_move_that_redrew_nothing_is_reported_not_timed(content, before, after, outcome):
    record = bench.summarise(result(content), before, after)
    assert record["outcome"] == outcome and "ms" not in record
    stats = bench.stats({"moves": [record, bench.summarise(result([change(200)]), "0", "1")]})
    assert stats["n"] == 1 and stats["other"] == {outcome: 1} and stats["median"] == pytest.approx(108)


def test_a_move_without_its_input_event_or_end_is_not_timed():
    assert bench.summarise(result(t0=None), "0", "1")["outcome"] == "no input event"
    assert bench.summarise(result([change(200)], timed_out=True), "0", "1")["outcome"] == "timed out"


def test_sliders_sweep_from_end_to_end():
    assert bench.slider_keys({"position": 20, "min": 0, "max": 20}, 1) == ("ArrowLeft", -1)
    assert bench.slider_keys({"position": 0, "min": 0, "max": 20}, -1) == ("ArrowRight", 1)
    assert bench.slider_keys({"position": 7, "min": 0, "max": 20}, -1) == ("ArrowLeft", -1)


def test_one_real_slider_move_is_seen_from_keydown_to_paint(chromium):
    with devtools.serve_app() as url, devtools.chromium_page(1280, 720) as page:
        page.context.add_init_script(bench.INSTRUMENT)
        loaded = bench.load(page, f"{url}/denoise")
        assert loaded["seconds"] and not loaded["timed_out"] and not loaded["exception"]
        slider = bench.widgets(page, "stSlider")[0]
        assert slider["label"] == "Noise level" and not slider["disabled"]
        record = bench.move(page, "stSlider", slider["label"], "ArrowRight")
        assert record["outcome"] == "redrawn", record
        assert 0 < record["sent_ms"] < record["first_in_ms"] <= record["ms"]  # the request, the answer, the paint
        assert record["last_kind"] != "undim" or record["changes"] > 1
        assert bench.move(page, "stSlider", slider["label"], "End")["outcome"] == "redrawn"
        assert bench.move(page, "stSlider", slider["label"], "ArrowRight")["outcome"] == "no-op"
