"""rlcore's ``CHANGELOG.md`` (Keep a Changelog): find the installed one, parse it, quote it (private).

:func:`find_changelog` locates the installed rlcore's changelog, :func:`parse_changelog` splits it
into :class:`ChangelogSection`, :func:`sections_between` picks the releases between two versions
and :func:`removal_notes` the entries that mention a name.

Imported only by the CLI subcommands, so ``import rlcore`` never loads ``packaging``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

__all__ = ["ChangelogSection", "find_changelog", "parse_changelog", "removal_notes", "sections_between"]


@dataclass(frozen=True)
class ChangelogSection:
    """One ``## [version]`` section of a Keep a Changelog file.

    Attributes:
        version: as written in the heading, e.g. ``"0.2.0"`` or ``"Unreleased"``.
        date: the text after ``" - "`` in the heading, or ``None``.
        changes: ``### Kind`` (``Added``, ``Changed``, ``Deprecated``, ``Removed``, ``Fixed``,
            ...) to its entries, each entry one string with continuation lines joined.
    """

    version: str
    date: str | None
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def parsed_version(self) -> Version | None:
        """The heading's version, or ``None`` for ``Unreleased`` and anything unparsable."""
        try:
            return Version(self.version)
        except InvalidVersion:
            return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"version": self.version, "date": self.date, "changes": self.changes}


_SECTION = re.compile(r"^##\s+\[(?P<version>[^\]]+)\](?:\s*-\s*(?P<date>\S.*?))?\s*$")
_KIND = re.compile(r"^###\s+(?P<kind>\S.*?)\s*$")
_ENTRY = re.compile(r"^[-*+]\s+(?P<text>.*)$")
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s")


def parse_changelog(text: str) -> list[ChangelogSection]:
    """Split a Keep a Changelog document into its sections, in file order.

    Example:
        >>> doc = "# Changelog\\n## [0.2.0] - 2025-01-31\\n### Removed\\n- `a.b`: gone;\\n  use `a.c`.\\n"
        >>> parse_changelog(doc)
        [ChangelogSection(version='0.2.0', date='2025-01-31', changes={'Removed': ['`a.b`: gone; use `a.c`.']})]
    """
    sections: list[ChangelogSection] = []
    kind: str | None = None
    entries: list[str] | None = None
    for line in text.splitlines():
        if heading := _SECTION.match(line):
            sections.append(ChangelogSection(heading["version"].strip(), heading["date"]))
            kind, entries = None, None
        elif (sub := _KIND.match(line)) and sections:
            kind = sub["kind"]
            entries = sections[-1].changes.setdefault(kind, [])
        elif line.startswith("#") or _LINK_DEFINITION.match(line):
            kind, entries = None, None
        elif entries is not None and (item := _ENTRY.match(line)):
            entries.append(item["text"].strip())
        elif entries and line.strip() and line[:1].isspace():
            entries[-1] = f"{entries[-1]} {line.strip()}"
    return sections


def sections_between(
    sections: Sequence[ChangelogSection], low: Version | None, high: Version
) -> list[ChangelogSection]:
    """The released sections with ``low < version <= high`` (all up to ``high`` when ``low`` is None).

    Ordered newest first, as in the file; ``Unreleased`` is never included.
    """
    chosen = []
    for section in sections:
        version = section.parsed_version
        if version is not None and (low is None or version > low) and version <= high:
            chosen.append(section)
    return sorted(chosen, key=lambda section: section.parsed_version or high, reverse=True)


def find_changelog(package_dir: Path | None = None) -> Path | None:
    """The installed rlcore's ``CHANGELOG.md``, or ``None`` if it was not shipped.

    Looked up beside the package: ``rlcore/CHANGELOG.md`` inside the package (where a wheel
    puts it through hatch's ``force-include``), then two levels above ``src/rlcore/`` (a
    source checkout or an editable install).

    Args:
        package_dir: the directory of the ``rlcore`` package; default: the imported one.
    """
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent.parent
    candidates = [package_dir / "CHANGELOG.md"]
    if package_dir.parent.name == "src":
        candidates.append(package_dir.parent.parent / "CHANGELOG.md")
    return next((path for path in candidates if path.is_file()), None)


def removal_notes(sections: Sequence[ChangelogSection], name: str) -> list[str]:
    """The ``Removed`` / ``Deprecated`` entries that mention ``name`` (or its last component) in backticks."""
    short = name.rsplit(".", 1)[-1]
    pattern = re.compile(rf"`(?:[\w.]*\.)?{re.escape(short)}(?:\(\))?`")
    notes = []
    for section in sections:
        for kind in ("Removed", "Deprecated"):
            for entry in section.changes.get(kind, []):
                if f"`{name}`" in entry or pattern.search(entry):
                    notes.append(f"[{section.version}] {kind}: {entry}")
    return notes
