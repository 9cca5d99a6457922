"""``make_env``: a Gymnasium env wrapped with rlcore's normalisation and frame stacking.

The wrappers keep their statistics in ``state_dict()`` (float64 tensors): save them with the
agent's weights and load them into the evaluation env, then ``freeze()`` it, so that the
evaluation sees the observations the agent was trained on.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from rlcore.wrappers import FrameStack, NormalizeObservation, NormalizeReward

from {{ cookiecutter.package_name }}.config import EnvConfig

__all__ = ["make_env"]


def make_env(config: EnvConfig, *, render_mode: str | None = None) -> gym.Env[Any, Any]:
    """Build ``config.env_id`` and wrap it as ``config`` says, innermost first.

    1. ``NormalizeObservation`` (if ``config.normalize_observation``): float32 observations,
       each element centred and scaled by its running mean and standard deviation.
    2. ``FrameStack`` (if ``config.frame_stack > 1``): observations of shape
       ``(frame_stack, *obs_shape)``, newest last; stacking after normalising keeps one
       statistic per element of a single frame.
    3. ``NormalizeReward`` (if ``config.normalize_reward``): rewards divided by the running
       standard deviation of the return discounted by ``config.gamma``.

    The action space is seeded with ``config.seed``; pass the seed to the first ``reset``.
    """
    env: gym.Env[Any, Any] = gym.make(config.env_id, render_mode=render_mode)
    if config.normalize_observation:
        env = NormalizeObservation(env)
    if config.frame_stack > 1:
        env = FrameStack(env, config.frame_stack)
    if config.normalize_reward:
        env = NormalizeReward(env, gamma=config.gamma)
    env.action_space.seed(config.seed)
    return env
