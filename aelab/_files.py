"""The one way aelab writes files, the one set of guards for unpacking zips, and the one
boundary every reader of untrusted files sits behind.

Every file aelab writes goes through :func:`atomic_write` (a temporary file beside the
target, flushed, then renamed over it) and every model folder through
:func:`staged_folder`, so a crash never leaves a half-written file or folder; on Linux an
existing folder is replaced in one step (``renameat2(RENAME_EXCHANGE)``), and
:func:`clean_leftovers` removes what interrupted saves left behind.

Every zip an upload brings is opened with :func:`open_zip`, which counts the entries from
the zip's own end records before :class:`zipfile.ZipFile` builds its list of them, listed
with :func:`zip_members` (declared sizes, compression methods and passwords checked before
anything is decompressed) and read with :func:`read_member` or :func:`open_member`, which
stop a member at its declared size. Only stored and deflate members are read: zipfile
bounds deflate by the bytes it produces, but decompresses a bzip2 or lzma member whole
before cutting it to its declared size.

Every reader of a file a user gives is decorated with :func:`reader_boundary`: whatever
goes wrong inside it (a library's own exception, MemoryError, RecursionError) reaches the
caller as the project's own error, with a message in the user's terms.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import json
import logging
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from . import i18n
from .errors import AelabError
from .i18n import N_, _

MiB = 2**20
UNPACK_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError, ValueError)
LEFTOVER_AGE_S = 600  # a hidden staging folder untouched this long belongs to an interrupted save
_log = logging.getLogger("aelab")
_F = TypeVar("_F", bound=Callable[..., Any])


def human_size(n: int) -> str:
    """A byte count for a message: "3.2 MiB" or "5,000 bytes"."""
    return f"{n / MiB:,.1f} MiB" if n >= MiB else _("{n:,} bytes", n=n)


# ---- the readers' boundary -----------------------------------------------------------------------


def reader_boundary(error: type[AelabError], subject: Callable[..., str], advice: str) -> Callable[[_F], _F]:
    """Decorate a reader of untrusted files so that it raises ``error`` and nothing else.

    ``error`` itself passes through untouched (the reader's own, specific messages); another
    AelabError is re-raised as ``error``; any other exception, MemoryError and RecursionError
    included, becomes ``error`` saying "<subject> cannot be read: <why>. <advice>", where
    ``subject(*args, **kwargs)`` names the file as the user named it (``advice`` is English,
    marked with ``N_()`` where it is defined, and translated here). The message never
    holds a Python type name alone, and paths inside the library's own message are removed.
    The new error is raised after the original one is dropped (no ``__context__``), so the
    failed reader's frames and whatever large arrays they held are freed at once.
    """

    def decorate(reader: _F) -> _F:
        @functools.wraps(reader)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return reader(*args, **kwargs)
            except error:
                raise
            except AelabError as exc:
                message = _("{subject}: {problem}", subject=_subject(subject, args, kwargs), problem=exc)
            except Exception as exc:  # the net under every specific message
                why, extra = _explain(exc)
                message = _("{subject} cannot be read: {why}. {advice}", subject=_subject(subject, args, kwargs),
                            why=why, advice=extra or i18n._(advice))
                _log.info("%s: %s", reader.__qualname__, message, exc_info=exc)
            raise error(message)

        return guarded  # type: ignore[return-value]

    return decorate


def _subject(subject: Callable[..., str], args: tuple, kwargs: dict) -> str:
    try:
        return str(subject(*args, **kwargs))
    except Exception:  # a message must still come out
        return _("the file")


def _explain(exc: BaseException) -> tuple[str, str]:
    """Why a reader failed, in words, and advice that replaces the reader's own (or '')."""
    if isinstance(exc, MemoryError):
        return (_("reading it needs more memory than this server has free"),
                _("Try a smaller file (fewer or smaller images), or try again later"))
    if isinstance(exc, RecursionError):
        return _("it is nested too deeply to read"), ""
    if isinstance(exc, OverflowError):
        return _("it holds a number too large to use"), ""
    detail = scrub(str(exc))
    if detail:
        return _("it is damaged or not in the format expected ({detail})", detail=detail), ""
    return _("it is damaged or not in the format expected"), ""


def scrub(text: str, limit: int = 200) -> str:
    """A library's message made fit for a user: absolute paths removed, at most ``limit`` characters."""
    text = re.sub(r"(?<![\w.])(?:[A-Za-z]:)?[/\\][^\s'\"]*[/\\][^\s'\",;)]*", "<path>", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def read_small_json(path: str | Path, limit: int) -> Any:
    """The JSON in a file of at most ``limit`` bytes, or None when it is missing, unreadable, larger or not JSON."""
    try:
        with Path(path).open("rb") as f:
            raw = f.read(limit + 1)
        return json.loads(raw) if len(raw) <= limit else None
    except (OSError, ValueError, RecursionError):
        return None


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write(path, json.dumps(data, indent=2) + "\n")


@contextmanager
def staged_folder(target: str | Path, *, replace: bool) -> Iterator[Path]:
    """A temporary folder beside ``target`` to fill; on a clean exit it becomes ``target``.

    ``replace=True`` swaps out an existing ``target`` (in one step where the system can,
    see :func:`_swap_into_place`); ``replace=False`` refuses one (FileExistsError), checked
    again just before the rename. On any error the temporary folder is removed and
    ``target`` is left as it was. A crash (power cut, killed process) leaves at most a
    hidden ``.NAME.tmp-*`` or ``.NAME.old-*`` folder beside it, which
    :func:`clean_leftovers` removes.
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
        _fsync_dir(target.parent)
    finally:
        _remove(staging)  # renamed away on success, or (after an exchange) the old folder


def _swap_into_place(staging: Path, target: Path) -> None:
    """Put the finished folder at ``target``; an existing one ends up at ``staging``.

    On Linux the two are exchanged in one step (``renameat2`` with ``RENAME_EXCHANGE``), so
    ``target`` always holds a complete model, the old one or the new one. Where that is not
    available (another system, a file system without it) the old folder is moved aside and
    the new one renamed in: two steps, between which a crash leaves neither at ``target``
    (both survive as hidden folders beside it).
    """
    if not (target.exists() or target.is_symlink()):
        os.replace(staging, target)
        return
    if exchange(staging, target):
        return
    retired = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    _remove(retired)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    False, with nothing changed, where the system or the file system cannot; OSError for
    any other failure (a missing path, no permission).
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """libc's renameat2 (glibc 2.28 and later), or None off Linux or where libc lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _remove(path: Path) -> None:
    """Remove a folder (or a link, never followed) if it is there; errors are ignored."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _fsync_all(folder: Path) -> None:
    """Flush the files to disk and give them ordinary permissions (mkdtemp's are 0700)."""
    for file in folder.iterdir():
        with file.open("rb") as f:
            os.fsync(f.fileno())
        file.chmod(0o644)
    folder.chmod(0o755)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Names that staged_folder, _swap_into_place and atomic_write give their temporary files:
# ".NAME.tmp-XXXXXXXX", ".NAME.old-XXXXXXXX" (folders) and ".NAME.XXXXXXXX.tmp" (files).
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?:(?:tmp|old)-[a-z0-9_]{8}|[a-z0-9_]{8}\.tmp)")


def clean_leftovers(folder: str | Path, *, name: str | None = None,
                    max_age_s: float = LEFTOVER_AGE_S) -> list[Path]:
    """Remove what interrupted saves left in ``folder``; return what was removed.

    That is hidden staging folders ``.NAME.tmp-*`` and ``.NAME.old-*`` (see
    :func:`staged_folder`) and ``.NAME.*.tmp`` files (see :func:`atomic_write`), only those
    of ``name`` when it is given, and only those untouched for ``max_age_s`` seconds (the
    newest modification time of the entry and of what is directly inside it), so a save
    in progress is left alone. ``max_age_s=0`` removes all of them. Nothing else is
    touched, links are removed without being followed, and errors are ignored.
    """
    folder = Path(folder)
    cutoff = time.time() - max_age_s
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if not match or (name is not None and match["name"] != name):
            continue
        try:
            if max_age_s > 0 and _newest_change(entry) > cutoff:
                continue
        except OSError:
            continue  # gone meanwhile
        _remove(entry)
        removed.append(entry)
    return removed


def _newest_change(entry: Path) -> float:
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for child in entry.iterdir():
            newest = max(newest, child.lstat().st_mtime)
    return newest


# ---- unpacking -----------------------------------------------------------------------------------

ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # the only ones read: deflate is bounded as it runs
_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz",
                 97: "WavPack", 98: "PPMd", 99: "AES encryption"}
_CENTRAL_RECORD = struct.Struct("<4s24xHHH12x")  # signature, name, extra and comment lengths (46 bytes)


@contextmanager
def open_zip(source: str | Path | bytes, label: str, *, max_entries: int, error: type[AelabError],
             what: str = N_("entries")) -> Iterator[zipfile.ZipFile]:
    """Open an untrusted zip (a path or bytes), refusing one with more than ``max_entries`` entries
    before :class:`zipfile.ZipFile` parses its central directory (which it does whole, on
    opening: a million entries cost half a minute and over a gigabyte).

    The count comes from the zip's end-of-central-directory record (zip64 too), and then
    from hopping through the central directory's records, at most ``max_entries + 1`` of
    them, exactly as zipfile will read them: a zip may declare fewer entries than it holds.
    """
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb")
    try:
        try:
            _count_entries(fp, label, max_entries, error, what)
            archive = zipfile.ZipFile(fp)
        except zipfile.BadZipFile as exc:
            raise error(_("{label} is a damaged zip file ({detail})", label=label, detail=scrub(str(exc)))) from None
        except NotImplementedError as exc:
            raise error(_("{label} needs a zip feature aelab cannot read ({detail}); zip the files again "
                          "with an ordinary zip tool", label=label, detail=scrub(str(exc)))) from None
        with archive:
            if any(not info.filename for info in archive.filelist):
                raise error(_("{label} holds an entry without a name; the zip is damaged", label=label))
            yield archive
    finally:
        fp.close()


def _count_entries(fp: BinaryIO, label: str, max_entries: int, error: type[AelabError], what: str) -> int:
    try:
        # the very record zipfile.ZipFile reads (a private helper, unchanged since Python 2)
        end = zipfile._EndRecData(fp)  # type: ignore[attr-defined]
    except OSError:
        end = None
    if not end:
        raise error(_("{label} is a damaged zip file (its end record is missing: the file is cut short, or not a "
                      "zip)", label=label))
    declared = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]
    if declared > max_entries:
        raise error(_("{label} holds {declared:,} entries; at most {most:,} {what} are allowed", label=label,
                      declared=declared, most=max_entries, what=i18n._(what)))
    size = end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    start = end[zipfile._ECD_LOCATION] - size  # type: ignore[attr-defined]
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # type: ignore[attr-defined]
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator  # type: ignore[attr-defined]
    if start < 0:
        raise error(_("{label} is a damaged zip file (its central directory lies outside the file)", label=label))
    fp.seek(start)
    directory = fp.read(size)  # at most the file: start >= 0 and the directory ends before the end record
    count = position = 0
    while position < size and position + _CENTRAL_RECORD.size <= len(directory):
        if count == max_entries:
            raise error(_("{label} holds more than {most:,} entries; at most {most:,} {what} are allowed",
                          label=label, most=max_entries, what=i18n._(what)))
        signature, name, extra, comment = _CENTRAL_RECORD.unpack_from(directory, position)
        if signature != zipfile.stringCentralDir:  # type: ignore[attr-defined]
            break  # zipfile refuses it as damaged
        position += _CENTRAL_RECORD.size + name + extra + comment
        count += 1
    return count


