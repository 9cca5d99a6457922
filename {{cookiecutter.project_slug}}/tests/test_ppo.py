"""The example PPO agent: it learns, it bootstraps truncated episodes, its config checks itself.

The learning tests train for real on CPU (a few seconds each) and assert thresholds far above
a random policy's return; the seeds are fixed, so a run is reproducible on one machine. The run
directory, resume and the command line are rlcore's (``rlcore.runs``), tested there.
"""

from __future__ import annotations

import dataclasses
import json
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

from {{ cookiecutter.package_name }}.ppo import AGENT, ActorCritic, PPOConfig, train

QUIET: dict[str, Any] = {"progress": False, "logger": "csv", "final_eval_episodes": 10}
PIXEL_CATCH_FLOOR = 0.5


def random_return(env_id: str, episodes: int = 10) -> float:
    """Mean return of the uniformly random policy, the baseline a learned policy must beat."""
    env = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    env.action_space.seed(0)
    return evaluate(lambda obs: env.action_space.sample(), env, episodes, seed=0).mean_return


def test_learns_cartpole(tmp_path: Path) -> None:
    # The zoo's settings over 40 updates, a tenth of the zoo's budget (a few seconds).
    config = AGENT.config_for_env(
        "CartPole-v1",
        total_timesteps=10_240,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    summary = train(config)
    assert random_return("CartPole-v1") < 30
    # The deterministic policy: 500 is the maximum, seeds 0-4 give 166-480.
    assert summary["mean_return"] >= 150, summary["episode_returns"]
    saved = json.loads((tmp_path / "run" / "eval.json").read_text(encoding="utf-8"))
    assert saved["mean_return"] == summary["mean_return"]
    # The evaluate command rebuilds the network (make_policy) and loads it: the same episodes.
    report = evaluate_run(Registry(AGENT), tmp_path / "run")
    assert report["episode_returns"] == summary["episode_returns"]


def test_evaluate_reloads_the_network_and_the_observation_statistics(tmp_path: Path) -> None:
    config = AGENT.config_for_env(
        "Pendulum-v1",
        total_timesteps=2_048,
        num_steps=256,
        normalize_observation=True,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **{**QUIET, "final_eval_episodes": 2},
    )
    summary = train(config)
    report = evaluate_run(Registry(AGENT), tmp_path / "run")
    assert report["episode_returns"] == summary["episode_returns"]


def test_learns_continuous_point_goal(tmp_path: Path) -> None:
    # Reach the goal at distance 1 in steps of at most 0.1; the reward is minus the distance.
    config = PPOConfig(
        env_id="rlcore.envs:rlcore/PointGoal-v0",
        total_timesteps=8_192,
        num_envs=8,
        num_steps=64,
        batch_size=128,
        learning_rate=3e-3,
        gamma=0.95,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    summary = train(config)
    assert random_return("rlcore.envs:rlcore/PointGoal-v0") < -40
    # The shortest path pays about -4.5 (nine steps of shrinking distance); 16 updates get there.
    assert summary["mean_return"] >= -10, summary["episode_returns"]


def test_learns_pixel_catch_from_stacked_frames(tmp_path: Path) -> None:
    """Images: rlcore's PixelCatch (40 x 40 uint8 frames), two frames stacked, the Nature CNN."""
    config = AGENT.config_for_env(
        "rlcore/PixelCatch-v0",
        total_timesteps=8_192,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    assert config.frame_stack == 2
    summary = train(config)
    # Any policy blind to the ball catches it one time in five: a mean return of exactly -0.6.
    # Catching is +1; PIXEL_CATCH_FLOOR holds the measured spread over seeds.
    assert summary["mean_return"] >= PIXEL_CATCH_FLOOR, summary["episode_returns"]
    report = evaluate_run(Registry(AGENT), tmp_path / "run")
    assert report["episode_returns"] == summary["episode_returns"]


@dataclasses.dataclass(frozen=True)
class ChannelsFirst(PPOConfig):
    """PixelCatch's (40, 40, 1) frames as (1, 40, 40), by Gymnasium's vector wrapper's twin."""

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        reshape = runs.per_sub_env(vector_wrappers.ReshapeObservation, shape=(1, 40, 40))
        return (reshape, *super().env_wrappers())


@dataclasses.dataclass(frozen=True)
class Reshaped(PPOConfig):
    """CartPole's observations as (2, 2) arrays, by Gymnasium's vector wrapper's twin."""

    def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
        return (runs.per_sub_env(vector_wrappers.ReshapeObservation, shape=(2, 2)),)


@pytest.mark.parametrize(
    ("env_id", "wrapped", "steps"),
    [("CartPole-v1", Reshaped, 2_048), ("rlcore/PixelCatch-v0", ChannelsFirst, 1_024)],
)
def test_a_gymnasium_vector_observation_wrapper_on_each_sub_env(
    tmp_path: Path,
    same_run_in_another_layout: Callable[..., None],
    env_id: str,
    wrapped: type[PPOConfig],
    steps: int,
) -> None:
    """The same numbers in another layout: (2, 2) flattened, (1, H, W) for (H, W, 1) frames.

    Same-step autoreset, which the agent needs and Gymnasium's vector wrapper itself refuses.
    """
    plain = AGENT.config_for_env(env_id, total_timesteps=steps, eval_every=0, **QUIET)
    same_run_in_another_layout(AGENT, plain, wrapped, tmp_path)


def test_truncation_bootstraps_from_the_real_final_observation(
    tmp_path: Path, staying_coin: str
) -> None:
    """SB3's analytic check, sharpened: V(1) = 1 / (1 - gamma) = 10 and V(0) = 0."""
    gamma = 0.9
    config = PPOConfig(
        env_id=staying_coin,
        total_timesteps=8_192,
        num_envs=4,
        num_steps=64,
        batch_size=64,
        update_epochs=4,
        learning_rate=3e-3,
        gamma=gamma,
        gae_lambda=1.0,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    train(config)
    env = gym.make(staying_coin)
    agent = ActorCritic(env.observation_space, env.action_space, config.hidden_sizes)
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_000008192.pt", weights_only=True)
    agent.load_state_dict(state["objects"]["agent"])
    with torch.no_grad():
        values = agent.value(torch.tensor([[0.0], [1.0]])).numpy()
    np.testing.assert_allclose(values[0], 0.0, atol=0.5)
    np.testing.assert_allclose(values[1], 1.0 / (1.0 - gamma), rtol=0.05)


# ------------------------------------------------------------------------ network
@pytest.mark.parametrize(
    ("action_space", "kind", "action_shape"),
    [
        (spaces.Discrete(3), "Categorical", (5,)),
        (spaces.Box(-2.0, 2.0, (2,), np.float32), "Independent", (5, 2)),
    ],
)
def test_actor_critic_shapes(
    action_space: spaces.Space[Any], kind: str, action_shape: tuple[int, ...]
) -> None:
    agent = ActorCritic(spaces.Box(-1.0, 1.0, (4,), np.float32), action_space, (8, 8))
    obs = torch.zeros(5, 4)
    distribution = agent.policy(obs)
    assert type(distribution).__name__ == kind
    assert distribution.sample().shape == action_shape
    assert agent.value(obs).shape == (5,)


@pytest.mark.parametrize(
    ("shape", "dtype", "encoder"),
    [
        ((2, 3), np.float32, "Flatten"),
        ((40, 40, 3), np.uint8, "ImageEncoder"),
        ((3, 40, 40), np.uint8, "ImageEncoder"),
        ((4, 40, 40, 1), np.uint8, "ImageEncoder"),
    ],
)
def test_actor_critic_takes_vectors_of_any_shape_and_images(
    shape: tuple[int, ...], dtype: Any, encoder: str
) -> None:
    space = spaces.Box(0, 255 if dtype == np.uint8 else 1, shape, dtype)
    agent = ActorCritic(space, spaces.Discrete(3), (8, 8))
    assert type(agent.encoder).__name__ == encoder
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(5)]))
    distribution, values = agent.policy_and_value(obs)
    actions = distribution.sample()
    assert actions.shape == values.shape == (5,)
    torch.testing.assert_close(agent.value(obs), values)
    torch.testing.assert_close(agent.policy(obs).log_prob(actions), distribution.log_prob(actions))


def test_actor_critic_rejects_unsupported_spaces() -> None:
    box = spaces.Box(-1.0, 1.0, (4,), np.float32)
    with pytest.raises(
        TypeError, match=r"ActorCritic needs a Box observation space, got Discrete\(3\)"
    ):
        ActorCritic(spaces.Discrete(3), spaces.Discrete(2), (8,))
    with pytest.raises(
        TypeError, match=r"ActorCritic needs a Discrete or 1-D Box action space, got MultiBinary"
    ):
        ActorCritic(box, spaces.MultiBinary(3), (8,))


# ------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_steps": 0}, r"PPOConfig.num_steps must be an int >= 1, got 0"),
        ({"update_epochs": 2.5}, r"PPOConfig.update_epochs must be of type int, got float: 2.5"),
        ({"gae_lambda": 1.5}, r"PPOConfig.gae_lambda must be a finite number in \[0, 1\], got 1.5"),
        ({"clip_coef": 0.0}, r"PPOConfig.clip_coef must be a finite number > 0, got 0.0"),
        ({"ent_coef": float("nan")}, r"PPOConfig.ent_coef must be a finite number >= 0, got nan"),
        (
            {"batch_size": 5000},
            r"PPOConfig.batch_size must be <= num_envs \* num_steps = 2048, got 5000",
        ),
        ({"hidden_sizes": ()}, r"PPOConfig.hidden_sizes must be one or more ints >= 1, got \(\)"),
    ],
)
def test_bad_config_values_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PPOConfig(), **change)
