"""Small synthetic projects for the tests of ``rlcore check`` and ``rlcore upgrade``.

A project is a ``pyproject.toml`` with an rlcore requirement, a one-module package under
``src/`` and a tests folder; pytest finds the package through ``pythonpath = ["src"]``, so no
install is needed and the project's tests run in a second or two.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Mapping
from pathlib import Path

__all__ = ["make_project", "snapshot"]

_PASSING_TEST = """
from {package} import answer


def test_answer():
    assert answer() == 42
"""


def make_project(
    root: Path,
    name: str = "proj",
    *,
    requirement: str = "rlcore>=0.0.1,<0.1",
    code: str = "def answer():\n    return 42\n",
    tests: Mapping[str, str] | None = None,
) -> Path:
    """Write a project ``root/name`` and return its folder.

    Args:
        requirement: the rlcore entry of ``[project] dependencies``.
        code: the package's ``__init__.py``.
        tests: test file name to source; default one passing test of ``answer()``.
    """
    project = root / name
    package = name.replace("-", "_")
    (project / "src" / package).mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            version = "0.0.1"
            dependencies = [
                # the rlcore range below is what `rlcore upgrade` rewrites
                "numpy>=1.24",
                "{requirement}",
            ]

            [tool.pytest.ini_options]
            pythonpath = ["src"]
            testpaths = ["tests"]
            """
        ),
        encoding="utf-8",
    )
    (project / "src" / package / "__init__.py").write_text(code, encoding="utf-8")
    for file_name, source in (tests or {f"test_{package}.py": _PASSING_TEST.format(package=package)}).items():
        (project / "tests" / file_name).write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return project


def snapshot(project: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``project`` (relative POSIX path) -> (SHA-256 of its bytes, permission bits)."""
    return {
        path.relative_to(project).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mode & 0o7777,
        )
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }
