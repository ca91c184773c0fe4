"""Job records that outlive the server: what a restarted server reads to tell which runs were interrupted.

Each job (aelab.jobs) writes a small JSON record into its workspace's ``jobs/`` folder when it is
queued, starts and ends, and its server rewrites an unfinished one every few seconds (a heartbeat).
A record still "queued" or "running" whose server is gone is marked "interrupted", once.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from ._files import atomic_write_json, read_small_json
from .i18n import _

ACTIVE = ("queued", "running")
SERVER = {"host": socket.gethostname(), "pid": os.getpid(), "boot": uuid.uuid4().hex[:12]}  # this process
STALE_S = 60.0  # a record of an unfinished job untouched this long: its server stopped
_RECORD_ID = re.compile(r"[0-9a-f]{12}")
_MAX_RECORD_BYTES = 64 * 1024
_log = logging.getLogger(__name__)


def records(folder: str | Path, now: float | None = None) -> list[dict[str, Any]]:
    """The job records in ``folder``, oldest first; an unfinished job's whose server has stopped is
    marked "interrupted" first (written back, so this happens once).

    A server has stopped when its process is gone from this host, or when the record has gone
    :data:`STALE_S` without a heartbeat (a server on another host, or a pid used again). Records
    that are damaged or not aelab's are left out.
    """
    now = time.time() if now is None else now
    found = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        record = _read(path)
        if record is None:
            continue
        if record["status"] in ACTIVE and _server_gone(record["server"], path, now):
            record |= {"status": "interrupted", "was": record["status"], "interrupted": now,
                       "message": _stopped_while(record["status"])}
            try:
                atomic_write_json(path, record)
            except OSError:
                _log.exception("aelab: could not mark job %s interrupted", record["id"])
        found.append(record)
    return sorted(found, key=lambda r: r["submitted"])


def _stopped_while(status: str) -> str:
    """Why a run ended, in the language of whoever's page noticed it (its record keeps that text)."""
    if status == "queued":
        return _("the server stopped while it was queued")
    return _("the server stopped while it was running")


def _read(path: Path) -> dict[str, Any] | None:
    """A job record written by :meth:`Job.write_record`, or None when it is not one."""
    record = read_small_json(path, _MAX_RECORD_BYTES)
    valid = (isinstance(record, dict) and isinstance(record.get("id"), str) and _RECORD_ID.fullmatch(record["id"])
             and path.name == f"{record['id']}.json" and isinstance(record.get("name"), str)
             and isinstance(record.get("status"), str) and isinstance(record.get("server"), dict)
             and isinstance(record.get("submitted"), int | float) and isinstance(record.get("epochs"), int)
             and isinstance(record.get("epoch", 0), int))
    return record if valid else None


def _server_gone(server: dict[str, Any], path: Path, now: float) -> bool:
    if server.get("boot") == SERVER["boot"]:
        return False  # this process: it follows its jobs
    pid = server.get("pid")
    if server.get("host") == SERVER["host"] and isinstance(pid, int) and pid > 0 and not _alive(pid):
        return True
    try:
        return now - path.stat().st_mtime > STALE_S
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
