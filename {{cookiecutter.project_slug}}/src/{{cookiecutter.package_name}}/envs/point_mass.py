r"""A point mass that must reach a goal in the plane, :class:`PointMassEnv`: the pattern of an env.

Copy this file to write an env of your own: ``envs/__init__.py`` registers it, then
``python -m {{ cookiecutter.package_name }}.train ppo --env-id {{ cookiecutter.package_name }}/Name-v0`` trains on it.
What it shows:

* **Spaces**, set in ``__init__``: every observation lies in ``observation_space`` (honest
  bounds, the dtype of the observations) and every action of ``action_space`` is accepted.
  ``gymnasium.utils.env_checker.check_env`` (tests/test_point_mass.py) checks both.
* **Seeding** only through ``reset(seed=...)``: ``super().reset(seed=seed)`` seeds
  ``self.np_random``, the env's one source of randomness (never ``np.random``, ``random`` or a
  generator of its own); ``reset()`` without a seed continues its stream. A vector env's
  ``reset(seed=s)`` seeds its sub-envs ``s``, ``s + 1``, ...
* **terminated versus truncated**: ``terminated`` means the task ended (the goal is reached):
  nothing follows, and an agent's value target stops there. Running out of time is
  ``truncated``, which the registration's ``TimeLimit`` wrapper (``max_episode_steps``) reports:
  ``step`` itself never truncates, and an agent bootstraps a truncated episode from the value of
  its last observation.
* **Rendering**: ``render_mode`` is a constructor argument, one of ``metadata["render_modes"]``
  (``gymnasium.make`` checks it); ``"rgb_array"`` frames are ``(height, width, 3)`` uint8 arrays,
  drawn here with NumPy alone, and ``metadata["render_fps"]`` is the frame rate of recorded
  videos (``--capture-video``, ``evaluate --video``).
* **close** releases what the env holds (a window, a simulator's connection); this one holds
  nothing.
* **Types for strict mypy**: ``gymnasium.Env[ObsType, ActType]`` with the type of an
  observation, ``NDArray[np.float32]`` (``numpy.typing``: the dtype is part of the type), and of
  an action, ``np.int64`` (what ``Discrete`` samples and a vector env passes, not ``int``);
  ``reset``, ``step`` and ``render`` declare exactly what they return, and ``metadata`` is the
  class attribute Gymnasium declares. The registration names the class by a string
  (``envs/__init__.py`` says why).

**Continuous actions** (PPO's Gaussian policy; DQN needs ``Discrete``): make ``action_space``
``spaces.Box(-1.0, 1.0, (2,), np.float32)``, the action type ``NDArray[np.float32]``, and the push
``np.clip(action, -1.0, 1.0)`` instead of ``PUSHES[action]``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

__all__ = ["PUSHES", "PointMassEnv"]

#: The push of each action: 0 coasts, 1 pushes towards +x, 2 -x, 3 +y, 4 -y.
PUSHES = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


class PointMassEnv(gym.Env[NDArray[np.float32], np.int64]):
    r"""A point mass pushed along the axes in the square :math:`[-1, 1]^2` until it reaches a goal.

    * ``observation_space``: ``Box((6,), float32)``, the position :math:`x`, the velocity
      :math:`v` and the goal seen from the point, :math:`g - x`, within
      :math:`[-1, 1]^2 \times [-v_\max, v_\max]^2 \times [-1 - G, 1 + G]^2`, :math:`G` =
      ``GOAL_AREA``.
    * ``action_space``: ``Discrete(5)``, a push :math:`u(a)` of :data:`PUSHES` (coast, +x, -x,
      +y, -y), so that PPO and DQN both train on it.
    * dynamics, in steps of ``DT`` seconds: :math:`v' = \operatorname{clip}(\delta v + \alpha
      u(a), -v_\max, v_\max)` with damping :math:`\delta` = ``DAMPING`` and push :math:`\alpha`
      = ``PUSH`` (a top speed of :math:`\alpha / (1 - \delta) = v_\max` = ``MAX_SPEED``), then
      :math:`x' = \operatorname{clip}(x + \Delta t\, v', -1, 1)`; a wall stops the velocity
      across it.
    * reset: :math:`x \sim U[-G, G]^2`, :math:`v = 0`, and the goal :math:`g \sim U[-G, G]^2`
      drawn again until it is at least ``MIN_GOAL_DISTANCE`` from :math:`x`.
    * reward: the progress towards the goal, :math:`\beta\,(d - d')` with :math:`d =
      \lVert g - x \rVert_2` and :math:`\beta` = ``PROGRESS_SCALE`` (a potential-based shaping:
      Ng, Harada and Russell, "Policy invariance under reward transformations", ICML 1999),
      minus ``TIME_COST`` (the faster, the better), plus ``GOAL_BONUS`` on reaching the goal.
      An episode's return is :math:`\beta\,(d_0 - d_T) - T \cdot` ``TIME_COST`` (+ the bonus).
    * ``terminated`` once :math:`d' \le` ``GOAL_RADIUS``; ``truncated`` never (the registration's
      ``TimeLimit`` truncates at 200 steps).
    * ``info["distance"]``: :math:`d` after the reset or the step.

    The state is float64; observations are its float32 cast. Registered as
    ``{{ cookiecutter.package_name }}/PointMass-v0`` by ``import {{ cookiecutter.package_name }}``.

    Example:
        >>> env = PointMassEnv()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype, env.action_space
        ((6,), dtype('float32'), Discrete(5))
        >>> obs, reward, terminated, truncated, info = env.step(np.int64(1))

    Args:
        render_mode: ``None`` or ``"rgb_array"`` (:meth:`render` returns a frame).
    """

    # A class attribute, as Gymnasium's convention is: gymnasium.make reads it before __init__.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012

    DT = 0.1  #: Seconds per step (``render_fps`` plays episodes in real time).
    DAMPING = 0.8  #: Fraction of the velocity kept from one step to the next.
    PUSH = 0.2  #: Velocity added by a push in one step.
    MAX_SPEED = 1.0  #: The top speed, PUSH / (1 - DAMPING): velocities stay within it.
    GOAL_AREA = 0.9  #: Starts and goals are drawn in [-GOAL_AREA, GOAL_AREA]^2.
    MIN_GOAL_DISTANCE = 0.5  #: The least distance from the start to the goal.
    GOAL_RADIUS = 0.1  #: The distance to the goal that ends the episode.
    PROGRESS_SCALE = 10.0  #: Reward per unit of distance gained towards the goal.
    TIME_COST = 0.1  #: Reward lost per step.
    GOAL_BONUS = 10.0  #: Reward for reaching the goal.
    FRAME_SIZE = 128  #: Height and width of a rendered frame, in pixels.

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"PointMassEnv: render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        reach = 1.0 + self.GOAL_AREA
        high = np.array([1.0, 1.0, self.MAX_SPEED, self.MAX_SPEED, reach, reach], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(len(PUSHES))
        self._position = np.zeros(2)
        self._velocity = np.zeros(2)
        self._goal = np.zeros(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Put the point at rest somewhere in the square and draw a goal far enough from it."""
        super().reset(seed=seed)  # seeds self.np_random when seed is given
        self._position = self.np_random.uniform(-self.GOAL_AREA, self.GOAL_AREA, size=2)
        self._velocity = np.zeros(2)
        self._goal = self._position
        while np.linalg.norm(self._goal - self._position) < self.MIN_GOAL_DISTANCE:
            self._goal = self.np_random.uniform(-self.GOAL_AREA, self.GOAL_AREA, size=2)
        return self._observation(), {"distance": self._distance()}

    def step(
        self, action: np.int64
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Push, move, and reward the progress towards the goal (and reaching it)."""
        if not self.action_space.contains(action):
            raise ValueError(f"PointMassEnv.step: action must be an int in [0, 5), got {action!r}")
        distance = self._distance()
        velocity = self.DAMPING * self._velocity + self.PUSH * PUSHES[action]
        velocity = np.clip(velocity, -self.MAX_SPEED, self.MAX_SPEED)
        position = self._position + self.DT * velocity
        self._position = np.clip(position, -1.0, 1.0)
        self._velocity = np.where(position == self._position, velocity, 0.0)
        new_distance = self._distance()
        terminated = bool(new_distance <= self.GOAL_RADIUS)
        progress = self.PROGRESS_SCALE * (distance - new_distance)
        reward = progress - self.TIME_COST + self.GOAL_BONUS * terminated
        return self._observation(), float(reward), terminated, False, {"distance": new_distance}

    def render(self) -> NDArray[np.uint8] | None:
        """The frame of ``render_mode="rgb_array"``: the goal (green) and the point (blue)."""
        if self.render_mode != "rgb_array":
            return None
        size = self.FRAME_SIZE
        # World coordinates of the pixels' centres: x grows to the right, y upwards.
        centres = -1.0 + (np.arange(size) + 0.5) * 2.0 / size
        x, y = centres[np.newaxis, :], centres[::-1, np.newaxis]
        frame = np.full((size, size, 3), 255, dtype=np.uint8)
        for (cx, cy), radius, colour in (
            (self._goal, self.GOAL_RADIUS, (40, 160, 60)),
            (self._position, 0.05, (30, 80, 200)),
        ):
            frame[(x - cx) ** 2 + (y - cy) ** 2 <= radius**2] = colour
        return frame

    def close(self) -> None:
        """Release what the env holds: nothing here (a window or a simulator would be closed)."""
        super().close()

    def _distance(self) -> float:
        return float(np.linalg.norm(self._goal - self._position))

    def _observation(self) -> NDArray[np.float32]:
        state = np.concatenate([self._position, self._velocity, self._goal - self._position])
        return state.astype(np.float32)
