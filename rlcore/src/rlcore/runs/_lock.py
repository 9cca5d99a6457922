"""One writer per run directory: the lock a :class:`rlcore.runs.Run` holds while it writes.

Two processes writing one run directory (a ``--resume`` started while the run still goes)
overwrite each other's checkpoints, log and ``eval.json``. A run therefore holds an exclusive
``flock`` on ``run_dir/run.lock``, which says who holds it (process id, host, command, since
when). The operating system drops the lock when its process dies, however it dies, so a lock
left by a dead process is simply taken over; the file it left only says who held it last.

In one process, a new run of the same directory takes over the lock of an earlier one (a
notebook cell run again after a crash, a sweep retrying a trial): a process is trusted not to
write one run directory from two threads at once. The lock is also given up when its
:class:`~rlcore.runs.Run` is garbage-collected (a training loop that raised).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

from rlcore._rundir import LOCK_FILENAME

__all__ = ["RunDirLock", "RunLockedError"]

_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


def _path_of(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "the run directory"


if sys.platform != "win32":
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:  # a file system without locks (some FUSE and network mounts)
            if error.errno not in _NO_LOCKS:
                raise
            warnings.warn(
                f"Run: the file system of {_path_of(fd)} does not support locks ({error.strerror}); "
                "a second process writing this run directory would not be refused",
                stacklevel=4,
            )
        return True

else:  # pragma: no cover (Windows)
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


class RunLockedError(RuntimeError):
    """Another live process writes this run directory (it holds ``run.lock``)."""


# The locks this process holds, by resolved run directory (weak: a dropped Run lets go).
_HELD: weakref.WeakValueDictionary[str, RunDirLock] = weakref.WeakValueDictionary()


class RunDirLock:
    """The exclusive lock of one run directory (``run_dir/run.lock``); see the module docstring."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILENAME
        self._key = str(run_dir.resolve())
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunLockedError` naming the process that holds it.

        Raises:
            RunLockedError: if another live process holds it.
            OSError: if ``run.lock`` cannot be opened (it is a link or a folder, say).
        """
        earlier = _HELD.get(self._key)
        if earlier is not None and earlier is not self:
            earlier.release(delete=False)
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            if not _try_lock(fd):
                holder = _holder(fd)
                os.close(fd)
                raise RunLockedError(
                    f"Run: {str(self.path.parent)!r} is being written by {holder}, which holds {LOCK_FILENAME}; "
                    "two processes writing one run directory overwrite each other's checkpoints and logs. "
                    "Wait for it to finish or stop it (a lock left by a process that died is taken over)."
                )
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:  # the holder finished and deleted it: try again
                same = False
            if not same:
                os.close(fd)
                continue
            self._fd = fd
        _write_holder(self._fd)
        _HELD[self._key] = self

    def release(self, *, delete: bool = True) -> None:
        """Let go of the lock; with ``delete``, also remove ``run.lock`` (a run that ended)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(fd)  # drops the flock
        if _HELD.get(self._key) is self:
            del _HELD[self._key]

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join(sys.argv)[:300],
    }
    data = (json.dumps(holder) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says (untrusted text: parsed, cut short, printable only)."""
    try:
        record: Any = json.loads(os.read(fd, 4096).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        record = None
    if not isinstance(record, dict):
        return "another process (its lock file does not say which)"

    def clean(key: str) -> str:
        text = str(record.get(key, "?"))[:200]
        return "".join(c if c.isprintable() else "?" for c in text)

    return f"process {clean('pid')} on {clean('host')} (since {clean('since')}: {clean('command')})"
