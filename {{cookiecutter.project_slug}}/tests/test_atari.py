"""The agents on Atari (the ``atari`` extra, in ``dev``): a smoke test of a few hundred steps.

``--env-id ALE/<Game>-v5`` gives the standard pipeline (``rlcore.wrappers.atari``, tested
there against Gymnasium's own ``AtariPreprocessing``) and the agents' tuned ``"ALE/*"``
settings: 4 stacked 84 x 84 frames through the Nature CNN. This checks that each agent trains
and evaluates on them, and that its logs count whole games, unclipped, and frames.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from rlcore.logging import read_csv_log
from rlcore.nn import ImageEncoder
from rlcore.runs import make_envs

from {{ cookiecutter.package_name }} import train
from {{ cookiecutter.package_name }}.agents import AGENTS

pytest.importorskip("ale_py", reason="needs the atari extra (ale-py)")

# A few hundred steps of each agent, with its tuned Atari settings otherwise.
SMOKE: dict[str, dict[str, Any]] = {
    "ppo": {"num_envs": 2, "num_steps": 64, "batch_size": 64, "total_timesteps": 256},
    "dqn": {"learning_starts": 64, "buffer_size": 1_000, "total_timesteps": 256},
}
QUIET: dict[str, Any] = {"eval_every": 0, "final_eval_episodes": 1, "progress": False}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_trains_on_pong(name: str, tmp_path: Path) -> None:
    run_dir = str(tmp_path / "run")
    config = AGENTS.config(name, "ALE/Pong-v5", run_dir=run_dir, **SMOKE[name], **QUIET)
    assert dataclasses.asdict(config)["frame_stack"] == 4
    assert config.terminal_on_life_loss
    summary = AGENTS[name].train(config)
    assert summary["step"] == 256
    assert summary["frames"] == 4 * 256
    # A whole game of Pong, unclipped: the first to 21 points wins; an untrained agent loses.
    assert -21 <= summary["mean_return"] <= -15
    log = read_csv_log(tmp_path / "run" / "progress.csv")
    assert list(log["time/frames"]) == [4 * step for step in log["step"]]
    assert "eval/mean_return" in log

    # The network reads the 4 stacked frames with the Nature CNN.
    make_policy = AGENTS[name].policy
    assert make_policy is not None
    envs = make_envs(config, 1)
    networks, _ = make_policy(config, envs, "cpu")
    envs.close()
    modules = [module for net in networks.values() for module in net.modules()]
    encoders = [module for module in modules if isinstance(module, ImageEncoder)]
    assert [encoder.observation_shape for encoder in encoders] == [(4, 84, 84)]


def test_the_train_command_runs_breakout(tmp_path: Path) -> None:
    name = sorted(AGENTS)[0]
    run_dir = tmp_path / "breakout"
    # Breakout's ball starts with FIRE: an untrained greedy policy may wait for the game's cap of
    # 27,000 steps; --max-episode-steps cuts the evaluation game short.
    flags = {**SMOKE[name], "eval_every": 0, "final_eval_episodes": 1, "max_episode_steps": 300}
    args = [f"--{key.replace('_', '-')}={value}" for key, value in flags.items()]
    command = [name, "--env-id", "ALE/Breakout-v5", "--no-progress", "--run-dir", str(run_dir)]
    assert train.main([*command, *args]) == 0
    summary = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    assert summary["env_id"] == "ALE/Breakout-v5"
    assert summary["frames"] == 4 * summary["step"]
    assert summary["episode_lengths"][0] <= 300
