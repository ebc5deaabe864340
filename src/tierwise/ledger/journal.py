"""The ledger's journal: every recorded entry as one JSON line appended to a file, before the request is answered.

The database is written in batches by a thread; the journal makes an entry durable the moment it is recorded,
with one ``write()`` to a file opened ``O_APPEND`` (no fsync on the request path: the writer thread fsyncs each
segment when it seals it, every flush interval). It survives the process being killed; a power cut can lose
what the kernel had not yet written out of the last interval.

Files live in ``<ledger>.journal/``, one segment ``<pid>-<seq>.jsonl`` at a time per process, locked (flock)
by the process that writes it. The writer seals the current segment each round and deletes it once its rows
are in the database. At start-up, segments nobody holds (a process that died, or could not flush before it
stopped) are replayed into the database and deleted. Replay is idempotent: rows are keyed by request id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tierwise.ledger.entry import Attempt, LedgerEntry
from tierwise.types import Usage

SUFFIX = ".jsonl"


def journal_dir(ledger_path: str | Path) -> Path:
    return Path(f"{ledger_path}.journal")


@dataclass(slots=True)
class Segment:
    path: Path
    fd: int  # kept open (and locked) until the segment is discarded
    size: int = 0


class Journal:
    """Not thread-safe: the ledger serialises ``append`` and ``seal`` under its own lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = 0
        self._closed = False
        directory.mkdir(parents=True, exist_ok=True)
        self._current = self._open_segment()

    def _open_segment(self) -> Segment:
        self._seq += 1
        path = self.directory / f"{os.getpid()}-{self._seq:08d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return Segment(path, fd)

    def append(self, line: bytes) -> None:
        """One ``write()``; raises OSError (a full disk, say) with nothing half-counted."""
        if self._closed:
            raise OSError("the ledger journal is closed")
        written = os.write(self._current.fd, line)
        self._current.size += written
        if written != len(line):  # a short write to a regular file means the disk filled up mid-line
            raise OSError(f"short write to the ledger journal ({written} of {len(line)} bytes)")

    def seal(self) -> Segment | None:
        """Close the current segment to new lines and start another; None when it holds nothing yet."""
        if self._closed or self._current.size == 0:
            return None
        sealed = self._current
        self._current = self._open_segment()
        return sealed

    def close(self) -> None:
        """Stop writing; an empty current segment is removed, a non-empty one stays for the next start."""
        if self._closed:
            return
        self._closed = True
        if self._current.size == 0:
            discard(self._current)
        else:
            release(self._current)


def sync(segment: Segment) -> None:
    with contextlib.suppress(OSError):
        os.fdatasync(segment.fd)


def discard(segment: Segment) -> None:
    """The segment's rows are in the database: remove it (then let go of its lock)."""
    with contextlib.suppress(OSError):
        segment.path.unlink()
    with contextlib.suppress(OSError):
        os.close(segment.fd)


def release(segment: Segment) -> None:
    """Let go of a segment whose rows are NOT all in the database: it stays, for the next start to replay."""
    with contextlib.suppress(OSError):
        os.close(segment.fd)


def orphans(directory: Path) -> Iterator[Segment]:
    """Segments no running process holds, oldest first, each locked by us until discarded or released."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}"), key=_age):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # replayed meanwhile by another process
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live process writes it
            os.close(fd)
            continue
        if not path.exists():  # replayed and removed between our listing and our lock
            os.close(fd)
            continue
        yield Segment(path, fd, size=os.fstat(fd).st_size)


def read_entries(segment: Segment) -> Iterator[LedgerEntry | None]:
    """The entries of a segment in order; None for a line that cannot be read (torn by a power cut)."""
    with open(segment.path, "rb") as lines:
        for line in lines:
            if line.strip():
                yield decode(line)


def _age(path: Path) -> tuple[float, str]:
    try:
        return (path.stat().st_mtime, path.name)
    except OSError:
        return (0.0, path.name)


# --- entries as JSON lines --------------------------------------------------------------------------------


def encode(entry: LedgerEntry) -> bytes:
    """One line. orjson serialises the dataclasses directly (a few microseconds); text it refuses (a lone
    surrogate from a hostile header) takes the slower path that escapes it."""
    try:
        return orjson.dumps(entry, default=_plain) + b"\n"
    except TypeError:
        return json.dumps(dataclasses.asdict(entry), default=_plain).encode() + b"\n"


def decode(line: bytes) -> LedgerEntry | None:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            data = json.loads(line)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    try:
        return _entry(data)
    except (TypeError, ValueError, KeyError):
        return None


_ENTRY_FIELDS = frozenset(f.name for f in dataclasses.fields(LedgerEntry))
_USAGE_FIELDS = frozenset(f.name for f in dataclasses.fields(Usage))
_ATTEMPT_FIELDS = frozenset(f.name for f in dataclasses.fields(Attempt))


def _usage(data: Any) -> Usage:
    return Usage(**{k: v for k, v in data.items() if k in _USAGE_FIELDS})


def _entry(data: dict[str, Any]) -> LedgerEntry:
    """Fields this version does not know are skipped (a journal written by a newer tierwise still replays)."""
    values = {k: v for k, v in data.items() if k in _ENTRY_FIELDS}
    if "usage" in values:
        values["usage"] = _usage(values["usage"])
    if "attempts" in values:
        values["attempts"] = [
            Attempt(**{k: v for k, v in a.items() if k in _ATTEMPT_FIELDS}) for a in values["attempts"]
        ]
    if "side_calls" in values:
        values["side_calls"] = [(str(alias), _usage(usage)) for alias, usage in values["side_calls"]]
    return LedgerEntry(**values)


def _plain(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
