"""Fixtures shared by the agents' tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from rlcore.runs import Agent, Registry, RunConfig, evaluate_run

STAYING_COIN = "StayingCoin-v0"


class StayingCoinEnv(gym.Env[np.ndarray, np.int64]):
    """A coin s in {0, 1} tossed at reset and shown all episode; reward s per step; no termination.

    Registered with a time limit of 20 steps, so every episode is truncated. Whatever the policy,
    the true values are V(s) = Q(s, a) = s / (1 - gamma): an agent that treats the time limit as
    termination learns the finite-horizon returns instead (V(1) about 6 for gamma = 0.9), and one
    that bootstraps from the next episode's reset observation (a fresh coin) pulls V(1) towards 5
    and V(0) up.
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


@pytest.fixture(scope="session")
def staying_coin() -> str:
    """The id of :class:`StayingCoinEnv` with its 20-step time limit, registered once."""
    if STAYING_COIN not in gym.registry:
        gym.register(id=STAYING_COIN, entry_point=make_staying_coin_env, max_episode_steps=20)
    return STAYING_COIN


SameRunCheck = Callable[[Agent[Any], RunConfig, type[RunConfig], Path], None]


@pytest.fixture(scope="session")
def same_run_in_another_layout() -> SameRunCheck:
    """:func:`assert_same_run_in_another_layout`, for the agents' tests."""
    return assert_same_run_in_another_layout


def assert_same_run_in_another_layout(
    agent: Agent[Any], plain: RunConfig, wrapped: type[RunConfig], tmp_path: Path
) -> None:
    """Train ``plain`` and its values as ``wrapped`` (the same observations, laid out otherwise).

    Both runs learn from the same numbers, so they are the same run: the same final episodes,
    which ``evaluate`` of the wrapped run, rebuilding its wrappers from config.json, replays.
    """
    base = dataclasses.asdict(plain)
    summaries = [
        agent.train(config_type(**{**base, "run_dir": str(tmp_path / name)}))
        for name, config_type in (("plain", type(plain)), ("wrapped", wrapped))
    ]
    assert summaries[0]["episode_returns"] == summaries[1]["episode_returns"]
    wrapped_agent = dataclasses.replace(agent, config_type=wrapped)
    report = evaluate_run(Registry(wrapped_agent), tmp_path / "wrapped")
    assert report["episode_returns"] == summaries[1]["episode_returns"]
