"""A classroom against one server: N students exploring at once, some training, a few in real browsers.

Drives ``--sessions`` concurrent sessions against ``streamlit run app.py`` on loopback (started
here on a free port unless ``--url`` is given) for ``--seconds``, then stops by itself. Most
sessions are clients of Streamlit's own websocket protocol (tools/stclient.py: the protobuf
messages a browser sends, no rendering), so 30 of them fit beside the server on 2 cores. Each
explores in a loop, with a pause of about ``--think`` seconds between actions: open the explorer,
release the probe on its map a few times (the component state a browser sends after a drag),
switch model, open the denoising lab and move its noise-level slider, open the sparsity lab and
move its weight slider. ``--trainers K`` more sessions start the default 30-epoch AE on the Train
page and follow it as the browser does (its fragment's reruns), starting another when one ends;
``--standin-train`` instead runs ``python -m aelab train`` beside the server. ``--browsers B`` real
Chromium tabs release the probe on the same server and check that the map shows the server's image
of the released point.

``--hostile H`` (default 2) more sessions attack while the others explore: in a loop, with the
same pauses, each either uploads a hostile file through the real upload path (the upload URLs asked
over the socket, an HTTP PUT with the XSRF token, the uploader's new value in a rerun: what the
browser does) to one of the app's four uploaders (the Train page's data set and model uploaders,
the denoising lab's picture, the anomaly lab's images), or opens a hostile link (a new tab on any
page with a hostile query string). The files and links are made by bench/hostile_inputs.py (zip and
decompression bombs, pickles, absurd shapes and sizes, malformed configs, path traversal, bogus
workspace and share tokens, NaN, ...; no file is committed). A hostile action counts as an error
only if the page shows an exception element, the session is disconnected or the action times out:
the st.error or st.warning a refused file should bring is expected, and is tallied apart (refused
with a message, accepted, silent, and messages that show a server path or an exception name). A
pickle in the files is a canary: if the server ever unpickles one, it creates a file that the run
reports. The exploring actions' figures are reported as before, so the hostile sessions' effect on
them shows in their latency (the target: p95 under 1 s and no errors); the hostile actions are
listed after them, under "(hostile) ...". ``--error-details`` starts the server with
``client.showErrorDetails = "full"``, so an exception's own text shows in the error samples.

Latency of an action: from sending it to the ``script_finished`` of the run it caused (browser:
from the release to the server's image painted). Reported per action: count, median, p95, max,
bytes received, errors; the server's resident memory before and after (and per session), the CPU
seconds of the server, of its worker processes, of this driver and of its browser, and the load
average (the machine is shared).

Run: python bench/classroom_load.py [--sessions 30] [--seconds 60] [--trainers 1] [--hostile 2] [--browsers 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import asyncio
import itertools
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import psutil

from bench import hostile_inputs
from tools import devtools
from tools.stclient import Session, StClientError

EXPLORER_MODELS = ["ae-2d", "dae-2d", "sae-2d", "vae-2d", "ae-16d", "vae-16d", "vae-2d-beta0.5", "vae-2d-beta2"]
PROBE = re.compile(r"Probe at \((-?[\d.]+), (-?[\d.]+)\)")
EPOCH = re.compile(r"epoch (\d+) of (\d+)")
_ids = itertools.count()
TRAIN_EPOCHS = 30  # the Train page's default run, which the trainers start


@dataclass
class Record:
    """Every action's latency, bytes and errors, by action name."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    bytes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    epochs: list[tuple[float, int]] = field(default_factory=list)  # (time, epochs done) per trainer progress
    finished: list[float] = field(default_factory=list)  # when each training seen by a trainer ended
    browser_cpu: float = 0.0  # CPU seconds of the Chromium and Playwright processes
    verdicts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # by hostile kind
    notable: dict[str, str] = field(default_factory=dict)  # hostile input -> what was wrong with the answer
    lock: threading.Lock = field(default_factory=threading.Lock)  # the browser thread writes too

    def add(self, action: str, seconds: float, size: int = 0, error: str | None = None) -> None:
        with self.lock:
            if error is None:
                self.seconds[action].append(seconds)
                self.bytes[action].append(size)
            else:
                self.errors[action].append(error)


