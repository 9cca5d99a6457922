"""``rlcore upgrade [PROJECT ...] [--dry-run] [--to VERSION] [--python PATH] [--timeout S] [--recover]``.

Moves projects to a new rlcore.

For each project (default: the current directory) it rewrites the rlcore requirement in
``pyproject.toml`` to the range rlcore promises compatibility for (``>=0.Y.Z,<0.(Y+1)`` while
0.x, ``>=X.Y,<X+1`` from 1.0; a git reference gets the tag ``vX.Y.Z``), for the installed
rlcore's version unless ``--to`` names another. It then runs the project's tests::

    <python> -m pytest -q -p no:cacheprovider -W error::rlcore.deprecation.RLCoreDeprecationWarning

(``PYTHONDONTWRITEBYTECODE=1`` and Hypothesis' database in a temporary directory, so the run
leaves no file behind), with ``--python``, else the project's ``.venv/bin/python``, else this
interpreter, which must import an rlcore the new requirement accepts (the version its
``rlcore/__init__.py`` declares, as ``rlcore check`` reports it) and whose pip record must name
that version too: a stale ``.dist-info`` of an editable install, left by a ``git pull`` in its
checkout, is refused with the ``pip install -e`` that fixes it. The change is kept only
if the tests pass within ``--timeout`` seconds (default 1800) and the code imports no name the
new rlcore removed; otherwise every file is put back byte for byte and the summary says why.
A requirement with extras or an environment marker keeps them as written. A ``pyproject.toml``
that is a symbolic link is written through (the link stays); one that leads out of the project
is refused: rlcore writes only inside the project.

A project made from rlcore's template keeps the rlcore release it is written against as the
template answer ``rlcore_version`` in cruft's ``.cruft.json`` (``context.cookiecutter``, beside
``rlcore_source``), and the template renders the requirement from it; ``cruft update`` renders
with the stored answers and so never moves the requirement. ``rlcore upgrade`` is the channel
that does, so it sets that answer to the new version in the same change (in place, every other
byte kept), journaled and restored with ``pyproject.toml``; a project whose requirement is
already current gets a missing or lagging answer recorded alone (no test run: no requirement
changes). A ``.cruft.json`` of another template is left alone; one that is not valid JSON fails
the project before anything is written.

A project is never left half-changed: the original bytes are written to a journal
(``.rlcore-upgrade-journal.json``) in the project before the first change, files are replaced
atomically, and the journal is replayed on failure, on Ctrl-C or SIGTERM (the tests, which run
in their own process group, are stopped first), and, after a hard kill, by the next
``rlcore upgrade`` on that project, or by ``rlcore upgrade --recover``, which only does that.
A hard kill of the upgrade also stops the tests: a small watchdog process ends their process
group when the upgrade's end of a pipe closes. ``rlcore check`` reports a leftover journal and
changes nothing. A journal is checked before it is replayed (:mod:`rlcore.cli._journal`).
``--dry-run`` prints the planned diffs and changes nothing. The exit status is 1 if any project
failed, 130 / 143 when interrupted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import difflib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TextIO

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from rlcore._version import __version__
from rlcore.cli._journal import JOURNAL_NAME, Journal, atomic_write, inside, recover
from rlcore.cli._project import (
    CRUFT_FILE,
    ProjectError,
    add_projects_argument,
    find_changelog,
    installed_rlcore,
    parse_changelog,
    read_requirement,
    rewrite_cruft_answer,
    rewrite_pyproject,
    scan_project,
)

__all__ = ["PYTEST_ARGS", "Outcome", "add_arguments", "format_summary", "run", "run_tests", "upgrade_project"]

#: The test command's arguments after ``<python> -m pytest``.
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-W", "error::rlcore.deprecation.RLCoreDeprecationWarning")
_TAIL_LINES = 15
_HEARTBEAT_S = 5.0
_STOP_GRACE_S = 5.0
#: Default for ``--timeout``: how long the project's tests may run.
DEFAULT_TIMEOUT_S = 1800.0
# cruft writes a few kilobytes; the journal, which copies the file, must stay far below its limit.
_MAX_CRUFT_BYTES = 1024 * 1024
# Run by a separate interpreter in its own session: it waits for the upgrade's end of its stdin
# pipe to close. A clean finish writes "done" first; an upgrade killed with SIGKILL cannot, and
# the watchdog then kills the tests' process group, which would otherwise run on unsupervised.
_WATCHDOG = """
import os, signal, sys
if not sys.stdin.buffer.read().endswith(b"done"):
    try:
        os.killpg(int(sys.argv[1]), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
"""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the same clean-up as for Ctrl-C runs."""


class TestsTimedOut(Exception):
    """The project's tests ran longer than the timeout (their process group has been stopped)."""


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``rlcore upgrade``'s arguments."""
    add_projects_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the planned rewrite and change nothing")
    parser.add_argument("--to", metavar="VERSION", help="target rlcore version (default: the installed one)")
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter that runs the tests (default: the project's .venv/bin/python, else this one)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"stop the project's tests after this long and restore it (default: {DEFAULT_TIMEOUT_S:.0f})",
    )
    parser.add_argument(
        "--recover",
        action="store_true",
        help="only undo an interrupted upgrade left in each project (its journal) and change nothing else",
    )


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
        with _signals_deferred():
            journal.restore()
        if isinstance(error, OSError):
            raise ProjectError(f"{error}; files restored") from None
        raise
    journal.commit()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
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


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the test run's whole process group: SIGTERM, then SIGKILL after a grace period."""
    if process.poll() is not None:
        return
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        process.kill()
        process.wait()
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=_STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _pump(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    lines.put(None)


def _start_watchdog(process_group: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(process_group)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C or SIGTERM meant for the upgrade does not reach it
    )


def _release_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    assert watchdog.stdin is not None
    with contextlib.suppress(OSError):
        watchdog.stdin.write(b"done")
        watchdog.stdin.close()
    watchdog.wait()


def run_tests(
    project: Path, python: str, log: TextIO, timeout: float | None = DEFAULT_TIMEOUT_S
) -> tuple[int, list[str]]:
    """Run the project's tests with ``python``; stream them to ``log`` with the elapsed time.

    Returns the exit status and the last lines of the output. On an exception (Ctrl-C,
    SIGTERM) the run's process group is stopped before the exception propagates; a watchdog
    process stops it too if this process is killed outright.

    Raises:
        TestsTimedOut: the tests ran longer than ``timeout`` seconds (``None``: no limit);
            their process group has been stopped.
    """
    command = [python, "-m", "pytest", *PYTEST_ARGS]
    name = project.name
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with tempfile.TemporaryDirectory(prefix="rlcore-upgrade-") as scratch:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_STORAGE_DIRECTORY=scratch)
        start = time.monotonic()
        print(f"  {name}: running {' '.join(command[1:])}", file=log, flush=True)
        # Its own session: a terminal's Ctrl-C reaches only us, and we stop the whole group
        # (pytest-xdist workers included) after restoring nothing half-way.
        process = subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watchdog = _start_watchdog(process.pid) if hasattr(os, "killpg") else None
        try:
            assert process.stdout is not None
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
            last_print = start
            while True:
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TestsTimedOut(f"tests did not finish within {timeout:g}s (--timeout)")
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    if time.monotonic() - last_print >= _HEARTBEAT_S:
                        print(f"  {name} [{time.monotonic() - start:6.1f}s] ...", file=log, flush=True)
                        last_print = time.monotonic()
                    continue
                if line is None:
                    break
                if line.strip():
                    tail.append(line)
                print(f"  {name} [{time.monotonic() - start:6.1f}s] {line}", file=log, flush=True)
                last_print = time.monotonic()
            # Output closed: the run is ending (or detached its output), still within the limit.
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            try:
                returncode = process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                raise TestsTimedOut(f"tests did not finish within {timeout:g}s (--timeout)") from None
        except BaseException:
            _stop(process)
            raise
        finally:
            if watchdog is not None:
                _release_watchdog(watchdog)
            if process.stdout is not None:
                process.stdout.close()
    print(f"  {name}: tests exited {returncode} after {time.monotonic() - start:.1f}s", file=log, flush=True)
    return returncode, list(tail)


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
            with _signals_deferred():
                journal.restore()
            outcome.result, outcome.reason, outcome.short = "failed", "\n".join(reasons), "; ".join(short)
        else:
            with _signals_deferred():
                journal.commit()
            outcome.result = "upgraded"
        return outcome
    except OSError as error:  # a file or the interpreter that cannot be written or run
        with _signals_deferred():
            journal.restore()
        outcome.result, outcome.reason = "failed", f"{error}; files restored"
        return outcome
    except BaseException:
        with _signals_deferred():
            journal.restore()
        outcome.result, outcome.reason = "interrupted", "interrupted; files restored"
        raise


def format_summary(outcomes: Sequence[Outcome]) -> str:
    """The summary table: project, old requirement, new requirement, result."""
    rows = [("project", "old requirement", "new requirement", "result")]
    for outcome in outcomes:
        result = outcome.result
        if outcome.result == "failed" and outcome.reason:
            result = f"failed: {outcome.short or outcome.reason.splitlines()[0]}"
        rows.append((outcome.path.name, outcome.old or "-", outcome.new or "-", result))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths) + "  " + "-" * len(rows[0][3]))
    return "\n".join(lines)


