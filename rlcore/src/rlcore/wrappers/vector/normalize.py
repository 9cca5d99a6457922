"""Vector twins of :mod:`rlcore.wrappers.normalize`, for every Gymnasium 1.x autoreset mode.

* :class:`NormalizeObservation` - running mean/variance normalisation of the observations.
* :class:`NormalizeReward` - scaling by the running standard deviation of the discounted return.

Statistics are shared across sub-envs by default (one ``RunningMeanStd(shape)``, whose
``state_dict`` loads into the single-env wrapper and back), or kept per sub-env with
``per_env=True`` (``RunningMeanStd(shape, num_streams=num_envs)``).

The statistics are those of the single-env twins run over the same episodes: ``num_envs``
single-env wrappers sharing one ``RunningMeanStd`` (the default), or each with its own
(``per_env=True``), every episode started by ``reset()``. Up to rounding (a batch enters at
once) they agree in every autoreset mode (see :mod:`rlcore._autoreset`):

* Observations: each episode's first observation and every observation a transition leads
  to, final ones included. So every row of every batch that ``reset`` and ``step`` return
  enters, except that ``reset(options={"reset_mask": mask})`` enters only the reset
  sub-envs' rows; NEXT_STEP's autoreset step enters its rows (they are the new episodes'
  first observations); SAME_STEP enters, for a finished sub-env, both its final observation
  ``info["final_obs"][i]`` (first, as the twin's last ``step``) and the reset observation
  returned in its place (then, as the twin's ``reset``).
* Rewards: every transition's discounted return ``G = gamma * G + r``, with ``G`` cleared
  when the sub-env's episode ends (terminated or truncated) and when ``reset`` resets that
  sub-env. NEXT_STEP's autoreset step (reset observation, reward 0, flags False) is not a
  transition: it enters nothing and leaves ``G`` alone.

How this differs from Gymnasium's vector wrappers: its ``NormalizeObservation`` enters the
same rows in NEXT_STEP but refuses SAME_STEP and partial resets; its ``NormalizeReward``
clears every accumulator on a partial reset, not only the reset sub-envs' ones, enters
``r_T`` alone as the return of a terminating step and, in NEXT_STEP mode, carries returns
into the next episode (see :class:`rlcore.wrappers.normalize.NormalizeReward`).
Stable-Baselines3's ``VecNormalize`` enters the reset observation but never the final one.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from rlcore._autoreset import AutoresetTracker, final_observations, with_final_observations
from rlcore.stats import RunningMeanStd
from rlcore.wrappers._normalize import (
    ObservationNormalizerState,
    RewardNormalizerState,
    as_float64,
    check_clip,
    check_epsilon,
    check_gamma,
    check_obs_finite,
    check_rewards_finite,
    checked_float64,
    normalized_box,
    observation_shape,
    resolve_rms,
    standardize,
    statistics_overflow,
)

__all__ = ["NormalizeObservation", "NormalizeReward"]


def _check_per_env(owner: str, per_env: bool) -> bool:
    if not isinstance(per_env, (bool, np.bool_)):
        raise TypeError(f"{owner}: per_env must be a bool, got {per_env!r}")
    return bool(per_env)


_OBS = "NormalizeObservation"
_REW = "NormalizeReward"


def _partial(mask: np.ndarray) -> np.ndarray | None:
    """``mask``, or ``None`` when every row is selected (the statistics then skip the indexing)."""
    return None if np.count_nonzero(mask) == mask.shape[0] else mask


class NormalizeObservation(
    ObservationNormalizerState,
    VectorWrapper[np.ndarray, Any, np.ndarray, Any, np.ndarray],
    gym.utils.RecordConstructorArgs,
):
    r"""Normalises observations by the running mean and variance of the observations, per element.

    .. math::
        \hat o_i = \operatorname{clip}\!\Big(\frac{o_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, -c, c\Big)

    for every sub-env ``i`` (with ``per_env=True``, :math:`\mu_i, \sigma_i^2`). ``obs_rms`` is a
    float64 :class:`~rlcore.stats.RunningMeanStd` of shape ``S`` (``per_env``: of
    ``num_streams=num_envs``), prior count ``1e-4``; it is updated before the batch is
    normalised, so that it equals the statistics of the single-env twin
    (:class:`rlcore.wrappers.normalize.NormalizeObservation`) over the same episodes. What
    enters, per autoreset mode:

    * NEXT_STEP: every row of every ``reset`` and ``step`` batch, the autoreset step's reset
      observations included (as in Gymnasium's vector wrapper).
    * SAME_STEP: every row of every batch, and the final observation ``info["final_obs"][i]``
      of each sub-env whose episode ended; the final observations enter (and are normalised)
      before the reset observations returned in their place.
    * DISABLED: every row of every ``step`` batch, and the rows of the sub-envs that
      ``reset(options={"reset_mask": mask})`` resets.

    Observations: a batch ``(num_envs, *S)`` of a ``Box`` space, any real dtype, in; float32
    ``(num_envs, *S)`` out. ``single_observation_space`` becomes ``Box(-inf, inf, S, float32)``
    (``Box(-clip, clip, ...)`` with ``clip``). In SAME_STEP mode the returned info is a new dict
    whose ``final_obs`` is a new object array with the finished sub-envs' final observations
    normalised (float32); the inner env's info is not modified.

    Example:
        >>> import gymnasium as gym
        >>> from rlcore.wrappers.vector.normalize import NormalizeObservation
        >>> envs = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
        >>> envs = NormalizeObservation(envs, per_env=True)
        >>> obs, info = envs.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((3, 4), dtype('float32'))
        >>> for _ in range(4):
        ...     obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        >>> envs.obs_rms.count  # per sub-env: the 1e-4 prior and 5 observations
        array([5.0001, 5.0001, 5.0001])
        >>> envs.state_dict()["obs_rms"]["mean"].shape
        torch.Size([3, 4])

    Args:
        env: the vector env; its single observation space must be a ``Box``.
        epsilon: added to the variance under the square root; ``> 0``.
        clip: ``None``, or a bound ``> 0`` for the absolute value of the normalised observation.
        obs_rms: statistics to share, of the layout ``per_env`` asks for; ``None`` for new ones.
        per_env: one statistic per sub-env instead of one shared by all.

    Raises:
        TypeError: if the single observation space is not a ``Box``, or an argument has the
            wrong type.
        ValueError: for a bad ``epsilon``, ``clip`` or ``obs_rms`` layout; and from ``reset`` /
            ``step``, for an observation with NaN or inf (the message names the sub-env and
            the element), before the statistics are touched.

    Change logs:
     * v0.1.0 - Initially added
     * Unreleased - the statistics are the single-env twin's: NEXT_STEP's autoreset step and,
       in SAME_STEP, the reset observations (besides ``final_obs``) enter them
    """

    def __init__(
        self,
        env: VectorEnv,
        epsilon: float = 1e-8,
        clip: float | None = None,
        obs_rms: RunningMeanStd | None = None,
        per_env: bool = False,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, epsilon=epsilon, clip=clip, obs_rms=obs_rms, per_env=per_env
        )
        VectorWrapper.__init__(self, env)
        name = type(self).__name__
        self.epsilon = check_epsilon(name, epsilon)
        self.clip = check_clip(name, clip)
        self.per_env = _check_per_env(name, per_env)
        shape = observation_shape(name, env.single_observation_space)
        self._batch_shape = (self.num_envs, *shape)
        self.obs_rms = resolve_rms(name, "obs_rms", obs_rms, shape, self.num_envs if self.per_env else None)
        self.single_observation_space = normalized_box(shape, self.clip)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._tracker = AutoresetTracker.of(env, name)
        self._same_step = self._tracker.mode == AutoresetMode.SAME_STEP

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset (some) sub-envs; the reset rows enter the statistics (unless frozen)."""
        # Before env.reset: Gymnasium's vector envs pop "reset_mask" out of the options.
        reset = self._tracker.reset_rows(options)
        obs, info = self.env.reset(seed=seed, options=options)
        self._tracker.on_reset(reset)
        x = as_float64(_OBS, obs, self._batch_shape)
        self._update(obs, x, _partial(reset))
        return self._normalize(x), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step the sub-envs; every returned observation (and SAME_STEP's final ones) enters the statistics."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        x = as_float64(_OBS, obs, self._batch_shape)
        # Every row is an observation the policy acts on, NEXT_STEP's autoreset rows included
        # (the single-env twin enters them from its reset()). Only SAME_STEP hides
        # observations elsewhere, the finished episodes' last ones in info["final_obs"].
        if self._same_step:
            started, _ = self._tracker.on_step(terminated, truncated)
            if self._tracker.any_started:
                return self._step_with_final_obs(obs, x, started, rewards, terminated, truncated, info)
        self._update(obs, x, None)
        return self._normalize(x), rewards, terminated, truncated, info

    def _step_with_final_obs(
        self,
        obs: Any,
        x: np.ndarray,
        started: np.ndarray,
        rewards: Any,
        terminated: Any,
        truncated: Any,
        info: dict[str, Any],
    ) -> tuple[np.ndarray, Any, Any, Any, dict[str, Any]]:
        """SAME_STEP with finished sub-envs: their final and their reset observations both enter.

        In the order of the single-env twin (last step, then ``reset()``): the final
        observations enter first and are normalised with those statistics, then the reset
        observations enter and the returned batch is normalised. With ``per_env=True`` both
        outputs are then the twin's, up to rounding.
        """
        check_obs_finite(_OBS, obs, batched=True)
        entering = self._with_final_obs(x, info, started)
        if not self._frozen:
            self._enter(entering, None)
        # Normalising the whole batch keeps per-env statistics aligned with their rows.
        final = self._normalize(entering)
        if not self._frozen:
            self._enter(x, _partial(started))
        rows = np.flatnonzero(started)
        return (
            self._normalize(x),
            rewards,
            terminated,
            truncated,
            with_final_observations(info, rows, final[rows]),
        )

    def _update(self, obs: Any, x: np.ndarray, mask: np.ndarray | None) -> None:
        """Check the whole batch for NaN and inf, then (unless frozen) enter the rows of ``mask``.

        ``obs`` is the batch as the env returned it and ``x`` its float64 copy. With every
        row entering shared statistics, the check rides on their own batch reduction, and an
        error is then restated by the precise check in this wrapper's words.
        """
        if self._frozen or mask is not None or self.per_env:
            # The rows outside the mask are returned too, so they are checked as well.
            check_obs_finite(_OBS, obs, batched=True)
            if not self._frozen:
                self._enter(x, mask)
            return
        try:
            self.obs_rms.update(x)
        except ValueError as error:
            check_obs_finite(_OBS, obs, batched=True)  # NaN or inf, in this wrapper's words
            raise statistics_overflow(_OBS, "observations", error) from error

    def _enter(self, x: np.ndarray, mask: np.ndarray | None) -> None:
        """Enter the rows of ``x`` (float64, checked for NaN and inf) that ``mask`` selects."""
        try:
            self.obs_rms.update(x, mask, check_finite=False)
        except ValueError as error:  # x is finite: values too large for the statistics
            raise statistics_overflow(_OBS, "observations", error) from error

    def _normalize(self, x: np.ndarray) -> np.ndarray:
        rms = self.obs_rms
        return standardize(x, rms.mean, np.sqrt(rms.var + self.epsilon), self.clip)

    def _with_final_obs(self, x: np.ndarray, info: dict[str, Any], started: np.ndarray) -> np.ndarray:
        """The batch with the finished sub-envs' rows replaced by their ``info["final_obs"]``."""
        rows = np.flatnonzero(started)
        final_obs = final_observations(info, rows, _OBS)
        entering = np.array(x, dtype=np.float64, copy=True)
        for i in rows:
            final = np.asarray(final_obs[i])
            if final.shape != self._batch_shape[1:]:
                raise ValueError(
                    f"NormalizeObservation: info['final_obs'][{i}] has shape {final.shape}, "
                    f"expected {self._batch_shape[1:]}"
                )
            entering[i] = final
        return checked_float64(_OBS, entering, self._batch_shape, batched=True, what="final observation")


class NormalizeReward(
    RewardNormalizerState,
    VectorWrapper[Any, Any, Any, Any, np.ndarray],
    gym.utils.RecordConstructorArgs,
):
    r"""Scales rewards by the running standard deviation of the discounted return, per sub-env.

    With the accumulators :math:`G_i` (attribute ``discounted_return``, float64
    ``(num_envs,)``), every transition of sub-env ``i`` does

    .. math::
        G_i \leftarrow \gamma G_i + r_{t,i},\qquad \text{update } \sigma^2 \text{ with } G_i,\qquad
        \hat r_{t,i} = \operatorname{clip}\!\Big(\frac{r_{t,i}}{\sqrt{\sigma^2 + \epsilon}}, -c, c\Big),

    and then sets :math:`G_i = 0` if it terminated **or** truncated, as the single-env twin
    (:class:`rlcore.wrappers.normalize.NormalizeReward`) does at an episode's end, and as
    Stable-Baselines3's ``VecNormalize`` does. ``reset()`` clears the accumulators of the
    sub-envs it resets (Gymnasium's vector wrapper clears them all). ``return_rms`` is a
    float64 :class:`~rlcore.stats.RunningMeanStd` of shape ``()`` (``per_env``:
    ``num_streams=num_envs``), prior count ``1e-4``; it equals the twin's statistics over the
    same episodes. NEXT_STEP's autoreset step is not a transition: it enters nothing, keeps
    :math:`G_i`, and its reward (0) is returned as 0. Gymnasium's vector wrapper enters
    :math:`r_T` alone at a termination and, in NEXT_STEP mode, carries the return into the
    next episode as its single-env wrapper does (see the twin).

    Rewards: ``(num_envs,)`` of any real dtype in; float64 ``(num_envs,)`` out. Observations
    and infos pass through unchanged. Frozen (:meth:`freeze`), the statistics are used but not
    updated; the accumulators still follow the episodes.

    Example:
        >>> import gymnasium as gym
        >>> from rlcore.wrappers.vector.normalize import NormalizeReward
        >>> envs = NormalizeReward(gym.make_vec("CartPole-v1", num_envs=2), gamma=0.5)
        >>> _ = envs.reset(seed=0)
        >>> for _ in range(3):
        ...     obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        >>> envs.discounted_return  # 1, 1.5, 1.75 in each sub-env
        array([1.75, 1.75])
        >>> envs.return_rms.count  # shared: 2 sub-envs x 3 steps and the 1e-4 prior
        6.0001

    Args:
        env: the vector env.
        gamma: discount of the accumulated return, in ``[0, 1]``.
        epsilon: added to the variance under the square root; ``> 0``.
        clip: ``None``, or a bound ``> 0`` for the absolute value of the scaled reward.
        return_rms: statistics to share, of the layout ``per_env`` asks for; ``None`` for new ones.
        per_env: one statistic per sub-env instead of one shared by all.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: for a bad ``gamma``, ``epsilon``, ``clip`` or ``return_rms`` layout; and
            from ``step``, for a NaN or inf reward (the message names the sub-env), before
            anything is updated.

    Change logs:
     * v0.1.0 - Initially added
    """

    def __init__(
        self,
        env: VectorEnv,
        gamma: float = 0.99,
        epsilon: float = 1e-8,
        clip: float | None = None,
        return_rms: RunningMeanStd | None = None,
        per_env: bool = False,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, gamma=gamma, epsilon=epsilon, clip=clip, return_rms=return_rms, per_env=per_env
        )
        VectorWrapper.__init__(self, env)
        name = type(self).__name__
        self.gamma = check_gamma(name, gamma)
        self.epsilon = check_epsilon(name, epsilon)
        self.clip = check_clip(name, clip)
        self.per_env = _check_per_env(name, per_env)
        self.return_rms = resolve_rms(
            name, "return_rms", return_rms, (), self.num_envs if self.per_env else None
        )
        self.discounted_return = np.zeros(self.num_envs, dtype=np.float64)
        self._reward_shape = (self.num_envs,)
        self._tracker = AutoresetTracker.of(env, name)
        self._next_step = self._tracker.mode == AutoresetMode.NEXT_STEP

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (some) sub-envs and clear their accumulated returns."""
        # Before env.reset: Gymnasium's vector envs pop "reset_mask" out of the options.
        reset = self._tracker.reset_rows(options)
        result = self.env.reset(seed=seed, options=options)
        self._tracker.on_reset(reset)
        self.discounted_return[reset] = 0.0
        return result

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step the sub-envs; each transition's return enters the statistics (unless frozen)."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        tracker = self._tracker
        started, transition = tracker.on_step(terminated, truncated)
        r = np.asarray(rewards, dtype=np.float64)
        if r.shape != self._reward_shape:
            raise ValueError(f"NormalizeReward: rewards have shape {r.shape}, expected {self._reward_shape}")
        returns = self.discounted_return * self.gamma
        returns += r
        # Only NEXT_STEP has steps that are not transitions (its autoreset steps, the
        # `started` rows); they keep their accumulated return.
        masked = self._next_step and tracker.any_started
        if masked:
            np.copyto(returns, self.discounted_return, where=started)
        if self._frozen or masked or self.per_env:
            check_rewards_finite(_REW, r)
            if not self._frozen:
                try:
                    self.return_rms.update(returns, transition if masked else None, check_finite=False)
                except ValueError as error:  # r is finite: returns too large for the statistics
                    raise statistics_overflow(_REW, "discounted returns", error) from error
        else:
            try:
                # The batch sum of shared statistics doubles as the check: it is finite unless
                # a reward is not, or the returns are too large for the statistics.
                self.return_rms.update(returns)
            except ValueError as error:
                check_rewards_finite(_REW, r)  # a NaN or inf reward, in this wrapper's words
                raise statistics_overflow(_REW, "discounted returns", error) from error
        if self.per_env:
            scaled = r / np.sqrt(self.return_rms.var + self.epsilon)
        else:
            # A Python float divisor: 0-d array arithmetic costs twice as much.
            scaled = r / math.sqrt(float(self.return_rms.var) + self.epsilon)
        if self.clip is not None:
            np.minimum(scaled, self.clip, out=scaled)
            np.maximum(scaled, -self.clip, out=scaled)
        if tracker.any_ended:
            returns[tracker.ended] = 0.0
        self.discounted_return = returns
        return obs, scaled, terminated, truncated, info
