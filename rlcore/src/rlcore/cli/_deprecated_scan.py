"""Static uses of deprecated or removed rlcore names in a project's code (private).

:func:`scan_project` parses the project's Python files with :mod:`ast`, never imports them, and
asks :class:`rlcore.cli._resolver.Resolver` (which imports the installed rlcore) whether each
rlcore name used is deprecated or gone; a removed name is quoted with its CHANGELOG entries.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlcore._version import __version__
from rlcore.cli._changelog import ChangelogSection, removal_notes
from rlcore.cli._resolver import UNKNOWN, Resolver, accepted_keywords

__all__ = ["ScanResult", "Use", "scan_project"]

# Directories that hold no code of the project's own: caches, build outputs, installed
# packages, run directories (W&B copies code into them). Virtual envs are found by pyvenv.cfg.
_SKIP_DIRS = frozenset({"__pycache__", "build", "dist", "node_modules", "site-packages", "runs", "wandb"})


@dataclass(frozen=True)
class Use:
    """One use of a deprecated or removed rlcore name in a project's code.

    Attributes:
        path: the file, relative to the project, with ``/`` separators.
        line: 1-based line number.
        col: 0-based column.
        name: the dotted rlcore name; for an argument ``"rlcore.mod.fn(arg)"``.
        status: ``"deprecated"`` or ``"removed"``.
        message: what is wrong and what to use instead.
        removed_in: for a deprecated name, the release that removes it.
        replacement: for a deprecated name, what to use instead, if known.
    """

    path: str
    line: int
    col: int
    name: str
    status: str
    message: str
    removed_in: str | None = None
    replacement: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "removed_in": self.removed_in,
            "replacement": self.replacement,
        }


@dataclass
class ScanResult:
    """Uses found in a project, and the files that could not be parsed (with the reason)."""

    uses: list[Use] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def deprecated(self) -> list[Use]:
        """The uses of deprecated names."""
        return [use for use in self.uses if use.status == "deprecated"]

    @property
    def removed(self) -> list[Use]:
        """The uses of names the installed rlcore no longer has."""
        return [use for use in self.uses if use.status == "removed"]


class _FileScanner(ast.NodeVisitor):
    """Collects the uses of rlcore names in one module's syntax tree."""

    def __init__(self, path: str, resolver: Resolver, notes: Sequence[ChangelogSection]) -> None:
        self.path = path
        self.resolver = resolver
        self.notes = notes
        self.bindings: dict[str, str] = {}
        self.uses: list[Use] = []

    def scan(self, tree: ast.AST) -> list[Use]:
        # Bindings are collected first and per file, whatever the scope: a static check that
        # would rather report a shadowed name than miss an import inside a function.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_rlcore(alias.name):
                        if alias.asname:
                            self.bindings[alias.asname] = alias.name
                        else:
                            self.bindings[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_rlcore(node.module or ""):
                for alias in node.names:
                    if alias.name != "*":
                        self.bindings[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.visit(tree)
        return self.uses

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_rlcore(alias.name):
                self._report(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and _is_rlcore(node.module or ""):
            module = node.module or ""
            if self._report(module, node):
                return
            for alias in node.names:
                if alias.name != "*":
                    self._report(f"{module}.{alias.name}", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is None:
            self.generic_visit(node)
        else:
            self._report(dotted, node)

    def visit_Call(self, node: ast.Call) -> None:
        target = node.func
        dotted = self._dotted(target) if isinstance(target, ast.Attribute) else None
        if isinstance(target, ast.Name) and target.id in self.bindings:
            dotted = self.bindings[target.id]
        if dotted is not None and node.keywords:
            self._check_keywords(dotted, node)
        self.generic_visit(node)

    def _dotted(self, node: ast.expr) -> str | None:
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.bindings:
            return None
        return ".".join([self.bindings[node.id], *reversed(attributes)])

    def _check_keywords(self, dotted: str, node: ast.Call) -> None:
        resolved = self.resolver.resolve(dotted)
        if resolved.obj is UNKNOWN or not callable(resolved.obj):
            return
        deprecated_args = self.resolver.deprecated_arguments(resolved.obj)
        accepted = accepted_keywords(resolved.obj)
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            name = f"{dotted}({keyword.arg})"
            if keyword.arg in deprecated_args:
                entry = deprecated_args[keyword.arg]
                self._add(
                    keyword, entry.name, "deprecated", entry.message, entry.removed_in, entry.replacement
                )
            elif accepted is not None and keyword.arg not in accepted:
                message = f"{dotted}() has no argument {keyword.arg!r} in rlcore {self.resolver.version}"
                self._add(keyword, name, "removed", self._with_notes(message, name))

    def _report(self, dotted: str, node: ast.AST) -> bool:
        """Record ``dotted`` if deprecated or missing; return whether it was missing."""
        resolved = self.resolver.resolve(dotted)
        if resolved.deprecation is not None:
            entry = resolved.deprecation
            self._add(node, entry.name, "deprecated", entry.message, entry.removed_in, entry.replacement)
        if resolved.missing is not None:
            parent, _, last = resolved.missing.rpartition(".")
            message = f"{parent} has no name {last!r} in rlcore {self.resolver.version}"
            self._add(node, resolved.missing, "removed", self._with_notes(message, resolved.missing))
            return True
        return False

    def _with_notes(self, message: str, name: str) -> str:
        notes = removal_notes(self.notes, name.partition("(")[0])
        return f"{message} (CHANGELOG {'; '.join(notes)})" if notes else message

    def _add(
        self,
        node: ast.AST,
        name: str,
        status: str,
        message: str,
        removed_in: str | None = None,
        replacement: str | None = None,
    ) -> None:
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        self.uses.append(Use(self.path, line, col, name, status, message, removed_in, replacement))


def _is_rlcore(module: str) -> bool:
    return module == "rlcore" or module.startswith("rlcore.")


def _python_files(project: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(
            name
            for name in dirs
            if not name.startswith(".")
            and name not in _SKIP_DIRS
            and not (Path(root, name, "pyvenv.cfg").exists())
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(root) / name


def scan_project(project: Path, notes: Sequence[ChangelogSection] = ()) -> ScanResult:
    """Find the uses of deprecated and removed rlcore names in ``project``'s Python files.

    Static: each file is parsed with :mod:`ast`. Found are imports (``from rlcore.x import y``,
    ``import rlcore.x``), attribute chains from an imported rlcore module (``import rlcore.x
    as m; m.y``, ``rlcore.x.y``), and keyword arguments of calls whose target resolves to an
    rlcore callable (deprecated ones, and ones its signature no longer accepts). Hidden
    directories, virtual environments, build outputs and run directories are skipped.

    Args:
        project: the project's root directory.
        notes: CHANGELOG sections whose ``Removed`` entries are quoted next to a removed name.
    """
    resolver = Resolver(__version__)
    result = ScanResult()
    seen = set()
    for path in _python_files(project):
        relative = path.relative_to(project).as_posix()
        try:
            tree = ast.parse(path.read_bytes(), filename=relative)
        except (SyntaxError, ValueError, OSError) as error:
            result.unreadable.append(f"{relative}: {error}")
            continue
        for use in _FileScanner(relative, resolver, notes).scan(tree):
            key = (use.path, use.line, use.name, use.status)
            if key not in seen:
                seen.add(key)
                result.uses.append(use)
    result.uses.sort(key=lambda use: (use.path, use.line, use.col, use.name))
    return result
