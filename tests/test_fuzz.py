"""Fuzzing every reader of untrusted files: the only exceptions allowed out are aelab's own.

Valid files (IDX, .npz, .npy, zips of images, model zips, model folders) are mutated: bytes
flipped, cut, inserted and deleted; zip members renamed and recompressed (bzip2, lzma);
zip, .npy, PNG, IDX, safetensors and JSON headers edited field by field. Each reader must
then either accept the file or raise DataError / CheckpointError with a message that names
no server path. Hypothesis runs derandomized (the same inputs every run), bounded to about
20 s in all; ``bench/fuzz_campaign.py`` runs the same mutators on thousands of inputs per
reader, each in a child process with a time and memory cap, and imports them from here.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from aelab import checkpoint, data
from aelab.errors import CheckpointError, DataError

# --- seeds: small valid files of every kind --------------------------------------------------


def peak_memory(call) -> int:
    """The most memory (bytes, as tracemalloc sees Python's and NumPy's allocations) ``call()`` held at once."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _png(pixels: np.ndarray, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _idx(array: np.ndarray) -> bytes:
    codes = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}
    header = struct.pack(">HBB", 0, codes[array.dtype.type], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def data_seeds() -> dict[str, dict[str, bytes]]:
    """Valid data files by reader: {"idx": {...}, "npz": {...}, "zip": {...}}."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 8, 8), dtype=np.uint8)
    labels = np.arange(20) % 4
    pngs = {f"{label}/img{i:02d}.png": _png(images[i]) for i, label in enumerate(labels)}
    palette = Image.fromarray(images[0]).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", transparency=0)
    flat = {f"img{i:02d}.png": _png(images[i]) for i in range(19)} | {"img19.png": buffer.getvalue()}
    colour = {f"c/img{i:02d}.jpg": _png(np.stack([images[i]] * 3, axis=-1), "JPEG") for i in range(10)}
    colour |= {f"d/img{i:02d}.png": _png(np.stack([images[i]] * 4, axis=-1)) for i in range(10)}
    compressed = io.BytesIO()
    np.savez_compressed(compressed, images=images, labels=labels)
    stored = io.BytesIO()
    np.savez(stored, x=images.astype(np.float32) / 255, y=labels.astype(np.float64))
    return {
        "idx": {"images": _idx(images[:, :4, :5]), "images.gz": gzip.compress(_idx(images[:, :4, :5])),
                "labels": _idx(labels.astype(np.uint8)), "floats": _idx(images[:5, :3, :3] / np.float32(255))},
        "npz": {"compressed": compressed.getvalue(), "stored": stored.getvalue(), "npy": _npy(images),
                "rgb": _zip({"images.npy": _npy(np.stack([images] * 3, axis=-1))})},
        "zip": {"labelled": _zip(pngs), "flat": _zip(flat, zipfile.ZIP_STORED), "colour": _zip(colour)},
    }


def model_seeds(folder: Path) -> dict[str, bytes]:
    """A tiny model saved under ``folder``: its zip, config.json and model.safetensors."""
    import torch

    from aelab import models

    torch.manual_seed(0)
    saved = checkpoint.save(models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=(8,)), folder / "seed",
                            {"description": "a seed for fuzzing"})
    return {"zip": checkpoint.export_zip(saved), "config": (saved / checkpoint.CONFIG_NAME).read_bytes(),
            "weights": (saved / checkpoint.WEIGHTS_NAME).read_bytes()}


# --- mutators: (bytes, random.Random) -> bytes -------------------------------------------------

INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 64, 65536]


def flip_bytes(blob: bytes, rnd: random.Random) -> bytes:
    if not blob:
        return bytes([rnd.randrange(256)])
    out = bytearray(blob)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(out))
        out[i] = rnd.choice([0, 0xFF, out[i] ^ (1 << rnd.randrange(8)), rnd.randrange(256)])
    return bytes(out)


def truncate(blob: bytes, rnd: random.Random) -> bytes:
    return blob[: rnd.randrange(len(blob) + 1)] if rnd.random() < 0.7 else blob[rnd.randrange(len(blob) + 1):]


def splice(blob: bytes, rnd: random.Random) -> bytes:
    """Delete, duplicate or insert a slice (random bytes, or a copy of another part)."""
    i = rnd.randrange(len(blob) + 1)
    j = min(len(blob), i + rnd.choice([1, 1, 2, 4, 16, 256, 4096]))
    choice = rnd.randrange(3)
    if choice == 0:
        return blob[:i] + blob[j:]
    if choice == 1:
        return blob[:j] + blob[i:j] * rnd.randint(1, 50) + blob[j:]
    return blob[:i] + bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16))) + blob[i:]


def _put(out: bytearray, at: int, width: int, rnd: random.Random) -> None:
    """Write an interesting value into the little- or big-endian field at ``at``."""
    if at + width > len(out):
        return
    old = int.from_bytes(out[at:at + width], "little")
    value = rnd.choice([*INTERESTING, old + 1, old - 1, old * 2, old // 2, rnd.randrange(2 ** (8 * width))])
    out[at:at + width] = (value % 2 ** (8 * width)).to_bytes(width, "little")


_LOCAL_FIELDS = [(4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]
_CENTRAL_FIELDS = [(4, 2), (6, 2), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)]
_END_FIELDS = [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]


def zip_field(blob: bytes, rnd: random.Random) -> bytes:
    """Edit one field of a local header, a central directory record or the end record."""
    out = bytearray(blob)
    signature, fields = rnd.choice([(b"PK\x03\x04", _LOCAL_FIELDS), (b"PK\x01\x02", _CENTRAL_FIELDS),
                                    (b"PK\x05\x06", _END_FIELDS)])
    places = [m.start() for m in re.finditer(re.escape(signature), blob)]
    if not places:
        return flip_bytes(blob, rnd)
    at = rnd.choice(places)
    offset, width = rnd.choice(fields)
    if offset in (6, 8) and signature == b"PK\x01\x02" and rnd.random() < 0.5:  # version needed, flags
        out[at + offset] = rnd.choice([64, 0xFF, 1])
        return bytes(out)
    _put(out, at + offset, width, rnd)
    return bytes(out)


def _members(blob: bytes) -> dict[str, bytes] | None:
    """The members of a small zip of stored or deflate members (None for anything else: a bomb, say)."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            infos = archive.infolist()
            if len(infos) > 100 or any(i.compress_type not in (0, 8) or i.file_size > 2**22 for i in infos):
                return None
            return {info.filename: archive.read(info) for info in infos}
    except Exception:  # a mutated zip: the semantic mutators need a readable one
        return None


_METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


def rezip(blob: bytes, rnd: random.Random, content: Callable[[str, bytes, random.Random], bytes] | None = None
          ) -> bytes:
    """Rebuild the zip with members renamed, dropped, added, recompressed or their contents mutated."""
    members = _members(blob)
    if members is None:
        return flip_bytes(blob, rnd)
    names = list(members)
    op = rnd.randrange(6)
    if op == 0 and names:  # rename
        name = rnd.choice(names)
        members[rnd.choice(["", "/", "../evil.png", "__MACOSX/._x.png", ".hidden.png", "a/b/c/d.png", "x" * 300,
                            "images.npy", "labels.npy", "3/ok.png", "config.json", "model.safetensors",
                            "m/config.json", "model.pt", name.upper(), name + ".png"])] = members.pop(name)
    elif op == 1 and names:  # drop
        members.pop(rnd.choice(names))
    elif op == 2 and names:  # duplicate under another name
        name = rnd.choice(names)
        members[f"copy{rnd.randrange(9)}/{name}"] = members[name]
    elif op == 3 and names and content is not None:  # mutate a member's contents
        name = rnd.choice(names)
        members[name] = content(name, members[name], rnd)
    if "" in members:  # zipfile refuses to write an empty name
        return raw_zip(members)
    methods = {name: rnd.choice(_METHODS) if op >= 4 else zipfile.ZIP_DEFLATED for name in members}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = methods[name]
            archive.writestr(info, payload)
    out = buffer.getvalue()
    if op == 5:  # a bomb: a member whose declared size is a lie
        out = _lie_about_size(out, rnd)
    return out


def raw_zip(members: dict[str, bytes], *, version: int = 20) -> bytes:
    """A zip of stored members written by hand: any name (empty ones too), any "version needed"."""
    return raw_zip_entries([(name, payload, zipfile.ZIP_STORED, zlib.crc32(payload), len(payload))
                            for name, payload in members.items()], version=version)


def raw_zip_entries(entries: list[tuple[str, bytes, int, int, int]], *, version: int = 20) -> bytes:
    """A zip written by hand from (name, data as stored, method, CRC, declared unpacked size) entries."""
    local, central = b"", b""
    for name, stored, method, crc, size in entries:
        raw_name = name.encode()
        fields = struct.pack("<HHHHHIIIH", version, 0, method, 0, 0, crc, len(stored), size, len(raw_name))
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(local))
        central += raw_name
        local += b"PK\x03\x04" + fields + struct.pack("<H", 0) + raw_name + stored
    end = struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    return local + central + b"PK\x05\x06" + end


