"""The example DQN agent: it learns, it bootstraps truncated episodes, its config checks itself.

The learning test trains for real on CPU (a few seconds) and asserts a threshold far above a
random policy's return; the seed is fixed, so a run is reproducible on one machine. The run
directory, resume and the command line are rlcore's (``rlcore.runs``), tested there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.wrappers import vector as vector_wrappers
from rlcore import runs
from rlcore.evaluation import evaluate
from rlcore.runs import Registry, evaluate_run

from {{ cookiecutter.package_name }}.dqn import AGENT, DQNConfig, QNetwork, train

QUIET: dict[str, Any] = {"progress": False, "logger": "csv", "final_eval_episodes": 10}


def test_learns_cartpole(tmp_path: Path) -> None:
    # The tuned settings with a smaller network, over 15,000 steps.
    config = AGENT.config_for_env(
        "CartPole-v1",
        total_timesteps=15_000,
        hidden_sizes=(64, 64),
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    summary = train(config)
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    envs.action_space.seed(0)
    random = evaluate(lambda obs: envs.action_space.sample(), envs, 10, seed=0).mean_return
    assert random < 30
    # The greedy policy: 500 is the maximum, seeds 0-2 give 275-364.
    assert summary["mean_return"] >= 150, summary["episode_returns"]
    # The evaluate command rebuilds the Q-network (make_policy) and loads it: the same episodes.
    report = evaluate_run(Registry(AGENT), tmp_path / "run")
    assert report["episode_returns"] == summary["episode_returns"]


def test_truncation_bootstraps_from_the_real_final_observation(
    tmp_path: Path, staying_coin: str
) -> None:
    """Q(1, a) = 1 / (1 - gamma) = 10 and Q(0, a) = 0 only if truncation is handled."""
    gamma = 0.9
    config = DQNConfig(
        env_id=staying_coin,
        total_timesteps=6_000,
        learning_rate=3e-3,
        buffer_size=6_000,
        learning_starts=200,
        batch_size=64,
        gamma=gamma,
        train_freq=4,
        gradient_steps=2,
        target_update_interval=200,
        hidden_sizes=(32,),
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    train(config)
    env = gym.make(staying_coin)
    q_network = QNetwork(env.observation_space, env.action_space, (32,))
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_000006000.pt", weights_only=True)
    q_network.load_state_dict(state["objects"]["q_network"])
    with torch.no_grad():
        q = q_network(torch.tensor([[0.0], [1.0]]))
    np.testing.assert_allclose(q[0].numpy(), 0.0, atol=0.5)
    np.testing.assert_allclose(q[1].numpy(), 1.0 / (1.0 - gamma), rtol=0.05)


def test_stacked_pixel_frames_are_stored_once(tmp_path: Path) -> None:
    """Images: PixelCatch's 40 x 40 frames, four stacked, each kept once in the replay buffer."""
    config = AGENT.config_for_env(
        "rlcore/PixelCatch-v0",
        total_timesteps=1_024,
        buffer_size=2_000,
        learning_starts=256,
        frame_stack=4,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **{**QUIET, "final_eval_episodes": 4},
    )
    summary = train(config)
    buffers = tmp_path / "run" / "checkpoints" / "step_000001024.buffers.pt"
    buffer = torch.load(buffers, weights_only=True)["objects"]["buffer"]
    assert "observations" not in buffer
    frames = [
        array for array in buffer.values() if torch.is_tensor(array) and array.dtype == torch.uint8
    ]
    # About one frame per step (and one per episode start), not 2 * 4 per transition.
    assert sum(array.numel() for array in frames) <= 2 * config.buffer_size * 40 * 40
    assert buffer["frames_pushed"] >= 1_024
    report = evaluate_run(Registry(AGENT), tmp_path / "run")
    assert report["episode_returns"] == summary["episode_returns"]


@dataclasses.dataclass(frozen=True)
class ChannelsFirst(DQNConfig):
    """PixelCatch's (40, 40, 1) frames as (1, 40, 40), by Gymnasium's vector wrapper's twin."""

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        reshape = runs.per_sub_env(vector_wrappers.ReshapeObservation, shape=(1, 40, 40))
        return (reshape, *super().env_wrappers())


@dataclasses.dataclass(frozen=True)
class Reshaped(DQNConfig):
    """CartPole's observations as (2, 2) arrays, by Gymnasium's vector wrapper's twin."""

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        return (runs.per_sub_env(vector_wrappers.ReshapeObservation, shape=(2, 2)),)


@pytest.mark.parametrize(
    ("env_id", "wrapped", "changes"),
    [
        (
            "CartPole-v1",
            Reshaped,
            {
                "total_timesteps": 2_000,
                "learning_starts": 500,
                "train_freq": 16,
                "gradient_steps": 4,
            },
        ),
        (
            "rlcore/PixelCatch-v0",
            ChannelsFirst,
            {
                "total_timesteps": 600,
                "buffer_size": 1_000,
                "learning_starts": 300,
                "frame_stack": 2,
            },
        ),
    ],
)
def test_a_gymnasium_vector_observation_wrapper_on_each_sub_env(
    tmp_path: Path,
    same_run_in_another_layout: Callable[..., None],
    env_id: str,
    wrapped: type[DQNConfig],
    changes: dict[str, Any],
) -> None:
    """The same numbers in another layout: (2, 2) flattened, (1, H, W) for (H, W, 1) frames.

    Same-step autoreset, which the agent needs and Gymnasium's vector wrapper itself refuses.
    """
    plain = AGENT.config_for_env(env_id, eval_every=0, **changes, **QUIET)
    same_run_in_another_layout(AGENT, plain, wrapped, tmp_path)


