"""How long the template takes: a bake, and a bake to a passing ``pytest`` in the new project.

Run from the repository root with the project's venv: ``python benchmarks/bench_template.py``
(``--repeats N`` for more bakes). Prints a table; asserts nothing about time.

The install step puts the project into an overlay venv that sees this venv's packages (as the
template's tests do), so it measures pip's resolution and the editable build, not downloading
torch. The first run of pip's isolated build also fetches hatchling into pip's cache.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import REPO, bake, make_overlay_venv, run


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1: the post-generation hook (a subprocess) prints next steps."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def timed(action: Callable[[], object]) -> float:
    with quiet_stdout():
        start = time.perf_counter()
        action()
        return time.perf_counter() - start


def bake_times(repeats: int, workdir: Path, **answers: object) -> list[float]:
    return [timed(lambda i=i: bake(REPO, workdir / f"bake-{i}", **answers)) for i in range(repeats)]


def bake_to_green(workdir: Path) -> dict[str, float]:
    """Seconds of each step from nothing to the generated project's tests passing."""
    steps: dict[str, float] = {}
    project_holder: list[Path] = []
    # rlcore from an index: this checkout's rlcore satisfies the range (the default, git, would
    # clone and build rlcore from the release tag: tests/test_readme_e2e.py runs that).
    steps["bake (rlcore_source=index, git init)"] = timed(
        lambda: project_holder.append(bake(REPO, workdir / "out", rlcore_source="index"))
    )
    project = project_holder[0]
    python_holder: list[Path] = []
    steps["overlay venv"] = timed(
        lambda: python_holder.append(make_overlay_venv(workdir / "venv", rlcore_checkout=True))
    )
    python = python_holder[0]
    steps['pip install -e ".[dev]"'] = timed(
        lambda: run([python, "-m", "pip", "install", "--quiet", "-e", f"{project}[dev]"], workdir)
    )
    # The project's own venv has none of this venv's pytest plugins but typeguard's (tyro's);
    # hypothesis' and xdist's cost 1-4 s of start-up here that a user does not pay.
    plugins = ["-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:xdist.looponfail"]
    steps["pytest (project's tests)"] = timed(
        lambda: run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins], project)
    )
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="bakes per configuration (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        configurations = {
            "defaults (with git init)": {},
            "defaults, no git init": {"init_git": False},
            "everything off": {"init_git": False, "notebooks": "none", "ci": "none", "license": "none"},
        }
        rows = []
        for label, answers in configurations.items():
            times = bake_times(args.repeats, workdir / label.replace(" ", "_"), **answers)
            rows.append((label, statistics.median(times), min(times)))
        print(f"Bake time ({args.repeats} bakes each, cookiecutter {_version('cookiecutter')})")
        print(f"| {'configuration':<28} | median s | min s | ratio to no-git |")
        print(f"| {'-' * 28} | -------- | ----- | --------------- |")
        reference = rows[1][1]
        for label, median, fastest in rows:
            print(f"| {label:<28} | {median:8.3f} | {fastest:5.3f} | {median / reference:15.2f} |")

        steps = bake_to_green(workdir / "green")
        total = sum(steps.values())
        print()
        print("Bake to a passing pytest in the generated project (one run)")
        print(f"| {'step':<28} | seconds | share of total |")
        print(f"| {'-' * 28} | ------- | -------------- |")
        for label, seconds in steps.items():
            print(f"| {label:<28} | {seconds:7.2f} | {seconds / total:14.0%} |")
        print(f"| {'total':<28} | {total:7.2f} | {1:14.0%} |")


def _version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


if __name__ == "__main__":
    main()
