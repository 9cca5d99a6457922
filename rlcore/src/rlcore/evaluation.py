"""Policy evaluation: run exactly ``n_episodes`` episodes and report their returns and lengths.

:func:`evaluate` works with a single Gymnasium env or a Gymnasium vector env (any autoreset
mode) and returns an :class:`EvaluationResult`.

Counting episodes on a vector env without bias: stopping at the first ``n`` episodes to finish,
whichever sub-env they come from, over-samples short episodes (a sub-env with short episodes
finishes more of them), which inflates or deflates the estimate whenever return and length are
correlated. As in Stable-Baselines3's ``evaluate_policy`` (SB3#402, PR #447), sub-env ``i`` is given
the fixed target ``(n + i) // num_envs`` (the targets sum to ``n``), and only its first
``target_i`` episodes count, whatever their length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from rlcore._autoreset import AutoresetTracker
from rlcore._video import RecordVideo, check_video_support
from rlcore.seeding import seed_env

__all__ = ["EvaluationResult", "evaluate"]

Policy = Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Returns and lengths of the evaluated episodes, in the order they finished.

    Attributes:
        episode_returns: float64 ``(n_episodes,)``, the undiscounted sum of the rewards the env
            returned (evaluate an env without reward normalisation or clipping wrappers).
        episode_lengths: int64 ``(n_episodes,)``, steps per episode.
        env_indices: int64 ``(n_episodes,)``, the sub-env each episode ran in (all 0 for a
            single env).
    """

    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    env_indices: np.ndarray

    @property
    def mean_return(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.episode_returns))

    @property
    def std_return(self) -> float:
        """Population standard deviation (``ddof=0``, as SB3's ``evaluate_policy``) of the returns."""
        return float(np.std(self.episode_returns))

    @property
    def mean_length(self) -> float:
        """Mean episode length."""
        return float(np.mean(self.episode_lengths))

    @property
    def std_length(self) -> float:
        """Population standard deviation of the episode lengths."""
        return float(np.std(self.episode_lengths))

    def __repr__(self) -> str:
        return (
            f"EvaluationResult(n_episodes={len(self.episode_returns)}, mean_return={self.mean_return:.4g}, "
            f"std_return={self.std_return:.4g}, mean_length={self.mean_length:.4g})"
        )


