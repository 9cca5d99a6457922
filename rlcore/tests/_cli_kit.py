"""Small synthetic projects for the tests of ``rlcore check`` and ``rlcore upgrade``.

A project is a ``pyproject.toml`` with an rlcore requirement, a one-module package under
``src/`` and a tests folder; pytest finds the package through ``pythonpath = ["src"]``, so no
install is needed and the project's tests run in a second or two. :func:`cruft_record` is the
``.cruft.json`` that cruft writes for a project of rlcore's template.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["cruft_json", "cruft_record", "make_project", "snapshot", "tree"]

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


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (links not followed) -> what it is: a file's bytes, a link's target."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = "link -> " + os.readlink(path)
        elif path.is_file():
            found[relative] = path.read_bytes().decode("latin-1")
        else:
            found[relative] = "dir"
    return found


def cruft_record(rlcore_version: str | None = "0.0.1", **answers: Any) -> dict[str, Any]:
    """A ``.cruft.json`` record of rlcore's template (``rlcore_version`` left out when ``None``)."""
    context: dict[str, Any] = {
        "project_name": "Café RL",  # cruft writes with ensure_ascii=False
        "project_slug": "proj",
        "rlcore_source": "index",
    }
    if rlcore_version is not None:
        context["rlcore_version"] = rlcore_version
    context.update(answers)
    context.update(_template="https://example.org/lab/rl-template.git", _commit="a" * 40)
    return {
        "template": "https://example.org/lab/rl-template.git",
        "commit": "a" * 40,
        "checkout": None,
        "context": {"cookiecutter": context},
        "directory": None,
    }


def cruft_json(record: Mapping[str, Any]) -> bytes:
    """``record`` as cruft writes it."""
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
