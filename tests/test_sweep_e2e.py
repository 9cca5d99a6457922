"""Sweeps end to end in a baked project, and rlcore's wrappers over environments in subprocesses.

* A PPO project is baked and its ``python -m <package>.sweep ppo`` (``rlcore.sweep.sweep_main``
  over the project's registry) run in a subprocess on a local Ray (2 CPUs): 2 learning rates x
  2 seeds with a budget of 512 steps. Its summary agrees with ``rlcore summarize`` on the same
  runs; running it again runs only a deleted trial. On a Ray cluster started with
  ``ray start --head`` (``--address``), a sweep with an unknown env id reports that trial and
  finishes the other, whose agent steps its envs in subprocesses (``--vector-mode async``).
* rlcore's vector ``NormalizeObservation`` and ``NormalizeReward`` over Gymnasium's
  ``AsyncVectorEnv`` (statistics in the main process, envs in subprocesses) give exactly what
  they give over ``SyncVectorEnv``, in every autoreset mode.

The project is not installed: its ``src/`` is on ``PYTHONPATH``, which Ray's workers inherit
(from the sweep's process, or from the ``ray start`` of the cluster).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from helpers import REPO, bake, run

from rlcore.analysis import load_run
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

PACKAGE = "rl_research"
#: Agent options for trials of a second or two.
TINY = [
    "--total-timesteps",
    "512",
    "--eval-every",
    "256",
    "--eval-episodes",
    "2",
    "--final-eval-episodes",
    "3",
]
LEARNING_RATES = ("0.0003", "0.001")
TRIALS = [f"learning_rate={lr}/seed={seed}" for lr in LEARNING_RATES for seed in (0, 1)]


# ---------------------------------------------------------------------------------- wrappers
def normalized_rollout(vectorization_mode: str, autoreset_mode: AutoresetMode, steps: int) -> dict[str, list]:
    """Everything the wrappers return over ``steps`` steps of 3 CartPoles, actions fixed by a seed."""
    envs: VectorEnv = gym.make_vec(
        "CartPole-v1",
        num_envs=3,
        vectorization_mode=vectorization_mode,
        vector_kwargs={"autoreset_mode": autoreset_mode},
    )
    wrapped = NormalizeReward(NormalizeObservation(envs), gamma=0.9)
    actions = np.random.default_rng(0).integers(0, 2, size=(steps, 3))
    seen: dict[str, list] = {"obs": [], "reward": [], "done": [], "final_obs": []}
    try:
        obs, _ = wrapped.reset(seed=0)
        seen["obs"].append(obs)
        for action in actions:
            obs, reward, terminated, truncated, info = wrapped.step(action)
            done = terminated | truncated
            seen["obs"].append(obs)
            seen["reward"].append(reward)
            seen["done"].append(done)
            if autoreset_mode == AutoresetMode.SAME_STEP and done.any():
                seen["final_obs"].extend(info["final_obs"][done])
            if autoreset_mode == AutoresetMode.DISABLED and done.any():
                obs, _ = wrapped.reset(options={"reset_mask": done})
                seen["obs"].append(obs)
        observation_stats = wrapped.env.state_dict()
        seen["state"] = [observation_stats, wrapped.state_dict()]
    finally:
        wrapped.close()
    return seen


def assert_same_state(expected: object, actual: object, where: str) -> None:
    """Equal nested state dicts: the same keys, and tensors equal element for element."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor) and torch.equal(actual, expected), where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(expected[key], actual[key], f"{where}[{key!r}]")
    else:
        assert isinstance(expected, list) and isinstance(actual, list) and len(actual) == len(expected), where
        for i, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same_state(left, right, f"{where}[{i}]")


