"""Meta-RL and multi-task wrappers for a vector env, twins of :mod:`rlcore.wrappers.meta`.

* ``check_task_env`` - every sub-env implements :class:`rlcore.wrappers.meta.TaskEnv`.
* ``TrialWrapper`` - RL^2 trials per sub-env, under all three Gymnasium autoreset modes.
* ``TaskOneHot`` - appends each sub-env's one-hot task id.

Both work on ``SyncVectorEnv`` and ``AsyncVectorEnv`` (possibly wrapped): they talk to the
sub-envs only through the base env's ``call``, ``get_attr`` and ``set_attr`` (one value per
sub-env, assigned to ``next_task``). Task sampling and all bookkeeping live in the main process, vectorised over
the sub-envs, in the helper the single-env twins use (``rlcore.wrappers._meta_core``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from rlcore._autoreset import AutoresetTracker, final_observations, with_final_observations
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

__all__ = ["TaskOneHot", "TrialWrapper", "check_task_env"]


def _base(env: VectorEnv, owner: str) -> Any:
    """The base vector env of ``env``, which holds the sub-envs.

    Gymnasium 1.x defines ``call``, ``get_attr`` and ``set_attr`` on ``SyncVectorEnv`` and
    ``AsyncVectorEnv`` only, not on ``VectorWrapper``, so the sub-envs are reached through
    ``env.unwrapped`` whatever wraps it.
    """
    base = env.unwrapped
    if not all(callable(getattr(base, name, None)) for name in ("call", "get_attr", "set_attr")):
        raise TypeError(
            f"{owner}: the base vector env {base!r} has no call/get_attr/set_attr to reach its sub-envs; "
            "expected a gymnasium SyncVectorEnv or AsyncVectorEnv (possibly wrapped)"
        )
    return base


def _check_task_env(env: VectorEnv, owner: str) -> list[spaces.Space[Any]]:
    base = _base(env, owner)
    # ``get_attr`` calls what it fetches when it is callable, so presence is asked with
    # ``call("has_wrapper_attr", name)``, which also works across AsyncVectorEnv's pipes
    # and, unlike a failed ``get_attr``, does not shut a worker down.
    missing: dict[str, list[int]] = {}
    for name in TASK_ATTRIBUTES:
        lacking = [i for i, has in enumerate(base.call("has_wrapper_attr", name)) if not has]
        if lacking:
            missing[name] = lacking
    if missing:
        described = ", ".join(f"{name} (sub-envs {rows})" for name, rows in missing.items())
        raise TypeError(
            f"{owner}: the sub-envs of {env} do not implement the TaskEnv protocol "
            f"(rlcore.wrappers.meta.TaskEnv): missing {described}; expected task_space (a gymnasium "
            "Space), task, next_task and set_task(task)"
        )
    task_spaces = list(base.get_attr("task_space"))
    for i, space in enumerate(task_spaces):
        if not isinstance(space, spaces.Space):
            raise TypeError(
                f"{owner}: sub-env {i} has task_space {space!r} ({type(space).__name__}), "
                "expected a gymnasium.spaces.Space"
            )
    return task_spaces


def check_task_env(env: VectorEnv) -> list[spaces.Space[Any]]:
    """Check that every sub-env of ``env`` implements :class:`rlcore.wrappers.meta.TaskEnv`; return their task spaces.

    Looks through the sub-envs' Gymnasium wrappers (``has_wrapper_attr``), in the main
    process for ``SyncVectorEnv`` and in the workers for ``AsyncVectorEnv``.

    Raises:
        TypeError: naming the missing members and the sub-envs that lack them, or a
            ``task_space`` that is not a Space.

    Example:
        >>> import gymnasium as gym
        >>> import rlcore.envs
        >>> envs = gym.make_vec("rlcore/PointGoal-v0", num_envs=2, num_goals=3)
        >>> check_task_env(envs)
        [Discrete(3), Discrete(3)]
    """
    return _check_task_env(env, "check_task_env")


def _per_env_seeds(seed: int | Sequence[int | None] | None, num_envs: int, owner: str) -> list[int | None]:
    """The sub-envs' seeds of ``reset(seed=seed)``, by Gymnasium's rule (``seed + i`` for an int)."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(num_envs)]
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ValueError(
            f"{owner}: reset seed must be None, an int or a list of {num_envs} seeds (one per sub-env), "
            f"got a list of {len(seeds)}"
        )
    return seeds