def ignored_member(name: str) -> bool:
    """macOS resource forks (__MACOSX/), dotfiles and dot-folders are not part of an upload."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    return not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def zip_members(archive: zipfile.ZipFile, label: str, *, max_unpacked: int,
                error: type[AelabError]) -> list[zipfile.ZipInfo]:
    """The zip's files, ignoring folders and :func:`ignored_member` s, after checking the
    declared unpacked size (nothing is decompressed here; the entry count was checked by
    :func:`open_zip`)."""
    entries = archive.infolist()
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked:
        raise error(_("{label} unpacks to {size}, more than the {limit} allowed", label=label,
                      size=human_size(unpacked), limit=human_size(max_unpacked)))
    return [e for e in entries if e.filename and not e.is_dir() and not ignored_member(e.filename)]


def check_readable(members: list[zipfile.ZipInfo], label: str, error: type[AelabError]) -> None:
    """Refuse members behind a password, or compressed with anything but deflate (or stored)."""
    for member in members:
        if member.flag_bits & 0x1:
            raise error(_("{label} is password-protected ({member!r}); upload a zip without a password",
                          label=label, member=member.filename))
        if member.compress_type not in ZIP_METHODS:
            method = _METHOD_NAMES.get(member.compress_type) or _("method {number}", number=member.compress_type)
            raise error(_("{label}: {member!r} uses {method} compression, which aelab does not accept; "
                          "zip it again with the usual (deflate) compression", label=label, member=member.filename,
                          method=method))


def open_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str,
                error: type[AelabError]) -> BinaryIO:
    """A member to read as a stream, which ends at its declared size (stored or deflate only)."""
    check_readable([member], label, error)
    try:
        return archive.open(member)
    except UNPACK_ERRORS as exc:
        raise error(_cannot_unpack(label, member, exc)) from None


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, error: type[AelabError]) -> bytes:
    """A member's bytes, never more than its declared size (a larger one is refused as damaged)."""
    try:
        with open_member(archive, member, label, error) as f:
            raw = f.read(member.file_size + 1)
    except UNPACK_ERRORS as exc:
        raise error(_cannot_unpack(label, member, exc)) from None
    if len(raw) > member.file_size:
        raise error(_("{label}: {member!r} is larger than the zip says; the zip is damaged", label=label,
                      member=member.filename))
    return raw


def copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, label: str,
                error: type[AelabError]) -> None:
    """Unpack a member into the file ``target``, a megabyte at a time, never more than its declared size."""
    try:
        with open_member(archive, member, label, error) as source, open(target, "wb") as out:
            left = member.file_size
            while chunk := source.read(min(left + 1, MiB)):
                if len(chunk) > left:
                    raise error(_("{label}: {member!r} is larger than the zip says; the zip is damaged",
                                  label=label, member=member.filename))
                out.write(chunk)
                left -= len(chunk)
    except UNPACK_ERRORS as exc:
        raise error(_cannot_unpack(label, member, exc)) from None


def _cannot_unpack(label: str, member: zipfile.ZipInfo, exc: BaseException) -> str:
    detail = scrub(str(exc)) or _("the zip is damaged")
    return _("{label}: cannot unpack {member!r} ({detail})", label=label, member=member.filename, detail=detail)