@pytest.mark.parametrize("autoreset_mode", list(AutoresetMode), ids=lambda mode: mode.name)
def test_normalization_over_async_envs_matches_sync(autoreset_mode: AutoresetMode) -> None:
    sync = normalized_rollout("sync", autoreset_mode, 300)
    parallel = normalized_rollout("async", autoreset_mode, 300)
    assert sum(done.sum() for done in sync["done"]) >= 10, "too few episodes ended to test autoresets"
    for key in ("obs", "reward", "done", "final_obs"):
        assert len(parallel[key]) == len(sync[key]), key
        for i, (expected, actual) in enumerate(zip(sync[key], parallel[key], strict=True)):
            np.testing.assert_array_equal(actual, expected, err_msg=f"{key}[{i}]")
    assert_same_state(sync["state"], parallel["state"], "state")
    # The statistics saw every observation: the prior's 1e-4 plus one count per entering row.
    assert float(parallel["state"][0]["obs_rms"]["count"]) > 300


# ---------------------------------------------------------------------------------- sweeps
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ray", reason="sweeps need Ray (the generated project's sweep extra)")
    return bake(REPO, tmp_path_factory.mktemp("sweep-project"), example_agent="ppo", init_git=False)


def sweep(project: Path, *args: str, address: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m <package>.sweep ppo ARGS`` in the project: on a Ray of 2 CPUs started by it, or at ``address``."""
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    where = ["--num-cpus", "2"] if address is None else ["--address", address]
    command = [sys.executable, "-m", f"{PACKAGE}.sweep", "ppo", *where, *args]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def ray_cluster(project: Path, tmp_path: Path) -> Iterator[str]:
    """A Ray cluster of one node started with ``ray start --head`` (as on SLURM); its address.

    Its workers find the project through ``PYTHONPATH``, as a cluster's nodes have the project
    installed. Stopped through the ``ray start --block`` process it started.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Short: Ray's socket paths inside it must stay under the 107 characters of a Unix socket.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    log = tmp_path / "ray-head.log"
    command = [Path(sys.executable).parent / "ray", "start", "--head", f"--port={port}", "--num-cpus=2"]
    command += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}", "--block"]
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    with log.open("w") as output:
        head = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        # `ray start --block` stops its own processes on SIGTERM (in about 2 s; signalling the
        # whole group instead makes it wait for them, about 30 s).
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def learning_rate_sweep(project: Path) -> tuple[Path, str]:
    """The sweep directory and output of a first run of 2 learning rates x 2 seeds."""
    result = sweep(project, "--name", "lr", "--seeds", "0-1", "--set", "learning_rate=3e-4,1e-3", *TINY)
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "runs" / "lr", result.stdout


def test_each_trial_is_a_single_run_directory(learning_rate_sweep: tuple[Path, str]) -> None:
    sweep_dir, output = learning_rate_sweep
    assert "4 completed, 0 done before, 0 failed" in output
    for name in TRIALS:
        trial = sweep_dir / name
        assert {"config.json", "progress.csv", "eval.json", "checkpoints"} <= {
            p.name for p in trial.iterdir()
        }
        config = json.loads((trial / "config.json").read_text(encoding="utf-8"))
        match = re.fullmatch(r"learning_rate=(.+)/seed=(\d)", name)
        assert match is not None
        learning_rate, seed = match.groups()
        assert (config["learning_rate"], config["seed"]) == (float(learning_rate), int(seed))
        assert (config["total_timesteps"], config["final_eval_episodes"]) == (512, 3)
        assert config["progress"] is False
        assert len(json.loads((trial / "eval.json").read_text(encoding="utf-8"))["episode_returns"]) == 3
    assert (sweep_dir / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "[00:00:" in output and "done 4/4, running 0, failed 0, waiting 0" in output


def table_numbers(lines: list[str], split: str) -> dict[str, list[str]]:
    """``{configuration: [seeds, mean, std, CI, IQM, IQM CI]}`` from a table's rows."""
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in re.split(split, line.strip().strip("|")) if cell.strip()]
        if cells and cells[0].startswith("learning_rate="):
            rows[cells[0]] = cells[1:]
    return rows


def test_summary_agrees_with_rlcore_summarize(learning_rate_sweep: tuple[Path, str]) -> None:
    sweep_dir, _ = learning_rate_sweep
    ours = table_numbers((sweep_dir / "summary.md").read_text(encoding="utf-8").splitlines(), r"\|")
    result = run([sys.executable, "-m", "rlcore.cli", "summarize", sweep_dir], sweep_dir)
    theirs = table_numbers(result.stdout.splitlines(), r"\s{2,}")
    assert set(ours) == {f"learning_rate={lr}" for lr in LEARNING_RATES}
    assert ours == theirs
    # And the mean is the mean of the final evaluations written to eval.json.
    for configuration, numbers in ours.items():
        finals = [
            json.loads((sweep_dir / configuration / f"seed={seed}" / "eval.json").read_text())["mean_return"]
            for seed in (0, 1)
        ]
        assert numbers[:2] == ["2", f"{np.mean(finals):.2f}"]


def test_rerun_runs_only_the_deleted_trial(project: Path, learning_rate_sweep: tuple[Path, str]) -> None:
    sweep_dir, _ = learning_rate_sweep
    kept = {name: (sweep_dir / name / "eval.json").stat().st_mtime_ns for name in TRIALS[1:]}
    shutil.rmtree(sweep_dir / TRIALS[0])
    result = sweep(project, "--name", "lr", "--seeds", "0-1", "--set", "learning_rate=3e-4,1e-3", *TINY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 trial(s), 3 done before" in result.stdout
    assert re.findall(r"started (\S+)", result.stdout) == [TRIALS[0]]
    assert "1 completed, 3 done before, 0 failed" in result.stdout
    assert (sweep_dir / TRIALS[0] / "eval.json").is_file()
    assert {name: (sweep_dir / name / "eval.json").stat().st_mtime_ns for name in TRIALS[1:]} == kept


def test_on_a_cluster_failed_trials_are_reported_and_async_envs_match_sync(
    project: Path, ray_cluster: str
) -> None:
    result = sweep(
        project,
        *("--name", "envs", "--seeds", "0", "--set", "vector_mode=sync,async"),
        *("--set", "env_id=CartPole-v1,NoSuchEnv-v0", *TINY, "--num-envs", "2", "--num-steps", "128"),
        *("--normalize-observation", "--normalize-reward"),
        address=ray_cluster,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Connected to Ray cluster" in result.stderr
    for mode in ("sync", "async"):
        failed = f"vector_mode={mode},env_id=NoSuchEnv-v0/seed=0"
        # The run checks its env id before it writes anything (rlcore.runs.check_env_id).
        assert (
            f"FAILED {failed}: ValueError: env_id 'NoSuchEnv-v0' is not a registered Gymnasium id"
            in result.stdout
        )
    assert "2 completed, 0 done before, 2 failed" in result.stdout
    sweep_dir = project / "runs" / "envs"
    assert "Environment `NoSuchEnv` doesn't exist" in (sweep_dir / failed / "error.txt").read_text()
    summary = (sweep_dir / "summary.md").read_text(encoding="utf-8")
    assert "| vector_mode=sync,env_id=CartPole-v1 | 1 |" in summary and "NoSuchEnv" not in summary
    # The agent's envs in subprocesses, normalised in the main process: the same run as in-process.
    runs = {
        mode: sweep_dir / f"vector_mode={mode},env_id=CartPole-v1" / "seed=0" for mode in ("sync", "async")
    }
    configs = {mode: json.loads((run / "config.json").read_text()) for mode, run in runs.items()}
    assert configs["async"]["vector_mode"] == "async" and configs["async"]["normalize_observation"] is True
    evaluations = {mode: json.loads((run / "eval.json").read_text()) for mode, run in runs.items()}
    assert evaluations["async"]["episode_returns"] == evaluations["sync"]["episode_returns"]
    logs = {mode: load_run(run).log for mode, run in runs.items()}
    for column in ("step", "train/episodic_return", "train/value_loss", "eval/mean_return"):
        np.testing.assert_array_equal(logs["async"][column], logs["sync"][column], err_msg=column)
