"""Running normalisation of observations and rewards, with checkpointable, freezable statistics.

* :class:`NormalizeObservation` - centre and scale each observation element by the running
  mean and variance of the observations seen.
* :class:`NormalizeReward` - scale each reward by the running standard deviation of the
  discounted return.

Both keep their statistics in a :class:`rlcore.stats.RunningMeanStd` (float64), which can be
shared with another wrapper (a training env and a frozen evaluation env), saved with
``state_dict()`` (tensors only, loadable with ``torch.load(weights_only=True)``) and frozen.
The vector twins, with the same names, live in :mod:`rlcore.wrappers.vector.normalize`.

Observation normalisation is recommended for on-policy agents by Andrychowicz et al., "What
Matters In On-Policy Reinforcement Learning? A Large-Scale Empirical Study" (ICLR 2021,
https://arxiv.org/abs/2006.05990); reward scaling by the return's standard deviation is the
"reward scaling" studied by Engstrom et al., "Implementation Matters in Deep Policy Gradients:
A Case Study on PPO and TRPO" (ICLR 2020, https://arxiv.org/abs/2005.12729).
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from rlcore.stats import RunningMeanStd
from rlcore.wrappers._normalize import (
    ObservationNormalizerState,
    RewardNormalizerState,
    check_clip,
    check_epsilon,
    check_gamma,
    checked_float64,
    normalize_obs,
    normalized_box,
    observation_shape,
    resolve_rms,
    statistics_overflow,
)

__all__ = ["NormalizeObservation", "NormalizeReward"]


class NormalizeObservation(
    ObservationNormalizerState,
    gym.Wrapper[np.ndarray, Any, np.ndarray, Any],
    gym.utils.RecordConstructorArgs,
):
    r"""Normalises each observation element by the running mean and variance of the observations.

    .. math::
        \hat o = \operatorname{clip}\!\Big(\frac{o - \mu}{\sqrt{\sigma^2 + \epsilon}}, -c, c\Big)

    where :math:`\mu, \sigma^2` (attribute ``obs_rms``, a float64
    :class:`~rlcore.stats.RunningMeanStd` of the observation's shape, prior count ``1e-4``)
    are updated with every observation that ``reset`` and ``step`` return, before it is
    normalised. With ``clip=None`` the outputs are those of
    ``gymnasium.wrappers.NormalizeObservation`` (which keeps its statistics in float32).
    The vector twin, :class:`rlcore.wrappers.vector.NormalizeObservation`, enters the same
    observations in every autoreset mode: each episode's first one and every one a step
    returns, final ones included.

    ``obs_rms.mean`` and ``obs_rms.var`` are updated in place, where Gymnasium's and
    Stable-Baselines3's ``RunningMeanStd`` bind new arrays: code ported from them that keeps
    ``wrapper.obs_rms.var`` as a snapshot sees it change with the next step, so copy it.

    Observations: any shape ``S`` of a ``Box`` space, any real dtype, in; float32 of shape
    ``S`` out. The observation space becomes ``Box(-inf, inf, S, float32)``, or
    ``Box(-clip, clip, S, float32)`` with ``clip``.

    Frozen (:meth:`freeze`), the wrapper normalises with the current statistics and never
    updates them. Passing ``obs_rms`` shares an existing statistics object, e.g. so that an
    evaluation env normalises with the training env's statistics:

    Example:
        >>> import gymnasium as gym
        >>> from rlcore.wrappers.normalize import NormalizeObservation
        >>> env = NormalizeObservation(gym.make("CartPole-v1"))
        >>> env.observation_space
        Box(-inf, inf, (4,), float32)
        >>> obs, info = env.reset(seed=0)
        >>> obs.dtype
        dtype('float32')
        >>> for _ in range(9):
        ...     obs, reward, terminated, truncated, info = env.step(0)
        >>> env.obs_rms.count  # the 1e-4 prior and 10 observations
        10.0001
        >>> eval_env = NormalizeObservation(gym.make("CartPole-v1"), obs_rms=env.obs_rms)
        >>> eval_env.freeze()
        >>> _ = eval_env.reset(seed=1)
        >>> env.obs_rms.count
        10.0001
        >>> state = env.state_dict()  # tensors only: torch.save / torch.load(weights_only=True)
        >>> sorted(state["obs_rms"])
        ['count', 'mean', 'var']

    Args:
        env: the env; its observation space must be a ``Box``.
        epsilon: added to the variance under the square root; ``> 0``.
        clip: ``None``, or a bound ``> 0`` for the absolute value of the normalised observation.
        obs_rms: statistics to share, of shape ``S`` and the shared layout; ``None`` for new ones.

    Raises:
        TypeError: if the observation space is not a ``Box`` or ``obs_rms`` is not a
            ``RunningMeanStd``.
        ValueError: for a bad ``epsilon``, ``clip`` or ``obs_rms`` layout; and from ``reset`` /
            ``step``, for an observation with NaN or inf (the message names the element) or
            of the wrong shape, before the statistics are touched.

    Change logs:
     * v0.1.0 - Initially added
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        epsilon: float = 1e-8,
        clip: float | None = None,
        obs_rms: RunningMeanStd | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, epsilon=epsilon, clip=clip, obs_rms=obs_rms)
        gym.Wrapper.__init__(self, env)
        name = type(self).__name__
        self.epsilon = check_epsilon(name, epsilon)
        self.clip = check_clip(name, clip)
        self._shape = observation_shape(name, env.observation_space)
        self.obs_rms = resolve_rms(name, "obs_rms", obs_rms, self._shape, None)
        self.observation_space = normalized_box(self._shape, self.clip)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env; the observation enters the statistics (unless frozen) and is normalised."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self._normalize(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; the observation enters the statistics (unless frozen) and is normalised."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._normalize(obs), reward, terminated, truncated, info

    def _normalize(self, obs: Any) -> np.ndarray:
        x = checked_float64("NormalizeObservation", obs, self._shape, batched=False)
        if not self._frozen:
            try:
                self.obs_rms.update_one(x, check_finite=False)
            except ValueError as error:  # x is finite: values too large for the statistics
                raise statistics_overflow("NormalizeObservation", "observations", error) from error
        return normalize_obs(x, self.obs_rms, self.epsilon, self.clip)


