"""What one rerun costs the server: CPU milliseconds and bytes sent, per exploring action.

Starts ``streamlit run app.py`` from this checkout (or uses ``--url``), opens each page with one
protocol session (tools/stclient.py, the messages a browser sends), warms every stop once (so the
shared caches hold what a class would have filled), then repeats each action ``--repeat`` times
and reads the server process's CPU time (user + system, every thread: the script run, the
websocket writes, the garbage collector) around each one. With one session and nothing else
asking, that is the cost of the rerun itself, which the wall-clock latency on a shared machine
is not. Bytes are what the session received for the run, after Streamlit's message cache
(an element identical to one the tab already holds is sent as a reference).

Run from any checkout, e.g. HEAD in a scratch copy for a before/after table:
    python bench/rerun_cost.py [--repeat 12] [--url http://127.0.0.1:8501]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import asyncio
import itertools
import random
import statistics
import time
from contextlib import nullcontext

import psutil

from tools import devtools
from tools.stclient import Session


def cpu(process: psutil.Process) -> float:
    """The process's CPU seconds, every thread (ended ones too), to the nanosecond: Linux's CPU clock of another
    process (clock_getcpuclockid's id; psutil's times count in 10 ms ticks, too coarse for one rerun)."""
    return time.clock_gettime(((~process.pid) << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)


def slider(key: str):
    """An action moving a select slider to its next stop (round the stops); warming visits each once."""
    def stops(s: Session) -> list:
        proto = s.widget(key).proto
        return proto.options or [proto.min + k * proto.step for k in range(int((proto.max - proto.min) / proto.step)
                                                                             + 1)]

    async def act(s: Session, i: int):
        values = stops(s)
        return await s.set(key, values[(i + 1) % len(values)])
    act.stops = lambda s: len(stops(s))
    return act


def release(prefix: str):
    """An action releasing the probe of the first map whose key starts with ``prefix`` somewhere in its view."""
    ids = itertools.count()

    async def act(s: Session, i: int):
        key = next(k for k in s.widgets if k.startswith(prefix))
        x0, x1, y0, y1 = s.component_data(key)["view"]
        rng = random.Random(i)  # the warming pass and the measured one release at other places
        report = {"x": rng.uniform(x0, x1), "y": rng.uniform(y0, y1), "picked": None, "nearest": None,
                  "view": None, "id": f"cost{next(ids)}"}
        return await s.set_component(key, "probe", report, {"probe": None, "view": None})
    act.stops = lambda s: 3
    return act


# (label, page path, query, action): each a rerun a student causes while exploring
ACTIONS = [
    ("explorer: release probe", "/", "models=ae-2d", release("map-")),
    ("compare: release probe", "/compare", "", release("cmp-")),
    ("compare: beta slider", "/compare", "", slider("cmp_beta_2")),
    ("compare: interpolation steps", "/compare", "", slider("cmp_steps")),
    ("denoise: level slider", "/denoise", "", slider("dn_level")),
    ("sparsity: weight slider", "/sparsity", "", slider("sp_weight")),
    ("losses: brightness slider", "/losses", "", slider("ls_bright")),
    ("identity: code size slider", "/identity", "", slider("id_units")),
    ("anomaly: threshold (full rerun)", "/anomaly", "", slider("an_threshold")),
]


async def measure(url: str, repeat: int, timeout: float, only: str | None) -> list[tuple]:
    server = devtools.server_process(url)
    rows = []
    for label, path, query, act in ACTIONS:
        if only and only not in label:
            continue
        s = Session(url, timeout=timeout)
        try:
            run = await s.connect(path, query)
            problems = run.exceptions + run.errors
            warm = act.stops(s)
            for i in range(warm):  # every stop once: the shared caches then hold what a class fills
                await act(s, i)
            cpu_ms, sizes = [], []
            for i in range(warm, warm + repeat):
                await asyncio.sleep(0.05)  # the last run's sending and clean-up done
                before = cpu(server)
                run = await act(s, i)
                await asyncio.sleep(0.05)
                cpu_ms.append(1000 * (cpu(server) - before))
                sizes.append(run.bytes)
                problems += run.exceptions + run.errors
            rows.append((label, statistics.median(cpu_ms), max(cpu_ms), statistics.median(sizes) / 1024,
                         "; ".join(problems)[:80]))
        except Exception as exc:  # a page without the widget (an older checkout): say so, go on
            rows.append((label, float("nan"), float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"[:80]))
        finally:
            await s.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=12, help="measured reruns per action")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-run timeout (s); the first runs measure")
    parser.add_argument("--only", help="only the actions whose label contains this")
    parser.add_argument("--url", help="an app already running (else one is started from this checkout)")
    args = parser.parse_args()
    with nullcontext(args.url) if args.url else devtools.serve_app(timeout=180) as url:
        rows = asyncio.run(measure(url.rstrip("/"), args.repeat, args.timeout, args.only))
    print(f"server CPU and bytes per rerun, one session, {args.repeat} reruns each after every stop once; "
          f"checkout {devtools.ROOT}")
    table = [("action", "CPU ms median", "CPU ms max", "KB median", "problems")]
    table += [(label, f"{med:.0f}", f"{top:.0f}", f"{kb:.1f}", note) for label, med, top, kb, note in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                   strict=True))))


if __name__ == "__main__":
    main()
