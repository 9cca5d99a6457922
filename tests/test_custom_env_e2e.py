"""The project's own env, end to end (slow): baked, installed, checked and trained on.

``custom_env=numpy`` and ``custom_env=pybullet``, each with both example agents (two projects
with their own package names, installed editable with their ``dev`` extra into one overlay
venv, as a user installs them). For each:

* the env's own tests in the project pass (``tests/test_point_mass.py``,
  ``tests/test_cartpole_bullet.py``: the checker, registration on import, worker processes;
  the rest of a project's suite runs in ``test_generated_project.py``, whose project has the
  default env, ``numpy``);
* ``pre-commit run --all-files`` passes: ruff, and strict mypy over the env (for PyBullet, with
  the project's ``ignore_missing_imports`` for its untyped modules);
* ``python -m <pkg>.train`` trains PPO on ``<pkg>/Name-v0`` in its own process, which knows
  the id from ``import <pkg>`` alone: with sync sub-envs and with async ones (worker processes,
  the same run to the last return), and DQN; each run's directory is named from the id without
  its ``/`` (``runs/ppo-<pkg>_Name-v0/seed0-<date>-<time>``), and ``python -m <pkg>.evaluate``
  replays the final evaluation from it;
* ``python -m <pkg>.sweep`` runs two seeds on a local Ray (2 CPUs), whose workers import the
  agent's module, and so the package, which registers the id (about 20 s each).

Budgets are tiny (2,048 steps): these check the wiring; the project's tests check learning.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO, bake, install_dev, make_overlay_venv, run, run_pre_commit

pytestmark = pytest.mark.slow

# custom_env -> (project_name, package, env id's name, the env's test file)
PROJECTS = {
    "numpy": ("Point Mass Lab", "point_mass_lab", "PointMass-v0", "tests/test_point_mass.py"),
    "pybullet": ("Bullet Lab", "bullet_lab", "CartPoleBullet-v0", "tests/test_cartpole_bullet.py"),
}
#: Options of a run of a second or two.
TINY = [
    *("--total-timesteps", "2048", "--eval-every", "1024", "--eval-episodes", "2"),
    *("--final-eval-episodes", "3", "--no-progress"),
]
#: PPO's rollouts for TINY, whatever the tuned values of the env: 2 sub-envs x 128 steps.
PPO_ROLLOUTS = ["--num-envs", "2", "--num-steps", "128", "--batch-size", "64"]


@dataclass(frozen=True)
class Installed:
    custom_env: str
    project: Path
    package: str
    env_id: str
    test_file: str
    python: Path

    def run(self, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the project (the overlay's python); fail with its output."""
        return run([self.python, *args], self.project, timeout=timeout)

    def train(self, *args: str) -> Path:
        """``python -m <pkg>.train ARGS --env-id <the env>``; return the run directory it printed."""
        result = self.run("-m", f"{self.package}.train", *args, "--env-id", self.env_id, *TINY)
        found = re.search(r"^run directory:\s+(.+)$", result.stdout, flags=re.MULTILINE)
        assert found is not None, result.stdout
        return Path(found.group(1).strip())


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One overlay venv (over this venv's torch, pybullet, Ray, ...) for both projects."""
    return make_overlay_venv(tmp_path_factory.mktemp("custom-env") / "venv", rlcore_checkout=True)


@pytest.fixture(scope="module", params=list(PROJECTS))
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, python: Path
) -> Installed:
    """A project with both agents and this env (git-initialised by the template), installed with ``.[dev]``."""
    custom_env: str = request.param
    project_name, package, name, test_file = PROJECTS[custom_env]
    project = bake(
        REPO,
        tmp_path_factory.mktemp(f"custom-env-{custom_env}"),
        project_name=project_name,
        custom_env=custom_env,
        example_agent="all",
        notebooks="none",
        rlcore_source="index",
        ci="none",
    )
    install_dev(python, project)
    return Installed(custom_env, project, package, f"{package}/{name}", test_file, python)


def test_the_envs_own_tests_pass(installed: Installed) -> None:
    result = installed.run("-m", "pytest", "-v", "-p", "no:cacheprovider", installed.test_file)
    assert " passed" in result.stdout
    assert "failed" not in result.stdout and "SKIPPED" not in result.stdout


def test_pre_commit_passes(installed: Installed) -> None:
    checked = run_pre_commit(installed.python, installed.project, "--all-files", "--show-diff-on-failure")
    assert checked.returncode == 0, checked.stdout[-5000:] + checked.stderr[-2000:]
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], installed.project).stdout
    assert status == ""


def test_agents_train_on_the_env_in_sync_and_async_sub_envs_and_runs_are_evaluated(
    installed: Installed,
) -> None:
    name = installed.env_id.replace("/", "_")
    ppo = installed.train("ppo", *PPO_ROLLOUTS)
    assert ppo.parent == installed.project / "runs" / f"ppo-{name}"
    assert re.fullmatch(r"seed0-\d{8}-\d{6}", ppo.name), ppo.name
    config = json.loads((ppo / "config.json").read_text(encoding="utf-8"))
    assert (config["env_id"], config["vector_mode"]) == (installed.env_id, "sync")

    # The sub-envs in worker processes: the same run, return for return.
    parallel = installed.train(
        "ppo", *PPO_ROLLOUTS, "--vector-mode", "async", "--run-dir", "runs/ppo-async/seed0"
    )
    assert json.loads((parallel / "config.json").read_text(encoding="utf-8"))["vector_mode"] == "async"
    finals = [json.loads((run_dir / "eval.json").read_text(encoding="utf-8")) for run_dir in (ppo, parallel)]
    assert finals[1]["episode_returns"] == finals[0]["episode_returns"]

    dqn = installed.train("dqn", "--learning-starts", "256")
    assert dqn.parent == installed.project / "runs" / f"dqn-{name}"
    for run_dir in (ppo, dqn):
        assert ":" not in run_dir.relative_to(installed.project).as_posix()
        installed.run("-m", f"{installed.package}.evaluate", run_dir)
        report = json.loads((run_dir / "evaluate-2048.json").read_text(encoding="utf-8"))
        final = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
        # The default evaluation replays the final one: the run's evaluation seeds, its checkpoint.
        assert (report["env_id"], report["step"]) == (installed.env_id, 2048)
        assert report["episode_returns"] == final["episode_returns"]


def test_a_sweep_runs_its_trials_on_ray_workers(installed: Installed) -> None:
    pytest.importorskip("ray", reason="sweeps need Ray (the generated project's sweep extra)")
    result = installed.run(
        *("-m", f"{installed.package}.sweep", "ppo", "--num-cpus", "2", "--name", "envs", "--seeds", "0-1"),
        *("--env-id", installed.env_id, *TINY, *PPO_ROLLOUTS),
        timeout=300,
    )
    assert "2 completed, 0 done before, 0 failed" in result.stdout, result.stdout + result.stderr
    # One configuration (no --set), its seeds side by side.
    trials = sorted((installed.project / "runs" / "envs").glob("*/seed=*"))
    assert [trial.name for trial in trials] == ["seed=0", "seed=1"]
    for seed, trial in enumerate(trials):
        config = json.loads((trial / "config.json").read_text(encoding="utf-8"))
        assert (config["env_id"], config["seed"]) == (installed.env_id, seed)
        assert len(json.loads((trial / "eval.json").read_text(encoding="utf-8"))["episode_returns"]) == 3
