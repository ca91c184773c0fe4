"""Hostile files and links for the app's uploaders and query strings, made here (no committed binaries).

What a hostile student throws at the app: files for each of its uploaders (the Train page's data
set and model uploaders, the denoising lab's picture uploader, the anomaly lab's image uploader)
and links with hostile query strings for every page. The files: garbage, truncated and empty
files; .npz files holding a pickled object array (a canary: if the server ever unpickles it, it
creates a file in a folder this process watches), absurd or negative shapes, NaN, complex and
string pixels; zip bombs (an honest 235 MB member, a member that lies about its size), zips with
20,000 entries or path-traversal member names; model zips whose config.json is malformed, nested
50,000 deep or asks for a model of billions of weights, whose weights are a pickle (canary again)
or a safetensors header that lies; PNGs that are truncated, declare 2^31 x 2^31 pixels or inflate
to 225 megapixels, a GIF whose screen is 65535 x 65535, a JPEG whose frame says 65500 x 65500,
EPS, TIFF and SVG files under an image's suffix; IDX files that are gzip bombs or declare 2^32
images; hostile file names; and files mutated by the fuzzers' mutators (tests/test_fuzz.py).
The links: each page's own query parameters and the app-wide ones (found in the page files) set
to path traversals, NaN and infinities, huge and negative numbers, 20,000-character values, 500
model names, control and bidirectional characters, bogus workspace and share tokens, repeated
parameters and broken percent-encoding.

Correct, for the app: no exception element (a traceback, or Streamlit's generic "an error
occurred"), no disconnect, no timeout. A refused file is expected to say why (an st.error or
st.warning); :func:`outcome` sorts each run into refused / accepted / silent and flags a message
that shows a server path or a bare exception.

``bench/classroom_load.py --hostile H`` runs these beside the exploring students. Run alone, this
file tries every file and a sample of links once, one after the other, against a server started
with full error details (so an exception's text is shown), and prints what the page said:

    python bench/hostile_inputs.py [--url URL] [--only TEXT] [--links 40]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import asyncio
import importlib.util
import io
import json
import random
import re
import shutil
import struct
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, quote, urlencode

import numpy as np

from tools.stclient import Run, Session, StClientError

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = ROOT / "aelab" / "app" / "pages"


# ---- where the files go -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An uploader: the page it is on, its user key, and the (widget key, option text) to choose first."""

    name: str
    path: str
    key: str
    choose: tuple[str, str] | None = None
    accepted: Callable[[Session], bool] | None = None  # what shows an accepted file, besides an st.success


def _own_digit_shown(s: Session) -> bool:
    return any(e.WhichOneof("type") == "html" and 'data-table="own"' in e.html.body for e in s.elements.values())


TARGETS = {t.name: t for t in [
    Target("train-data", "/train", "do_upload_data", ("tr_data", "own")),
    Target("train-model", "/train", "do_upload_model"),
    Target("denoise", "/denoise", "do_dn_upload", accepted=_own_digit_shown),
    Target("anomaly", "/anomaly", "do_an_upload", ("an_set", "upload")),
]}


@dataclass(frozen=True)
class Case:
    """One hostile upload: the uploader it goes to and its files (name, content)."""

    name: str
    target: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def label(self) -> str:
        return f"{self.target}: {self.name}"


async def prepare(s: Session, target: Target, url: str | None = None) -> list[Run]:
    """Bring the tab to the page of ``target`` with its uploader shown (connecting it first if ``url``
    was not yet opened); returns the runs that took."""
    runs = []
    if target.key in s.widgets:
        return runs
    if not (target.choose and target.choose[0] in s.widgets):
        runs.append(await (s.open(target.path) if s.session_id else s.connect(target.path)))
    if target.key not in s.widgets and target.choose and target.choose[0] in s.widgets:
        key, text = target.choose
        options = [o for o in s.widget(key).options if text in o.lower()]
        if not options:
            raise StClientError(f"{key} offers no option with {text!r}: {s.widget(key).options}")
        runs.append(await s.set(key, options[0]))
    if target.key not in s.widgets:
        broken = [e for run in runs for e in run.exceptions]
        raise StClientError(f"no uploader {target.key} on {target.path}"
                            + (f": the page failed ({'; '.join(broken)[:300]})" if broken else ""))
    return runs


# ---- what the page said -------------------------------------------------------------------------

LEAK = re.compile(r"Traceback|File \"|(?<![\w.])/(?:tmp|home|root|work|usr|var|proc|etc)/|site-packages"
                  r"|^\w*(?:Error|Exception)(?::|$)")


