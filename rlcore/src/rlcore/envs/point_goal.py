"""A 2-D point that must find which of ``num_goals`` goals on a circle pays: :class:`PointGoalEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from rlcore.envs._task import TaskParameterisedEnv, check_int_at_least, check_positive_float

__all__ = ["PointGoalEnv"]


class PointGoalEnv(TaskParameterisedEnv[NDArray[np.float32], NDArray[np.float32]]):
    r"""A point in the plane moving towards goal ``task``, one of ``num_goals`` on a circle.

    The 2-D navigation task of Finn et al., "Model-Agnostic Meta-Learning for Fast
    Adaptation of Deep Networks", ICML 2017 (https://arxiv.org/abs/1703.03400), with a
    discrete set of goals (as in the goal sets of Rakelly et al., PEARL, 2019): goal
    :math:`g_i = R\,(\cos(2\pi i / N), \sin(2\pi i / N))` with :math:`R` = ``goal_distance``,
    :math:`N` = ``num_goals``. The agent sees only its position, so it must find the goal from
    the rewards.

    * ``task_space``: ``Discrete(num_goals)``; ``task`` is an int.
    * ``observation_space``: ``Box(-2R, 2R, (2,), float32)``, the position :math:`x_t`.
    * ``action_space``: ``Box(-1, 1, (2,), float32)``, a velocity; actions are clipped to it.
    * dynamics: :math:`x_{t+1} = \mathrm{clip}(x_t + v\,\mathrm{clip}(a_t, -1, 1), -2R, 2R)`
      with :math:`v` = ``max_step``; :math:`x_0 \sim U[-0.05R, 0.05R]^2` from ``np_random``.
    * reward: :math:`-\lVert x_{t+1} - g_{\text{task}} \rVert_2`.
    * ``terminated`` once within ``goal_radius`` of the goal; truncation is left to
      ``TimeLimit`` (``rlcore/PointGoal-v0`` registers ``max_episode_steps=50``).
    * ``info["distance"]``: the distance to the goal after the step.

    Positions are computed in float64; observations are their float32 cast. The task is set
    with ``set_task`` (or ``next_task``) and takes effect at the next ``reset``; the default
    is goal 0. Registered as ``rlcore/PointGoal-v0`` by ``import rlcore.envs``.

    Example:
        >>> env = PointGoalEnv(num_goals=4, max_step=0.5)
        >>> env.set_task(1)  # the goal at (0, 1)
        >>> obs, info = env.reset(seed=0)
        >>> obs
        array([ 0.01369617, -0.02302133], dtype=float32)
        >>> obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0], dtype=np.float32))
        >>> round(reward, 4), terminated
        (-0.5232, False)
        >>> obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0], dtype=np.float32))
        >>> round(reward, 4), terminated
        (-0.0268, True)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        num_goals: number of goals :math:`N`, an int ``>= 1``.
        goal_distance: radius :math:`R` of the circle of goals, ``> 0``.
        goal_radius: distance to the goal that ends the episode, ``> 0``.
        max_step: distance moved per step at full speed :math:`v`, ``> 0``.
        task: the first goal index, or ``None`` for goal 0.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's convention)
    #: Half-width of the square of start positions, as a fraction of ``goal_distance``.
    START_NOISE = 0.05

    def __init__(
        self,
        num_goals: int = 8,
        goal_distance: float = 1.0,
        goal_radius: float = 0.1,
        max_step: float = 0.1,
        task: int | None = None,
    ) -> None:
        owner = "PointGoalEnv"
        self.num_goals = check_int_at_least(num_goals, 1, "num_goals", owner)
        self.goal_distance = check_positive_float(goal_distance, "goal_distance", owner)
        self.goal_radius = check_positive_float(goal_radius, "goal_radius", owner)
        self.max_step = check_positive_float(max_step, "max_step", owner)
        angles = 2.0 * np.pi * np.arange(self.num_goals) / self.num_goals
        #: Goal positions, float64, shape ``(num_goals, 2)``.
        self.goals = self.goal_distance * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self._bound = 2.0 * self.goal_distance
        self.task_space = spaces.Discrete(self.num_goals)
        self.observation_space = spaces.Box(-self._bound, self._bound, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._init_task(task, 0)
        self._position = np.zeros(2, dtype=np.float64)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start near the origin, heading for goal ``next_task``."""
        super().reset(seed=seed)
        self._apply_next_task()
        noise = self.START_NOISE * self.goal_distance
        self._position = self.np_random.uniform(-noise, noise, size=2)
        return self._position.astype(np.float32), {}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Move by ``max_step * clip(action, -1, 1)``; reward the negative distance to the goal."""
        velocity = np.asarray(action, dtype=np.float64)
        if velocity.shape != (2,) or not np.all(np.isfinite(velocity)):
            raise ValueError(
                f"PointGoalEnv.step: action must be a finite array of shape (2,), got {action!r}"
            )
        self._position = np.clip(
            self._position + self.max_step * np.clip(velocity, -1.0, 1.0), -self._bound, self._bound
        )
        distance = float(np.linalg.norm(self._position - self.goals[self._task]))
        terminated = distance <= self.goal_radius
        return self._position.astype(np.float32), -distance, terminated, False, {"distance": distance}