def _as_declared(seed: int | list[int | None] | None) -> int | None:
    # VectorEnv.reset is annotated ``seed: int | None`` but SyncVectorEnv and AsyncVectorEnv
    # also take a list of per-sub-env seeds, which is passed on unchanged.
    return cast("int | None", seed)


class TrialWrapper(VectorWrapper, gym.utils.RecordConstructorArgs):
    r"""RL^2 trials for every sub-env: one task for ``episodes_per_trial`` episodes, then a new one.

    Per sub-env, the semantics of :class:`rlcore.wrappers.meta.TrialWrapper` (Duan et al.,
    "RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning", 2016,
    https://arxiv.org/abs/1611.02779); read that docstring for trials, tasks, seeding and the
    meaning of the flags. Sub-env :math:`i` after ``reset(seed=s)`` sees the tasks that the
    single-env wrapper sees after ``reset(seed=s + i)`` (a list of seeds gives each its own);
    each sub-env draws from its own copy of its own ``task_space``, in the main process.

    Tasks reach the sub-envs through ``set_attr("next_task", values)``, one value per
    sub-env, called only on steps where some sub-env's next task changes: when the last
    episode of a trial begins, the next trial's task is handed over, because in SAME_STEP
    mode the reset that starts the next trial happens inside the ``step`` that ends the
    trial. The wrapper owns ``next_task``: do not set it on the sub-envs yourself.

    Info, at every ``reset`` and ``step`` (arrays of shape ``(num_envs,)``, with Gymnasium's
    ``_key`` masks, all True):

    * ``info["episode_in_trial"]`` (int64): the index in its trial of the episode that the
      returned observation belongs to (so in SAME_STEP, the new episode's index on the step
      that ended the previous one; in NEXT_STEP, the new index from the autoreset step on).
    * ``info["trial_done"]`` (bool, ``step`` only): True where this step's transition ended
      the last episode of a trial (never on NEXT_STEP's autoreset step, which is no
      transition).

    ``reset(options={"new_trial": flags})`` forces new trials: ``flags`` is a bool (all
    sub-envs) or a bool array of shape ``(num_envs,)``; with a ``reset_mask`` only the reset
    sub-envs are concerned.

    With ``augment_obs=True`` each row is ``[obs, prev_action, prev_reward, prev_done]``
    (float32, ``single_observation_space`` a Box of size :math:`D + A + 2`), per sub-env the
    values the single-env wrapper gives, in every autoreset mode:

    * ``NEXT_STEP``: the step that ends an episode carries its own action, reward and
      :math:`d = 1`; the autoreset step after it, whose action is ignored and whose reward 0
      is no transition, carries the same values again (zeros if a new trial starts), as the
      single-env wrapper's ``reset`` does.
    * ``SAME_STEP``: the returned reset observation carries the ending step's action, reward
      and :math:`d = 1` (zeros if a new trial starts); ``info["final_obs"]`` holds, for the
      sub-envs that finished, the augmented final observation with the ending step's values.
      The returned info is a new dict with a new ``final_obs`` array.
    * ``DISABLED``: ``reset(options={"reset_mask": mask})`` starts episodes only for the
      masked sub-envs; the other rows of the returned batch keep their last augmented
      observation.

    Example:
        >>> import gymnasium as gym
        >>> from gymnasium.vector import AutoresetMode
        >>> import rlcore.envs
        >>> envs = gym.make_vec(
        ...     "rlcore/BernoulliBandit-v0", num_envs=2, num_arms=2,
        ...     vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        ... )
        >>> envs = TrialWrapper(envs, episodes_per_trial=2, augment_obs=True)
        >>> obs, info = envs.reset(seed=0)
        >>> info["episode_in_trial"]
        array([0, 0])
        >>> tasks = envs.unwrapped.get_attr("task")
        >>> obs, reward, terminated, truncated, info = envs.step(np.array([0, 1]))
        >>> reward, terminated, info["episode_in_trial"], info["trial_done"]
        (array([0., 1.]), array([ True,  True]), array([1, 1]), array([False, False]))
        >>> obs  # reset observations carrying [one-hot arm, reward, done]
        array([[0., 1., 0., 0., 1.],
               [0., 0., 1., 1., 1.]], dtype=float32)
        >>> obs, reward, terminated, truncated, info = envs.step(np.array([1, 1]))
        >>> info["episode_in_trial"], info["trial_done"]
        (array([0, 0]), array([ True,  True]))
        >>> obs  # a new trial: zeros
        array([[0., 0., 0., 0., 0.],
               [0., 0., 0., 0., 0.]], dtype=float32)
        >>> info["final_obs"][0]
        array([1., 0., 1., 0., 1.], dtype=float32)
        >>> [bool((new == old).all()) for new, old in zip(envs.unwrapped.get_attr("task"), tasks)]
        [False, False]

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: a vector env whose sub-envs implement :class:`rlcore.wrappers.meta.TaskEnv`.
        episodes_per_trial: episodes per trial :math:`k`, an int ``>= 1``.
        augment_obs: append the previous action, reward and flag to each observation (needs
            ``Box`` or ``Discrete`` single observation and action spaces).
    """

    def __init__(self, env: VectorEnv, episodes_per_trial: int, *, augment_obs: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, episodes_per_trial=episodes_per_trial, augment_obs=augment_obs
        )
        VectorWrapper.__init__(self, env)
        owner = "vector.TrialWrapper"
        self._owner = owner
        self.episodes_per_trial = check_episodes_per_trial(episodes_per_trial, owner)
        if not isinstance(augment_obs, (bool, np.bool_)):
            raise TypeError(f"{owner}: augment_obs must be a bool, got {augment_obs!r}")
        self.augment_obs = bool(augment_obs)
        task_spaces = _check_task_env(env, owner)
        action_size = 0
        if self.augment_obs:
            self._obs_encoder = FlatEncoder(env.single_observation_space, "observation", owner)
            self._action_encoder = FlatEncoder(env.single_action_space, "action", owner, raw_bounds=True)
            self.single_observation_space = trial_observation_space(self._obs_encoder, self._action_encoder)
            self.observation_space = batch_space(self.single_observation_space, n=self.num_envs)
            action_size = self._action_encoder.size
        self._tracker = AutoresetTracker.of(env, owner)
        self._same_step = self._tracker.mode == AutoresetMode.SAME_STEP
        self._base = _base(env, owner)
        self._core = TrialCore(
            task_spaces, self.episodes_per_trial, list(self._base.get_attr("next_task")), action_size
        )
        self._all = np.ones(self.num_envs, dtype=bool)

    @property
    def episode_in_trial(self) -> NDArray[np.int64]:
        """Per sub-env index of the current episode in its trial (int64, ``(num_envs,)``; ``-1`` before its first reset)."""
        return self._core.episode_in_trial.copy()

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the sub-envs (all, or ``options["reset_mask"]``): next episodes or new trials."""
        # Read the mask before the inner env, which pops it from the options it gets.
        rows = self._tracker.reset_rows(options)
        force, env_options = pop_new_trial(options, self.num_envs, self._owner)
        seeds = _per_env_seeds(seed, self.num_envs, self._owner)
        new_trial, changed = self._core.before_reset(rows, seeds, force)
        self._hand_over(changed)
        obs, info = self.env.reset(seed=_as_declared(seed), options=env_options)
        self._tracker.on_reset(rows)
        _, changed = self._core.begin(rows, new_trial)
        self._hand_over(changed)
        info = {**info, "episode_in_trial": self.episode_in_trial, "_episode_in_trial": self._all.copy()}
        return self._observation(obs), info

    def step(self, actions: Any) -> tuple[Any, Any, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Step the sub-envs; add ``episode_in_trial`` and ``trial_done`` to the info."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        started, transition = self._tracker.on_step(terminated, truncated)
        # NEXT_STEP's autoreset step reports both flags False, so it never counts as an end.
        ended = np.logical_or(terminated, truncated)
        trial_done = self._core.trial_done(ended)
        if self.augment_obs:
            self._core.record(transition, self._action_encoder.encode(actions), rewards, ended)
            if self._same_step and started.any():
                rows = np.flatnonzero(started)
                final_obs = final_observations(info, rows, self._owner)
                encoded = self._obs_encoder.encode(np.stack([np.asarray(final_obs[i]) for i in rows]))
                augmented = np.concatenate([encoded, self._core.prev[rows]], axis=1)
                info = with_final_observations(info, rows, augmented)
        if started.any():
            _, changed = self._core.begin(started)
            self._hand_over(changed)
        info = {
            **info,
            "episode_in_trial": self.episode_in_trial,
            "_episode_in_trial": self._all.copy(),
            "trial_done": trial_done,
            "_trial_done": self._all.copy(),
        }
        return self._observation(obs), rewards, terminated, truncated, info

    def _hand_over(self, changed: list[int]) -> None:
        if changed:
            self._base.set_attr("next_task", list(self._core.pending))

    def _observation(self, obs: Any) -> Any:
        if not self.augment_obs:
            return obs
        return np.concatenate([self._obs_encoder.encode(obs), self._core.prev], axis=1)


class TaskOneHot(VectorWrapper, gym.utils.RecordConstructorArgs):
    """Appends each sub-env's one-hot task id to its observation.

    Per sub-env, the semantics of :class:`rlcore.wrappers.meta.TaskOneHot`: rows
    ``[obs, one_hot(task - start)]`` (float32, ``single_observation_space`` a Box of size
    :math:`D` + ``num_tasks``), each sub-env's task space ``Discrete(n_i, start_i)``,
    ``num_tasks`` at least every :math:`n_i` (default: their maximum). The tasks are read
    with ``get_attr("task")`` after each ``reset`` and after each ``step`` in which some
    sub-env started an episode (one round trip to the workers of an ``AsyncVectorEnv``), in
    every autoreset mode: NEXT_STEP's autoreset step shows the new task; in SAME_STEP the
    reset observation shows the new task and ``info["final_obs"]`` the finished episode's
    task (a new info dict with a new ``final_obs`` array); in DISABLED a partial reset
    updates only the reset sub-envs.

    Example:
        >>> import gymnasium as gym
        >>> import rlcore.envs
        >>> envs = gym.make_vec("rlcore/PointGoal-v0", num_envs=2, num_goals=3)
        >>> envs.set_attr("next_task", [1, 2])
        >>> envs = TaskOneHot(envs)
        >>> envs.single_observation_space
        Box([-2. -2.  0.  0.  0.], [2. 2. 1. 1. 1.], (5,), float32)
        >>> obs, _ = envs.reset(seed=0)
        >>> obs[:, 2:]
        array([[0., 1., 0.],
               [0., 0., 1.]], dtype=float32)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: a vector env whose sub-envs implement :class:`rlcore.wrappers.meta.TaskEnv` with
            ``Discrete`` task spaces, and a ``Box`` or ``Discrete`` single observation space.
        num_tasks: length of the one-hot, an int ``>=`` every sub-env's ``n``; ``None`` for the
            largest ``n``.
    """

    def __init__(self, env: VectorEnv, num_tasks: int | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, num_tasks=num_tasks)
        VectorWrapper.__init__(self, env)
        owner = "vector.TaskOneHot"
        task_spaces = [check_discrete_task_space(space, owner) for space in _check_task_env(env, owner)]
        self.num_tasks = check_num_tasks(num_tasks, max(int(space.n) for space in task_spaces), owner)
        self._task_starts = np.array([int(space.start) for space in task_spaces], dtype=np.int64)
        self._obs_encoder = FlatEncoder(env.single_observation_space, "observation", owner)
        self._task_encoder = FlatEncoder(spaces.Discrete(self.num_tasks), "task index", owner)
        self.single_observation_space = appended_space(
            self._obs_encoder, np.zeros(self.num_tasks), np.ones(self.num_tasks)
        )
        self.observation_space = batch_space(self.single_observation_space, n=self.num_envs)
        self._tracker = AutoresetTracker.of(env, owner)
        self._same_step = self._tracker.mode == AutoresetMode.SAME_STEP
        self._owner = owner
        self._base = _base(env, owner)
        self._one_hot = np.zeros((self.num_envs, self.num_tasks), dtype=np.float32)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Reset the sub-envs and read their tasks."""
        rows = self._tracker.reset_rows(options)
        obs, info = self.env.reset(seed=_as_declared(seed), options=options)
        self._tracker.on_reset(rows)
        self._read_tasks()
        return self._observation(obs), info

    def step(
        self, actions: Any
    ) -> tuple[NDArray[np.float32], Any, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Step the sub-envs; re-read the tasks if some sub-env started an episode."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        started, _ = self._tracker.on_step(terminated, truncated)
        if started.any():
            if self._same_step:
                rows = np.flatnonzero(started)
                final_obs = final_observations(info, rows, self._owner)
                encoded = self._obs_encoder.encode(np.stack([np.asarray(final_obs[i]) for i in rows]))
                augmented = np.concatenate([encoded, self._one_hot[rows]], axis=1)
                info = with_final_observations(info, rows, augmented)
            self._read_tasks()
        return self._observation(obs), rewards, terminated, truncated, info

    def _read_tasks(self) -> None:
        tasks = np.array([int(task) for task in self._base.get_attr("task")], dtype=np.int64)
        self._one_hot = self._task_encoder.encode(tasks - self._task_starts)

    def _observation(self, obs: Any) -> NDArray[np.float32]:
        return np.concatenate([self._obs_encoder.encode(obs), self._one_hot], axis=1)
