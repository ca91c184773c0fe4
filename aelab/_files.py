"""The one way aelab writes files, and the one set of guards for unpacking zips.

Every file aelab writes goes through :func:`atomic_write` (a temporary file beside the
target, flushed, then renamed over it) and every model folder through
:func:`staged_folder`, so a crash never leaves a half-written file or folder. Every zip an
upload brings is opened with :func:`zip_members` and read with :func:`read_member`, which
check counts and sizes before anything is decompressed and stop a member at its declared
size.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

MiB = 2**20
UNPACK_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError, ValueError)


def human_size(n: int) -> str:
    """A byte count for a message: "3.2 MiB" or "5,000 bytes"."""
    return f"{n / MiB:,.1f} MiB" if n >= MiB else f"{n:,} bytes"


# ---- writing -----------------------------------------------------------------------------------


def atomic_write(path: str | Path, content: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``content`` (bytes, text, or a function that writes to a binary file) to ``path``
    so that readers see the old file or the complete new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp's files are private
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write(path, json.dumps(data, indent=2) + "\n")


@contextmanager
def staged_folder(target: str | Path, *, replace: bool) -> Iterator[Path]:
    """A temporary folder beside ``target`` to fill; on a clean exit it becomes ``target``.

    ``replace=True`` swaps out an existing ``target`` (moved aside, then removed);
    ``replace=False`` refuses one (FileExistsError), checked again just before the rename.
    On any error the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        _fsync_all(staging)
        if replace:
            _swap_into_place(staging, target)
        elif target.exists() or target.is_symlink():
            raise FileExistsError(f"{target} already exists")
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():  # renamed away on success
            shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder onto ``target``; an old one is moved aside, then removed."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _fsync_all(folder: Path) -> None:
    """Flush the files to disk and give them ordinary permissions (mkdtemp's are 0700)."""
    for file in folder.iterdir():
        with file.open("rb") as f:
            os.fsync(f.fileno())
        file.chmod(0o644)
    folder.chmod(0o755)


# ---- unpacking -----------------------------------------------------------------------------------


def ignored_member(name: str) -> bool:
    """macOS resource forks (__MACOSX/), dotfiles and dot-folders are not part of an upload."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    return not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def zip_members(archive: zipfile.ZipFile, label: str, *, max_entries: int, max_unpacked: int,
                error: type[Exception], what: str = "entries") -> list[zipfile.ZipInfo]:
    """The zip's files, ignoring folders and :func:`ignored_member` s, after checking the entry
    count and the declared unpacked size (nothing is decompressed here)."""
    entries = archive.infolist()
    if len(entries) > max_entries:
        raise error(f"{label} holds {len(entries):,} entries; at most {max_entries:,} {what} are allowed")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked:
        raise error(f"{label} unpacks to {human_size(unpacked)}, more than the {human_size(max_unpacked)} allowed")
    return [e for e in entries if not e.is_dir() and not ignored_member(e.filename)]


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, error: type[Exception]) -> bytes:
    """A member's bytes, never more than its declared size (a larger one is refused as damaged)."""
    try:
        with archive.open(member) as f:
            raw = f.read(member.file_size + 1)
    except UNPACK_ERRORS as exc:
        raise error(f"{label}: cannot unpack {member.filename!r} ({exc})") from None
    if len(raw) > member.file_size:
        raise error(f"{label}: {member.filename!r} is larger than the zip says; the zip is damaged")
    return raw
