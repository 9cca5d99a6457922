"""Meta-RL and multi-task wrappers for a single env, and the task protocol they rely on.

* ``TaskEnv`` - the protocol of an env whose task can be sampled and set (``task_space``,
  ``task``, ``next_task``, ``set_task``); ``check_task_env`` checks an env implements it.
* ``TrialWrapper`` - RL^2 trials: one task for ``episodes_per_trial`` episodes, then a new
  one; optionally appends the previous action, reward and episode-end flag to the observation.
* ``TaskOneHot`` - appends the one-hot id of the current task (``Discrete`` task spaces).

The vector twins of the same names are in :mod:`rlcore.wrappers.vector.meta`; both keep
their logic in one private helper (``rlcore.wrappers._meta_core``). Small envs that
implement the protocol are in :mod:`rlcore.envs`.
"""

from __future__ import annotations

from typing import Any, Protocol, SupportsFloat, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from rlcore.wrappers._meta_core import (
    TASK_ATTRIBUTES,
    FlatEncoder,
    TrialCore,
    appended_space,
    check_discrete_task_space,
    check_episodes_per_trial,
    check_num_tasks,
    pop_new_trial,
    trial_observation_space,
)

__all__ = ["TaskEnv", "TaskOneHot", "TrialWrapper", "check_task_env"]

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")

_ONE = np.ones(1, dtype=bool)


@runtime_checkable
class TaskEnv(Protocol):
    """An env whose task is a sample of ``task_space`` and can be set for the next episode.

    Members:

    * ``task_space``: a ``gymnasium.spaces.Space``; tasks are its samples, so a wrapper
      samples them reproducibly with its own seeded copy of the space.
    * ``task``: the task of the current episode (read-only).
    * ``next_task``: the task the next ``reset()`` applies (read/write); equal to ``task``
      until changed, and ``reset()`` leaves it as it is, so later episodes keep the task.
    * ``set_task(task)``: ``next_task = task``, in Meta-World's spelling: set the task, then
      reset. A task set in the middle of an episode does not change that episode.

    Why both ``next_task`` and ``set_task``: a vector env can hand one value to each sub-env
    only through ``VectorEnv.set_attr(name, values)`` (``call`` passes the same arguments to
    all), which assigns an attribute, so the vector wrappers need an assignable member. On a
    single env, ``env.next_task = t`` on a wrapped env would silently create an attribute on
    the outermost wrapper, while ``env.set_task(t)`` fails loudly if nothing defines it.

    ``isinstance(env, TaskEnv)`` checks the members on the object itself; use
    :func:`check_task_env` to look through Gymnasium wrappers. :class:`rlcore.envs.PointGoalEnv`
    and :class:`rlcore.envs.BernoulliBanditEnv` implement it.

    Example:
        >>> from rlcore.envs import PointGoalEnv
        >>> env = PointGoalEnv(num_goals=4)
        >>> isinstance(env, TaskEnv)
        True
        >>> _ = env.reset(seed=0)
        >>> env.set_task(3)
        >>> env.task, env.next_task
        (0, 3)
        >>> _ = env.reset()
        >>> env.task, env.next_task
        (3, 3)

    Change logs:
     * v0.1.0 - Initially added.
    """

    task_space: spaces.Space[Any]
    next_task: Any

    @property
    def task(self) -> Any:
        """The task of the current episode."""
        ...

    def set_task(self, task: Any) -> None:
        """Use ``task`` from the next ``reset()`` on."""
        ...


def _check_task_env(env: gym.Env[Any, Any], owner: str) -> spaces.Space[Any]:
    missing = [name for name in TASK_ATTRIBUTES if not env.has_wrapper_attr(name)]
    if missing:
        raise TypeError(
            f"{owner}: env {env} does not implement the TaskEnv protocol (rlcore.wrappers.meta.TaskEnv): "
            f"missing {missing}; expected task_space (a gymnasium Space), task, next_task and set_task(task)"
        )
    task_space = env.get_wrapper_attr("task_space")
    if not isinstance(task_space, spaces.Space):
        raise TypeError(
            f"{owner}: env {env} has task_space {task_space!r} ({type(task_space).__name__}), "
            "expected a gymnasium.spaces.Space"
        )
    if not callable(env.get_wrapper_attr("set_task")):
        raise TypeError(f"{owner}: env {env} has a set_task that is not callable")
    return task_space


