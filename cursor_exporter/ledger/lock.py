"""One writer per ledger: an exclusive lock on a file beside the database, held while a process writes it.

Two exporters writing one ledger (a double start, or a rolling update on a shared volume) replace
each other's windows and corrupt its counters for good, so the second one refuses to start. The
lock is ``flock``: the OS drops it when its process ends, however it ends (kill -9 included), so a
lock is never stale and needs no clean-up. Readers (``export``) take no lock: SQLite's WAL mode lets
them read beside the writer.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from cursor_exporter.ledger.database import LedgerError
from cursor_exporter.ledger.store import DB_FILENAME

LOCK_FILENAME = f"{DB_FILENAME}.lock"


class LedgerLock:
    """The exclusive, non-blocking lock of the ledger in ``directory``, taken at construction.

    The lock file names its holder (pid and host), for the refusal of the next one.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILENAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a+")
        except OSError as error:
            raise LedgerError(f"cannot create the lock file {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._file.seek(0)
            holder = self._file.read().strip()
            self._file.close()
            if not isinstance(error, BlockingIOError):
                raise LedgerError(f"cannot lock {self.path}: {error.strerror}") from None
            raise LedgerError(
                f"the ledger in {directory} is in use by another cursor-exporter ({holder or 'starting'}): "
                "stop that one first, or give this one a --storage.path of its own"
            ) from None
        self._file.truncate(0)
        self._file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self._file.flush()

    def release(self) -> None:
        """Give the ledger up to the next writer."""
        self._file.close()