def unescape(text: str) -> str:
    """A message as the user reads it (the app escapes Markdown in file names)."""
    return re.sub(r"\\(.)", r"\1", text)


def outcome(run: Run, s: Session | None = None, target: Target | None = None) -> tuple[str, str]:
    """(verdict, message): "failed" (an exception element), "refused" (an error, a warning or a toast
    said why), "accepted" (an st.success, or what ``target`` shows for an accepted file), else "silent"."""
    if run.exceptions:
        return "failed", "; ".join(run.exceptions)
    said = [unescape(text) for kind, text in run.alerts if kind in ("error", "warning", "toast")]
    if said:
        return "refused", said[0]
    done = [unescape(text) for kind, text in run.alerts if kind == "success"]
    if done or (target and target.accepted and s is not None and target.accepted(s)):
        return "accepted", done[0] if done else ""
    info = [unescape(text) for kind, text in run.alerts if kind == "info"]
    return "silent", info[0] if info else ""


def leaks(message: str, supplied: Iterable[str] = ()) -> bool:
    """Whether a message shows a server path, a traceback or a bare exception name (beyond repeating
    what the user ``supplied``: a file name, a value in the link)."""
    for text in sorted(supplied, key=len, reverse=True):
        if len(text) > 1:
            message = message.replace(text, "").replace(text[:60], "")
    return bool(LEAK.search(message))


def link_values(path: str, query: str) -> list[str]:
    """What a link supplies, as the page may quote it back."""
    return [path, *(v for pair in parse_qsl(query, keep_blank_values=True) for v in pair)]


# ---- building blocks ----------------------------------------------------------------------------