def _recover_all(projects: Sequence[Path]) -> int:
    """``--recover``: undo the journal left in each project, if any; returns 1 if one could not be."""
    outcomes = []
    for project in projects:
        outcome = Outcome(project)
        try:
            with _signals_deferred():
                restored = recover(project)
        except (ProjectError, OSError) as error:
            outcome.result, outcome.reason = "failed", str(error)
        else:
            if restored is None:
                outcome.result = "nothing to recover"
            else:
                outcome.result = "recovered"
                print(
                    f"{project.name}: restored {', '.join(restored) or 'nothing (no file had changed yet)'}"
                )
        outcomes.append(outcome)
        if outcome.result == "failed":
            print(f"\n{project.name} failed: {outcome.reason}")
    print("\n" + format_summary(outcomes))
    sys.stdout.flush()
    return 1 if any(outcome.failed for outcome in outcomes) else 0


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(signum)


def run(args: argparse.Namespace) -> int:
    """Run ``rlcore upgrade``; returns 0 if no project failed, 1 otherwise (130 / 143: interrupted)."""
    try:
        target = Version(args.to) if args.to else Version(__version__)
    except InvalidVersion:
        print(f"rlcore upgrade: --to {args.to!r} is not a version; expected e.g. 0.2.0", file=sys.stderr)
        return 2
    if args.timeout is not None and not (args.timeout > 0):  # NaN and inf's negative fail here too
        print(f"rlcore upgrade: --timeout {args.timeout!r} must be a number of seconds > 0", file=sys.stderr)
        return 2
    projects = [Path(project).resolve() for project in args.projects]
    if args.recover:
        return _recover_all(projects)
    outcomes = [Outcome(project) for project in projects]
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    status = 0
    try:
        for outcome in outcomes:
            upgrade_project(
                outcome.path,
                target,
                python=args.python,
                dry_run=args.dry_run,
                timeout=args.timeout,
                outcome=outcome,
            )
    except (KeyboardInterrupt, _Terminated) as interruption:
        status = 143 if isinstance(interruption, _Terminated) else 130
        current = next(
            (outcome for outcome in outcomes if outcome.result in ("not run", "interrupted")), None
        )
        if current is not None:
            current.result, current.reason = "interrupted", "interrupted; its files were restored"
        print("\nrlcore upgrade: interrupted; files restored, later projects not run", file=sys.stderr)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    for outcome in outcomes:
        if outcome.result == "failed":
            print(f"\n{outcome.path.name} failed: {outcome.reason}")
    print("\n" + format_summary(outcomes))
    sys.stdout.flush()
    if status:
        return status
    return 1 if any(outcome.failed for outcome in outcomes) else 0