def check_task_env(env: gym.Env[Any, Any]) -> spaces.Space[Any]:
    """Check that ``env`` (or an env it wraps) implements :class:`TaskEnv`; return its ``task_space``.

    Looks through Gymnasium wrappers with ``has_wrapper_attr``/``get_wrapper_attr``, so an
    env made by ``gym.make`` passes.

    Raises:
        TypeError: naming the missing members, or a ``task_space`` that is not a Space.

    Example:
        >>> import gymnasium as gym
        >>> import rlcore.envs
        >>> check_task_env(gym.make("rlcore/PointGoal-v0", num_goals=3))
        Discrete(3)
    """
    return _check_task_env(env, "check_task_env")


class TrialWrapper(gym.Wrapper[Any, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs):
    r"""Keeps one task for ``episodes_per_trial`` episodes (a trial), then samples a new one (RL^2).

    Duan et al., "RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning", 2016,
    https://arxiv.org/abs/1611.02779: a recurrent agent plays a trial of :math:`k` episodes
    of one task, keeping its hidden state across the episodes of the trial, and sees the
    previous action :math:`a`, reward :math:`r` and termination flag :math:`d` with each
    observation, so that it can learn to explore in early episodes and exploit later.

    Trials: the first ``reset()``, a ``reset(seed=...)``, a ``reset(options={"new_trial":
    True})`` and the reset after the last episode of a trial start a new trial; every other
    ``reset()`` starts the next episode of the current trial (also a reset that cuts an
    episode short). The task of each trial is a sample of the env's ``task_space``, drawn
    with the wrapper's own copy of the space (the env's ``task_space`` RNG is not touched),
    handed to the env with ``set_task``. ``reset(seed=s)`` seeds the copy with
    ``int(np.random.SeedSequence(s, spawn_key=(0x7461736B,)).generate_state(1, np.uint64)[0])``,
    a stream independent of the env's own, which Gymnasium seeds from ``SeedSequence(s)``
    (``seed=None`` keeps the current stream; a new wrapper starts from OS entropy); trial
    :math:`m` after a seeded reset uses the :math:`m`-th draw (counting from 0). The next trial's task is handed over as soon as the last
    episode of a trial begins (``set_task`` acts at the next reset), as the vector twin must
    do for Gymnasium's SAME_STEP autoreset; ``env.task`` is the current task throughout.
    The wrapper owns the task: do not call ``set_task`` on the wrapped env yourself.

    Info, at every ``reset`` and ``step``:

    * ``info["episode_in_trial"]`` (int): the index :math:`j \in \{0, \dots, k-1\}` of the
      episode in its trial (also the property :attr:`episode_in_trial`). A new trial starts
      exactly when it is 0.
    * ``info["trial_done"]`` (bool, ``step`` only): True on the step that ends (terminates
      or truncates) the :math:`k`-th episode of a trial; reset the agent's recurrent state
      before the next observation.

    With ``augment_obs=True`` the observation is a flat float32 ``Box`` of size
    :math:`D + A + 2`: ``[obs, prev_action, prev_reward, prev_done]`` where

    * ``obs`` is the env's observation flattened (``Box``: reshaped; ``Discrete``: one-hot),
      :math:`D` values, bounds from the env's space;
    * ``prev_action`` is the last action (``Discrete``: one-hot; ``Box``: the raw action,
      flattened, with bounds :math:`\pm\infty` since a policy may send actions outside the
      action space and the record must be exact), :math:`A` values;
    * ``prev_reward`` the last reward and ``prev_done`` the last episode-end flag.

    The *termination flag* :math:`d` is ``terminated or truncated``: it tells the agent that
    an episode boundary has passed, so that the next observation starts a new episode of the
    same task, and a truncated episode is as much a boundary as a terminated one. (Whether to
    bootstrap a value target is a separate question, answered from ``terminated`` in the
    ``step`` output.) The values come from the step that produced the observation; at the
    reset that starts episode :math:`j > 0` they are the action and reward of the last step
    of episode :math:`j - 1` and :math:`d = 1` (also after an episode cut short by
    ``reset``); at the start of a trial they are all zero.

    Example:
        >>> from rlcore.envs import BernoulliBanditEnv
        >>> env = TrialWrapper(BernoulliBanditEnv(num_arms=2), episodes_per_trial=2, augment_obs=True)
        >>> env.observation_space
        Box([  0.   0.   0. -inf   0.], [ 1.  1.  1. inf  1.], (5,), float32)
        >>> obs, info = env.reset(seed=7)
        >>> obs, info  # [t/H, one-hot previous arm, previous reward, previous done]
        (array([0., 0., 0., 0., 0.], dtype=float32), {'episode_in_trial': 0})
        >>> first_task = env.unwrapped.task
        >>> first_task.round(2)  # the arm probabilities
        array([0.51, 0.92])
        >>> obs, reward, terminated, truncated, info = env.step(1)
        >>> obs, reward, info
        (array([1., 0., 1., 1., 1.], dtype=float32), 1.0, {'regret': 0.0, 'episode_in_trial': 0, 'trial_done': False})
        >>> obs, info = env.reset()  # episode 1 of the trial carries the last arm, reward, done
        >>> obs, info, bool((env.unwrapped.task == first_task).all())
        (array([0., 0., 1., 1., 1.], dtype=float32), {'episode_in_trial': 1}, True)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> obs, reward, info["trial_done"]
        (array([1., 1., 0., 0., 1.], dtype=float32), 0.0, True)
        >>> obs, info = env.reset()  # a new trial with a new task
        >>> obs, info, bool((env.unwrapped.task == first_task).all())
        (array([0., 0., 0., 0., 0.], dtype=float32), {'episode_in_trial': 0}, False)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: an env implementing :class:`TaskEnv` (possibly wrapped).
        episodes_per_trial: episodes per trial :math:`k`, an int ``>= 1``.
        augment_obs: append the previous action, reward and flag to the observation (needs
            ``Box`` or ``Discrete`` observation and action spaces).
    """

    def __init__(
        self, env: gym.Env[ObsType, ActType], episodes_per_trial: int, *, augment_obs: bool = False
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, episodes_per_trial=episodes_per_trial, augment_obs=augment_obs
        )
        gym.Wrapper.__init__(self, env)
        self.episodes_per_trial = check_episodes_per_trial(episodes_per_trial, "TrialWrapper")
        if not isinstance(augment_obs, (bool, np.bool_)):
            raise TypeError(f"TrialWrapper: augment_obs must be a bool, got {augment_obs!r}")
        self.augment_obs = bool(augment_obs)
        task_space = _check_task_env(env, "TrialWrapper")
        action_size = 0
        if self.augment_obs:
            self._obs_encoder = FlatEncoder(env.observation_space, "observation", "TrialWrapper")
            self._action_encoder = FlatEncoder(env.action_space, "action", "TrialWrapper", raw_bounds=True)
            self.observation_space = trial_observation_space(self._obs_encoder, self._action_encoder)
            action_size = self._action_encoder.size
        self._core = TrialCore(
            [task_space], self.episodes_per_trial, [env.get_wrapper_attr("next_task")], action_size
        )

    @property
    def episode_in_trial(self) -> int:
        """Index of the current episode in its trial, ``0 .. episodes_per_trial - 1`` (``-1`` before the first reset)."""
        return int(self._core.episode_in_trial[0])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start the next episode of the trial, or a new trial (see the class docstring).

        ``options["new_trial"]`` (bool) forces a new trial; it is removed from the options
        passed to the env.
        """
        force, env_options = pop_new_trial(options, 1, "TrialWrapper")
        new_trial, changed = self._core.before_reset(_ONE, [seed], force)
        self._hand_over(changed)
        obs, info = self.env.reset(seed=seed, options=env_options)
        _, changed = self._core.begin(_ONE, new_trial)
        self._hand_over(changed)
        return self._observation(obs), {**info, "episode_in_trial": self.episode_in_trial}

    def step(self, action: ActType) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; add ``episode_in_trial`` and ``trial_done`` to the info."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        ended = np.array([bool(terminated or truncated)])
        trial_done = bool(self._core.trial_done(ended)[0])
        if self.augment_obs:
            actions = self._action_encoder.encode(np.asarray(action)[None])
            self._core.record(_ONE, actions, [float(reward)], ended)
        info = {**info, "episode_in_trial": self.episode_in_trial, "trial_done": trial_done}
        return self._observation(obs), reward, terminated, truncated, info

    def _hand_over(self, changed: list[int]) -> None:
        if changed:
            self.env.get_wrapper_attr("set_task")(self._core.pending[0])

    def _observation(self, obs: ObsType) -> Any:
        if not self.augment_obs:
            return obs
        return np.concatenate([self._obs_encoder.encode(np.asarray(obs)[None])[0], self._core.prev[0]])


class TaskOneHot(gym.Wrapper[Any, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs):
    """Appends the one-hot id of the current task to the observation (multi-task RL).

    For an env implementing :class:`TaskEnv` with a ``Discrete(n, start)`` task space: the
    observation becomes a flat float32 ``Box`` of size :math:`D` + ``num_tasks``,
    ``[obs, one_hot(task - start)]``, with ``obs`` flattened (``Box``: reshaped; ``Discrete``:
    one-hot) and bounded as in the env's space, the one-hot part in ``[0, 1]``. The task is
    read from the env (``task``) after every ``reset`` and kept for the episode, since a task
    only changes at a reset. The task-conditioned input of multi-task baselines such as
    Meta-World's MT10/MT50 (Yu et al., "Meta-World: A Benchmark and Evaluation for Multi-Task
    and Meta Reinforcement Learning", CoRL 2019, https://arxiv.org/abs/1910.10897).

    ``num_tasks`` larger than ``n`` pads the one-hot with zeros, so that one network serves
    task sets of different sizes.

    Example:
        >>> from rlcore.envs import PointGoalEnv
        >>> env = TaskOneHot(PointGoalEnv(num_goals=3))
        >>> env.observation_space
        Box([-2. -2.  0.  0.  0.], [2. 2. 1. 1. 1.], (5,), float32)
        >>> env.unwrapped.set_task(2)
        >>> obs, _ = env.reset(seed=0)
        >>> obs[2:]
        array([0., 0., 1.], dtype=float32)
        >>> TaskOneHot(PointGoalEnv(num_goals=3), num_tasks=5).reset(seed=0)[0][2:]
        array([1., 0., 0., 0., 0.], dtype=float32)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: an env implementing :class:`TaskEnv` with a ``Discrete`` task space, and a
            ``Box`` or ``Discrete`` observation space.
        num_tasks: length of the one-hot, an int ``>= n``; ``None`` for ``n``.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], num_tasks: int | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, num_tasks=num_tasks)
        gym.Wrapper.__init__(self, env)
        task_space = check_discrete_task_space(_check_task_env(env, "TaskOneHot"), "TaskOneHot")
        self.num_tasks = check_num_tasks(num_tasks, int(task_space.n), "TaskOneHot")
        self._task_start = int(task_space.start)
        self._obs_encoder = FlatEncoder(env.observation_space, "observation", "TaskOneHot")
        self._task_encoder = FlatEncoder(spaces.Discrete(self.num_tasks), "task index", "TaskOneHot")
        self.observation_space = appended_space(
            self._obs_encoder, np.zeros(self.num_tasks), np.ones(self.num_tasks)
        )
        self._one_hot = np.zeros(self.num_tasks, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Reset the env and read the task of the new episode."""
        obs, info = self.env.reset(seed=seed, options=options)
        task = self.env.get_wrapper_attr("task")
        self._one_hot = self._task_encoder.encode([int(task) - self._task_start])[0]
        return self._observation(obs), info

    def step(self, action: ActType) -> tuple[NDArray[np.float32], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and append the task's one-hot to the observation."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observation(obs), reward, terminated, truncated, info

    def _observation(self, obs: ObsType) -> NDArray[np.float32]:
        return np.concatenate([self._obs_encoder.encode(np.asarray(obs)[None])[0], self._one_hot])
