"""``rlcore check [PROJECT ...] [--json]``: is each project ready for the installed rlcore?

For every project (default: the current directory) it reports:

* the rlcore requirement in ``pyproject.toml``'s ``[project] dependencies`` (a range such as
  ``rlcore>=0.1.0,<0.2``, or ``rlcore @ git+URL@v0.1.0#subdirectory=rlcore`` whose tag is the
  version) and whether the installed rlcore satisfies it: the version this interpreter
  imports (its ``rlcore/__init__.py``), with a note when pip's record of the install names
  another (an editable install after a ``git pull``) and the ``pip install -e`` that fixes it;
* the installed rlcore's CHANGELOG sections between the project's version and the installed one;
* every use, with file and line, of a deprecated rlcore name and of a name the installed
  rlcore no longer has, found statically (the project's code is parsed, never imported).

``rlcore check`` only reads: it never changes a project. A journal left by a killed
``rlcore upgrade`` is reported with the files ``rlcore upgrade --recover`` would restore (or
why the journal cannot be trusted), and the project counts as not ready until it is dealt
with. The exit status is 1 if any project's requirement is not satisfied, it uses a removed
name, it holds such a journal, or it cannot be read; deprecated uses alone only warn.

Example::

    $ rlcore check ../my-project
    $ rlcore check --json projects/* > report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from rlcore.cli._arguments import add_projects_argument
from rlcore.cli._changelog import ChangelogSection, find_changelog, parse_changelog, sections_between
from rlcore.cli._deprecated_scan import ScanResult, scan_project
from rlcore.cli._errors import ProjectError
from rlcore.cli._installed import installed_rlcore
from rlcore.cli._journal import JOURNAL_NAME, PendingJournal, inspect
from rlcore.cli._requirement import RlcoreRequirement, read_requirement

__all__ = ["ProjectReport", "add_arguments", "check_project", "format_report", "run"]


@dataclass
class ProjectReport:
    """What ``rlcore check`` found in one project.

    Attributes:
        path: the project's root directory.
        installed: the installed rlcore version.
        requirement: the project's rlcore requirement, if it could be read.
        changelog: CHANGELOG sections between the project's version and the installed one.
        scan: deprecated and removed names in use.
        journal: an interrupted upgrade's journal found in the project (``None``: there was none).
        error: why the project could not be checked, if it could not.
    """

    path: Path
    installed: Version
    requirement: RlcoreRequirement | None = None
    changelog: list[ChangelogSection] = field(default_factory=list)
    scan: ScanResult = field(default_factory=ScanResult)
    journal: PendingJournal | None = None
    error: str | None = None

    @property
    def satisfied(self) -> bool | None:
        """Whether the installed rlcore meets the requirement (``None``: unknown, e.g. a git branch)."""
        return None if self.requirement is None else self.requirement.satisfied_by(self.installed)

    @property
    def ok(self) -> bool:
        """No error, no interrupted upgrade, the requirement is not unmet, and no removed name is used."""
        return (
            self.error is None
            and self.journal is None
            and self.satisfied is not False
            and not self.scan.removed
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` output has one per project)."""
        requirement = self.requirement
        project_version = None if requirement is None else requirement.version
        return {
            "path": str(self.path),
            "name": self.path.name,
            "requirement": None if requirement is None else requirement.text,
            "requirement_kind": None if requirement is None else requirement.kind,
            "required_version": None if project_version is None else str(project_version),
            "installed": str(self.installed),
            "satisfied": self.satisfied,
            "changelog": [section.as_dict() for section in self.changelog],
            "deprecated": [use.as_dict() for use in self.scan.deprecated],
            "removed": [use.as_dict() for use in self.scan.removed],
            "unreadable": list(self.scan.unreadable),
            "interrupted_upgrade": None
            if self.journal is None
            else {"would_restore": self.journal.would_restore, "running_pid": self.journal.running_pid},
            "error": self.error,
            "ok": self.ok,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``rlcore check``'s arguments."""
    add_projects_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")


def check_project(project: Path, installed: Version, sections: list[ChangelogSection]) -> ProjectReport:
    """Check one project against the installed rlcore (version ``installed``, CHANGELOG ``sections``)."""
    report = ProjectReport(project, installed)
    try:
        report.journal = inspect(project)
    except ProjectError as error:
        report.error = f"{error} (rlcore check changed nothing)"
        return report
    try:
        report.requirement = read_requirement(project)
    except ProjectError as error:
        report.error = str(error)
        return report
    project_version = report.requirement.version
    low, high = installed, installed
    if project_version is not None:
        low, high = min(project_version, installed), max(project_version, installed)
    report.changelog = sections_between(sections, low if project_version is not None else None, high)
    report.scan = scan_project(project, sections)
    return report


def _status(report: ProjectReport) -> str:
    if report.error is not None:
        return "ERROR"
    problems = []
    if report.journal is not None:
        problems.append("an upgrade was interrupted")
    if report.satisfied is False:
        problems.append("requirement not satisfied")
    if report.scan.removed:
        problems.append(f"{len(report.scan.removed)} use(s) of removed names")
    if problems and report.scan.deprecated:
        problems.append(f"{len(report.scan.deprecated)} deprecated use(s)")
    if problems:
        return "FAIL (" + "; ".join(problems) + ")"
    if report.scan.deprecated:
        return f"OK with {len(report.scan.deprecated)} deprecated use(s) to fix before the removal release"
    return "OK"


def _journal_lines(journal: PendingJournal) -> list[str]:
    if journal.running_pid is not None:
        return [
            f"  an rlcore upgrade (pid {journal.running_pid}) is working on this project now "
            f"({JOURNAL_NAME}); check again when it has finished"
        ]
    would = ", ".join(journal.would_restore) or "nothing (no file had changed yet)"
    return [
        f"  an interrupted rlcore upgrade left {JOURNAL_NAME}; nothing was changed.",
        f"  `rlcore upgrade --recover` would restore: {would}",
    ]


def format_report(report: ProjectReport) -> str:
    """The human-readable report of one project."""
    lines = [f"== {report.path.name} ({report.path})"]
    if report.journal is not None:
        lines.extend(_journal_lines(report.journal))
    if report.error is not None:
        lines.append(f"  error: {report.error}")
        lines.append(f"  result: {_status(report)}")
        return "\n".join(lines)
    requirement = report.requirement
    assert requirement is not None  # set whenever error is None
    satisfied = {True: "satisfied", False: "NOT satisfied", None: "cannot tell (no version in the reference)"}
    lines.append(f"  requirement: {requirement.text}  ({requirement.kind})")
    lines.append(f"  installed:   rlcore {report.installed}: {satisfied[report.satisfied]}")
    project_version = requirement.version
    if report.changelog:
        span = f"{project_version} -> {report.installed}" if project_version else f"up to {report.installed}"
        lines.append(f"  changelog ({span}):")
        for section in report.changelog:
            lines.append(f"    [{section.version}]" + (f" - {section.date}" if section.date else ""))
            for kind, entries in section.changes.items():
                lines.append(f"      {kind}:")
                lines.extend(f"        - {entry}" for entry in entries)
    elif project_version != report.installed:
        lines.append("  changelog: no entries between the two versions")
    for title, uses in (
        ("removed names in use", report.scan.removed),
        ("deprecated names in use", report.scan.deprecated),
    ):
        if uses:
            lines.append(f"  {title} ({len(uses)}):")
            lines.extend(f"    {use.path}:{use.line}:{use.col}: {use.name}: {use.message}" for use in uses)
    for unreadable in report.scan.unreadable:
        lines.append(f"  skipped (cannot parse): {unreadable}")
    lines.append(f"  result: {_status(report)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``rlcore check``; returns 0 if every project is ready, 1 otherwise."""
    try:
        rlcore_here = installed_rlcore()
    except ProjectError as error:
        print(f"rlcore check: {error}", file=sys.stderr)
        return 1
    installed = rlcore_here.version
    changelog_path = find_changelog()
    sections = parse_changelog(changelog_path.read_text(encoding="utf-8")) if changelog_path else []
    reports = [check_project(Path(project).resolve(), installed, sections) for project in args.projects]
    if args.json:
        document = {
            "rlcore": {
                **rlcore_here.as_dict(),
                "changelog": None if changelog_path is None else str(changelog_path),
            },
            "projects": [report.as_dict() for report in reports],
            "ok": all(report.ok for report in reports),
        }
        print(json.dumps(document, indent=2))
    else:
        if rlcore_here.reinstall_note is not None:
            print(f"note: {rlcore_here.reinstall_note}")
        if changelog_path is None:
            print(f"note: the installed rlcore {installed} ships no CHANGELOG.md; no changelog entries shown")
        print("\n\n".join(format_report(report) for report in reports))
    sys.stdout.flush()
    return 0 if all(report.ok for report in reports) else 1
