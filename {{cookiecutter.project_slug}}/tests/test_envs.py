"""Smoke tests of ``make_env`` on CartPole-v1 (CPU only, about a second)."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from rlcore.wrappers import FrameStack, NormalizeObservation, NormalizeReward

from {{ cookiecutter.package_name }}.config import EnvConfig
from {{ cookiecutter.package_name }}.envs import make_env


def find_wrapper(env: gym.Env[Any, Any], kind: type[Any]) -> Any:
    """The outermost wrapper of type ``kind`` around ``env``."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, kind):
            return env
        env = env.env
    raise LookupError(f"no {kind.__name__} in the wrapper stack")


def rollout(env: gym.Env[Any, Any], seed: int, steps: int) -> list[Any]:
    """Every observation of ``steps`` steps (resets included), actions from the seeded space."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations = [obs]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        observations.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
            observations.append(obs)
    return observations


def test_normalised_observations_are_finite_float32() -> None:
    env = make_env(EnvConfig())
    for obs in rollout(env, seed=0, steps=300):
        assert obs.dtype == np.float32
        assert obs.shape == (4,)
        assert np.all(np.isfinite(obs))


def test_normalisation_matches_a_float64_recomputation() -> None:
    config = EnvConfig(normalize_reward=False)
    normalised = rollout(make_env(config), seed=1, steps=200)
    # The same seed and actions on the bare env give the raw observations.
    raw = np.asarray(rollout(gym.make(config.env_id), seed=1, steps=200), dtype=np.float64)
    mean, var = raw.mean(axis=0), raw.var(axis=0)
    expected = (raw[-1] - mean) / np.sqrt(var + 1e-8)
    # Only the wrappers' tiny prior (a pseudo-count of 1e-4) separates the two.
    np.testing.assert_allclose(normalised[-1], expected, rtol=1e-3, atol=1e-4)


def test_statistics_round_trip_through_state_dict() -> None:
    config = EnvConfig()
    train_env = make_env(config)
    rollout(train_env, seed=2, steps=150)
    buffer = io.BytesIO()
    torch.save(
        {
            "obs": find_wrapper(train_env, NormalizeObservation).state_dict(),
            "reward": find_wrapper(train_env, NormalizeReward).state_dict(),
        },
        buffer,
    )
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    eval_env = make_env(dataclasses.replace(config, seed=3))
    eval_obs = find_wrapper(eval_env, NormalizeObservation)
    eval_obs.load_state_dict(state["obs"])
    find_wrapper(eval_env, NormalizeReward).load_state_dict(state["reward"])
    train_obs = find_wrapper(train_env, NormalizeObservation)
    train_obs.freeze()
    eval_obs.freeze()
    np.testing.assert_array_equal(eval_obs.obs_rms.mean, train_obs.obs_rms.mean)
    np.testing.assert_array_equal(eval_obs.obs_rms.var, train_obs.obs_rms.var)
    # Frozen with equal statistics, both envs turn the same raw observations into the same outputs.
    for expected, actual in zip(rollout(train_env, 4, 50), rollout(eval_env, 4, 50), strict=True):
        np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(eval_obs.obs_rms.mean, train_obs.obs_rms.mean)


@pytest.mark.parametrize("num_stack", [2, 4])
def test_frame_stack_shapes(num_stack: int) -> None:
    env = make_env(EnvConfig(frame_stack=num_stack))
    assert find_wrapper(env, FrameStack).num_stack == num_stack
    for obs in rollout(env, seed=5, steps=20):
        assert obs.shape == (num_stack, 4)
        assert obs.dtype == np.float32
