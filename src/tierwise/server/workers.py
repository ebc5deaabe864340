"""``tierwise serve --workers N``: N gateway processes on one port (SO_REUSEPORT), watched by a small parent.

The parent forks the workers before any event loop or thread exists, forwards SIGTERM/SIGINT (stop: each
worker finishes its in-flight requests and flushes its ledger) and SIGHUP (reload the configuration), and
starts a new worker in place of one that died. The kernel spreads new connections over the workers' sockets.
Workers share what the configured backends share (``state``, ``ledger``); with the memory state backend each
worker keeps its own budgets, rate windows, breakers and sessions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from types import FrameType

from tierwise.config.settings import Settings
from tierwise.ledger.database import Database
from tierwise.server.gateway import WorkerPlace

_RESTART_PAUSE_S = 1.0  # before a worker that died while serving is started again
_STARTUP_S = 10.0  # a worker that dies sooner after its start failed to start: a restart would fail the same way


def default_workers(settings: Settings) -> int:
    """Every core when state is shared; one process otherwise (separate processes would split each budget)."""
    if not settings.state.shared:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


def serve_workers(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Run ``workers`` gateway processes until SIGTERM or SIGINT; returns the exit status."""
    from tierwise.server.app import serve

    # A bound (not listening) socket holds the port for the workers and resolves port 0 to a real one.
    holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))
    except OSError as exc:
        print(f"tierwise: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    port = holder.getsockname()[1]
    if settings.ledger.backend == "sqlite":
        # Create or migrate a SQLite ledger once, here: workers racing to turn a new file into WAL mode can be
        # answered "database is locked" at once, without SQLite's busy wait.
        try:
            Database.of(settings).connect().close()
        except sqlite3.Error as exc:
            print(f"tierwise: cannot open the ledger {settings.ledger_path}: {exc}", file=sys.stderr)
            holder.close()
            return 1
    metrics_dir = tempfile.mkdtemp(prefix="tierwise-metrics-")
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, when it was started)
    stopping = False

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            holder.close()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            code = 0
            try:
                place = WorkerPlace(index=index, workers=workers, metrics_dir=metrics_dir)
                code = serve(settings, host=host, port=port, worker=place)
            except BaseException as exc:
                if not isinstance(exc, SystemExit | KeyboardInterrupt):
                    print(f"tierwise: worker {index} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                    code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        children[pid] = (index, time.monotonic())

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)
            except ProcessLookupError:
                continue

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    print(f"tierwise: {workers} workers on http://{host}:{port} (parent pid {os.getpid()})", file=sys.stderr)
    for index in range(workers):
        start(index)
    status = 0
    try:
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid not in children:
                continue
            index, started = children.pop(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            if code != 0:
                status = 1
            if not stopping and code != 0 and time.monotonic() - started < _STARTUP_S:
                # Refused to start (no keys under --require-keys, an unusable ledger, ...): say so once and stop.
                print(f"tierwise: worker {index} could not start ({code}); stopping the others", file=sys.stderr)
                forward(signal.SIGTERM, None)
                continue
            if not stopping:
                print(f"tierwise: worker {index} exited ({code}); starting it again", file=sys.stderr)
                time.sleep(_RESTART_PAUSE_S)
                if not stopping:
                    start(index)
    finally:
        holder.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status
