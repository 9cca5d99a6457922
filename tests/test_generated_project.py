"""Install a generated project next to this checkout's rlcore and run its own gates (slow).

Two bakes: the defaults (rlcore from the template's own git repository, here a local copy
holding this checkout's template and ``rlcore/`` at the tag ``v<version>``; PPO, the notebook, CI), and both
agents with rlcore from a package index (``example_agent=all``; here the checkout's rlcore
satisfies the range). (The defaults as they are, PPO with rlcore from an index, are baked,
installed and tested by ``test_migration_e2e.py``'s last template update.) Each is
installed editable with its ``dev`` extra into its own overlay venv (this venv stays
untouched), then: the project's pytest (which runs the quickstart notebook on a kernel of the
overlay's python: ``tests/test_notebooks.py``), a run of the train command from an example
config file, ``pre-commit run --all-files`` (hook environments cached in ``.cache/pre-commit``),
and a wheel build. (The nbdev notebooks: ``test_notebooks_e2e.py``.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import AGENTS_OF, CACHE, REPO, bake, install_dev, make_overlay_venv, release_repo, run

import rlcore

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    source: str
    project: Path
    python: Path
    package: str
    agents: tuple[str, ...]


@pytest.fixture(scope="module", params=["git", "index-all"])
def installed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The git option (PPO) and both agents from an index: each baked, installed, ready to test."""
    root = tmp_path_factory.mktemp(f"install-{request.param}")
    source, _, agent = request.param.partition("-")
    answers: dict[str, str] = {"rlcore_source": source} | ({"example_agent": agent} if agent else {})
    # The git option takes rlcore from the template's own repository at the release tag.
    template = release_repo(root / "template") if source == "git" else REPO
    project = bake(template, root / "out", **answers)
    python = make_overlay_venv(root / "venv", rlcore_checkout=source == "index")
    install_dev(python, project)
    return Installed(source, project, python, "rl_research", AGENTS_OF[agent or "ppo"])


def test_rlcore_comes_from_where_the_option_says(installed: Installed) -> None:
    location = run(
        [installed.python, "-c", "import rlcore; print(rlcore.__file__)"], installed.project
    ).stdout
    if installed.source == "git":
        assert location.startswith(str(installed.python.parents[1]))
    else:
        assert location.startswith(str(REPO / "rlcore" / "src"))
    # This venv still has the checkout's editable rlcore.
    assert Path(rlcore.__file__).is_relative_to(REPO / "rlcore" / "src")


def test_project_tests_pass(installed: Installed) -> None:
    result = run([installed.python, "-m", "pytest", "-v", "-p", "no:cacheprovider"], installed.project)
    assert " passed" in result.stdout and "failed" not in result.stdout
    # The agents' own learning tests ran, and the tiny agent trained, resumed and swept through
    # the project's entry points (Ray is installed here; nothing was skipped silently).
    for agent in installed.agents:
        assert f"tests/test_{agent}.py::test_learns_cartpole PASSED" in result.stdout
    assert (
        "tests/test_agents.py::test_train_command_trains_then_resumes_for_more_steps PASSED" in result.stdout
    )
    assert "tests/test_agents.py::test_sweep_command_sweeps_a_grid_and_summarises_it PASSED" in result.stdout
    # The quickstart notebook ran, in a copy: it showed its learning curve and a video.
    assert "tests/test_notebooks.py::test_notebook_runs[quickstart.ipynb] PASSED" in result.stdout
    assert not (installed.project / "notebooks" / "runs").exists()
    assert "SKIPPED" not in result.stdout


def test_train_command_trains_an_agent(installed: Installed) -> None:
    agent = installed.agents[-1]
    run_dir = installed.project / "runs" / "cli"
    args = ["--config", f"configs/{agent}-cartpole.toml", "--run-dir", run_dir, "--no-progress"]
    args += ["--total-timesteps", "1024", "--eval-every", "512", "--final-eval-episodes", "2"]
    args += ["--capture-video"]
    result = run([installed.python, "-m", f"{installed.package}.train", agent, *args], installed.project)
    assert f"run directory:  {run_dir}" in result.stdout
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert (record["algo"], record["total_timesteps"]) == (agent, 1024)
    # The experiment file is kept with the run; the flags won over it and the tuned values.
    assert (run_dir / "config.toml").read_text(encoding="utf-8") == (
        installed.project / "configs" / f"{agent}-cartpole.toml"
    ).read_text(encoding="utf-8")
    # A playable MP4 per evaluation, with what the project installed (no system ffmpeg needed).
    count = "import imageio_ffmpeg, sys; print(imageio_ffmpeg.count_frames_and_secs(sys.argv[1])[0])"
    videos = sorted((run_dir / "videos").glob("step_*-episode-0.mp4"))
    assert len(videos) == 2  # the evaluation at 512 and the final one
    for video in videos:
        assert int(run([installed.python, "-c", count, video], installed.project).stdout) >= 2
    # The evaluate command, on the finished run: its own final evaluation again, and a video.
    evaluated = run(
        [installed.python, "-m", f"{installed.package}.evaluate", run_dir, "--video"], installed.project
    )
    assert "IQM" in evaluated.stdout
    step = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))["step"]
    report = json.loads((run_dir / f"evaluate-{step}.json").read_text(encoding="utf-8"))
    final = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    assert report["episode_returns"] == final["episode_returns"]
    assert len(report["videos"]) == 1
    shutil.rmtree(installed.project / "runs")


def test_pre_commit_passes_on_all_files(installed: Installed) -> None:
    env = {
        "PRE_COMMIT_HOME": str(CACHE / "pre-commit"),
        # mypy (a `language: system` hook) must run with the overlay's python.
        "PATH": os.pathsep.join([str(installed.python.parent), os.environ["PATH"]]),
        "MYPY_CACHE_DIR": str(CACHE / "template-tests" / "mypy" / "py3.11"),
    }
    run(
        [installed.python, "-m", "pre_commit", "run", "--all-files", "--show-diff-on-failure"],
        installed.project,
        env,
    )
    # Nothing was rewritten by the fixers, and a leftover .rej file is refused.
    assert run(["git", "status", "--porcelain"], installed.project).stdout == ""
    rej = installed.project / "README.md.rej"
    rej.write_text("@@ -1 +1 @@\n")
    try:
        failed = subprocess.run(
            [installed.python, "-m", "pre_commit", "run", "no-rej-files", "--files", rej.name],
            cwd=installed.project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert failed.returncode == 1
        assert "leftover .rej file from a template update" in failed.stdout
    finally:
        rej.unlink()


def test_wheel_builds(installed: Installed, tmp_path: Path) -> None:
    run(
        [installed.python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path, installed.project],
        tmp_path,
    )
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.startswith("rl_research-0.1.0-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("rl_research-0.1.0.dist-info/METADATA").decode()
    package = installed.package
    assert {
        f"{package}/__init__.py",
        f"{package}/py.typed",
        f"{package}/agents.py",
        f"{package}/train.py",
        f"{package}/sweep.py",
        *(f"{package}/{agent}.py" for agent in installed.agents),
    } <= names
    assert "License-Expression: MIT" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: rlcore")]
    assert len(requires) == 1
    assert ("@ git+file://" in requires[0]) == (installed.source == "git")
