"""One project's ``rlcore upgrade``: rewrite, journal, test, keep or restore (private).

:func:`upgrade_project` does for one project what ``rlcore upgrade`` promises (see
:mod:`rlcore.cli.upgrade`): it rewrites the rlcore requirement in ``pyproject.toml`` and the
template answer in ``.cruft.json``, journaled (:mod:`rlcore.cli._journal`), runs the project's
tests (:mod:`rlcore.cli._project_tests`), and keeps the change only if they pass and the code
uses no removed name; otherwise it restores every file. :class:`Outcome` records what happened.

Imported only by the CLI subcommands, so ``import rlcore`` never loads ``packaging``.
"""

from __future__ import annotations

import contextlib
import difflib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packaging.requirements import Requirement
from packaging.version import Version

from rlcore._version import __version__
from rlcore.cli._changelog import find_changelog, parse_changelog
from rlcore.cli._cruft import CRUFT_FILE, rewrite_cruft_answer
from rlcore.cli._deprecated_scan import scan_project
from rlcore.cli._errors import ProjectError
from rlcore.cli._installed import installed_rlcore
from rlcore.cli._journal import JOURNAL_NAME, Journal, atomic_write, inside, recover
from rlcore.cli._project_tests import DEFAULT_TIMEOUT_S, TestsTimedOut, run_tests
from rlcore.cli._requirement import read_requirement, rewrite_pyproject

__all__ = ["Outcome", "signals_deferred", "upgrade_project"]

# cruft writes a few kilobytes; the journal, which copies the file, must stay far below its limit.
_MAX_CRUFT_BYTES = 1024 * 1024


@dataclass
class Outcome:
    """What ``rlcore upgrade`` did to one project.

    Attributes:
        path: the project's root directory.
        old: the requirement before (``""`` if unreadable).
        new: the requirement planned (``""`` if none could be planned).
        result: ``"upgraded"``, ``"already current"``, ``"dry run"``, ``"failed"``,
            ``"interrupted"``, ``"recovered"``, ``"nothing to recover"`` or ``"not run"``.
        reason: for a failure, why (the failing tests' last lines, or the problem found).
        short: the reason in one line, for the summary table (default: its first line).
    """

    path: Path
    old: str = ""
    new: str = ""
    result: str = "not run"
    reason: str = ""
    short: str = ""

    @property
    def failed(self) -> bool:
        """Whether this project counts as a failure for the exit status."""
        return self.result in ("failed", "interrupted")


