"""A Bernoulli multi-armed bandit whose task is the vector of arm probabilities: :class:`BernoulliBanditEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from rlcore.envs._task import TaskParameterisedEnv, check_int_at_least

__all__ = ["BernoulliBanditEnv"]


class BernoulliBanditEnv(TaskParameterisedEnv[NDArray[np.float32], Any]):
    r"""A ``num_arms``-armed Bernoulli bandit played for ``horizon`` pulls; the task is the arm probabilities.

    The multi-armed bandit benchmark of Duan et al., "RL^2: Fast Reinforcement Learning via
    Slow Reinforcement Learning", 2016 (https://arxiv.org/abs/1611.02779), Section 4.1: arm
    :math:`i` pays 1 with probability :math:`p_i` and 0 otherwise, and a task
    :math:`p \sim U[0, 1]^{K}` is a sample of ``task_space``. RL^2 plays one pull per episode
    (``horizon=1``, the default) and ``n`` episodes per trial, which
    :class:`rlcore.wrappers.TrialWrapper` provides.

    * ``task_space``: ``Box(0, 1, (num_arms,), float64)``; ``task`` is a float64 array.
    * ``observation_space``: ``Box(0, 1, (1,), float32)``, the fraction :math:`t / H` of the
      ``horizon`` :math:`H` already played (so the state is Markov for ``horizon > 1``).
    * ``action_space``: ``Discrete(num_arms)``, the arm pulled.
    * reward: :math:`r_t \sim \mathrm{Bernoulli}(p_{a_t})` as a float, drawn from the env's
      ``np_random`` (seeded by ``reset(seed=...)``).
    * ``terminated`` after ``horizon`` pulls; never ``truncated``.
    * ``info["regret"]``: the pseudo-regret :math:`\max_i p_i - p_{a_t}` of the pull.

    The task is set with ``set_task`` (or ``next_task``) and takes effect at the next
    ``reset``; without a ``task`` argument the arms pay :math:`p_i = (i + 1) / (K + 1)`.
    Registered as ``rlcore/BernoulliBandit-v0`` by ``import rlcore.envs``.

    Example:
        >>> env = BernoulliBanditEnv(num_arms=2, horizon=3)
        >>> env.set_task(np.array([0.0, 1.0]))
        >>> env.reset(seed=0)
        (array([0.], dtype=float32), {})
        >>> env.task
        array([0., 1.])
        >>> env.step(1)
        (array([0.33333334], dtype=float32), 1.0, False, False, {'regret': 0.0})
        >>> env.step(0)
        (array([0.6666667], dtype=float32), 0.0, False, False, {'regret': 1.0})

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        num_arms: number of arms :math:`K`, an int ``>= 1``.
        horizon: pulls per episode :math:`H`, an int ``>= 1``.
        task: the first task (arm probabilities, shape ``(num_arms,)``), or ``None``.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's convention)

    def __init__(
        self, num_arms: int = 5, horizon: int = 1, task: NDArray[np.floating[Any]] | None = None
    ) -> None:
        self.num_arms = check_int_at_least(num_arms, 1, "num_arms", "BernoulliBanditEnv")
        self.horizon = check_int_at_least(horizon, 1, "horizon", "BernoulliBanditEnv")
        self.task_space = spaces.Box(0.0, 1.0, (self.num_arms,), np.float64)
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(self.num_arms)
        self._init_task(task, (np.arange(self.num_arms) + 1.0) / (self.num_arms + 1.0))
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start ``horizon`` new pulls with ``next_task``'s arm probabilities."""
        super().reset(seed=seed)
        self._apply_next_task()
        self._t = 0
        return self._observation(), {}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Pull arm ``action``."""
        if action not in self.action_space:
            raise ValueError(f"BernoulliBanditEnv.step: action {action!r} is not in {self.action_space}")
        probability = float(self._task[int(action)])
        reward = float(self.np_random.random() < probability)
        self._t += 1
        regret = float(self._task.max()) - probability
        return self._observation(), reward, self._t >= self.horizon, False, {"regret": regret}

    def _observation(self) -> NDArray[np.float32]:
        return np.array([min(self._t, self.horizon) / self.horizon], dtype=np.float32)