class NormalizeReward(
    RewardNormalizerState,
    gym.Wrapper[Any, Any, Any, Any],
    gym.utils.RecordConstructorArgs,
):
    r"""Scales rewards by the running standard deviation of the discounted return.

    With the accumulator :math:`G` (attribute ``discounted_return``, a float), every step does

    .. math::
        G \leftarrow \gamma G + r_t,\qquad \text{update } \sigma^2 \text{ with } G,\qquad
        \hat r_t = \operatorname{clip}\!\Big(\frac{r_t}{\sqrt{\sigma^2 + \epsilon}}, -c, c\Big),

    and then sets :math:`G = 0` if the step terminated **or** truncated; ``reset()`` also sets
    :math:`G = 0`. :math:`\sigma^2` lives in ``return_rms``, a float64
    :class:`~rlcore.stats.RunningMeanStd` of shape ``()`` (prior count ``1e-4``). The reward is
    not centred (centring would change the sign of rewards, see openai/baselines#538).

    This is the convention of Stable-Baselines3's ``VecNormalize(norm_reward=True)``, whose
    ``dones`` merge termination and truncation: with ``clip=10.0`` the outputs are those of
    ``VecNormalize(norm_obs=False, gamma=gamma, epsilon=epsilon)`` on the same trajectory
    (its ``clip_reward`` defaults to 10; ``clip=None`` matches ``clip_reward=inf``), as
    a Python float where it returns float32.

    It differs from ``gymnasium.wrappers.NormalizeReward``, which computes
    :math:`G \leftarrow \gamma (1 - \text{terminated}) G + r_t` and never clears :math:`G`,
    not even in ``reset()``: on a termination it enters :math:`r_T` alone and carries
    :math:`\gamma r_T` into the next episode's first return; on a truncation it carries the
    whole return (Gymnasium issues #760 and #1507). ``return_rms`` is updated in place (see
    :class:`NormalizeObservation`).

    Rewards: any real scalar in; a Python float out. Observations pass through unchanged.
    Frozen (:meth:`freeze`), the wrapper scales with the current statistics and never updates
    them; the accumulator still follows the episode, so unfreezing mid-episode is consistent.

    Example:
        >>> import gymnasium as gym
        >>> from rlcore.wrappers.normalize import NormalizeReward
        >>> env = NormalizeReward(gym.make("CartPole-v1"), gamma=0.5)
        >>> _ = env.reset(seed=0)
        >>> rewards = [env.step(0)[1] for _ in range(3)]  # CartPole pays 1 per step
        >>> env.discounted_return, env.return_rms.count  # returns 1, 1.5 and 1.75 entered
        (1.75, 3.0001)
        >>> round(rewards[-1], 4)  # 1 / sqrt(var + epsilon), var of the prior and the 3 returns
        3.2055
        >>> sorted(env.state_dict())
        ['discounted_return', 'return_rms']

    Args:
        env: the env.
        gamma: discount of the accumulated return, in ``[0, 1]``.
        epsilon: added to the variance under the square root; ``> 0``.
        clip: ``None``, or a bound ``> 0`` for the absolute value of the scaled reward.
        return_rms: statistics to share, of shape ``()`` and the shared layout; ``None`` for
            new ones.

    Raises:
        TypeError: if ``return_rms`` is not a ``RunningMeanStd``.
        ValueError: for a bad ``gamma``, ``epsilon``, ``clip`` or ``return_rms`` layout; and
            from ``step``, for a NaN or inf reward, before anything is updated.

    Change logs:
     * v0.1.0 - Initially added
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        gamma: float = 0.99,
        epsilon: float = 1e-8,
        clip: float | None = None,
        return_rms: RunningMeanStd | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, gamma=gamma, epsilon=epsilon, clip=clip, return_rms=return_rms
        )
        gym.Wrapper.__init__(self, env)
        name = type(self).__name__
        self.gamma = check_gamma(name, gamma)
        self.epsilon = check_epsilon(name, epsilon)
        self.clip = check_clip(name, clip)
        self.return_rms = resolve_rms(name, "return_rms", return_rms, (), None)
        self.discounted_return = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the accumulated return."""
        self.discounted_return = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; the return enters the statistics (unless frozen) and the reward is scaled."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"NormalizeReward: non-finite reward {r!r}; expected a finite number")
        discounted_return = self.gamma * self.discounted_return + r
        if not self._frozen:
            try:
                self.return_rms.update_scalar(discounted_return, check_finite=False)
            except ValueError as error:  # r is finite: a return too large for the statistics
                raise statistics_overflow("NormalizeReward", "discounted returns", error) from error
        scaled = r / math.sqrt(float(self.return_rms.var) + self.epsilon)
        if self.clip is not None:
            scaled = min(max(scaled, -self.clip), self.clip)
        self.discounted_return = 0.0 if (terminated or truncated) else discounted_return
        return obs, scaled, terminated, truncated, info
