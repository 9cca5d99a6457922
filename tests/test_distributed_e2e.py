"""One agent on 2 processes, end to end (slow): the project's commands with ``--devices 2`` on CPU.

A project with both example agents, installed with its ``dev`` extra (which holds the ``fabric``
extra's Lightning Fabric), as a user installs it:

* ``python -m <pkg>.train ppo --devices 2`` solves CartPole-v1: 2 processes (gloo), each with the
  zoo's 8 sub-envs, DDP averaging the gradients, rank 0 writing one run directory;
* ``python -m <pkg>.train dqn --devices 2`` trains, its checkpoint holds both processes' state;
* ``--resume`` of a 2-process run on 1 process is refused (exit 1), the run left as it was;
* a sweep whose trial has ``--devices 2`` runs it on a local Ray (2 CPUs for the trial).

The exact resume of both agents on 2 processes is the project's own ``tests/test_distributed.py``
(run by ``test_generated_project.py``); rlcore's ``tests/test_distributed.py`` checks the parts
(DDP, merged statistics, rank seeds, checkpoints) against single-process references.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers import REPO, bake, install_dev, make_overlay_venv

pytestmark = pytest.mark.slow

PACKAGE = "two_procs"
QUIET = ["--no-progress", "--eval-episodes", "5", "--final-eval-episodes", "20"]


@dataclass(frozen=True)
class Installed:
    project: Path
    python: Path

    def command(self, *args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the project, whatever its exit status."""
        return subprocess.run(
            [str(self.python), *map(str, args)],
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def train(self, *args: str | Path) -> dict[str, object]:
        """``python -m <pkg>.train ARGS``; the ``eval.json`` of the run directory it printed."""
        result = self.command("-m", f"{PACKAGE}.train", *args, *QUIET)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        found = re.search(r"^run directory:\s+(.+)$", result.stdout, flags=re.MULTILINE)
        assert found is not None, result.stdout
        summary: dict[str, object] = json.loads((Path(found.group(1).strip()) / "eval.json").read_text())
        return summary


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    python = make_overlay_venv(tmp_path_factory.mktemp("distributed") / "venv", rlcore_checkout=True)
    project = bake(
        REPO,
        tmp_path_factory.mktemp("distributed-project"),
        project_name="Two Procs",
        example_agent="all",
        custom_env="none",
        notebooks="none",
        rlcore_source="index",
        ci="none",
    )
    install_dev(python, project)
    return Installed(project, python)


def test_ppo_on_two_processes_solves_cartpole(installed: Installed) -> None:
    summary = installed.train(
        "ppo", "--env-id", "CartPole-v1", "--devices", "2", "--seed", "1", "--run-dir", "runs/ppo2"
    )
    run_dir = installed.project / "runs" / "ppo2"
    assert summary["step"] == 100_352  # 2 x 8 sub-envs x 32 steps per rollout, past 100,000
    assert float(summary["mean_return"]) >= 475, summary["evaluations"]
    # Rank 0 wrote it all; the other process's own state is in the checkpoint.
    written = {path.name for path in run_dir.iterdir()}
    assert written <= {"checkpoints", "config.json", "eval.json", "progress.csv", "learning_curve.png"}
    final = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-1]
    checkpoint = torch.load(final, weights_only=True)
    assert json.loads(checkpoint["metadata"])["world_size"] == 2
    assert set(checkpoint["objects"]["ranks"]) == {"1"}
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert (config["devices"], config["num_nodes"]) == (2, 1)


def test_dqn_on_two_processes_and_a_resume_on_another_number_is_refused(installed: Installed) -> None:
    tiny = ["--total-timesteps", "4096", "--learning-starts", "512", "--eval-every", "2048"]
    summary = installed.train(
        "dqn", "--env-id", "CartPole-v1", "--devices", "2", *tiny, "--run-dir", "runs/dqn2"
    )
    assert summary["step"] == 4096
    run_dir = installed.project / "runs" / "dqn2"
    buffers = torch.load(sorted((run_dir / "checkpoints").glob("*.buffers.pt"))[-1], weights_only=True)
    assert set(buffers["objects"]) == {"buffer", "rank_buffers"}

    before = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    refused = installed.command(
        "-m", f"{PACKAGE}.train", "--resume", run_dir, "--devices", "1", "--total-timesteps", "8192"
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "saved by a run on 2 process(es)" in refused.stderr
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == before


def test_a_sweep_trial_on_two_processes(installed: Installed) -> None:
    pytest.importorskip("ray", reason="sweeps need Ray (the generated project's sweep extra)")
    result = installed.command(
        *("-m", f"{PACKAGE}.sweep", "ppo", "--num-cpus", "2", "--cpus-per-trial", "2"),
        *("--name", "two", "--seeds", "0", "--devices", "2", "--total-timesteps", "4096"),
        *("--eval-every", "2048", "--eval-episodes", "2", "--final-eval-episodes", "3"),
        timeout=600,
    )
    assert "1 completed, 0 done before, 0 failed" in result.stdout, result.stdout + result.stderr
    (trial,) = (installed.project / "runs" / "two").glob("*/seed=0")
    assert json.loads((trial / "config.json").read_text(encoding="utf-8"))["devices"] == 2
    assert json.loads((trial / "eval.json").read_text(encoding="utf-8"))["step"] == 4096
