"""The SQLite file under a store: one connection per thread (closed when its thread ends), one
writer at a time across threads and processes (a file lock), WAL checkpoints in a background thread,
and files only their user can read."""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger("store.sqlite")
# SQLite checkpoints the WAL itself inside the commit that fills it to N pages, while that writer
# holds the write lock: every other writer then waits for the checkpoint's fsync (in the load test,
# a stall of ~100 ms every ~3,000 messages). A background thread checkpoints every second instead,
# without blocking writers; SQLite's own checkpoint is kept as a backstop at a much larger WAL.
CHECKPOINT_SECONDS = 1.0
AUTOCHECKPOINT_PAGES = 20_000
# The WAL file never shrinks by itself: it stayed at its largest (~80 MB after a load test), with
# old copies of rows. A writer that restarts it cuts it back to this size (journal_size_limit),
# and the checkpointer empties it once writes have stopped (a TRUNCATE checkpoint).
WAL_KEPT_BYTES = 4 * 1024 * 1024
IDLE_TRUNCATE_BUSY_MS = 100  # how long the idle truncation waits for readers before trying later
JOIN_SECONDS = 5.0  # a checkpoint of a large WAL takes well under this


class SQLiteFile:
    """Connections, the writer lock and checkpoints of one database file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._locks_dir = self.path.parent / f"{self.path.name}.locks"
        _private_files(self.path, self._locks_dir)
        self._local = threading.local()
        # A thread's connection is closed when the thread ends: the development server starts a
        # thread per HTTP connection, and keeping them open leaked two fds and ~136 KB for each.
        self._connections: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._connections_guard = threading.Lock()
        self._write_guard = threading.Lock()
        self._writer_file: IO[str] | None = None
        self._writer_pid = 0
        self._checkpoint_stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        holder = getattr(self._local, "holder", None)
        if holder is None:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left
            connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            connection.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            holder = self._local.holder = _ThreadConnection(connection)
            with self._connections_guard:
                self._connections.add(holder)
        return holder.connection

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time across threads and processes, so SQLite never has to make a
        writer sleep and retry (its busy handler backs off up to 100 ms at a time)."""
        with self._write_guard:
            if self._writer_file is None or self._writer_pid != os.getpid():
                self._writer_file = open(self._locks_dir / "writer.lock", "w")  # noqa: SIM115
                self._writer_pid = os.getpid()
                self._checkpointer = threading.Thread(  # this process writes: it checkpoints
                    target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
                )
                self._checkpointer.start()
                _OPEN_FILES.add(self)
            fcntl.flock(self._writer_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._writer_file, fcntl.LOCK_UN)

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._writer():
            return self._db.execute(sql, params)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._writer():
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _truncate_wal(self) -> None:
        """Deleted data is zeroed in the database file (secure_delete) but the WAL still holds the
        pages as they were until it is checkpointed and emptied."""
        with self._writer():
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy committed WAL frames into the database file without blocking writers (PASSIVE).
        Returns SQLite's (busy, frames in the WAL, frames copied)."""
        busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, frames, copied

    def _checkpoint_loop(self) -> None:
        last_frames = -1
        while not self._checkpoint_stop.wait(CHECKPOINT_SECONDS):
            try:
                if last_frames < 0:
                    self._open_checkpointer()
                _, frames, copied = self.checkpoint()
                if frames == copied == last_frames and self._wal_bytes() > WAL_KEPT_BYTES:
                    self._truncate_idle_wal()
                last_frames = frames
            except sqlite3.ProgrammingError:  # the store was closed (the process is ending)
                return
            except sqlite3.Error as error:  # a full disk, a lock: try again later
                log.warning("WAL checkpoint failed: %s", error)

    def _open_checkpointer(self) -> None:
        """This thread's connection, opened under the writer lock: on a new file, switching it to
        WAL while the schema is being created can fail with 'database is locked'."""
        with self._writer():
            self._db.execute(f"PRAGMA busy_timeout={IDLE_TRUNCATE_BUSY_MS}")

    def _wal_bytes(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            return 0

    def _truncate_idle_wal(self) -> None:
        """All of the WAL is in the database and nothing was written for a whole period: empty
        it. Writers wait the few milliseconds this takes; readers make it give up and retry."""
        with self._writer():
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.debug("WAL truncation deferred: readers busy")

    def ping(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def stop_checkpoints(self) -> None:
        """Stop the checkpoint thread and wait for it: a connection closed under a statement that
        is running, or the interpreter finalized while the thread is inside SQLite, can crash
        the process (a segfault at exit seen once in ~10 test runs)."""
        self._checkpoint_stop.set()
        thread = self._checkpointer
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=JOIN_SECONDS)

    def close(self) -> None:
        self.stop_checkpoints()
        with self._connections_guard:
            for holder in list(self._connections):
                holder.connection.close()
            self._connections.clear()
        self._local = threading.local()


_OPEN_FILES: weakref.WeakSet[SQLiteFile] = weakref.WeakSet()


@atexit.register
def _stop_all_checkpoints() -> None:
    """Before the interpreter tears down modules: no checkpoint thread left inside SQLite."""
    for file in list(_OPEN_FILES):
        file.stop_checkpoints()


def _private_files(path: Path, locks_dir: Path) -> None:
    """Conversations are personal data: the folder the store creates is 0700, its lock folder
    0700, the database 0600 (SQLite gives its -wal and -shm files the database's mode). A folder
    that exists already is left as it is, with a warning if others can read it."""
    if path.parent.exists():
        if path.parent.stat().st_mode & 0o077:
            log.warning("%s is readable by other users; chmod 700 it", path.parent)
    else:
        path.parent.mkdir(mode=0o700, parents=True)
    locks_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(locks_dir, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


class _ThreadConnection:
    """One thread's connection. Only that thread's thread-local slot holds it, so it is freed the
    moment the thread ends; the connection itself sits in reference cycles (its statement cache)
    and would otherwise stay open until a garbage collection, however late that comes."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        weakref.finalize(self, connection.close)
