"""A run's environments: the env id and the device checked up front, the vector envs it steps.

:func:`make_envs` builds the training envs (autoreset in the same step, episode statistics,
optional normalisation) and the evaluation envs that share the training envs' observation
statistics; :func:`video_env` the single env whose episodes are recorded, with the same
statistics; :func:`stateful_wrappers` finds the wrappers whose state a checkpoint saves.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from rlcore.runs._config import RunConfig
from rlcore.wrappers.normalize import NormalizeObservation as SingleNormalizeObservation
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

__all__ = ["check_device", "check_env_id", "make_envs", "stateful_wrappers", "video_env"]


def check_env_id(env_id: str) -> None:
    """Raise ValueError, before anything is written, if ``env_id`` names no registered env.

    ``module:Name-v0`` imports ``module`` first (as ``gymnasium.make`` does).
    """
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"env_id: cannot import {module!r} for {env_id!r}: {error}") from None
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        raise ValueError(f"env_id {env_id!r} is not a registered Gymnasium id: {error}") from None


def check_device(device: str) -> torch.device:
    """``torch.device(device)``, or ValueError if this machine cannot use it (CUDA, MPS)."""
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is not a torch device: {error}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: this torch build ({torch.__version__}) sees no CUDA GPU; "
            "use --device cpu, or install the CUDA build of torch"
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available on this machine")
    return parsed


def stateful_wrappers(envs: VectorEnv) -> dict[str, Any]:
    """The wrappers of ``envs`` with a ``state_dict`` (normalisation statistics), by class name."""
    found: dict[str, Any] = {}
    env: Any = envs
    while isinstance(env, VectorWrapper):
        if callable(getattr(env, "state_dict", None)):
            found[type(env).__name__] = env
        env = env.env
    return found


def make_envs(
    config: RunConfig,
    num_envs: int,
    *,
    normalize_observation: bool = False,
    normalize_reward: bool = False,
    gamma: float = 0.99,
    evaluation_of: VectorEnv | None = None,
) -> VectorEnv:
    """``num_envs`` copies of ``config.env_id``, autoreset in the same step, wrapped inside out.

    1. ``RecordEpisodeStatistics``: ``info["episode"]`` with each finished episode's raw return
       (what :meth:`Run.advance` logs).
    2. ``NormalizeObservation`` (``rlcore.wrappers.vector``) if ``normalize_observation``.
    3. ``NormalizeReward`` (rewards scaled by the std of the ``gamma``-discounted return) if
       ``normalize_reward``.

    With ``evaluation_of`` (the training envs), the envs are for evaluation: stepped in this
    process (``sync``), normalising observations with the training envs' statistics (shared,
    frozen) if the training envs normalise them, and giving the env's own rewards; the
    ``normalize_*`` arguments are then ignored. Otherwise ``config.vector_mode`` picks sync or
    async sub-envs.
    """
    envs: VectorEnv = gym.make_vec(
        config.env_id,
        num_envs=num_envs,
        vectorization_mode="sync" if evaluation_of is not None else config.vector_mode,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    envs = RecordEpisodeStatistics(envs)
    if evaluation_of is not None:
        training = stateful_wrappers(evaluation_of).get("NormalizeObservation")
        if training is not None:
            envs = NormalizeObservation(
                envs, epsilon=training.epsilon, clip=training.clip, obs_rms=training.obs_rms
            )
            envs.freeze()
        return envs
    if normalize_observation:
        envs = NormalizeObservation(envs)
    if normalize_reward:
        envs = NormalizeReward(envs, gamma=gamma)
    return envs


def video_env(config: RunConfig, statistics_of: VectorEnv) -> gym.Env[Any, Any]:
    """One ``config.env_id`` env rendering ``rgb_array`` frames, for recording evaluation episodes.

    It sees what the evaluation envs see: observations normalised with the statistics of
    ``statistics_of`` (training or evaluation envs), shared and frozen, if those normalise them.

    Raises:
        ValueError: if the env does not list ``rgb_array`` among its render modes.
    """
    env: gym.Env[Any, Any] = gym.make(config.env_id, render_mode="rgb_array")
    modes = env.metadata.get("render_modes", [])
    if "rgb_array" not in modes:
        env.close()
        raise ValueError(
            f"capture_video: {config.env_id!r} cannot render frames: its render modes are {list(modes)}, "
            "expected 'rgb_array' among them"
        )
    source = stateful_wrappers(statistics_of).get("NormalizeObservation")
    if source is not None:
        normalized = SingleNormalizeObservation(
            env, epsilon=source.epsilon, clip=source.clip, obs_rms=source.obs_rms
        )
        normalized.freeze()
        env = normalized
    return env