BOMB_SIZE = 64 * 2**20
_BOMBS: dict[int, tuple[bytes, int]] = {}


def bomb_payload(method: int) -> tuple[bytes, int]:
    """BOMB_SIZE zero bytes compressed as a zip member with ``method``, and their CRC (made once)."""
    if method not in _BOMBS:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            info = zipfile.ZipInfo("b", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with archive.open(info, "w") as member:
                for _ in range(BOMB_SIZE // 2**20):
                    member.write(bytes(2**20))
        raw = buffer.getvalue()
        name_length, extra_length = struct.unpack("<HH", raw[26:30])
        start = 30 + name_length + extra_length
        _BOMBS[method] = (raw[start:start + info.compress_size], info.CRC)
    return _BOMBS[method]


def bomb(blob: bytes, rnd: random.Random) -> bytes:
    """A member replaced by 64 MiB of zeros compressed with deflate, bzip2 or lzma (a few hundred bytes
    to 64 KB), declared honestly or as a few bytes."""
    members = _members(blob) or {}
    name = rnd.choice([*members, "images.npy", "config.json", "model.safetensors", "3/a.png"])
    method = rnd.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
    payload, crc = bomb_payload(method)
    entries = [(n, c, zipfile.ZIP_STORED, zlib.crc32(c), len(c)) for n, c in members.items() if n != name and n]
    return raw_zip_entries([*entries, (name, payload, method, crc, rnd.choice([BOMB_SIZE, 100, 0]))])


def _lie_about_size(blob: bytes, rnd: random.Random) -> bytes:
    out = bytearray(blob)
    value = rnd.choice([0, 1, 100, 2**31, 2**32 - 1]).to_bytes(4, "little")
    for m in re.finditer(b"PK\x01\x02", blob):
        out[m.start() + 24:m.start() + 28] = value
    for m in re.finditer(b"PK\x03\x04", blob):
        out[m.start() + 22:m.start() + 26] = value
    return bytes(out)


def many_entries(blob: bytes, rnd: random.Random) -> bytes:
    """A zip whose central directory holds thousands of records (declared honestly or not)."""
    n = rnd.choice([65, 1001, 1011, 5000, 20_000])
    return zip_of_entries(n, declared=rnd.choice([n, 1, 0xFFFF]))


def zip_of_entries(n: int, *, declared: int | None = None) -> bytes:
    """A zip of one empty member, ``a``, listed ``n`` times in its central directory, whose end
    record declares ``declared`` entries (default: n)."""
    local = b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    record = b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    declared = n if declared is None else declared
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, declared, declared, len(record) * n, len(local), 0)
    return local + record * n + end


# .npy headers


def npy_header(blob: bytes, rnd: random.Random) -> bytes:
    """Edit the header dictionary of a .npy file (or of the first .npy inside a zip)."""
    if blob.startswith(b"PK"):
        return rezip(blob, rnd, lambda name, payload, r: npy_header(payload, r))
    if not blob.startswith(b"\x93NUMPY") or len(blob) < 10:
        return flip_bytes(blob, rnd)
    length = int.from_bytes(blob[8:10], "little")
    header, body = blob[10:10 + length].decode("latin1"), blob[10 + length:]
    op = rnd.randrange(6)
    if op == 0:
        header = re.sub(r"'shape': \([^)]*\)", "'shape': " + rnd.choice(
            ["(0, 8, 8)", "(20, 0, 0)", "(-1, 8, 8)", "(10**12,)", "(99999999999, 8, 8)", "(20, 8, 8, 2)", "()",
             "(20, 65, 64)", "(20000, 64, 64)", "(20, 8, 8, 3)", "[20, 8, 8]", "(20, 8, 8", "(20, '8', 8)"]), header)
    elif op == 1:
        header = re.sub(r"'descr': '[^']*'", "'descr': " + rnd.choice(
            ["'|O'", "'<c16'", "'>f2'", "'<U5'", "'|V8'", "'<M8[s]'", "[('a', '<f4')]", "'<f16'", "'<i8'", "'|b1'",
             "'bogus'", "'<f8'", "''"]), header)
    elif op == 2:
        header = header.replace("False", rnd.choice(["True", "1", "None", "'no'"]))
    elif op == 3:  # break the syntax
        i = rnd.randrange(len(header) + 1)
        header = header[:i] + rnd.choice(["(", ")", "'", '"""', "{", "}", "#", "\\", "\x00", ",,"]) + header[i:]
    elif op == 4:  # the version
        return blob[:6] + bytes([rnd.choice([0, 1, 2, 3, 255]), rnd.randrange(3)]) + blob[8:]
    else:
        return flip_bytes(blob, rnd)
    raw = header.encode("latin1", "replace")
    return blob[:8] + len(raw).to_bytes(2, "little") + raw + body


# PNG chunks


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _chunks(blob: bytes) -> list[tuple[bytes, bytes]] | None:
    if not blob.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks, at = [], 8
    while at + 8 <= len(blob):
        length, kind = struct.unpack(">I4s", blob[at:at + 8])
        chunks.append((kind, blob[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def png_chunks(blob: bytes, rnd: random.Random) -> bytes:
    """Insert, drop, reorder or edit the chunks of a PNG (with valid CRCs), or flip its bytes."""
    chunks = _chunks(blob)
    if chunks is None:
        return flip_bytes(blob, rnd)
    op = rnd.randrange(5)
    extra = rnd.choice([(b"tRNS", b"\x00"), (b"PLTE", b""), (b"iCCP", b""), (b"iCCP", b"x\x00\x00" + zlib.compress(
        bytes(10**6))), (b"zTXt", b"k\x00\x00" + zlib.compress(bytes(10**7))), (b"IDAT", b"junk"), (b"IEND", b""),
        (b"sBIT", b"\x09"), (b"gAMA", b""), (b"pHYs", b"\xff" * 9), (b"acTL", b"\x00" * 8), (b"eXIf", b"MM")])
    if op == 0:
        chunks.insert(rnd.randrange(len(chunks) + 1), extra)
    elif op == 1 and len(chunks) > 1:
        chunks.pop(rnd.randrange(len(chunks)))
    elif op == 2 and len(chunks) > 2:
        i, j = rnd.randrange(len(chunks)), rnd.randrange(len(chunks))
        chunks[i], chunks[j] = chunks[j], chunks[i]
    elif op == 3 and chunks and chunks[0][0] == b"IHDR" and len(chunks[0][1]) == 13:
        fields = bytearray(chunks[0][1])
        at, width = rnd.choice([(0, 4), (4, 4), (8, 1), (9, 1), (10, 1), (11, 1), (12, 1)])
        fields[at:at + width] = rnd.choice([0, 1, 2, 3, 4, 6, 8, 16, 65, 2**31 - 1]).to_bytes(4, "big")[-width:]
        chunks[0] = (b"IHDR", bytes(fields))
    else:
        return flip_bytes(blob, rnd)
    return b"\x89PNG\r\n\x1a\n" + b"".join(_chunk(kind, payload) for kind, payload in chunks)


def image_member(blob: bytes, rnd: random.Random) -> bytes:
    """Mutate one image inside a zip of images (its PNG chunks, or its bytes)."""
    return rezip(blob, rnd, lambda name, payload, r: (png_chunks if r.random() < 0.7 else flip_bytes)(payload, r))


# IDX headers


def idx_header(blob: bytes, rnd: random.Random) -> bytes:
    """Edit the type code, the dimension count or a size of an IDX header (gzipped again if it was)."""
    gzipped = blob.startswith(b"\x1f\x8b")
    try:
        raw = bytearray(gzip.decompress(blob) if gzipped else blob)
    except Exception:  # a mutated gzip stream
        return flip_bytes(blob, rnd)
    if len(raw) < 4:
        return flip_bytes(blob, rnd)
    op = rnd.randrange(4)
    if op == 0:
        raw[2] = rnd.choice([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF])
    elif op == 1:
        raw[3] = rnd.choice([0, 1, 2, 3, 4, 5, 255])
    elif op == 2 and len(raw) >= 8:
        at = 4 + 4 * rnd.randrange(max(1, min(raw[3], (len(raw) - 4) // 4)))
        raw[at:at + 4] = rnd.choice([0, 1, 2, 65536, 2**31, 2**32 - 1, rnd.randrange(2**32)]).to_bytes(4, "big")
    else:
        raw = bytearray(rnd.choice([truncate, splice])(bytes(raw), rnd))
    if op < 3 and rnd.random() < 0.3:
        raw += bytes(rnd.choice([1, 1000, 10**6]))  # trailing data (a gzip bomb when gzipped)
    return gzip.compress(bytes(raw), compresslevel=1) if gzipped else bytes(raw)


# model files


_WEIRD = [float("inf"), float("-inf"), float("nan"), -5, 0, 1e308, 10**30, 2**63, -1, True, False, None, "", "ae",
          "x" * 3000, [], {}, [float("inf")], [0], [8, 8], [10**6], "mlp", "conv", 1.5]
_RAW_WEIRD = ["[" * 50_000 + "]" * 50_000, "1" * 100_000, '"' + "d" * 200_000 + '"', "-0", "1e99999"]


def config_json(blob: bytes, rnd: random.Random) -> bytes:
    """Set one setting of a config.json (top level or 'model') to a weird value, or flip its bytes."""
    try:
        config = json.loads(blob)
        target = config if rnd.random() < 0.4 or not isinstance(config.get("model"), dict) else config["model"]
    except Exception:  # already mutated into something else
        return flip_bytes(blob, rnd)
    keys = [*target, "description", "extra", "image_shape", "latent_dim", "hidden", "format_version"]
    key = rnd.choice(keys)
    if rnd.random() < 0.15:
        target[key] = "@RAW@"
        return json.dumps(config).replace('"@RAW@"', rnd.choice(_RAW_WEIRD)).encode()
    target[key] = rnd.choice(_WEIRD)
    return json.dumps(config).encode()


def safetensors_weights(blob: bytes, rnd: random.Random) -> bytes:
    """Re-save the weights with other dtypes or shapes, or edit the safetensors header."""
    import safetensors.torch
    import torch

    try:
        tensors = safetensors.torch.load(blob)
    except Exception:
        return flip_bytes(blob, rnd)
    name = rnd.choice(sorted(tensors))
    op = rnd.randrange(3)
    if op == 0:
        dtype = rnd.choice([torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.uint8, torch.bool,
                            torch.complex64, torch.float8_e4m3fn, torch.float8_e5m2])
        tensors[name] = tensors[name].to(dtype)
    elif op == 1:
        tensors[name] = rnd.choice([torch.zeros(0), tensors[name].flatten(), torch.full_like(tensors[name], 1e38),
                                    torch.full_like(tensors[name], float("nan"))])
    else:  # edit the JSON header in place
        length = int.from_bytes(blob[:8], "little")
        header = blob[8:8 + length]
        dtype = rnd.choice([b'"F64"', b'"I64"', b'"XX"', b'"BOOL"', b'"F8_E4M3"'])
        header = re.sub(rb'"(F32|F16)"', dtype, header, count=1)
        return blob[:8] + header.ljust(length)[:length] + blob[8 + length:]
    return safetensors.torch.save(tensors)


def model_member(blob: bytes, rnd: random.Random) -> bytes:
    """Mutate the config or the weights inside a model zip."""
    def content(name: str, payload: bytes, r: random.Random) -> bytes:
        if name.endswith(".json"):
            return config_json(payload, r)
        return (safetensors_weights if r.random() < 0.6 else flip_bytes)(payload, r)

    return rezip(blob, rnd, content)


GENERIC = [flip_bytes, truncate, splice]
ZIPS = [*GENERIC, zip_field, zip_field, rezip, rezip, many_entries, bomb]
MUTATORS: dict[str, list[Callable[[bytes, random.Random], bytes]]] = {
    "idx": [*GENERIC, idx_header, idx_header, idx_header],
    "npz": [*ZIPS, npy_header, npy_header, npy_header],
    "zip": [*ZIPS, image_member, image_member, image_member],
    "model-zip": [*ZIPS, model_member, model_member, model_member],
    "config": [flip_bytes, truncate, splice, config_json, config_json, config_json],
    "weights": [flip_bytes, truncate, splice, safetensors_weights, safetensors_weights],
}


def mutate(kind: str, blob: bytes, rnd: random.Random, steps: int = 1) -> bytes:
    """``steps`` mutations of ``blob`` chosen from MUTATORS[kind]."""
    for _ in range(steps):
        mutator = rnd.choice(MUTATORS[kind])
        try:
            blob = mutator(blob, rnd)
        except Exception:  # a mutator that cannot apply to what earlier steps made of the file
            blob = flip_bytes(blob, rnd)
    return blob


# --- the readers, as the campaign calls them too ------------------------------------------------


def read_upload(kind: str, path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` and read it as the app would read an upload of this kind."""
    path.write_bytes(blob)
    reader = data.read_npz_images if kind == "npz" else data.read_image_zip
    reader(path, name=f"upload.{kind}")


def read_idx_folder(folder: Path, seeds: dict[str, bytes], which: str, blob: bytes) -> None:
    """An IDX folder whose file ``which`` (images, images.gz, labels) is ``blob``, the others valid."""
    for old in folder.iterdir():
        old.unlink()
    images = "train-images-idx3-ubyte" + (".gz" if which == "images.gz" else "")
    (folder / images).write_bytes(blob if which.startswith("images") else seeds["images"])
    (folder / "train-labels-idx1-ubyte").write_bytes(blob if which == "labels" else seeds["labels"])
    data.load_idx_folder(folder)


def read_model_folder(folder: Path, seeds: dict[str, bytes], config: bytes, weights: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / checkpoint.CONFIG_NAME).write_bytes(config)
    (folder / checkpoint.WEIGHTS_NAME).write_bytes(weights)
    checkpoint.load(folder)


def check_message(error: Exception, *forbidden: Path) -> None:
    """A user's message: not empty, not a bare exception, naming none of the ``forbidden`` server paths."""
    message = str(error)
    event("refused")
    assert len(message) > 20, message
    assert not re.fullmatch(r"[\w.]*(Error|Exception)(: .*)?", message), message
    for path in forbidden:
        assert str(path) not in message, message


# --- the suite ------------------------------------------------------------------------------------

FUZZ = settings(derandomize=True, deadline=5000, database=None, phases=[Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Seeds(dict):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example: not these
        return "<seed files>"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    return Seeds(data_seeds() | {"model": model_seeds(tmp_path_factory.mktemp("model-seed"))})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(FUZZ, max_examples=1500)
@given(rnd=st.randoms(use_true_random=False), which=st.sampled_from(["images", "images.gz", "labels", "floats"]),
       steps=st.integers(1, 2))
def test_fuzz_idx(seeds, scratch, rnd, which, steps):
    blob = mutate("idx", seeds["idx"][which], rnd, steps)
    folder = scratch / "idx"
    folder.mkdir(exist_ok=True)
    try:
        if which == "floats":
            (folder / "lone-idx").write_bytes(blob)
            data.read_idx(folder / "lone-idx")
        else:
            read_idx_folder(folder, seeds["idx"], which, blob)
    except DataError as error:
        check_message(error)


@settings(FUZZ, max_examples=1500)
@given(rnd=st.randoms(use_true_random=False), which=st.sampled_from(["compressed", "stored", "npy", "rgb"]),
       steps=st.integers(1, 2))
def test_fuzz_npz(seeds, scratch, rnd, which, steps):
    try:
        read_upload("npz", scratch / "data.npz", mutate("npz", seeds["npz"][which], rnd, steps))
    except DataError as error:
        check_message(error, scratch)


@settings(FUZZ, max_examples=800)
@given(rnd=st.randoms(use_true_random=False), which=st.sampled_from(["labelled", "flat", "colour"]),
       steps=st.integers(1, 2))
def test_fuzz_image_zip(seeds, scratch, rnd, which, steps):
    try:
        read_upload("zip", scratch / "data.zip", mutate("zip", seeds["zip"][which], rnd, steps))
    except DataError as error:
        check_message(error, scratch)


@settings(FUZZ, max_examples=1200)
@given(rnd=st.randoms(use_true_random=False), steps=st.integers(1, 2))
def test_fuzz_model_zip(seeds, scratch, rnd, steps):
    models = scratch / "models"
    models.mkdir(exist_ok=True)
    dest = models / "upload"
    try:
        checkpoint.import_model(mutate("model-zip", seeds["model"]["zip"], rnd, steps), dest)
    except CheckpointError as error:
        check_message(error, models)
        assert not dest.exists()
    else:
        shutil.rmtree(dest)
    assert [p.name for p in models.iterdir()] == []  # no staging folder left behind


@settings(FUZZ, max_examples=1200)
@given(rnd=st.randoms(use_true_random=False), which=st.sampled_from(["config", "weights", "both"]),
       steps=st.integers(1, 2))
def test_fuzz_model_folder(seeds, scratch, rnd, which, steps):
    model = seeds["model"]
    config = mutate("config", model["config"], rnd, steps) if which != "weights" else model["config"]
    weights = mutate("weights", model["weights"], rnd, steps) if which != "config" else model["weights"]
    try:
        read_model_folder(scratch / "folder", model, config, weights)
    except CheckpointError as error:
        check_message(error)
    try:
        checkpoint.read_config(scratch / "folder")
    except CheckpointError as error:
        check_message(error)
