"""The example PPO agent: it learns, it bootstraps truncated episodes, its config checks itself.

The learning tests train for real on CPU (a few seconds each) and assert thresholds far above
a random policy's return; the seeds are fixed, so a run is reproducible on one machine.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from rlcore.evaluation import evaluate

from {{ cookiecutter.package_name }}.ppo import (
    ENV_DEFAULTS,
    ActorCritic,
    PPOConfig,
    config_for_env,
    make_env,
    train,
)
from {{ cookiecutter.package_name }}.runs import stateful_wrappers

QUIET: dict[str, Any] = {"progress": False, "logger": "csv", "final_eval_episodes": 10}


def random_return(env_id: str, episodes: int = 10) -> float:
    """Mean return of the uniformly random policy, the baseline a learned policy must beat."""
    env = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    env.action_space.seed(0)
    result = evaluate(lambda obs: env.action_space.sample(), env, episodes, seed=0)
    return result.mean_return


def test_learns_cartpole(tmp_path: Path) -> None:
    # The zoo's settings, over a third of the zoo's budget (about 5 seconds).
    config = config_for_env(
        "CartPole-v1", total_timesteps=30_720, run_dir=str(tmp_path / "run"), **QUIET
    )
    summary = train(config)
    assert random_return("CartPole-v1") < 30
    # The deterministic policy after 120 updates: 500 is the maximum, seeds 0-4 give 182-500.
    assert summary["mean_return"] >= 150, summary["episode_returns"]
    assert (
        json.loads((tmp_path / "run" / "eval.json").read_text())["mean_return"]
        == summary["mean_return"]
    )


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


# ------------------------------------------------------------------------ truncation
GAMMA = 0.9


class StayingCoinEnv(gym.Env[np.ndarray, np.int64]):
    """A coin s in {0, 1} tossed at reset and shown all episode; reward s per step; no termination.

    Registered with a time limit of 20 steps, so every episode is truncated. The true values are
    V(s) = s / (1 - gamma) whatever the policy.
    """

    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.coin = np.array([self.np_random.integers(2)], dtype=np.float32)
        return self.coin.copy(), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return self.coin.copy(), float(self.coin[0]), False, False, {}


def make_staying_coin_env(**kwargs: Any) -> gym.Env[np.ndarray, np.int64]:
    return StayingCoinEnv()


def test_truncation_bootstraps_from_the_real_final_observation(tmp_path: Path) -> None:
    """SB3's analytic check, sharpened: V(1) = 1 / (1 - gamma) = 10 and V(0) = 0.

    Treating the time limit as termination teaches the finite-horizon returns (V(1) about 6 on
    average over an episode); bootstrapping from the next episode's reset observation (a fresh
    coin) pulls V(1) towards 5 and V(0) up.
    """
    env_id = "StayingCoinPPO-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=make_staying_coin_env, max_episode_steps=20)
    config = PPOConfig(
        env_id=env_id,
        total_timesteps=8_192,
        num_envs=4,
        num_steps=64,
        batch_size=64,
        update_epochs=4,
        learning_rate=3e-3,
        gamma=GAMMA,
        gae_lambda=1.0,
        eval_every=0,
        run_dir=str(tmp_path / "run"),
        **QUIET,
    )
    train(config)
    agent = ActorCritic(
        StayingCoinEnv.observation_space, StayingCoinEnv.action_space, config.hidden_sizes
    )
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_000008192.pt", weights_only=True)
    agent.load_state_dict(state["objects"]["agent"])
    with torch.no_grad():
        values = agent.value(torch.tensor([[0.0], [1.0]])).numpy()
    np.testing.assert_allclose(values[0], 0.0, atol=0.5)
    np.testing.assert_allclose(values[1], 1.0 / (1.0 - GAMMA), rtol=0.05)


# ------------------------------------------------------------------------ envs and network
def test_make_env_normalises_and_shares_statistics_with_evaluation() -> None:
    config = config_for_env("Pendulum-v1")
    assert config.normalize_observation
    assert config.normalize_reward
    envs = make_env(config, 2)
    eval_envs = make_env(config, 2, evaluation_of=envs)
    envs.reset(seed=0)
    for _ in range(5):
        envs.step(envs.action_space.sample())
    train_wrappers, eval_wrappers = stateful_wrappers(envs), stateful_wrappers(eval_envs)
    assert sorted(train_wrappers) == ["NormalizeObservation", "NormalizeReward"]
    # The evaluation reports the env's own rewards: no NormalizeReward there.
    assert sorted(eval_wrappers) == ["NormalizeObservation"]
    train_rms = train_wrappers["NormalizeObservation"].obs_rms
    assert eval_wrappers["NormalizeObservation"].obs_rms is train_rms
    assert eval_wrappers["NormalizeObservation"].frozen
    count = train_rms.count
    eval_envs.reset(seed=1)
    eval_envs.step(eval_envs.action_space.sample())
    assert train_rms.count == count


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


def test_actor_critic_rejects_unsupported_spaces() -> None:
    box = spaces.Box(-1.0, 1.0, (4,), np.float32)
    with pytest.raises(
        TypeError, match=r"ActorCritic needs a 1-D Box observation space, got Discrete\(3\)"
    ):
        ActorCritic(spaces.Discrete(3), spaces.Discrete(2), (8,))
    with pytest.raises(
        TypeError, match=r"ActorCritic needs a Discrete or 1-D Box action space, got MultiBinary"
    ):
        ActorCritic(box, spaces.MultiBinary(3), (8,))


# ------------------------------------------------------------------------ config
def test_config_for_env_applies_the_table_then_the_overrides() -> None:
    config = config_for_env("CartPole-v1", seed=3, num_steps=64)
    expected = {**ENV_DEFAULTS["CartPole-v1"], "num_steps": 64}
    assert {name: getattr(config, name) for name in expected} == expected
    assert config.seed == 3
    assert config_for_env("Acrobot-v1") == PPOConfig(env_id="Acrobot-v1")


def test_config_for_env_names_unknown_fields() -> None:
    with pytest.raises(TypeError, match=r"unknown PPOConfig field\(s\) \['lr'\]"):
        config_for_env("CartPole-v1", lr=0.1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_envs": 0}, r"PPOConfig.num_envs must be an int >= 1, got 0"),
        ({"total_timesteps": 2.5}, r"PPOConfig.total_timesteps must be an int >= 1, got 2.5"),
        ({"eval_every": -1}, r"PPOConfig.eval_every must be an int >= 0, got -1"),
        ({"gamma": 1.5}, r"PPOConfig.gamma must be in \[0, 1\], got 1.5"),
        ({"learning_rate": 0.0}, r"PPOConfig.learning_rate must be a finite number > 0, got 0.0"),
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