# ---- a student with the protocol client ----------------------------------------------------------


async def timed(record: Record, action: str, coro, check=None, alerts_ok: bool = False):
    """Await one action; record its latency, or its error (an exception or st.error in the run,
    a failed ``check`` of what the page shows, a timeout, a disconnect). With ``alerts_ok`` (a
    hostile action, which should make the page say what is wrong) an st.error is no error."""
    try:
        run = await coro
    except StClientError as exc:
        record.add(action, 0.0, error=str(exc)[:200])
        raise
    problem = "; ".join(run.exceptions + ([] if alerts_ok else run.errors))[:200] or (check() if check else None)
    record.add(action, run.seconds, run.bytes, error=problem)
    return run


async def student(url: str, record: Record, deadline: float, think: float, timeout: float, seed: int) -> None:
    """Explore until the deadline: the explorer (releases, a model switch), then each lab's slider."""
    rng = random.Random(seed)
    s = Session(url, timeout=timeout)
    pause = lambda: asyncio.sleep(rng.uniform(0.5, 1.5) * think)  # noqa: E731
    steps = [("explorer", 3), ("switch", 2), ("denoise", 2), ("sparsity", 2)]
    try:
        await timed(record, "open explorer", s.connect("/", "models=" + rng.choice(EXPLORER_MODELS[:4])))
        for step, repeat in itertools.islice(itertools.cycle(steps), rng.randrange(4), None):
            if time.monotonic() > deadline:
                break
            if step in ("explorer", "switch") and "ex_models" not in s.widgets:
                await timed(record, "open explorer", s.open("/"))
            if step == "switch":
                current = s.widget("ex_models").proto
                choice = rng.choice([m for m in EXPLORER_MODELS if m not in current.raw_values])
                await timed(record, "switch model", s.set("ex_models", [choice]))
            elif step in ("denoise", "sparsity"):
                await timed(record, f"open {step}", s.open("/" + step))
            for _ in range(repeat):
                if time.monotonic() > deadline:
                    break
                await pause()
                if step in ("explorer", "switch"):
                    await release(s, record, rng)
                else:
                    key = "dn_level" if step == "denoise" else "sp_weight"
                    await move_slider(s, record, key, rng)
            await pause()
    except StClientError:
        pass  # recorded by timed(); this student has left
    except Exception as exc:  # a bug here or a page without what it should have: say so, as an error
        record.add("(session ended early)", 0.0, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        await s.close()


async def release(s: Session, record: Record, rng: random.Random) -> None:
    """Let go of the probe somewhere in the map's view, as the browser reports it, and check the caption."""
    key = next(k for k in s.widgets if k.startswith("map-"))
    x0, x1, y0, y1 = s.component_data(key)["view"]
    x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
    report = {"x": x, "y": y, "picked": None, "nearest": None, "view": None, "id": f"load{next(_ids)}"}

    def landed() -> str | None:
        shown = [m for m in map(PROBE.match, s.texts()) if m]
        ok = shown and abs(float(shown[0].group(1)) - x) < 2e-3 and abs(float(shown[0].group(2)) - y) < 2e-3
        return None if ok else f"the caption does not show the released probe ({x:.3f}, {y:.3f})"
    await timed(record, "release probe", s.set_component(key, "probe", report, {"probe": None, "view": None}), landed)


async def move_slider(s: Session, record: Record, key: str, rng: random.Random) -> None:
    """Move a lab's select slider to another stop and check that the page's URL followed it."""
    param = "level" if key.startswith("dn_") else "weight"
    shown = lambda: float(parse_qs(s.query_string).get(param, ["nan"])[0])  # noqa: E731
    current = shown()
    stop = rng.choice([o for o in s.widget(key).options if float(o) != current])
    name = "dn slider (noise level)" if key.startswith("dn_") else "sp slider (weight)"
    await timed(record, name, s.set(key, stop),
                lambda: None if shown() == float(stop) else f"the URL says {param}={shown()}, not {stop}")


# ---- a hostile student -------------------------------------------------------------------------


async def hostile(url: str, record: Record, deadline: float, think: float, timeout: float, seed: int,
                  cases: list[hostile_inputs.Case], links: list[tuple[str, str]]) -> None:
    """Until the deadline: upload a hostile file to one of the uploaders (in one tab, which goes to the
    uploader's page), or open a hostile link in a new tab. A broken tab is replaced and the attack goes on."""
    rng = random.Random(seed)
    s = Session(url, timeout=timeout)
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            if time.monotonic() > deadline:
                break
            if rng.random() < 0.6:
                s = await hostile_upload(s, url, record, rng.choice(cases), timeout)
            else:
                await hostile_link(url, record, *rng.choice(links), timeout)
    except Exception as exc:  # a bug here: say so, as an error
        record.add("(session ended early)", 0.0, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        await s.close()


async def hostile_upload(s: Session, url: str, record: Record, case: hostile_inputs.Case, timeout: float) -> Session:
    """One hostile upload; returns the tab to go on with (a new one if this one broke)."""
    target = hostile_inputs.TARGETS[case.target]
    try:
        try:
            runs = await hostile_inputs.prepare(s, target)
        except StClientError as exc:
            record.add("(hostile) open page", 0.0, error=str(exc)[:200])
            raise
        for run in runs:
            record.add("(hostile) open page", run.seconds, run.bytes, error="; ".join(run.exceptions)[:200] or None)
        run = await timed(record, f"(hostile) upload {target.name}", s.upload_files(target.key, list(case.files)),
                          alerts_ok=True)
    except StClientError as exc:
        judge(record, f"upload {target.name}", case.label, "failed", f"session broke: {exc}")
        await s.close()
        return Session(url, timeout=timeout)
    verdict, message = hostile_inputs.outcome(run, s, target)
    judge(record, f"upload {target.name}", case.label, verdict, message, [name for name, _ in case.files])
    return s


async def hostile_link(url: str, record: Record, path: str, query: str, timeout: float) -> None:
    """Open a hostile link in a new tab: it must load without an exception element."""
    s = Session(url, timeout=timeout)
    label = f"{path[:30]}?{query[:50]}"
    try:
        run = await timed(record, "(hostile) open link", s.connect(path, query), alerts_ok=True)
        verdict, message = hostile_inputs.outcome(run)
        judge(record, "open link", label, verdict, message, hostile_inputs.link_values(path, query))
    except StClientError as exc:
        judge(record, "open link", label, "failed", f"session broke: {exc}")
    finally:
        await s.close()


def judge(record: Record, kind: str, label: str, verdict: str, message: str, supplied=()) -> None:
    """Tally what the page made of a hostile input; keep the notable answers (failures, leaks, silent refusals)."""
    leaky = verdict != "failed" and hostile_inputs.leaks(message, supplied)
    with record.lock:
        record.verdicts[kind][verdict] += 1
        record.verdicts[kind]["leaks"] += leaky
        if verdict == "failed" or leaky or (verdict == "silent" and kind != "open link"):
            record.notable.setdefault(f"{kind}: {label}", f"{verdict}{' (leaks)' if leaky else ''}: {message}"[:300])


# ---- a trainer --------------------------------------------------------------------------------


async def trainer(url: str, record: Record, deadline: float, timeout: float) -> None:
    """Train the Train page's default model, following its progress as the browser does; again when done."""
    s = Session(url, timeout=timeout)
    try:
        await timed(record, "(trainer) open train", s.connect("/train"))
        while time.monotonic() < deadline:
            await timed(record, "(trainer) start training", s.click("do_train"))
            while s.auto_reruns and time.monotonic() < deadline:
                await asyncio.sleep(min(s.auto_reruns.values()))
                if s.auto_reruns:
                    await timed(record, "(trainer) progress poll", s.poll())
                for text in progress_texts(s):
                    if m := EPOCH.search(text):
                        record.epochs.append((time.monotonic(), int(m.group(1))))
            if not s.auto_reruns:  # the page stopped polling: the run has ended
                record.finished.append(time.monotonic())
        if "do_stop" in s.widgets:  # leave the server as we found it
            await s.click("do_stop")
    except StClientError:
        pass
    except Exception as exc:
        record.add("(session ended early)", 0.0, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        await s.close()


def progress_texts(s: Session) -> list[str]:
    return [e.progress.text for e in s.elements.values() if e.WhichOneof("type") == "progress"]


def standin_training(seconds: float) -> subprocess.Popen:
    """``python -m aelab train`` beside the server, for as long as the run lasts (a stand-in for the Train page)."""
    out = Path(tempfile.mkdtemp(prefix="aelab-load-train-"))
    return subprocess.Popen([sys.executable, "-m", "aelab", "train", "--model", "ae", "--epochs", "10000",
                             "--threads", "1", "--out", str(out / "ae")], cwd=devtools.ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- a real browser -------------------------------------------------------------------------------


def browser_student(url: str, record: Record, deadline: float, think: float, index: int) -> None:
    """One Chromium tab: open the explorer, drag and release its probe until the deadline, and check
    that the map paints the server's image of the released point (what a student sees)."""
    from bench.explorer_browser import WAIT_FOR_SERVER_IMAGE

    model = EXPLORER_MODELS[index % 4]
    with devtools.chromium_page() as page:
        problems = devtools.watch_console(page)
        tic = time.perf_counter()
        try:
            page.goto(f"{url}/?models={model}")
            page.wait_for_function(devtools.MAPS_READY, arg=1, timeout=60_000)
        except Exception as exc:  # Playwright's timeouts and navigation errors
            record.add("(browser) open explorer", 0.0, error=str(exc).splitlines()[0][:200])
            return
        record.add("(browser) open explorer", time.perf_counter() - tic)
        race = (f"name => Promise.race([({WAIT_FOR_SERVER_IMAGE})(name),"
                " new Promise(r => setTimeout(() => r(null), 30000))])")
        for i in itertools.count():
            if time.monotonic() > deadline:
                break
            page.wait_for_timeout(1000 * think)
            start = page.evaluate(devtools.PROBE_SCREEN, model)
            page.mouse.move(start["x"], start["y"])
            page.mouse.down()
            step = 25 if i % 2 == 0 else -25
            page.mouse.move(start["x"] + step, start["y"] + step / 2, steps=5)
            page.evaluate(f"name => {{ window.__serverImage = ({race})(name); }}", model)
            page.mouse.up()
            loaded = page.evaluate("window.__serverImage")
            if loaded is None:
                record.add("(browser) release -> server image", 0.0,
                           error="no server image of the released probe in 30 s")
                continue
            reported = page.evaluate(f"window.__aelabMaps.find(m => m.data.model.startsWith('{model}:')).reportedAt")
            record.add("(browser) release -> server image", (loaded - reported) / 1000)
        for problem in problems:
            record.add("(browser) console", 0.0, error=problem[:200])
        with record.lock:  # before the browser closes, while its processes can still be read
            record.browser_cpu += sum(cpu_seconds(p) for p in psutil.Process().children(recursive=True)
                                      if any(name in p.name() for name in ("chrom", "node")))


# ---- measuring the processes ----------------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    t = process.cpu_times()
    return t.user + t.system


def children_cpu(process: psutil.Process) -> float:
    """CPU seconds of a process's live descendants (the server's worker processes)."""
    total = 0.0
    for child in process.children(recursive=True):
        try:
            total += cpu_seconds(child)
        except psutil.Error:
            pass
    return total


async def warm_up(url: str, timeout: float, every_page: bool = False) -> None:
    """Visit what the students visit once, so the models are loaded before memory is measured
    (``every_page``: the other pages too, which the hostile sessions' links open)."""
    s = Session(url, timeout=timeout)
    try:
        await s.connect("/", "models=" + EXPLORER_MODELS[0])
        for model in EXPLORER_MODELS[1:]:
            await s.set("ex_models", [model])
        for page, key in (("/denoise", "dn_level"), ("/sparsity", "sp_weight")):
            await s.open(page)
            for stop in s.widget(key).options:
                await s.set(key, stop)
        for page in hostile_inputs.pages() if every_page else ():
            await s.open(f"/{page}")
    finally:
        await s.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def report(record: Record, args, usage: dict) -> None:
    """Print one table: per action, then the processes."""
    rows = [("action", "n", "median ms", "p95 ms", "max ms", "KB median", "errors")]
    for action in sorted(set(record.seconds) | set(record.errors), key=lambda a: (a.startswith("("), a)):
        times, sizes = record.seconds.get(action, []), record.bytes.get(action, [])
        stats = (statistics.median, lambda v: percentile(v, 0.95), max)
        ms = [f"{1000 * f(times):.0f}" if times else "-" for f in stats]
        kb = f"{statistics.median(sizes) / 1024:.0f}" if sizes and any(sizes) else "-"
        rows.append((action, str(len(times)), *ms, kb, str(len(record.errors.get(action, [])))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"\n{args.sessions} sessions, {args.trainers} trainers{' (stand-in process)' if args.standin_train else ''},"
          f" {args.hostile} hostile, {args.browsers} browsers, {args.seconds:g} s, think {args.think:g} s")
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    for key, line in usage.items():
        if key != "canary":
            print(line)
    samples = [msg for errs in record.errors.values() for msg in errs][:5]
    for msg in samples:
        print(f"  error: {msg}")
    if record.verdicts:
        print("hostile inputs, what the page made of them (failed: an exception element, a disconnect or a timeout;"
              " refused: an error, warning or toast said why; leaks: a message shows a server path or an exception):")
        for kind, tally in sorted(record.verdicts.items()):
            print(f"  {kind:22} " + ", ".join(f"{tally[v]} {v}" for v in ("failed", "refused", "accepted", "silent",
                                                                           "leaks")))
        for label, what in list(record.notable.items())[:15]:
            print(f"  {hostile_inputs.unescape(label)[:90]!r}: {what}")
    if usage.get("canary"):
        print(usage["canary"])


async def drive(url: str, args, record: Record, hostile_work: tuple[list, list] | None = None) -> None:
    deadline = time.monotonic() + args.seconds
    ramp = min(args.ramp, args.seconds / 4)
    tasks = []
    for i in range(args.sessions):
        tasks.append(asyncio.create_task(_later(i * ramp / max(args.sessions, 1), student(
            url, record, deadline, args.think, args.timeout, seed=i))))
    for _ in range(args.trainers if not args.standin_train else 0):
        tasks.append(asyncio.create_task(trainer(url, record, deadline, args.timeout)))
    for i in range(args.hostile if hostile_work else 0):
        tasks.append(asyncio.create_task(_later((i + 0.5) * ramp / args.hostile, hostile(
            url, record, deadline, args.think, args.timeout, 1000 + i, *hostile_work))))
    # bounded: a session still waiting after the deadline has its action's timeout, then it is cancelled
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + args.timeout + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _later(delay: float, coro):
    await asyncio.sleep(delay)
    return await coro


def measure(url: str, args) -> None:
    server = devtools.server_process(url)
    me = psutil.Process()
    record = Record()
    canary = Path(tempfile.mkdtemp(prefix="aelab-canary-")) if args.hostile else None
    hostile_work = (hostile_inputs.build_cases(canary), hostile_inputs.build_links()) if args.hostile else None
    asyncio.run(warm_up(url, args.timeout * 4, every_page=bool(args.hostile)))
    before = {"rss": server.memory_info().rss, "cpu": cpu_seconds(server), "workers": children_cpu(server),
              "me": cpu_seconds(me), "load": os.getloadavg()}
    standin = standin_training(args.seconds) if args.trainers and args.standin_train else None
    deadline = time.monotonic() + args.seconds
    browsers = [threading.Thread(target=browser_student, args=(url, record, deadline, max(args.think, 1.0), i),
                                 daemon=True) for i in range(args.browsers)]
    for thread in browsers:
        thread.start()
    peak = [before["rss"]]
    sampler_stop = threading.Event()

    def sample() -> None:
        while not sampler_stop.wait(1.0):
            peak.append(server.memory_info().rss)
    threading.Thread(target=sample, daemon=True).start()
    wall = time.perf_counter()
    asyncio.run(drive(url, args, record, hostile_work))
    for thread in browsers:
        thread.join(timeout=args.timeout + 10)
    wall = time.perf_counter() - wall
    sampler_stop.set()
    after = {"rss": server.memory_info().rss, "cpu": cpu_seconds(server), "workers": children_cpu(server),
             "me": cpu_seconds(me), "load": os.getloadavg()}
    if standin is not None:
        standin.terminate()
    mib = 1024 * 1024
    n = max(args.sessions + args.trainers + args.browsers + args.hostile, 1)
    server_cpu = after["cpu"] - before["cpu"]
    usage = {
        "rss": f"server RSS: {before['rss'] / mib:.0f} MiB before (after a warm-up visit),"
               f" {after['rss'] / mib:.0f} after,"
               f" peak {max(peak) / mib:.0f};"
               f" {(after['rss'] - before['rss']) / mib / n:.1f} MiB per session",
        "cpu": f"server CPU: {server_cpu:.1f} s in {wall:.0f} s ({server_cpu / wall:.2f} cores);"
               f" its worker processes (alive at the end): {after['workers'] - before['workers']:.1f} s",
        "me": f"driver CPU: {after['me'] - before['me']:.1f} s ({(after['me'] - before['me']) / wall:.2f} cores),"
              f" its browsers (Chromium, Playwright): {record.browser_cpu:.1f} s",
        "load": "load average (1, 5, 15 min): before " + ", ".join(f"{v:.2f}" for v in before["load"])
                + "; after " + ", ".join(f"{v:.2f}" for v in after["load"]) + f" on {os.cpu_count()} cores",
    }
    if record.epochs or record.finished:
        epochs = TRAIN_EPOCHS * len(record.finished)
        usage["train"] = (f"trainers: {len(record.epochs)} progress polls; {len(record.finished)} trainings of"
                          f" {TRAIN_EPOCHS} epochs finished in {wall:.0f} s ({epochs / wall:.2f} epochs/s"
                          " through the job engine)")
    if standin is not None:
        usage["train"] = ("training: a stand-in `python -m aelab train` process ran beside the server"
                          " (not the Train page)")
    if canary is not None:
        ran = sorted(p.name for p in canary.iterdir())
        shutil.rmtree(canary, ignore_errors=True)
        if ran:
            usage["canary"] = f"THE SERVER UNPICKLED AN UPLOAD: its canary made {ran}"
            record.add("(hostile) pickle canary", 0.0, error=f"the server unpickled an upload: {ran}")
    report(record, args, usage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=30, help="exploring protocol sessions")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long they explore")
    parser.add_argument("--trainers", type=int, default=0, help="sessions training on the Train page")
    parser.add_argument("--standin-train", action="store_true",
                        help="train in a `python -m aelab train` process beside the server instead of the Train page")
    parser.add_argument("--hostile", type=int, default=2,
                        help="sessions uploading hostile files and opening hostile links (bench/hostile_inputs.py)")
    parser.add_argument("--browsers", type=int, default=1, help="real Chromium tabs releasing the probe")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a student's actions (s)")
    parser.add_argument("--ramp", type=float, default=10.0, help="students join over this many seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-action timeout (s)")
    parser.add_argument("--url", help="an app already running (else one is started here)")
    parser.add_argument("--error-details", action="store_true",
                        help="start the server with full error details, so an exception's text shows")
    args = parser.parse_args()
    if args.browsers and not devtools.chromium_available():
        print(f"no Chromium at {devtools.CHROMIUM}: running without browsers")
        args.browsers = 0
    env = {"STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "full"} if args.error_details else None
    with (nullcontext(args.url) if args.url else devtools.serve_app(env)) as url:
        measure(url.rstrip("/"), args)


if __name__ == "__main__":
    main()
