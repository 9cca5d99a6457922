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
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from packaging.version import InvalidVersion, Version

from rlcore._version import __version__
from rlcore.cli._arguments import add_projects_argument
from rlcore.cli._errors import ProjectError
from rlcore.cli._journal import recover
from rlcore.cli._project_tests import DEFAULT_TIMEOUT_S, PYTEST_ARGS, run_tests
from rlcore.cli._upgrade_project import Outcome, signals_deferred, upgrade_project

__all__ = ["PYTEST_ARGS", "Outcome", "add_arguments", "format_summary", "run", "run_tests", "upgrade_project"]


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the same clean-up as for Ctrl-C runs."""


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
            with signals_deferred():
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
