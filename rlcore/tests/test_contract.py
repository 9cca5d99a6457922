"""The wrapper contract (rlcore.testing), run on every wrapper rlcore exports, single and vector.

Each wrapper is checked on a generic test env (Box observations, episodes that terminate and
that truncate) and, for the meta-RL wrappers, on the task-parameterised PointGoal env.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import rlcore.wrappers
import rlcore.wrappers.vector
from rlcore.envs import PointGoalEnv
from rlcore.testing import GenericTestEnv, check_vector_wrapper, check_wrapper, make_vector_env


def generic() -> gym.Env:
    # Episodes end by truncation (after 5 steps); `terminating()` below ends them by termination.
    return GenericTestEnv(
        observation_space=spaces.Box(-5.0, 5.0, (3,), np.float32),
        action_space=spaces.Box(-1.0, 1.0, (2,), np.float32),
        episode_length=7,
        truncate_length=5,
    )


def terminating() -> gym.Env:
    return GenericTestEnv(observation_space=spaces.Box(0, 255, (4, 4), np.uint8), episode_length=6)


def point_goal() -> gym.Env:
    return gym.wrappers.TimeLimit(PointGoalEnv(num_goals=3), 6)


SINGLE: dict[str, Callable[[], gym.Env]] = {
    "NormalizeObservation": lambda: rlcore.wrappers.NormalizeObservation(generic()),
    "NormalizeObservation(clip)": lambda: rlcore.wrappers.NormalizeObservation(generic(), clip=2.0),
    "NormalizeReward": lambda: rlcore.wrappers.NormalizeReward(generic()),
    "FrameStack": lambda: rlcore.wrappers.FrameStack(terminating(), 3),
    "FrameStack(zero)": lambda: rlcore.wrappers.FrameStack(generic(), 2, padding_type="zero"),
    "TrialWrapper": lambda: rlcore.wrappers.TrialWrapper(point_goal(), 2, augment_obs=True),
    "TaskOneHot": lambda: rlcore.wrappers.TaskOneHot(point_goal()),
}

VECTOR: dict[str, Callable[[AutoresetMode], gym.vector.VectorEnv]] = {
    "NormalizeObservation": lambda m: rlcore.wrappers.vector.NormalizeObservation(
        make_vector_env(generic, 3, m)
    ),
    "NormalizeObservation(per_env)": lambda m: rlcore.wrappers.vector.NormalizeObservation(
        make_vector_env(generic, 3, m), per_env=True
    ),
    "NormalizeReward": lambda m: rlcore.wrappers.vector.NormalizeReward(make_vector_env(generic, 3, m)),
    "NormalizeReward(per_env)": lambda m: rlcore.wrappers.vector.NormalizeReward(
        make_vector_env(generic, 3, m), per_env=True
    ),
    "FrameStack": lambda m: rlcore.wrappers.vector.FrameStack(make_vector_env(terminating, 3, m), 3),
    "TrialWrapper": lambda m: rlcore.wrappers.vector.TrialWrapper(
        make_vector_env(point_goal, 2, m), 2, augment_obs=True
    ),
    "TaskOneHot": lambda m: rlcore.wrappers.vector.TaskOneHot(make_vector_env(point_goal, 2, m)),
    "stack of three": lambda m: rlcore.wrappers.vector.FrameStack(
        rlcore.wrappers.vector.NormalizeReward(
            rlcore.wrappers.vector.NormalizeObservation(make_vector_env(generic, 2, m))
        ),
        2,
    ),
}


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_single_env_wrapper_contract(name: str) -> None:
    check_wrapper(SINGLE[name])


@pytest.mark.parametrize("name", sorted(VECTOR))
def test_vector_wrapper_contract(name: str) -> None:
    check_vector_wrapper(VECTOR[name])


def _exported_wrappers(module: Any, base: type) -> set[str]:
    return {
        name
        for name in module.__all__
        if inspect.isclass(getattr(module, name)) and issubclass(getattr(module, name), base)
    }


def test_every_exported_wrapper_is_under_contract() -> None:
    single = _exported_wrappers(rlcore.wrappers, gym.Wrapper)
    vector = _exported_wrappers(rlcore.wrappers.vector, gym.vector.VectorWrapper)
    covered_single = {name.split("(")[0] for name in SINGLE}
    covered_vector = {name.split("(")[0] for name in VECTOR}
    assert single <= covered_single, f"single-env wrappers without a contract test: {single - covered_single}"
    assert vector <= covered_vector, f"vector wrappers without a contract test: {vector - covered_vector}"
    assert single == vector, f"every wrapper has a vector twin of the same name: {single ^ vector}"


def test_contract_catches_a_broken_wrapper() -> None:
    """The contract is not vacuous: a wrapper whose observations leave its space fails it."""

    class Broken(gym.ObservationWrapper):
        def observation(self, observation: Any) -> Any:
            return observation * 100.0

    with pytest.raises(AssertionError, match="not in"):
        check_wrapper(lambda: Broken(generic()))
