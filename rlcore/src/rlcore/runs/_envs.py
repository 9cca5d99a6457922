"""A run's environments: the env id and the device checked up front, the vector envs it steps.

:func:`make_envs` builds the training envs (the config's wrappers on each sub-env, autoreset
in the same step, episode statistics, optional normalisation) and the evaluation envs that share
the training envs' observation statistics; :func:`video_env` the single env whose episodes are
recorded, wrapped alike; :func:`per_sub_env` turns a Gymnasium vector observation wrapper into
its single-env twin on each sub-env; :func:`stateful_wrappers` finds the wrappers whose state a
checkpoint saves.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, cast

import gymnasium as gym
import torch
from gymnasium import wrappers as single_wrappers
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.wrappers.vector import RecordEpisodeStatistics, VectorizeTransformObservation

from rlcore.nn.image import is_image_space
from rlcore.runs._config import EnvWrapper, RunConfig
from rlcore.wrappers import atari
from rlcore.wrappers.normalize import NormalizeObservation as SingleNormalizeObservation
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

__all__ = [
    "check_device",
    "check_env_id",
    "make_envs",
    "per_sub_env",
    "stateful_wrappers",
    "sub_env",
    "video_env",
]


def check_env_id(env_id: str) -> None:
    """Raise ValueError, before anything is written, if ``env_id`` names no registered env.

    ``module:Name-v0`` imports ``module`` first (as ``gymnasium.make`` does), and rlcore's own
    ids (``rlcore/PixelCatch-v0``, :mod:`rlcore.envs`) register themselves. A project's envs
    are registered when its package is imported (``<package>/Name-v0``).
    """
    if env_id.startswith("rlcore/") and env_id not in gym.registry:
        importlib.import_module("rlcore.envs")
    if atari.is_atari(env_id):
        try:
            atari.register_atari_envs()
        except ImportError as error:
            raise ValueError(f"env_id {env_id!r}: {error}") from None
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


def per_sub_env(vector_wrapper: type[VectorWrapper], /, **kwargs: Any) -> EnvWrapper:
    """The single-env twin of a Gymnasium vector observation wrapper, for each sub-env.

    Gymnasium's vector observation wrappers (``gymnasium.wrappers.vector.ResizeObservation``
    and the like) refuse vector envs that autoreset in the same step, which the agents use to
    bootstrap truncated episodes from their real final observations (``info["final_obs"]``),
    because they would leave those final observations untransformed. Their single-env twins of
    the same name in ``gymnasium.wrappers``, applied to each sub-env, transform every
    observation an env returns, final ones included, in every autoreset mode: the same
    observations, exactly. List the result in :meth:`RunConfig.env_wrappers`::

        per_sub_env(gymnasium.wrappers.vector.ResizeObservation, shape=(64, 64))
        # is functools.partial(gymnasium.wrappers.ResizeObservation, shape=(64, 64))

    Args:
        vector_wrapper: a subclass of ``gymnasium.wrappers.vector.VectorizeTransformObservation``
            (``FlattenObservation``, ``DtypeObservation``, ``FilterObservation``,
            ``GrayscaleObservation``, ``RescaleObservation``, ``ReshapeObservation``,
            ``ResizeObservation``), or that class itself with ``wrapper=`` the single-env
            ``TransformObservation`` subclass it vectorises.
        **kwargs: the vector wrapper's arguments, which its twin takes alike.

    Raises:
        ValueError: for any other wrapper: ``NormalizeObservation`` (shared statistics, which a
            wrapper per sub-env cannot have: use the agent's ``normalize_observation``),
            ``TransformObservation`` (its function sees a batch: use
            ``gymnasium.wrappers.TransformObservation`` with a function of one observation).
    """
    if not (isinstance(vector_wrapper, type) and issubclass(vector_wrapper, VectorizeTransformObservation)):
        hint = {
            "NormalizeObservation": "its statistics are shared by the sub-envs; use the agent's "
            "normalize_observation setting (rlcore.wrappers.vector.NormalizeObservation)",
            "TransformObservation": "its function transforms a batch; list "
            "functools.partial(gymnasium.wrappers.TransformObservation, func=..., observation_space=...) "
            "with a function of one observation instead",
        }.get(getattr(vector_wrapper, "__name__", ""), "list the single-env wrapper itself instead")
        raise ValueError(
            f"per_sub_env: expected a subclass of gymnasium.wrappers.vector.VectorizeTransformObservation "
            f"(ResizeObservation, GrayscaleObservation, FlattenObservation, ...), got {vector_wrapper!r}: {hint}"
        )
    if vector_wrapper is VectorizeTransformObservation:
        single = kwargs.pop("wrapper", None)
        if not (isinstance(single, type) and issubclass(single, gym.Wrapper)):
            raise ValueError(
                "per_sub_env(VectorizeTransformObservation, wrapper=...): expected the single-env "
                f"observation wrapper class it vectorises as wrapper=, got {single!r}"
            )
        return functools.partial(single, **kwargs)
    twin = getattr(single_wrappers, vector_wrapper.__name__, None)
    if not (isinstance(twin, type) and issubclass(twin, gym.Wrapper)):
        raise ValueError(
            f"per_sub_env: {vector_wrapper.__qualname__} has no single-env twin of the same name in "
            "gymnasium.wrappers; list the single-env wrapper it vectorises instead"
        )
    return functools.partial(twin, **kwargs)


def stateful_wrappers(envs: VectorEnv) -> dict[str, Any]:
    """The wrappers of ``envs`` with a ``state_dict`` (normalisation statistics), by class name."""
    found: dict[str, Any] = {}
    env: Any = envs
    while isinstance(env, VectorWrapper):
        if callable(getattr(env, "state_dict", None)):
            found[type(env).__name__] = env
        env = env.env
    return found


def sub_env(
    config: RunConfig,
) -> tuple[str | gym.envs.registration.EnvSpec, dict[str, Any], list[EnvWrapper]]:
    """What each sub-env of ``config`` is made from: the id (or spec), ``gym.make``'s arguments, the wrappers.

    An Atari game (:func:`rlcore.wrappers.atari.is_atari`) is made by its spec (an async
    sub-process imports ``ale_py`` from it), with :data:`~rlcore.wrappers.atari.ENV_KWARGS` and
    :func:`~rlcore.wrappers.atari.preprocessing` under ``config.env_wrappers()``. With
    ``config.max_episode_steps``, Gymnasium's ``TimeLimit`` comes last: it counts agent steps.
    """
    wrappers = list(config.env_wrappers())
    if config.max_episode_steps:
        wrappers.append(
            functools.partial(single_wrappers.TimeLimit, max_episode_steps=config.max_episode_steps)
        )
    if not atari.is_atari(config.env_id):
        return config.env_id, {}, wrappers
    check_env_id(config.env_id)
    return (
        gym.spec(config.env_id.split(":", 1)[-1]),
        dict(atari.ENV_KWARGS),
        [*atari.preprocessing(), *wrappers],
    )


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

    0. ``config.env_wrappers()`` on each sub-env (:meth:`RunConfig.env_wrappers`); an Atari
       game's preprocessing first (:mod:`rlcore.wrappers.atari`).
    1. ``RecordEpisodeStatistics``: ``info["episode"]`` with each finished episode's raw return
       (what :meth:`Run.advance` logs).
    2. ``NormalizeObservation`` (``rlcore.wrappers.vector``) if ``normalize_observation``
       (refused for image observations, ``rlcore.nn.is_image_space``: a ValueError).
    3. ``NormalizeReward`` (rewards scaled by the std of the ``gamma``-discounted return) if
       ``normalize_reward``.

    An Atari game's training envs clip their rewards to their sign before step 3, and end an
    episode at each lost life with ``config.terminal_on_life_loss``
    (:func:`rlcore.wrappers.atari.training_wrappers`): the logged episodes stay whole games.

    With ``evaluation_of`` (the training envs), the envs are for evaluation: stepped in this
    process (``sync``), normalising observations with the training envs' statistics (shared,
    frozen) if the training envs normalise them, and giving the env's own rewards; the
    ``normalize_*`` arguments are then ignored. Otherwise ``config.vector_mode`` picks sync or
    async sub-envs.
    """
    env_id, env_kwargs, wrappers = sub_env(config)
    envs: VectorEnv = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync" if evaluation_of is not None else config.vector_mode,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        # Gymnasium types them as returning a Wrapper; any env is fine (a wrapper may skip).
        wrappers=cast(Any, wrappers),
        **env_kwargs,
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
        if is_image_space(envs.single_observation_space):
            envs.close()
            raise ValueError(
                f"normalize_observation: {config.env_id!r} gives images "
                f"({envs.single_observation_space}), which rlcore.nn.ImageEncoder scales by 1/255; "
                "running statistics would turn them into float32 vectors: turn normalize_observation off"
            )
        envs = NormalizeObservation(envs)
    if atari.is_atari(config.env_id):
        envs = atari.training_wrappers(envs, terminal_on_life_loss=config.terminal_on_life_loss)
    if normalize_reward:
        envs = NormalizeReward(envs, gamma=gamma)
    return envs


def video_env(config: RunConfig, statistics_of: VectorEnv) -> gym.Env[Any, Any]:
    """One ``config.env_id`` env rendering ``rgb_array`` frames, for recording evaluation episodes.

    It sees what the evaluation envs see: ``config.env_wrappers()``, then observations normalised with the statistics of
    ``statistics_of`` (training or evaluation envs), shared and frozen, if those normalise them.

    Raises:
        ValueError: if the env does not list ``rgb_array`` among its render modes.
    """
    env_id, env_kwargs, wrappers = sub_env(config)
    env: gym.Env[Any, Any] = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    modes = env.metadata.get("render_modes", [])
    if "rgb_array" not in modes:
        env.close()
        raise ValueError(
            f"capture_video: {config.env_id!r} cannot render frames: its render modes are {list(modes)}, "
            "expected 'rgb_array' among them"
        )
    for wrapper in wrappers:
        env = wrapper(env)
    source = stateful_wrappers(statistics_of).get("NormalizeObservation")
    if source is not None:
        normalized = SingleNormalizeObservation(
            env, epsilon=source.epsilon, clip=source.clip, obs_rms=source.obs_rms
        )
        normalized.freeze()
        env = normalized
    return env
