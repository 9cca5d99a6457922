"""The upgrade journal: the original bytes of the files ``rlcore upgrade`` changes (private).

``rlcore upgrade`` writes a journal (``.rlcore-upgrade-journal.json``) into the project before
its first change and removes it once the change is kept or undone; a journal left behind means
a run was killed in between, and ``rlcore upgrade`` (or ``rlcore upgrade --recover``) undoes it.

A journal is read from the project, and a project is untrusted input: a cloned repository can
carry a journal written by anyone. So a journal is replayed only after every entry passed
:meth:`Journal.load`'s checks, and only by a command that was asked to change the project
(``rlcore check`` inspects it with :func:`inspect` and writes nothing):

* it may name only the files an upgrade changes (:data:`JOURNALED_FILES`: ``pyproject.toml``
  and cruft's ``.cruft.json``), never another file of the project (``.git/hooks/…``, say);
* every file it writes or deletes, and every temporary file, stays inside the project after
  symbolic links are resolved (:func:`inside`); a link to a file inside the project is written
  through (the link stays a link), a link out of it is refused;
* modes are plain permission bits (no set-uid, set-gid or sticky bit), the contents valid
  base64, and the journal itself a regular file of bounded size.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import socket
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcore.cli._cruft import CRUFT_FILE
from rlcore.cli._errors import ProjectError

__all__ = [
    "JOURNALED_FILES",
    "JOURNAL_NAME",
    "Journal",
    "PendingJournal",
    "atomic_write",
    "inside",
    "inspect",
    "recover",
]

#: The journal file an upgrade writes inside the project before it changes anything.
JOURNAL_NAME = ".rlcore-upgrade-journal.json"
#: The files an upgrade changes: the only ones a journal may name.
JOURNALED_FILES = frozenset({"pyproject.toml", CRUFT_FILE})
_TMP_MARKER = ".rlcore-tmp-"
# A journal holds copies of pyproject.toml and .cruft.json; anything near this size was not
# written by us.
_MAX_JOURNAL_BYTES = 16 * 1024 * 1024


def inside(project: Path, relative: str) -> Path:
    """The real path of ``project / relative``, which must stay inside the project.

    Symbolic links are resolved (the file itself need not exist), so a link that leads out of
    the project, anywhere on the way, is refused.

    Raises:
        ProjectError: ``relative`` is absolute, climbs with ``..``, or resolves outside ``project``.
    """
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or not candidate.parts:
        raise ProjectError(f"{project}: path {relative!r} is not a relative path inside the project")
    root = project.resolve()
    real = (root / candidate).resolve()
    if real != root and root not in real.parents:
        raise ProjectError(
            f"{project}: {relative!r} resolves to {real}, outside the project (through a symbolic link); "
            "rlcore writes only files inside the project"
        )
    return real


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` by ``data`` atomically: a temporary file beside it, then ``os.replace``.

    A reader (or a crash) sees the old file or the new one, never a partial one. A symbolic
    link is followed: its target is replaced and the link stays as it was. ``mode`` defaults
    to the existing file's permission bits (0o644 for a new file). Callers that write into a
    project check the path with :func:`inside` first.
    """
    path = path.resolve()
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARKER}", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_journaled(project: Path, relative: str) -> Path:
    if relative not in JOURNALED_FILES:
        raise ProjectError(
            f"{project / JOURNAL_NAME}: names {relative!r}, a file rlcore upgrade never changes "
            f"(only {', '.join(sorted(JOURNALED_FILES))}); it was not written by rlcore upgrade: "
            "inspect it and delete it by hand"
        )
    return inside(project, relative)