def _project_python(project: Path, override: str | None) -> str:
    if override:
        return override
    for candidate in (project / ".venv" / "bin" / "python", project / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _planned_cruft_answer(project: Path, target: Version) -> tuple[Path, bytes, bytes] | None:
    """``.cruft.json``'s real path, bytes and new bytes, when its ``rlcore_version`` answer must become ``target``.

    ``None`` when the project has no ``.cruft.json``, it records another template, or the answer
    is ``target`` already.

    Raises:
        ProjectError: the file leads out of the project, is not a regular file, is too large, or
            is not valid JSON (:func:`rewrite_cruft_answer`).
    """
    link = project / CRUFT_FILE
    if not (link.exists() or link.is_symlink()):
        return None
    path = inside(project, CRUFT_FILE)
    if not path.is_file():
        raise ProjectError(
            f"{link}: not a regular file (a folder, or a link to nothing); expected cruft's JSON record"
        )
    size = path.stat().st_size
    if size > _MAX_CRUFT_BYTES:
        raise ProjectError(
            f"{link}: {size} bytes; expected cruft's JSON record of at most {_MAX_CRUFT_BYTES}"
        )
    before = path.read_bytes()
    after = rewrite_cruft_answer(link, before, target)
    return None if after is None or after == before else (path, before, after)


def _record_answer(project: Path, cruft: tuple[Path, bytes, bytes]) -> None:
    """Write the planned ``.cruft.json`` alone (no test run: the requirement does not change), journaled.

    Raises:
        ProjectError: the journal cannot be started or the file written; the file is as it was.
    """
    path, _, planned = cruft
    try:
        journal = Journal.begin(project, [CRUFT_FILE])
    except OSError as error:
        raise ProjectError(f"cannot start the upgrade: {error}") from None
    try:
        atomic_write(path, planned)
    except BaseException as error:
        with signals_deferred():
            journal.restore()
        if isinstance(error, OSError):
            raise ProjectError(f"{error}; files restored") from None
        raise
    journal.commit()


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while files are being put back, so a restore is never cut short."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _diff(path: Path, before: bytes, after: bytes) -> str:
    return "".join(
        difflib.unified_diff(
            before.decode("utf-8").splitlines(keepends=True),
            after.decode("utf-8").splitlines(keepends=True),
            fromfile=f"{path} (now)",
            tofile=f"{path} (planned)",
        )
    )


def upgrade_project(
    project: Path,
    target: Version,
    *,
    python: str | None = None,
    dry_run: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    log: TextIO | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Upgrade one project's rlcore requirement to ``target``, kept only if its tests pass.

    ``timeout`` bounds the tests' run in seconds (``None``: no limit); past it they are stopped
    and the project restored.

    Raises only what interrupts it (``KeyboardInterrupt``, SIGTERM), after restoring the files;
    ``outcome``, if given, is filled in as it goes, so the caller can still report it then.
    Progress goes to ``log`` (default: standard error), the dry run's diff to standard output.
    """
    outcome = Outcome(project) if outcome is None else outcome
    log = sys.stderr if log is None else log
    try:
        # Through a symbolic link, the file it leads to: it must be inside the project.
        pyproject = inside(project, "pyproject.toml")
        if dry_run and (project / JOURNAL_NAME).exists():
            raise ProjectError(
                f"{project / JOURNAL_NAME} is left from an interrupted upgrade; run without --dry-run"
            )
        restored = None if dry_run else recover(project)
        if restored is not None:
            print(
                f"{project.name}: restored from an interrupted upgrade's journal: {', '.join(restored) or 'no change'}",
                file=log,
                flush=True,
            )
        requirement = read_requirement(project)
        outcome.old = requirement.text
        outcome.new = requirement.retarget(target)
        current = requirement.version
        if requirement.same_target(outcome.new):
            # An answer that lags the requirement (a project made before the template stored it,
            # or moved by hand) would move the requirement back on `cruft update`: record it now.
            cruft = _planned_cruft_answer(project, target)
            if cruft is not None:
                if dry_run:
                    print(_diff(*cruft), end="", flush=True)
                else:
                    _record_answer(project, cruft)
                    print(
                        f"{project.name}: requirement already current; {CRUFT_FILE}: rlcore_version {target}",
                        file=log,
                        flush=True,
                    )
            outcome.result = "already current"
            return outcome
        if current is not None and current > target:
            raise ProjectError(
                f"the project already requires rlcore {current}, newer than the target {target}"
            )
        before = pyproject.read_bytes()
        # relative path -> (real path, bytes now, bytes planned); all checked before any is written.
        changes = {
            "pyproject.toml": (
                pyproject,
                before,
                rewrite_pyproject(pyproject, before, requirement.text, outcome.new),
            )
        }
        cruft = _planned_cruft_answer(project, target)
        if cruft is not None:
            changes[CRUFT_FILE] = cruft
        if dry_run:
            for path, now, planned_bytes in changes.values():
                print(_diff(path, now, planned_bytes), end="", flush=True)
            outcome.result = "dry run"
            return outcome
        interpreter = _project_python(project, python)
        installed = installed_rlcore(interpreter, cwd=project)
        if installed.reinstall_note is not None:
            # pip would resolve the new requirement against its stale record, not what the tests ran.
            raise ProjectError(
                f"the test interpreter's pip record is stale (rlcore {installed.metadata_version}; "
                f"it imports {installed.version})\n{installed.reinstall_note}"
            )
        interpreter_rlcore = installed.version
        planned = Requirement(outcome.new)
        if planned.url is not None:
            accepted = interpreter_rlcore == target
        else:
            accepted = planned.specifier.contains(interpreter_rlcore, prereleases=True)
        if not accepted:
            raise ProjectError(
                f"the test interpreter {interpreter} has rlcore {interpreter_rlcore}, which {outcome.new!r} "
                f"excludes; install rlcore {target} there first (or pass --python)"
            )
        removed = []
        if interpreter_rlcore == Version(__version__):
            changelog = find_changelog()
            sections = parse_changelog(changelog.read_text(encoding="utf-8")) if changelog else []
            removed = scan_project(project, sections).removed
    except ProjectError as error:
        outcome.result, outcome.reason = "failed", str(error)
        return outcome

    try:
        journal = Journal.begin(project, list(changes))
    except (ProjectError, OSError) as error:
        outcome.result, outcome.reason = "failed", f"cannot start the upgrade: {error}"
        return outcome
    try:
        for path, _, planned_bytes in changes.values():
            atomic_write(path, planned_bytes)
        answer = f" ({CRUFT_FILE}: rlcore_version {target})" if CRUFT_FILE in changes else ""
        print(
            f"{project.name}: {outcome.old} -> {outcome.new}{answer}; testing with {interpreter}",
            file=log,
            flush=True,
        )
        reasons, short = [], []
        try:
            returncode, tail = run_tests(project, interpreter, log, timeout)
        except TestsTimedOut as error:
            reasons.append(str(error))
            short.append(str(error))
        else:
            if returncode != 0:
                reasons.append(f"tests failed (pytest exit {returncode}):\n" + "\n".join(tail))
                short.append(
                    f"tests failed ({tail[-1].strip(' =') if tail else f'pytest exit {returncode}'})"
                )
        if removed:
            uses = "; ".join(f"{use.path}:{use.line} {use.name}" for use in removed)
            reasons.append(f"uses names removed in rlcore {interpreter_rlcore}: {uses}")
            short.append(f"{len(removed)} use(s) of removed names")
        if reasons:
            with signals_deferred():
                journal.restore()
            outcome.result, outcome.reason, outcome.short = "failed", "\n".join(reasons), "; ".join(short)
        else:
            with signals_deferred():
                journal.commit()
            outcome.result = "upgraded"
        return outcome
    except OSError as error:  # a file or the interpreter that cannot be written or run
        with signals_deferred():
            journal.restore()
        outcome.result, outcome.reason = "failed", f"{error}; files restored"
        return outcome
    except BaseException:
        with signals_deferred():
            journal.restore()
        outcome.result, outcome.reason = "interrupted", "interrupted; files restored"
        raise
