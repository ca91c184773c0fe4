"""Fuzz campaign: thousands of mutated inputs per reader, each in its own process, with a time limit
and a memory cap, and its peak memory measured. Not part of the test suite (tests/test_fuzz.py runs
the same mutators, fewer of them, in about 20 s).

Readers (what the app and the CLI call on files a user gives):
  idx           data.load_idx_folder on a folder whose train images (plain or gzipped) or labels are
                mutated, and data.read_idx on a mutated float IDX file
  npz           data.read_npz_images on a mutated .npz or .npy
  image-zip     data.read_image_zip on a mutated zip of PNG/JPEG images
  model-zip     checkpoint.import_model on a mutated model zip
  model-folder  checkpoint.load on a folder with a mutated config.json and/or model.safetensors
  config        checkpoint.read_config on a mutated config.json

Inputs: the seed files and mutators of tests/test_fuzz.py (imported from there: bytes flipped, cut,
spliced; zip fields edited, members renamed, dropped and recompressed with bzip2/lzma, 64 MiB
bombs; .npy, PNG, IDX, safetensors and JSON headers edited). Input i of reader R is
``mutate(kind, seed, random.Random(f"{seed}/{R}/{i}"), steps=1..3)``, so any input can be rebuilt
from its number (--replay R:i runs it in this process, with a traceback).

How each input runs and is measured: the parent process imports aelab, NumPy, torch and Pillow,
builds the seeds and the input's bytes, and forks one child per input. The child
  1. caps its address space at its current size plus --memory-cap MiB (RLIMIT_AS), so an
     allocation beyond that fails with MemoryError, which a reader must turn into its own error;
  2. resets the kernel's peak-RSS mark (writes 5 to /proc/self/clear_refs) and notes its RSS;
  3. runs the reader in a fresh temporary folder;
  4. reports the outcome and its peak RSS (VmHWM) minus the RSS it started with: the memory the
     reader touched itself (pages shared with the parent are not counted).
The parent kills (SIGKILL) a child still running after --timeout seconds: a timeout. A child that
dies without reporting (a signal, a crash inside C code) is "crashed".

Outcomes: accepted (read without error); project error (DataError / CheckpointError; "mem cap" counts
those saying the server lacks memory, i.e. the cap was hit); other exception (anything else: a bug,
listed under the table with its input number); timeout; crashed.

Run: python bench/fuzz_campaign.py [--inputs 2000] [--readers idx,npz,...] [--timeout 10]
     [--memory-cap 512] [--jobs 1] [--seed 0] [--code PATH] [--replay READER:I]
``--code PATH`` reads with the aelab package of another checkout (e.g. an older commit unpacked
under /tmp), to compare; the mutators always come from this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import select
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = ("idx", "npz", "image-zip", "model-zip", "model-folder", "config")
MiB = 2**20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=2000, help="inputs per reader (default 2000)")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated, of: " + ", ".join(READERS))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input (default 10)")
    parser.add_argument("--memory-cap", type=int, default=512, help="MiB of address space per input (default 512)")
    parser.add_argument("--jobs", type=int, default=1, help="inputs run at once (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--code", type=Path, help="the checkout whose aelab package is fuzzed (default: this one)")
    parser.add_argument("--replay", help="READER:I: run one input here and print its traceback")
    return parser.parse_args()


ARGS = parse_args()
sys.path[:0] = [str(ARGS.code or ROOT), str(ROOT / "tests")]

import torch  # noqa: E402  (after sys.path is set)

torch.set_num_threads(1)  # before any fork: a child must not inherit a thread pool

import test_fuzz as fuzz  # noqa: E402

from aelab import checkpoint, data  # noqa: E402
from aelab.errors import AelabError  # noqa: E402

# --- inputs -------------------------------------------------------------------------------------


def make_input(reader: str, i: int, seeds: dict) -> tuple[str, dict]:
    """The i-th input of ``reader``: which seed it came from, and the files to read."""
    rnd = random.Random(f"{ARGS.seed}/{reader}/{i}")
    steps = rnd.randint(1, 3)
    if reader == "idx":
        which = rnd.choice(["images", "images.gz", "labels", "floats"])
        return which, {"which": which, "blob": fuzz.mutate("idx", seeds["idx"][which], rnd, steps)}
    if reader in ("npz", "image-zip"):
        kind = "npz" if reader == "npz" else "zip"
        which = rnd.choice(sorted(seeds[kind]))
        return which, {"blob": fuzz.mutate(kind, seeds[kind][which], rnd, steps)}
    model = seeds["model"]
    if reader == "model-zip":
        return "zip", {"blob": fuzz.mutate("model-zip", model["zip"], rnd, steps)}
    if reader == "config":
        return "config", {"config": fuzz.mutate("config", model["config"], rnd, steps)}
    which = rnd.choice(["config", "weights", "both"])
    config = fuzz.mutate("config", model["config"], rnd, steps) if which != "weights" else model["config"]
    weights = fuzz.mutate("weights", model["weights"], rnd, steps) if which != "config" else model["weights"]
    return which, {"config": config, "weights": weights}


def read(reader: str, files: dict, folder: Path, seeds: dict) -> None:
    """Read one input as the app or the CLI would."""
    if reader == "idx":
        if files["which"] == "floats":
            (folder / "floats-idx3-ubyte").write_bytes(files["blob"])
            data.read_idx(folder / "floats-idx3-ubyte")
        else:
            (folder / "idx").mkdir()
            fuzz.read_idx_folder(folder / "idx", seeds["idx"], files["which"], files["blob"])
    elif reader in ("npz", "image-zip"):
        kind = "npz" if reader == "npz" else "zip"
        fuzz.read_upload(kind, folder / f"data.{kind}", files["blob"])
    elif reader == "model-zip":
        checkpoint.import_model(files["blob"], folder / "models" / "upload")
    elif reader == "model-folder":
        fuzz.read_model_folder(folder / "model", seeds["model"], files["config"], files["weights"])
    else:
        (folder / "model").mkdir()
        (folder / "model" / checkpoint.CONFIG_NAME).write_bytes(files["config"])
        checkpoint.read_config(folder / "model")


# --- one input in a child process --------------------------------------------------------------


def status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(reader: str, files: dict, folder: Path, seeds: dict, write_fd: int) -> None:
    """Run in the forked child: cap, measure, read, report one JSON line, exit."""
    result: dict = {}
    try:
        size = status_kib("VmSize") * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + ARGS.memory_cap * MiB, resource.RLIM_INFINITY))
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        start_rss = status_kib("VmRSS")
        started = time.perf_counter()
        try:
            read(reader, files, folder, seeds)
            result["outcome"] = "accepted"
        except AelabError as error:
            result["outcome"] = "project error"
            result["memory"] = "more memory than this server has free" in str(error)
        except BaseException as error:  # the bugs this campaign looks for
            result["outcome"] = "other exception"
            result["error"] = f"{type(error).__module__}.{type(error).__qualname__}: {str(error)[:160]}"
        result["seconds"] = time.perf_counter() - started
        result["peak_kib"] = max(0, status_kib("VmHWM") - start_rss)
    except BaseException as error:
        result = {"outcome": "other exception", "error": f"campaign: {error!r}"}
    os.write(write_fd, (json.dumps(result) + "\n").encode())
    os._exit(0)


def run_reader(reader: str, seeds: dict, scratch: Path) -> list[dict]:
    """Every input of ``reader``, ARGS.jobs at a time; a list of results in input order."""
    results: list[dict | None] = [None] * ARGS.inputs
    running: dict[int, tuple[int, int, float, Path, str]] = {}  # read fd -> (pid, i, started, folder, source)
    buffers: dict[int, bytes] = {}
    next_input = 0
    while next_input < ARGS.inputs or running:
        while next_input < ARGS.inputs and len(running) < ARGS.jobs:
            source, files = make_input(reader, next_input, seeds)
            folder = Path(tempfile.mkdtemp(dir=scratch))
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                child(reader, files, folder, seeds, write_fd)
            os.close(write_fd)
            running[read_fd] = (pid, next_input, time.monotonic(), folder, source)
            buffers[read_fd] = b""
            next_input += 1
        ready, _, _ = select.select(list(running), [], [], 0.05)
        now = time.monotonic()
        for fd in list(running):
            pid, i, started, folder, source = running[fd]
            finished = False
            if fd in ready:
                chunk = os.read(fd, 65536)
                buffers[fd] += chunk
                finished = not chunk
            timed_out = not finished and now - started > ARGS.timeout
            if timed_out:
                os.kill(pid, signal.SIGKILL)
            if finished or timed_out:
                _, status = os.waitpid(pid, 0)
                os.close(fd)
                line = buffers.pop(fd).decode(errors="replace").strip()
                if timed_out:
                    result = {"outcome": "timeout", "seconds": now - started}
                elif line:
                    result = json.loads(line)
                else:
                    result = {"outcome": "crashed", "error": f"exit status {status:#x} (signal {status & 0x7F})"}
                result["input"], result["source"] = i, source
                results[i] = result
                shutil.rmtree(folder, ignore_errors=True)
                del running[fd]
    return [r for r in results if r is not None]


# --- report -------------------------------------------------------------------------------------

OUTCOMES = ("accepted", "project error", "other exception", "timeout", "crashed")


def table(all_results: dict[str, list[dict]], seconds: dict[str, float]) -> str:
    head = (f"{'reader':<13} {'inputs':>6} {'accepted':>8} {'project error':>13} {'(mem cap)':>9} "
            f"{'other exc.':>10} {'timeout':>7} {'crashed':>7} {'peak MiB med/p99/max':>21} {'slowest s':>9} "
            f"{'wall s':>7}")
    lines = [head, "-" * len(head)]
    for reader, results in all_results.items():
        counts = Counter(r["outcome"] for r in results)
        memory = sum(1 for r in results if r.get("memory"))
        peaks = sorted(r.get("peak_kib", 0) / 1024 for r in results if "peak_kib" in r) or [0.0]
        p99 = peaks[min(len(peaks) - 1, int(0.99 * len(peaks)))]
        slowest = max((r.get("seconds", 0.0) for r in results), default=0.0)
        peak_text = f"{statistics.median(peaks):.1f}/{p99:.1f}/{peaks[-1]:.1f}"
        lines.append(f"{reader:<13} {len(results):>6} {counts['accepted']:>8} {counts['project error']:>13} "
                     f"{memory:>9} {counts['other exception']:>10} {counts['timeout']:>7} {counts['crashed']:>7} "
                     f"{peak_text:>21} {slowest:>9.2f} {seconds[reader]:>7.0f}")
    return "\n".join(lines)


def bugs(all_results: dict[str, list[dict]]) -> str:
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    for reader, results in all_results.items():
        for r in results:
            if r["outcome"] in ("other exception", "timeout", "crashed"):
                text = r.get("error", r["outcome"])
                found[(reader, text.split(":")[0] + ": " + text.partition(": ")[2][:70])].append(r["input"])
    if not found:
        return "No input raised anything but aelab's own errors, timed out or crashed."
    lines = ["Inputs that escaped (reader, exception, count, first inputs; replay with --replay READER:I):"]
    for (reader, text), inputs in sorted(found.items(), key=lambda item: -len(item[1])):
        lines.append(f"  {reader:<13} {len(inputs):>5}  {text}  [{', '.join(map(str, inputs[:3]))}]")
    return "\n".join(lines)


def main() -> None:
    readers = [r.strip() for r in ARGS.readers.split(",") if r.strip()]
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        sys.exit(f"unknown reader(s) {', '.join(unknown)}; known: {', '.join(READERS)}")
    scratch = Path(tempfile.mkdtemp(prefix="aelab-fuzz-"))
    try:
        seeds = fuzz.data_seeds() | {"model": fuzz.model_seeds(scratch)}
        for method in (8, 12, 14):
            fuzz.bomb_payload(method)  # made once here, not in every child
        if ARGS.replay:
            reader, _, i = ARGS.replay.partition(":")
            source, files = make_input(reader, int(i), seeds)
            print(f"{reader} input {i} (from the seed {source!r}):")
            folder = Path(tempfile.mkdtemp(dir=scratch))
            try:
                read(reader, files, folder, seeds)
                print("accepted")
            except Exception:
                traceback.print_exc()
            return
        code = ARGS.code or ROOT
        print(f"aelab from {code}; {ARGS.inputs} inputs per reader, {ARGS.timeout:g} s and {ARGS.memory_cap} MiB of "
              f"address space each, {ARGS.jobs} at a time, seed {ARGS.seed}; peak MiB = peak RSS of the child "
              "minus its RSS before reading")
        all_results, seconds = {}, {}
        for reader in readers:
            started = time.monotonic()
            all_results[reader] = run_reader(reader, seeds, scratch)
            seconds[reader] = time.monotonic() - started
            print(f"  {reader}: {len(all_results[reader])} inputs in {seconds[reader]:.0f} s", flush=True)
        print()
        print(table(all_results, seconds))
        print()
        print(bugs(all_results))
        print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