@dataclass
class Journal:
    """The original bytes of the files an upgrade changes, saved in the project first.

    The journal is written (atomically) before the first change, and removed only once the
    change is kept (:meth:`commit`) or undone (:meth:`restore`). A journal left behind means a
    run was killed between the two; :func:`recover` undoes it.

    Attributes:
        project: the project's root directory.
        files: relative path to ``(mode, original bytes)``; ``None`` for a file that did not exist.
    """

    project: Path
    files: dict[str, tuple[int, bytes] | None]

    @property
    def path(self) -> Path:
        """Where the journal lives: ``project / JOURNAL_NAME``."""
        return self.project / JOURNAL_NAME

    @classmethod
    def begin(cls, project: Path, relative_paths: Sequence[str]) -> Journal:
        """Record the current bytes of ``relative_paths`` (from :data:`JOURNALED_FILES`) and write the journal."""
        journal_path = project / JOURNAL_NAME
        if journal_path.exists() or journal_path.is_symlink():
            raise ProjectError(f"{journal_path} exists: another upgrade is running or was interrupted")
        files: dict[str, tuple[int, bytes] | None] = {}
        targets: dict[Path, str] = {}
        for relative in relative_paths:
            target = _check_journaled(project, relative)
            if target in targets:
                raise ProjectError(
                    f"{project}: {relative!r} and {targets[target]!r} are the same file ({target}) "
                    "through a symbolic link; expected separate files"
                )
            targets[target] = relative
            files[relative] = (
                (target.stat().st_mode & 0o777, target.read_bytes()) if target.exists() else None
            )
        journal = cls(project, files)
        payload = {
            "format": 1,
            "tool": "rlcore upgrade",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "files": [
                {
                    "path": relative,
                    "mode": None if entry is None else entry[0],
                    "content": None if entry is None else base64.b64encode(entry[1]).decode("ascii"),
                }
                for relative, entry in files.items()
            ],
        }
        atomic_write(journal.path, json.dumps(payload, indent=1).encode("utf-8"), 0o644)
        return journal

    @classmethod
    def load(cls, project: Path) -> tuple[Journal, dict[str, Any]]:
        """Read and check a journal left in ``project``; also returns its raw header (pid, host).

        Raises:
            ProjectError: the journal is not a regular file, is unreadable or too large, or an
                entry fails a check (see the module docstring); nothing is changed.
        """
        path = project / JOURNAL_NAME
        try:
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                raise ValueError("not a regular file (a symbolic link, or a folder)")
            if info.st_size > _MAX_JOURNAL_BYTES:
                raise ValueError(f"{info.st_size} bytes, more than {_MAX_JOURNAL_BYTES}")
            payload = json.loads(path.read_text(encoding="utf-8"))
            files: dict[str, tuple[int, bytes] | None] = {}
            for item in payload["files"]:
                relative = item["path"]
                if not isinstance(relative, str):
                    raise ValueError(f"path {relative!r} is not a string")
                content, mode = item["content"], item["mode"]
                if content is None:
                    files[relative] = None
                    continue
                if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
                    raise ValueError(
                        f"mode {mode!r} of {relative!r} is not plain permission bits (0 to 0o777)"
                    )
                files[relative] = (mode, base64.b64decode(content, validate=True))
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as error:
            raise ProjectError(
                f"{path}: unreadable upgrade journal ({error}); inspect the project and delete the journal by hand"
            ) from None
        for relative in files:
            _check_journaled(project, relative)
        return cls(project, files), payload

    def pending(self) -> list[str]:
        """The recorded files whose bytes or mode differ from the journal's (what :meth:`restore` would write)."""
        changed = []
        for relative, entry in self.files.items():
            target = inside(self.project, relative)
            if entry is None:
                if target.exists():
                    changed.append(relative)
            elif (
                not target.is_file()
                or target.stat().st_mode & 0o777 != entry[0]
                or target.read_bytes() != entry[1]
            ):
                changed.append(relative)
        return changed

    def restore(self) -> list[str]:
        """Put every recorded file back as it was, remove the journal; return the paths restored."""
        restored = self.pending()
        for relative in restored:
            target = inside(self.project, relative)
            entry = self.files[relative]
            if entry is None:
                target.unlink()
            else:
                atomic_write(target, entry[1], entry[0])
        self._remove_leftovers()
        self.path.unlink(missing_ok=True)
        return restored

    def commit(self) -> None:
        """Keep the changes: remove the journal."""
        self._remove_leftovers()
        self.path.unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        # A hard kill inside atomic_write leaves its temporary file behind; it is ours to remove.
        directories = {inside(self.project, relative).parent for relative in self.files}
        directories.add(self.project.resolve())
        for directory in directories:
            for leftover in directory.glob(f".*{_TMP_MARKER}*"):
                if leftover.is_symlink() or leftover.is_file():
                    leftover.unlink(missing_ok=True)


@dataclass(frozen=True)
class PendingJournal:
    """A journal found in a project, as :func:`inspect` reads it (nothing is changed).

    Attributes:
        would_restore: the files ``rlcore upgrade --recover`` would put back.
        running_pid: the pid of the upgrade that is still working on the project, if any.
    """

    would_restore: list[str]
    running_pid: int | None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid(header: dict[str, Any]) -> int | None:
    pid, host = header.get("pid"), header.get("host")
    if isinstance(pid, int) and pid != os.getpid() and host == socket.gethostname() and _process_alive(pid):
        return pid
    return None


def inspect(project: Path) -> PendingJournal | None:
    """What a journal left in ``project`` would do, without doing it (``None``: no journal).

    Raises:
        ProjectError: the journal fails :meth:`Journal.load`'s checks.
    """
    if not ((project / JOURNAL_NAME).exists() or (project / JOURNAL_NAME).is_symlink()):
        return None
    journal, header = Journal.load(project)
    return PendingJournal(journal.pending(), _running_pid(header))


def recover(project: Path) -> list[str] | None:
    """Undo an upgrade that was killed in ``project``, if its journal was left behind.

    Returns the paths restored (possibly empty), or ``None`` if there was no journal.

    Raises:
        ProjectError: the journal belongs to an upgrade still running on this machine, or
            fails :meth:`Journal.load`'s checks (then nothing is changed).
    """
    if not ((project / JOURNAL_NAME).exists() or (project / JOURNAL_NAME).is_symlink()):
        return None
    journal, header = Journal.load(project)
    pid = _running_pid(header)
    if pid is not None:
        raise ProjectError(
            f"{project}: an rlcore upgrade (pid {pid}) is still working on this project; "
            f"wait for it, or stop it, before running another"
        )
    return journal.restore()