def evaluate(
    policy: Policy,
    env: gym.Env[Any, Any] | VectorEnv,
    n_episodes: int,
    seed: int | None = None,
    *,
    video_folder: str | Path | None = None,
    video_name_prefix: str = "eval",
) -> EvaluationResult:
    """Run ``policy`` in ``env`` for exactly ``n_episodes`` episodes.

    ``policy`` maps an observation to an action: one observation to one action for a single
    env, a batch ``(num_envs, *obs_shape)`` to a batch of actions for a vector env. It is
    called under ``torch.no_grad()``; a returned tensor is converted with ``.cpu().numpy()``.
    Deterministic or stochastic action selection is the policy's business.

    With ``seed``, the env is first reset through :func:`rlcore.seeding.seed_env` with the
    ``"eval"`` stream (independent per-sub-env seeds, action and observation spaces seeded);
    later resets are unseeded and continue those streams, so the whole evaluation is
    reproducible. Without ``seed`` the env is reset unseeded. Vector envs in all three
    autoreset modes are handled (NEXT_STEP's autoreset steps are not counted; DISABLED envs are
    reset with ``reset_mask``); each sub-env contributes a fixed number of episodes (see the
    module docstring). Episodes must end (wrap endless envs in ``TimeLimit``).

    With ``video_folder``, every episode is recorded to
    ``<video_folder>/<video_name_prefix>-episode-<k>.mp4`` (``k`` from 0) through Gymnasium's
    ``RecordVideo``, headless; for a single env every frame is written (an episode of ``L``
    steps is ``L + 1`` frames). Vector envs go through Gymnasium's vector ``RecordVideo``, which
    tiles the sub-envs and, in the same-step autoreset mode, misses each episode's last frame:
    record a single env for one video per episode. This needs the env to be created with
    ``render_mode="rgb_array"`` and ``pip install "rlcore[video]"``. The env is not closed.

    Args:
        policy: ``obs -> action`` (batched for vector envs).
        env: a ``gymnasium.Env`` or ``gymnasium.vector.VectorEnv``.
        n_episodes: number of complete episodes, ``>= 1``.
        seed: base seed of the ``"eval"`` stream, or ``None``.
        video_folder: where to write videos, or ``None`` for no video.
        video_name_prefix: file-name prefix of the videos.

    Returns:
        An :class:`EvaluationResult` with ``n_episodes`` entries.

    Raises:
        ValueError: if ``n_episodes`` is not an int ``>= 1``, or a video is requested from an
            env whose ``render_mode`` is not an image mode.
        TypeError: if ``env`` is neither a Gymnasium env nor a vector env.
        ImportError: if a video is requested and moviepy or imageio-ffmpeg is not installed.

    Example:
        >>> import gymnasium as gym
        >>> envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
        >>> result = evaluate(lambda obs: (obs[:, 2] > 0).astype(int), envs, n_episodes=5, seed=0)
        >>> len(result.episode_returns), result.env_indices.tolist().count(0), result.env_indices.tolist().count(1)
        (5, 2, 3)
        >>> bool(result.mean_return == evaluate(lambda obs: (obs[:, 2] > 0).astype(int), envs, 5, seed=0).mean_return)
        True
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
        raise ValueError(f"evaluate: n_episodes must be an int >= 1, got {n_episodes!r}")
    if not isinstance(env, (gym.Env, VectorEnv)):
        raise TypeError(
            f"evaluate: env must be a gymnasium.Env or gymnasium.vector.VectorEnv, got {type(env).__name__}"
        )
    recorder = None if video_folder is None else _video_recorder(env, Path(video_folder), video_name_prefix)
    run_env = env if recorder is None else recorder
    try:
        with torch.no_grad():
            if isinstance(run_env, VectorEnv):
                return _evaluate_vector(policy, run_env, n_episodes, seed)
            return _evaluate_single(policy, run_env, n_episodes, seed)
    finally:
        if recorder is not None and recorder.recording:
            recorder.stop_recording()


def _evaluate_single(
    policy: Policy, env: gym.Env[Any, Any], n_episodes: int, seed: int | None
) -> EvaluationResult:
    obs = seed_env(env, seed, stream="eval").obs if seed is not None else env.reset()[0]
    returns, lengths = [], []
    episode_return, episode_length = 0.0, 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(_to_numpy(policy(obs)))
        episode_return += float(reward)
        episode_length += 1
        if terminated or truncated:
            returns.append(episode_return)
            lengths.append(episode_length)
            if len(returns) == n_episodes:
                break
            episode_return, episode_length = 0.0, 0
            obs, _ = env.reset()
    return _result(returns, lengths, [0] * n_episodes)


def _evaluate_vector(policy: Policy, env: VectorEnv, n_episodes: int, seed: int | None) -> EvaluationResult:
    num_envs = int(env.num_envs)
    targets = np.array([(n_episodes + i) // num_envs for i in range(num_envs)], dtype=np.int64)
    counts = np.zeros(num_envs, dtype=np.int64)
    running_return = np.zeros(num_envs, dtype=np.float64)
    running_length = np.zeros(num_envs, dtype=np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    indices: list[int] = []
    tracker = AutoresetTracker.of(env, "evaluate")
    obs = seed_env(env, seed, stream="eval").obs if seed is not None else env.reset()[0]
    tracker.on_reset()
    while (counts < targets).any():
        obs, rewards, terminated, truncated, _ = env.step(_to_numpy(policy(obs)))
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        _, transition = tracker.on_step(terminated, truncated)
        running_return[transition] += np.asarray(rewards, dtype=np.float64)[transition]
        running_length[transition] += 1
        done = (terminated | truncated) & transition
        for i in np.flatnonzero(done):
            if counts[i] < targets[i]:
                returns.append(float(running_return[i]))
                lengths.append(int(running_length[i]))
                indices.append(int(i))
                counts[i] += 1
        running_return[done] = 0.0
        running_length[done] = 0
        if tracker.mode == AutoresetMode.DISABLED and done.any():
            obs, _ = env.reset(options={"reset_mask": done})
            tracker.on_reset(done)
    return _result(returns, lengths, indices)


def _result(returns: list[float], lengths: list[int], indices: list[int]) -> EvaluationResult:
    return EvaluationResult(
        episode_returns=np.asarray(returns, dtype=np.float64),
        episode_lengths=np.asarray(lengths, dtype=np.int64),
        env_indices=np.asarray(indices, dtype=np.int64),
    )


def _to_numpy(action: Any) -> Any:
    if isinstance(action, torch.Tensor):
        return action.detach().cpu().numpy()
    return action


def _video_recorder(env: gym.Env[Any, Any] | VectorEnv, folder: Path, prefix: str) -> Any:
    check_video_support(env.render_mode, "evaluate: video_folder")
    if isinstance(env, VectorEnv):
        # Imported here: Gymnasium's rendering wrappers pull in optional dependencies at use.
        from gymnasium.wrappers.vector import RecordVideo as VectorRecordVideo

        return VectorRecordVideo(env, str(folder), episode_trigger=_always, name_prefix=prefix)
    return RecordVideo(env, folder, episode_trigger=_always, name_prefix=prefix)


def _always(episode: int) -> bool:
    return True
