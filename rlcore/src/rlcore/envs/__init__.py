"""Small envs for tests and examples (meta-RL, pixels); ``import rlcore.envs`` registers them.

* :class:`BernoulliBanditEnv` - ``rlcore/BernoulliBandit-v0``: a Bernoulli multi-armed bandit
  whose task is the arm probabilities (``Box`` task space), as in RL^2.
* :class:`PointGoalEnv` - ``rlcore/PointGoal-v0``: a 2-D point moving towards one of
  ``num_goals`` goals on a circle (``Discrete`` task space), truncated after 50 steps.
* :class:`PixelCatchEnv` - ``rlcore/PixelCatch-v0``: bsuite's Catch as a uint8 image (40 x 40
  by default), a quick check that a pixel agent learns (random policy -0.6, optimal +1).

The first two implement :class:`rlcore.wrappers.meta.TaskEnv`. Registration happens here, not on
``import rlcore``, so that importing the library leaves Gymnasium's registry alone;
``gym.make("rlcore.envs:rlcore/PointGoal-v0")`` imports this module on demand.

Example:
    >>> import gymnasium as gym
    >>> import rlcore.envs
    >>> env = gym.make("rlcore/PointGoal-v0", num_goals=4)
    >>> env.spec.max_episode_steps, env.unwrapped.task_space
    (50, Discrete(4))
"""

from __future__ import annotations

import gymnasium as gym

from rlcore.envs.bandit import BernoulliBanditEnv
from rlcore.envs.catch import PixelCatchEnv
from rlcore.envs.point_goal import PointGoalEnv

__all__ = ["BernoulliBanditEnv", "PixelCatchEnv", "PointGoalEnv"]

_REGISTRATIONS = (
    ("rlcore/BernoulliBandit-v0", "rlcore.envs.bandit:BernoulliBanditEnv", None),
    ("rlcore/PointGoal-v0", "rlcore.envs.point_goal:PointGoalEnv", 50),
    # Episodes end by themselves after rows - 1 steps, for any rows given to gym.make.
    ("rlcore/PixelCatch-v0", "rlcore.envs.catch:PixelCatchEnv", None),
)

for _env_id, _entry_point, _max_episode_steps in _REGISTRATIONS:
    # A reload of this module must not re-register (Gymnasium warns on overriding an id).
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_episode_steps)