def test_a_periodic_checkpoint_cuts_episodes_as_truncations(tmp_path: Path) -> None:
    """The episodes restarted after a checkpoint end in the buffer as truncated, not run on."""
    config = AGENT.config_for_env(
        "CartPole-v1",
        total_timesteps=600,
        learning_starts=600,
        checkpoint_every=300,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    train(config)
    # The replay buffer is saved beside the newest checkpoint, in its own file.
    buffers = tmp_path / "run" / "checkpoints" / "step_000000600.buffers.pt"
    buffer = torch.load(buffers, weights_only=True)["objects"]["buffer"]
    # Row t holds the transition of step t + 1; step 300 was the last before the checkpoint.
    assert bool(buffer["truncated"][299, 0])
    assert not bool(buffer["terminated"][299, 0])
    # The next transition starts a fresh episode (CartPole resets within 0.05 of upright), where a
    # continuing episode would start from the previous next observation.
    assert float(buffer["observations"][300, 0].abs().max()) <= 0.05
    assert not torch.equal(buffer["observations"][300, 0], buffer["next_observations"][299, 0])


def test_a_resume_whose_buffer_was_lost_refills_it_and_finishes(tmp_path: Path) -> None:
    """Resumed from an older checkpoint (the newest was lost), the buffer starts empty."""
    config = AGENT.config_for_env(
        "CartPole-v1",
        total_timesteps=900,
        learning_starts=100,
        train_freq=4,  # due again 4 steps after the resume, with 4 transitions in the buffer
        gradient_steps=1,
        checkpoint_every=300,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    train(config)
    checkpoints = tmp_path / "run" / "checkpoints"
    (checkpoints / "step_000000900.pt").unlink()  # the older checkpoints kept no buffer
    (tmp_path / "run" / "eval.json").unlink()
    with pytest.warns(UserWarning, match=r"\['buffer'\] start empty, so this resume is not exact"):
        summary = train(config, resume=True)
    assert summary["step"] == 900
    assert (checkpoints / "step_000000900.buffers.pt").is_file()


# ------------------------------------------------------------------------ network
def test_q_network_shapes_and_spaces() -> None:
    q_network = QNetwork(spaces.Box(-1.0, 1.0, (4,), np.float32), spaces.Discrete(3), (8,))
    assert q_network(torch.zeros(5, 4)).shape == (5, 3)
    with pytest.raises(TypeError, match=r"QNetwork needs a Discrete action space, got Box"):
        QNetwork(spaces.Box(-1.0, 1.0, (4,), np.float32), spaces.Box(-1.0, 1.0, (1,)), (8,))
    with pytest.raises(
        TypeError, match=r"QNetwork needs a Box observation space, got Discrete\(4\)"
    ):
        QNetwork(spaces.Discrete(4), spaces.Discrete(2), (8,))


@pytest.mark.parametrize(
    ("shape", "dtype", "encoder"),
    [
        ((2, 3), np.float32, "Flatten"),
        ((40, 40, 3), np.uint8, "ImageEncoder"),
        ((3, 40, 40), np.uint8, "ImageEncoder"),
        ((4, 40, 40, 1), np.uint8, "ImageEncoder"),
    ],
)
def test_q_network_takes_vectors_of_any_shape_and_images(
    shape: tuple[int, ...], dtype: Any, encoder: str
) -> None:
    space = spaces.Box(0, 255 if dtype == np.uint8 else 1, shape, dtype)
    q_network = QNetwork(space, spaces.Discrete(3), (8, 8))
    assert type(q_network.encoder).__name__ == encoder
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(5)]))
    assert q_network(obs).shape == (5, 3)


# ------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train_freq": 0}, r"DQNConfig.train_freq must be an int >= 1, got 0"),
        ({"batch_size": True}, r"DQNConfig.batch_size must be of type int, got bool: True"),
        ({"learning_starts": -5}, r"DQNConfig.learning_starts must be an int >= 0, got -5"),
        (
            {"exploration_final_eps": 1.5},
            r"DQNConfig.exploration_final_eps must be a finite number in \[0, 1\], got 1.5",
        ),
        (
            {"max_grad_norm": float("inf")},
            r"DQNConfig.max_grad_norm must be a finite number > 0, got inf",
        ),
        (
            {"num_envs": 4, "buffer_size": 3},
            r"DQNConfig.buffer_size must be >= num_envs \(4\), got 3",
        ),
        (
            {"hidden_sizes": (64, 0)},
            r"DQNConfig.hidden_sizes must be one or more ints >= 1, got \(64, 0\)",
        ),
    ],
)
def test_bad_config_values_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DQNConfig(), **change)
