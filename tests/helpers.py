"""Shared helpers of the template's tests: baking, the expected tree, commands, overlay venvs."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
from cookiecutter.main import cookiecutter

__all__ = [
    "AGENTS_OF",
    "CACHE",
    "ENVS_OF",
    "REPO",
    "TEMPLATE_FILES",
    "bake",
    "choice_options",
    "conflict_markers",
    "copy_template",
    "copy_template_repo",
    "cruft_update",
    "expected_files",
    "install_dev",
    "load_module",
    "make_overlay_venv",
    "notebooks_kind",
    "pairwise",
    "project_files",
    "release_repo",
    "run",
    "run_pre_commit",
    "template_files_at",
]

REPO = Path(__file__).resolve().parents[1]
# Git-ignored (`.cache/` in the root .gitignore): the mypy cache and pre-commit's environments
# survive between runs, so only the first run pays for analysing torch or installing hooks.
CACHE = REPO / ".cache"
# What makes up the template (everything else at the root belongs to the monorepo).
TEMPLATE_FILES = (
    "cookiecutter.json",
    "local_extensions.py",
    "hooks",
    "templates",
    "{{cookiecutter.project_slug}}",
)


def choice_options() -> dict[str, list[Any]]:
    """Every option of cookiecutter.json with a closed set of values: choices, yes/no answers, and
    the text answer ``notebooks`` (its kinds, which the pre-generation hook checks)."""
    context = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    kinds = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project").NOTEBOOK_KINDS
    options: dict[str, list[Any]] = {}
    for key, value in context.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list):
            options[key] = list(value)
        elif isinstance(value, bool):
            options[key] = [value, not value]
        elif key == "notebooks":
            options[key] = [value, *(kind for kind in kinds if kind != value)]
    return options


def notebooks_kind(answer: Any) -> str:
    """The kind of notebooks (jupyter, nbdev, none) that the answer ``notebooks`` gives.

    A kind, or a value of the former yes/no question, as projects made before the three kinds
    store it (``True``, ``"no"``, ...). The template maps it with ``__notebooks_kind``, a Jinja
    expression of cookiecutter.json, which this renders: the tests use that one mapping too.
    """
    expression = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))["__notebooks_kind"]
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return environment.from_string(expression).render(cookiecutter={"notebooks": answer})


def pairwise(options: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """A small set of combinations in which every pair of values of every two options occurs.

    Deterministic greedy construction (in the style of AETG): each new combination starts from
    the first pair not yet covered and gives every other option the value that covers the most
    new pairs (the first such value on a tie).
    """
    names = list(options)

    def pair(first: tuple[str, Any], second: tuple[str, Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
        return (first, second) if names.index(first[0]) < names.index(second[0]) else (second, first)

    uncovered = {
        pair((a, va), (b, vb)) for a, b in combinations(names, 2) for va in options[a] for vb in options[b]
    }
    rows: list[dict[str, Any]] = []
    while uncovered:
        first, second = min(uncovered, key=lambda p: (names.index(p[0][0]), names.index(p[1][0]), repr(p)))
        row = dict([first, second])
        for name in names:
            if name not in row:
                gains = [
                    sum(pair(item, (name, value)) in uncovered for item in row.items())
                    for value in options[name]
                ]
                row[name] = options[name][gains.index(max(gains))]
        rows.append({name: row[name] for name in names})
        uncovered -= {pair(p, q) for p, q in combinations(row.items(), 2)}
    return rows


def load_module(path: Path, name: str) -> ModuleType:
    """Import the Python file ``path`` as a module named ``name`` (hooks are not on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bake(template: Path | str, output_dir: Path, **answers: Any) -> Path:
    """Generate a project with cookiecutter's Python API, no prompts; return its folder."""
    return Path(cookiecutter(str(template), no_input=True, extra_context=answers, output_dir=str(output_dir)))


# The agent files each example_agent answer bakes (one file each, plus its tests and config).
AGENTS_OF: dict[str, tuple[str, ...]] = {"ppo": ("ppo",), "dqn": ("dqn",), "all": ("ppo", "dqn"), "none": ()}
# The env module each custom_env answer bakes (in the package's envs/, with its test).
ENVS_OF: dict[str, tuple[str, ...]] = {"numpy": ("point_mass",), "pybullet": ("cartpole_bullet",), "none": ()}


def expected_files(answers: Mapping[str, Any]) -> set[str]:
    """The files (relative POSIX paths, ``.git/`` aside) that a bake with these answers must hold."""
    package = f"src/{answers['package_name']}"
    files = {
        ".cruft.json",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".python-version",
        "README.md",
        "pyproject.toml",
        f"{package}/__init__.py",
        f"{package}/py.typed",
        f"{package}/agents.py",
        f"{package}/train.py",
        f"{package}/evaluate.py",
        f"{package}/sweep.py",
        "tests/conftest.py",
        "tests/test_agents.py",
    }
    if answers["license"] != "none":
        files.add("LICENSE")
    kind = notebooks_kind(answers["notebooks"])
    if kind == "jupyter":
        files |= {"notebooks/quickstart.ipynb", "tests/test_notebooks.py"}
    elif kind == "nbdev":
        exported = f"{package}/exported"
        files |= {
            "nbs/00_shaping.ipynb",
            f"{exported}/__init__.py",
            f"{exported}/shaping.py",
            "tests/test_nbdev.py",
        }
    if answers["ci"] == "github":
        files.add(".github/workflows/ci.yml")
    for agent in AGENTS_OF[answers["example_agent"]]:
        files |= {f"{package}/{agent}.py", f"tests/test_{agent}.py", f"configs/{agent}-cartpole.toml"}
    if AGENTS_OF[answers["example_agent"]]:
        files |= {"tests/test_distributed.py", "tests/test_atari.py"}
    for env in ENVS_OF[answers["custom_env"]]:
        files |= {f"{package}/envs/__init__.py", f"{package}/envs/{env}.py", f"tests/test_{env}.py"}
    return files


def project_files(project: Path) -> set[str]:
    """The files under ``project`` (relative POSIX paths), outside ``.git/``."""
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def run(
    command: Sequence[str | Path], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on a non-zero exit, fail with its output (what a reader needs to fix it)."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(map(str, command))}` in {cwd} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def template_files_at(commit: str) -> list[str]:
    """The entries of :data:`TEMPLATE_FILES` that this repository's ``commit`` holds (older ones lack some)."""
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", commit], cwd=REPO, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        raise AssertionError(
            f"the commit {commit} is not in this clone's history (a shallow clone? "
            f"`git fetch --unshallow`): {listed.stderr.strip()}"
        )
    return [name for name in TEMPLATE_FILES if name in listed.stdout.split()]


def copy_template(destination: Path) -> Path:
    """Copy the template's files (not the rest of the monorepo) into ``destination``; return it."""
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in TEMPLATE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def copy_template_repo(destination: Path) -> Path:
    """Copy the template's files into a fresh git repository with one commit; return its path."""
    _git_commit(copy_template(destination), "Template")
    return destination


# Build and tool outputs that a copy of rlcore/ leaves behind.
_RLCORE_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".hypothesis", ".ruff_cache", "*.egg-info", "dist"
)


