"""The notebooks in nbs/ are code and tests (nbdev): their tests pass, and the package
src/{{ cookiecutter.package_name }}/exported/ is what nbdev-export makes of them.

nbdev's commands run as ``nbdev-test`` and ``nbdev-export`` do, with this interpreter, in a copy
of the project's nbdev files: the export never writes over the committed modules. The modules
are compared as code (their syntax trees): the pre-commit hook ``nbdev-export`` also formats
them with ruff, and formatting and comments are ruff's to check.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
EXPORTED = Path("src", "{{ cookiecutter.package_name }}", "exported")


def nbdev(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run nbdev's console script ``command`` (e.g. ``nbdev-test``) in ``cwd``, with this python."""
    (script,) = importlib.metadata.entry_points(group="console_scripts", name=command)
    code = f"import sys; from {script.module} import {script.attr}; sys.exit({script.attr}())"
    # nbdev-export does nothing where IN_TEST is set (nbdev-test sets it for the notebooks).
    env = {key: value for key, value in os.environ.items() if key != "IN_TEST"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def copy_nbdev_files(destination: Path) -> Path:
    """Copy pyproject.toml (its [tool.nbdev]), nbs/ and the exported package; return the copy."""
    shutil.copy2(ROOT / "pyproject.toml", destination)
    shutil.copytree(ROOT / "nbs", destination / "nbs")
    shutil.copytree(ROOT / EXPORTED, destination / EXPORTED)
    return destination


def modules(package: Path) -> dict[str, str]:
    """The package's modules (``_modidx.py``, nbdev's index, aside): name -> syntax tree, dumped."""
    return {
        path.name: ast.dump(ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(package.glob("*.py"))
        if path.name != "_modidx.py"
    }


def test_the_notebooks_tests_pass(tmp_path: Path) -> None:
    done = nbdev("nbdev-test", copy_nbdev_files(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_exported_package_is_the_export_of_the_notebooks(tmp_path: Path) -> None:
    copy = copy_nbdev_files(tmp_path)
    for path in (copy / EXPORTED).glob("*.py"):
        if path.name != "__init__.py":
            path.unlink()
    done = nbdev("nbdev-export", copy)
    assert done.returncode == 0, done.stdout + done.stderr
    exported, committed = modules(copy / EXPORTED), modules(ROOT / EXPORTED)
    fix = "run `pre-commit run nbdev-export --all-files` (nbdev-export, then ruff format)"
    assert sorted(exported) == sorted(committed), f"{EXPORTED}: not the modules of nbs/: {fix}"
    for name, tree in committed.items():
        assert exported[name] == tree, f"{EXPORTED / name} is not the export of nbs/: {fix}"