@cache
def fuzz():
    """tests/test_fuzz.py, for its seeds and mutators (loaded by path: ``tests`` is not a package)."""
    spec = importlib.util.spec_from_file_location("aelab_test_fuzz", ROOT / "tests" / "test_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Canary:
    """Unpickled, this opens (creates) a file: proof that a server unpickled an upload."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    return fuzz()._zip(members, method)  # the fuzzers' own zip builder


def _zeros_member(name: str, head: bytes, size: int) -> bytes:
    """A zip of one deflated member: ``head`` then ``size`` zero bytes (written in chunks)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as f:
        f.write(head)
        chunk = bytes(2**20)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.write(bytes(size % len(chunk)))
    return buffer.getvalue()


def _lying_bomb(name: str, others: dict[str, bytes] | None = None) -> bytes:
    """A zip whose member ``name`` is 64 MiB of deflated zeros that its headers declare as 100 bytes."""
    payload, crc = fuzz().bomb_payload(zipfile.ZIP_DEFLATED)
    entries = [(n, c, zipfile.ZIP_STORED, zlib.crc32(c), len(c)) for n, c in (others or {}).items()]
    return fuzz().raw_zip_entries([*entries, (name, payload, zipfile.ZIP_DEFLATED, crc, 100)])


def _png(pixels: np.ndarray, fmt: str = "PNG", **params) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _raw_png(width: int, height: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _pixel_bomb(side: int) -> bytes:
    """A valid PNG of side x side black pixels: a few hundred KB that inflate to side**2 bytes."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte, then the pixels
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return _raw_png(side, side, body)


def digit(size: int = 112) -> np.ndarray:
    """A "1" drawn dark on white, a picture a student might upload."""
    image = np.full((size, size), 255, np.uint8)
    image[size // 6: -size // 6, size // 2 - size // 14: size // 2 + size // 14] = 0
    return image


def images(n: int = 200, side: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


def _gzip_bomb(head: bytes, size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    chunk = bytes(2**20)
    body = compressor.compress(head) + b"".join(compressor.compress(chunk) for _ in range(size // len(chunk)))
    return body + compressor.flush()


def _idx_header(shape: tuple[int, ...]) -> bytes:
    return struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


# ---- the files ----------------------------------------------------------------------------------


def data_files(canary: Path, rng: random.Random) -> list[tuple[str, bytes]]:
    """Hostile data sets: .npz and .zip files for the Train page's and the anomaly lab's uploaders."""
    good = _npz(images=images())
    canary_npy = io.BytesIO()
    np.save(canary_npy, np.array([_Canary(canary / "npz-object-array"), 1], dtype=object), allow_pickle=True)
    pngs = {f"{i % 10}/img{i:03d}.png": _png(images(1, seed=i)[0]) for i in range(30)}
    files = [
        ("garbage.npz", rng.randbytes(64 * 1024)),
        ("empty.npz", b""),
        ("truncated.npz", good[: len(good) * 3 // 5]),
        ("pickled-object-array.npz", _zip({"images.npy": canary_npy.getvalue()})),
        ("bomb-235MB.npz", _zeros_member("images.npy", _npy_header((300_000, 28, 28)), 300_000 * 28 * 28)),
        ("bomb-lying-size.npz", _lying_bomb("images.npy")),
        ("huge-shape.npz", _zip({"images.npy": _npy_header((1, 100_000, 100_000)) + bytes(16)})),
        ("negative-shape.npz", _zip({"images.npy": _npy_header((-1, 28, 28)) + bytes(16)})),
        ("nan-pixels.npz", _npz(images=np.full((200, 28, 28), np.nan, np.float32),
                                labels=np.arange(200))),
        ("inf-pixels.npz", _npz(images=np.where(images() > 128, np.inf, -np.inf).astype(np.float32))),
        ("no-images.npz", _npz(images=np.zeros((0, 28, 28), np.uint8))),
        ("labels-mismatch.npz", _npz(images=images(), labels=np.arange(7))),
        ("complex.npz", _npz(images=images().astype(np.complex128))),
        ("strings.npz", _npz(images=np.full((200, 28, 28), "pwn", "<U3"))),
        ("five-dims.npz", _npz(images=np.zeros((20, 2, 2, 2, 2), np.uint8))),
        ("structured.npz", _npz(images=np.zeros((200, 28, 28), [("a", "<f4"), ("b", "<i8")]))),
        ("many-entries.zip", fuzz().zip_of_entries(20_000)),
        ("traversal.zip", _zip({f"../../../aelab-traversal/evil{i}.png": png for i, png in enumerate(pngs.values())})),
        ("png-bomb-member.zip", _zip({"0/bomb.png": _pixel_bomb(15_000), **dict(list(pngs.items())[:25])})),
        ("nested.zip", _zip({"inner.zip": _zip(pngs), "inner.npz": good})),
        ("not-images.zip", _zip({f"{i}.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>" for i in range(25)})),
        ("bomb-lying-size.zip", _lying_bomb("0/a.png")),
        ('\u202eevil "quote"\n\u2603 ' + "x" * 200 + ".npz", good),
    ]
    seeds = fuzz().data_seeds()
    for i in range(3):
        which = rng.choice(sorted(seeds["npz"]))
        files.append((f"fuzzed-{which}-{i}.npz", fuzz().mutate("npz", seeds["npz"][which], rng, 2)))
        which = rng.choice(sorted(seeds["zip"]))
        files.append((f"fuzzed-{which}-{i}.zip", fuzz().mutate("zip", seeds["zip"][which], rng, 2)))
    return files


def model_files(canary: Path, rng: random.Random) -> list[tuple[str, bytes]]:
    """Hostile model zips for the Train page's model uploader."""
    import torch

    folder = Path(tempfile.mkdtemp(prefix="aelab-hostile-seed-"))
    try:
        seed = fuzz().model_seeds(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    config, weights = seed["config"], seed["weights"]
    huge = json.loads(config)
    huge["model"] |= {"hidden": [2**20] * 8, "latent_dim": 10**7, "image_shape": [10**5, 10**5]}
    negative = json.loads(config)
    negative["model"] |= {"hidden": [-5], "latent_dim": -1, "image_shape": [0, -8]}
    pickled = io.BytesIO()
    torch.save({"encoder.0.weight": _Canary(canary / "model-pickle")}, pickled)
    lying = bytearray(weights)
    lying[:8] = (2**62).to_bytes(8, "little")
    return [
        ("garbage.zip", rng.randbytes(32 * 1024)),
        ("empty.zip", b""),
        ("config-not-json.zip", _zip({"config.json": b"{not json", "model.safetensors": weights})),
        ("config-nested-50000.zip", _zip({"config.json": b"[" * 50_000 + b"]" * 50_000, "model.safetensors": weights})),
        ("config-huge-model.zip", _zip({"config.json": json.dumps(huge).encode(), "model.safetensors": weights})),
        ("config-negative.zip", _zip({"config.json": json.dumps(negative).encode(), "model.safetensors": weights})),
        ("config-bomb.zip", _zeros_member("config.json", b'{"a": "', 200 * 2**20)),
        ("weights-pickle.zip", _zip({"config.json": config, "model.safetensors": pickled.getvalue()})),
        ("model-pt-only.zip", _zip({"config.json": config, "model.pt": pickled.getvalue()})),
        ("weights-lying-header.zip", _zip({"config.json": config, "model.safetensors": bytes(lying)})),
        ("weights-bomb.zip", _lying_bomb("model.safetensors", {"config.json": config})),
        ("traversal.zip", _zip({"../../config.json": config, "../../model.safetensors": weights})),
        ("many-entries.zip", fuzz().zip_of_entries(20_000)),
        *((f"fuzzed-model-{i}.zip", fuzz().mutate("model-zip", seed["zip"], rng, 2)) for i in range(4)),
    ]


def picture_files(rng: random.Random) -> list[tuple[str, bytes]]:
    """Hostile pictures for the denoising lab's uploader (each with one of its image suffixes)."""
    from PIL import Image

    good = _png(digit())
    absurd = _raw_png(2**31 - 1, 2**31 - 1, zlib.compress(bytes(1000)))
    gif = io.BytesIO()
    frames = [Image.fromarray(digit(64)) for _ in range(2)]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    huge_gif = bytearray(gif.getvalue())
    huge_gif[6:10] = struct.pack("<HH", 65535, 65535)  # the logical screen
    many = io.BytesIO()
    frames = [Image.fromarray(images(1, 64, seed=i)[0]) for i in range(300)]
    frames[0].save(many, format="GIF", save_all=True, append_images=frames[1:])
    jpeg = bytearray(_png(digit(), "JPEG"))
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    bmp = bytearray(_png(digit(), "BMP"))
    bmp[18:26] = struct.pack("<ii", 2**31 - 1, -(2**31 - 1))
    tiff = _png(digit(), "TIFF")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 0 0 moveto 28 28 lineto stroke\nshowpage\n"
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'><script>alert(1)</script></svg>"
    ztxt = bytearray(good)
    at = ztxt.find(b"IDAT") - 4
    ztxt[at:at] = _chunk(b"zTXt", b"k\x00\x00" + zlib.compress(bytes(50 * 2**20), 9))
    files = [
        ("random.png", rng.randbytes(16 * 1024)),
        ("empty.png", b""),
        ("truncated.png", good[: len(good) // 2]),
        ("absurd-dimensions.png", absurd),
        ("pixel-bomb-15000x15000.png", _pixel_bomb(15_000)),
        ("text-chunk-bomb.png", bytes(ztxt)),
        ("huge-screen.gif", bytes(huge_gif)),
        ("300-frames.gif", many.getvalue()),
        ("huge-frame.jpg", bytes(jpeg)),
        ("huge.bmp", bytes(bmp)),
        ("tiff-as.png", tiff),
        ("eps-as.jpg", eps),
        ("svg-as.png", svg),
        ("blank.png", _png(np.full((64, 64), 255, np.uint8))),
        ("one-pixel.webp", _png(np.zeros((1, 1), np.uint8), "WEBP")),
        ("truncated.webp", _png(digit(), "WEBP")[:60]),
        ("npz-as.png", _npz(images=images())),
    ]
    for i in range(3):
        files.append((f"fuzzed-{i}.png", fuzz().png_chunks(good, rng)))
    return files


def idx_files() -> list[tuple[tuple[str, bytes], ...]]:
    """Hostile IDX uploads for the anomaly lab (one or more files each)."""
    return [
        (("t10k-images-idx3-ubyte.gz", _gzip_bomb(_idx_header((10_000, 28, 28)), 300 * 2**20)),),
        (("train-images-idx3-ubyte", _idx_header((2**32 - 1, 2**32 - 1, 2**32 - 1)) + bytes(64)),),
        (("t10k-images-idx3-ubyte", _idx_header((100, 28, 28)) + bytes(100 * 784)),
         ("t10k-labels-idx1-ubyte", struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 2**31) + bytes(10))),
        (("../../../aelab-traversal/t10k-images-idx3-ubyte", _idx_header((30, 28, 28)) + bytes(30 * 784)),),
        (("a.npz", _npz(images=images())), ("b.zip", _zip({"0/a.png": _png(digit())}))),
        tuple((f"t10k-images-idx3-ubyte-{i}", rnd_bytes) for i, rnd_bytes in enumerate([b"", b"\x00" * 3, b"junk"])),
    ]


def build_cases(canary: Path, seed: int = 0) -> list[Case]:
    """Every hostile upload, for every uploader it fits (a few seconds: the bombs are made here)."""
    rng = random.Random(seed)
    data = data_files(canary, rng)
    cases = [Case(name, "train-data", ((name, blob),)) for name, blob in data]
    cases += [Case(name, "anomaly", ((name, blob),)) for name, blob in data if "fuzzed" not in name]
    cases += [Case(" + ".join(n for n, _ in files), "anomaly", files) for files in idx_files()]
    cases += [Case(name, "train-model", ((name, blob),)) for name, blob in model_files(canary, rng)]
    cases += [Case(name, "denoise", ((name, blob),)) for name, blob in picture_files(rng)]
    return cases


def controls() -> list[Case]:
    """A valid file for each uploader: the page must accept it (proof that the upload reaches the app)."""
    folder = Path(tempfile.mkdtemp(prefix="aelab-hostile-seed-"))
    try:
        model = fuzz().model_seeds(folder)["zip"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [Case("valid.npz", "train-data", (("valid.npz", _npz(images=images())),)),
            Case("valid.zip", "train-model", (("valid.zip", model),)),
            Case("valid.png", "denoise", (("valid.png", _png(digit())),)),
            Case("valid.npz", "anomaly", (("valid.npz", _npz(images=images())),))]


# ---- the links ----------------------------------------------------------------------------------

PAGE = re.compile(r'^PAGE = Page\(\s*"[^"]*",\s*"[^"]*",\s*"([^"]+)"(.*)$', re.M)
PARAM = re.compile(r'Param\(\s*"\w+",\s*"(\w+)"')
EXPLORER_PARAMS = ("models", "dims", "proj", "probe", "view", "pick", "manifold", "sigma", "prior")
APP_PARAMS = ("lang", "present", "ws", "share")
VALUES = ["../../etc/passwd", "/etc/passwd", "nan", "NaN", "inf", "-inf", "-1", "-0", "0", "1e309", "-1e309",
          "9" * 400, "0x1F", "1_000", "", " ", "\u2135\u2080 \U0001f642 \u0663", "\u202e\u0000\u0007", "\ufeff",
          "<script>alert(1)</script>", "' OR '1'='1", "%", "x" * 20_000, "[1,2]", '{"a":1}', "1,2,3,4,5,6,7,8",
          "nan,nan", "inf,-inf,nan,1", "1e308,1e308,-1e308,1e308", "99999999999999999999", "3.5", "true",
          "{{7*7}}", "${jndi:ldap://x}", "\\..\\..\\windows\\win.ini"]
TOKENS = ["", "x", "../../etc", "0" * 64, "A" * 5000, "\u0000", "ws-" + "f" * 40, "%2e%2e%2f%2e%2e",
          "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo"]


@cache
def pages() -> dict[str, tuple[str, ...]]:
    """Each page's URL path ("" for the default page too) and its own query parameters, from its file."""
    found = {}
    for path in sorted(PAGES_DIR.glob("*.py")):
        text = path.read_text()
        if m := PAGE.search(text):
            params = tuple(dict.fromkeys(PARAM.findall(text)))
            if "default=True" in m.group(2):
                params += EXPLORER_PARAMS
                found[""] = params
            found[m.group(1)] = params
    return found


def _query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote, safe="")


def build_links(seed: int = 0, per_page: int = 8) -> list[tuple[str, str]]:
    """(path, query string) of hostile links: per page, its parameters and the app's set to hostile values."""
    rng = random.Random(seed)
    links = []
    models = ["ae-2d", "vae-2d", "sae-2d", "dae-2d"]
    for path, own in pages().items():
        names = [*own, *APP_PARAMS]
        for _ in range(per_page):
            chosen = rng.sample(names, k=min(len(names), rng.choice([1, 1, 2, 3])))
            pairs = [(n, rng.choice(TOKENS if n in ("ws", "share") else VALUES)) for n in chosen]
            links.append((f"/{path}", _query(pairs)))
        links.append((f"/{path}", _query([(n, rng.choice(VALUES)) for n in names])))  # all at once
        links.append((f"/{path}", _query([(n, v) for n in own[:3] for v in ("1", "nan", "-1")])))  # repeated
    explorer = [
        _query([("models", ",".join(f"m{i}" for i in range(500)))]),
        _query([("models", ",".join(models * 125)), ("dims", ",".join(["2"] * 500))]),
        _query([("models", "ae-2d,,,,../../../etc/passwd,ae-2d"), ("dims", "nan,inf,-1,1e99")]),
        _query([("models", "vae-2d"), ("probe", "1e308,-1e308"), ("view", "0,0,0,0"), ("pick", "99999999")]),
        _query([("models", "vae-2d"), ("view", "nan,1,2,3"), ("probe", "inf,nan"), ("pick", "-1")]),
        _query([("models", "vae-2d"), ("view", "5,-5,5,-5"), ("proj", "umap"), ("pick", "0" * 300)]),
        _query([("models", m) for m in models * 10]),
        _query([("ws", t) for t in TOKENS]),
        _query([("share", t) for t in TOKENS]),
        "%", "a=%ZZ&=b&&&==&models", "models=%E0%A4%A&level=%C0%AF", "&" * 5000, "models" + "=" * 3000,
        "x=" + "%41" * 30_000,
    ]
    links += [("/", q) for q in explorer]
    links += [("/../../etc/passwd", ""), ("/%2e%2e/%2e%2e/etc/passwd", "models=ae-2d"), ("/" + "x" * 3000, "")]
    return links


# ---- running them alone ---------------------------------------------------------------------------


@dataclass
class Tally:
    rows: list[tuple[str, str, float, str, bool]] = field(default_factory=list)  # what, verdict, s, message, leaks

    def add(self, what: str, verdict: str, seconds: float, message: str, supplied: Iterable[str] = ()) -> None:
        leaky = verdict != "failed" and leaks(message, supplied)
        self.rows.append((what, verdict, seconds, message, leaky))
        flag = "  LEAKS" if leaky else ""
        shown = what.encode("unicode_escape").decode()[:70]
        print(f"{verdict:8} {seconds:6.2f}s  {shown:70}  {message[:160]!r}{flag}", flush=True)


async def try_uploads(url: str, cases: list[Case], tally: Tally, timeout: float) -> None:
    s = Session(url, timeout=timeout)
    try:
        for case in cases:
            target = TARGETS[case.target]
            try:
                await prepare(s, target)
                run = await s.upload_files(target.key, list(case.files))
                verdict, message = outcome(run, s, target)
                tally.add(case.label, verdict, run.seconds, message, [n for n, _ in case.files])
            except StClientError as exc:
                tally.add(case.label, "failed", 0.0, f"session broke: {exc}")
                await s.close()
                s = Session(url, timeout=timeout)
    finally:
        await s.close()


async def try_links(url: str, links: list[tuple[str, str]], tally: Tally, timeout: float) -> None:
    for path, query in links:
        s = Session(url, timeout=timeout)
        what = f"link {path[:40]}?{query[:60]}"
        try:
            run = await s.connect(path, query)
            verdict, message = outcome(run)
            tally.add(what, verdict, run.seconds, message, link_values(path, query))
        except StClientError as exc:
            tally.add(what, "failed", 0.0, f"session broke: {exc}")
        finally:
            await s.close()


def main() -> None:
    from tools import devtools

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an app already running (else one is started here, with full error details)")
    parser.add_argument("--only", default="", help="only the cases whose target: name contains this")
    parser.add_argument("--links", type=int, default=40, help="how many of the hostile links to open (0: none)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-action timeout (s)")
    args = parser.parse_args()
    canary = Path(tempfile.mkdtemp(prefix="aelab-canary-"))
    tic = time.perf_counter()
    cases = [c for c in controls() + build_cases(canary) if args.only in c.label]
    links = random.Random(1).sample(build_links(), k=min(args.links, len(build_links())))
    print(f"{len(cases)} uploads and {len(links)} links, made in {time.perf_counter() - tic:.1f} s")
    env = {"STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "full"}
    tally = Tally()
    try:
        with devtools.serve_app(env) if not args.url else nullcontext(args.url) as url:
            asyncio.run(try_uploads(url.rstrip("/"), cases, tally, args.timeout))
            asyncio.run(try_links(url.rstrip("/"), links, tally, args.timeout))
    finally:
        ran = sorted(p.name for p in canary.iterdir())
        shutil.rmtree(canary, ignore_errors=True)
    counts = {v: sum(r[1] == v for r in tally.rows) for v in ("failed", "refused", "accepted", "silent")}
    leaky = [r for r in tally.rows if r[4]]
    print(f"\n{len(tally.rows)} tried: " + ", ".join(f"{n} {v}" for v, n in counts.items())
          + f"; {len(leaky)} messages show a server path or an exception name")
    if ran:
        print(f"THE SERVER UNPICKLED AN UPLOAD: canary files {ran}")
    sys.exit(1 if counts["failed"] or ran else 0)


if __name__ == "__main__":
    main()