def release_repo(destination: Path) -> Path:
    """A git repository like this one at an rlcore release: the template and ``rlcore/``, tagged.

    The template's files and this checkout's ``rlcore/`` (as on disk now) in one commit, tagged
    ``v<rlcore.__version__>``: what a lab's hosted template repository holds after ``make
    release``, so that the default ``rlcore_source=git`` installs from it. Return its path.
    """
    import rlcore

    copy_template(destination)
    shutil.copytree(REPO / "rlcore", destination / "rlcore", ignore=_RLCORE_IGNORE)
    _git_commit(destination, "Template and rlcore")
    run(["git", "tag", "-a", f"v{rlcore.__version__}", "-m", f"rlcore {rlcore.__version__}"], destination)
    return destination


def _git_commit(repo: Path, message: str) -> None:
    if not (repo / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], repo)
        run(["git", "config", "user.name", "Template Tests"], repo)
        run(["git", "config", "user.email", "template-tests@example.org"], repo)
    run(["git", "add", "--all"], repo)
    run(["git", "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", message], repo)


def install_dev(python: Path, project: Path) -> None:
    """``pip install -e "<project>[dev]"`` with ``python``, as a user installs a generated project."""
    run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{project}[dev]"],
        project,
    )


def make_overlay_venv(path: Path, *, rlcore_checkout: bool) -> Path:
    """Create a venv that sees this venv's packages and return its python.

    Installing there leaves this venv untouched, and torch & co. need no download: a ``.pth``
    file puts this venv's site-packages on ``sys.path``, after the overlay's own. With
    ``rlcore_checkout`` the checkout's ``rlcore/src`` comes first too (this venv's editable
    install of rlcore is a ``.pth`` file itself, which Python does not follow from a
    ``.pth``-added folder). The scripts ``mypy`` and ``pytest`` are added so that they run with
    the overlay's python (pre-commit's mypy hook calls ``mypy`` from PATH).
    """
    run([sys.executable, "-m", "venv", "--without-pip", path], path.parent)
    python = path / "bin" / "python"
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], path).stdout.strip()
    )
    ours = sysconfig.get_paths()
    lines = [str(REPO / "rlcore" / "src")] if rlcore_checkout else []
    lines += sorted({ours["purelib"], ours["platlib"]})
    (site / "_overlay.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for tool, module in (("mypy", "mypy"), ("pytest", "pytest")):
        script = path / "bin" / tool
        script.write_text(f"#!{python}\nimport runpy\nrunpy.run_module({module!r}, run_name='__main__')\n")
        script.chmod(0o755)
    return python


def run_pre_commit(python: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pre-commit run args`` in ``project`` with an overlay venv's ``python``; the exit status left to the caller.

    The hook environments come from PyPI into the shared cache; mypy (a ``language: system``
    hook) runs with ``python``'s environment, which has the project installed.
    """
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(CACHE / "pre-commit"),
        "PATH": os.pathsep.join([str(python.parent), os.environ["PATH"]]),
        "MYPY_CACHE_DIR": str(CACHE / "template-tests" / "mypy" / "py3.11"),
    }
    return subprocess.run(
        [python, "-m", "pre_commit", "run", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def conflict_markers(project: Path) -> list[str]:
    """``path:line`` of every conflict marker line in the project's files (``.git/`` aside)."""
    found = []
    for relative in sorted(project_files(project)):
        text = (project / relative).read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======":
                found.append(f"{relative}:{number}")
    return found


def cruft_update(project: Path, checkout: str) -> None:
    """The documented command, ``cruft update -y --checkout <tag>``, in its own process.

    It must apply cleanly: exit 0, cruft's success message, no ``*.rej`` file, no conflict marker.
    """
    done = subprocess.run(
        [Path(sys.executable).with_name("cruft"), "update", "-y", "--checkout", checkout],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Good work!" in done.stdout, done.stdout + done.stderr
    assert not list(project.rglob("*.rej")), "the update left rejected hunks"
    assert not conflict_markers(project), f"conflict markers: {conflict_markers(project)}"
