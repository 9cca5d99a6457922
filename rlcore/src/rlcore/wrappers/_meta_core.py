"""Trial bookkeeping and observation encoding: the one implementation behind both meta-RL wrapper twins.

:class:`rlcore.wrappers.meta.TrialWrapper` (one env) and
:class:`rlcore.wrappers.vector.meta.TrialWrapper` (``num_envs`` sub-envs) keep their state in
a :class:`TrialCore` with one *stream* per env; the single-env wrapper is the case of one
stream. Both ``TaskOneHot`` twins and the observation augmentation use :class:`FlatEncoder`.
The functions below validate the arguments the twins share, so that their checks and
messages are the same.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "TASK_ATTRIBUTES",
    "TASK_SEED_SPAWN_KEY",
    "FlatEncoder",
    "TaskStreams",
    "TrialCore",
    "appended_space",
    "check_discrete_task_space",
    "check_episodes_per_trial",
    "check_num_tasks",
    "pop_new_trial",
    "task_seed",
    "trial_observation_space",
]

#: The members of the :class:`rlcore.wrappers.meta.TaskEnv` protocol.
TASK_ATTRIBUTES = ("task_space", "task", "next_task", "set_task")

#: Spawn key that separates the task stream from the env's own stream seeded with the same int.
TASK_SEED_SPAWN_KEY = 0x7461736B  # "task" in ASCII


def task_seed(seed: int) -> int:
    """The seed of the task stream of a ``reset(seed=seed)``.

    ``int(np.random.SeedSequence(seed, spawn_key=(TASK_SEED_SPAWN_KEY,)).generate_state(1, np.uint64)[0])``.
    Seeding the task space with ``seed`` itself would make it draw the same PCG64 bits as
    the env's ``np_random`` (Gymnasium seeds both from ``SeedSequence(seed)``), correlating
    tasks with, say, a bandit's rewards.
    """
    sequence = np.random.SeedSequence(int(seed), spawn_key=(TASK_SEED_SPAWN_KEY,))
    return int(sequence.generate_state(1, np.uint64)[0])


def check_episodes_per_trial(value: object, owner: str) -> int:
    """``episodes_per_trial`` as an int, or a ``TypeError``/``ValueError`` naming ``owner``."""
    # bool is an int subclass, but TrialWrapper(env, True) is a mistake, not a trial of 1.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: episodes_per_trial must be an int >= 1, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{owner}: episodes_per_trial must be an int >= 1, got {value!r}")
    return int(value)


def check_discrete_task_space(space: object, owner: str) -> spaces.Discrete:
    """``space`` if it is ``Discrete``, else a ``TypeError`` naming ``owner`` and the space."""
    if not isinstance(space, spaces.Discrete):
        raise TypeError(
            f"{owner} needs a Discrete task_space (tasks numbered start..start+n-1), got {space!r}"
        )
    return space


def check_num_tasks(num_tasks: object, task_space_n: int, owner: str) -> int:
    """``num_tasks`` (``None``: ``task_space_n``) as an int ``>= task_space_n``."""
    if num_tasks is None:
        return int(task_space_n)
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, (int, np.integer)):
        raise TypeError(
            f"{owner}: num_tasks must be None or an int >= {task_space_n} (the task_space size), "
            f"got {num_tasks!r} ({type(num_tasks).__name__})"
        )
    if num_tasks < task_space_n:
        raise ValueError(
            f"{owner}: num_tasks must be None or an int >= {task_space_n} (the task_space size), "
            f"got {num_tasks!r}"
        )
    return int(num_tasks)


def pop_new_trial(
    options: Mapping[str, Any] | None, num_streams: int, owner: str
) -> tuple[NDArray[np.bool_], dict[str, Any] | None]:
    """Split ``options["new_trial"]`` off the reset options.

    Returns the per-stream mask of forced new trials (shape ``(num_streams,)``; a bool applies
    to every stream, an array gives one flag per stream) and a copy of the other options
    (``None`` if ``options`` was ``None``), so the env never sees a key it does not know and
    the caller's dict is left as it was.
    """
    if options is None:
        return np.zeros(num_streams, dtype=bool), None
    rest = {key: value for key, value in options.items() if key != "new_trial"}
    flag = options.get("new_trial", False)
    if isinstance(flag, (bool, np.bool_)):
        return np.full(num_streams, bool(flag), dtype=bool), rest
    array = np.asarray(flag)
    if array.dtype != np.bool_ or array.shape != (num_streams,):
        expected = "a bool" if num_streams == 1 else f"a bool or a bool array of shape ({num_streams},)"
        raise TypeError(
            f"{owner}: options['new_trial'] must be {expected}, got {flag!r} "
            f"(dtype {array.dtype}, shape {array.shape})"
        )
    return array.copy(), rest


class FlatEncoder:
    """Encodes batches of a ``Box`` or ``Discrete`` space as flat float32 rows.

    Like ``gymnasium.spaces.flatten``: a ``Box`` sample is reshaped to ``(prod(shape),)``
    and cast to float32; a ``Discrete(n, start)`` sample ``x`` becomes the one-hot vector of
    length ``n`` with a 1 at ``x - start``.

    Args:
        space: the space of one sample.
        what: what the samples are ("observation", "action"), for error messages.
        owner: the wrapper's name, for error messages.
        raw_bounds: ``True`` declares ``(-inf, inf)`` bounds for a ``Box`` instead of its own
            (for values a caller may pass outside the space, such as unclipped actions).
    """

    def __init__(self, space: spaces.Space[Any], what: str, owner: str, *, raw_bounds: bool = False) -> None:
        self.space = space
        self._owner = owner
        self._what = what
        if isinstance(space, spaces.Box):
            self.size = int(np.prod(space.shape, dtype=np.int64))
            if raw_bounds:
                self.low = np.full(self.size, -np.inf, dtype=np.float32)
                self.high = np.full(self.size, np.inf, dtype=np.float32)
            else:
                self.low = space.low.reshape(-1).astype(np.float32)
                self.high = space.high.reshape(-1).astype(np.float32)
            self._shape: tuple[int, ...] = space.shape
            self._discrete = False
        elif isinstance(space, spaces.Discrete):
            self.size = int(space.n)
            self.low = np.zeros(self.size, dtype=np.float32)
            self.high = np.ones(self.size, dtype=np.float32)
            self._start = int(space.start)
            self._shape = ()
            self._discrete = True
        else:
            raise TypeError(f"{owner} supports only Box and Discrete {what} spaces, got {space!r}")

    def encode(self, batch: ArrayLike) -> NDArray[np.float32]:
        """Rows of shape ``(size,)`` for a batch of shape ``(B, *space.shape)``: float32 ``(B, size)``."""
        array = np.asarray(batch)
        if array.shape[1:] != self._shape:
            raise ValueError(
                f"{self._owner}: expected a batch of {self._what}s of shape (B, *{self._shape}) for "
                f"{self.space}, got shape {array.shape}"
            )
        if not self._discrete:
            return array.reshape(len(array), self.size).astype(np.float32)
        index = array.astype(np.int64) - self._start
        if index.size and (index.min() < 0 or index.max() >= self.size):
            raise ValueError(
                f"{self._owner}: {self._what} values {array.tolist()} are not all in {self.space}"
            )
        rows = np.zeros((len(index), self.size), dtype=np.float32)
        rows[np.arange(len(index)), index] = 1.0
        return rows


def appended_space(first: FlatEncoder, low: ArrayLike, high: ArrayLike) -> spaces.Box:
    """The flat float32 Box of ``first``'s encoding followed by features bounded by ``low``/``high``."""
    return spaces.Box(
        np.concatenate([first.low, np.asarray(low, dtype=np.float32)]),
        np.concatenate([first.high, np.asarray(high, dtype=np.float32)]),
        dtype=np.float32,
    )


def trial_observation_space(observation: FlatEncoder, action: FlatEncoder) -> spaces.Box:
    """The Box of ``[obs, previous action, previous reward, previous end flag]`` (flat, float32).

    Bounds: the observation's, the action encoding's, ``(-inf, inf)`` for the reward (Gymnasium
    1.x envs declare no reward range) and ``[0, 1]`` for the flag.
    """
    return appended_space(
        observation,
        np.concatenate([action.low, [-np.inf, 0.0]]),
        np.concatenate([action.high, [np.inf, 1.0]]),
    )


class TaskStreams:
    """One seedable task sampler per stream: a private copy of each stream's task space.

    Private copies keep the wrappers' draws out of the env's own ``task_space`` RNG; stream
    ``i`` reseeded with ``s`` draws exactly what a single-env wrapper draws after
    ``reset(seed=s)``.
    """

    def __init__(self, task_spaces: Sequence[spaces.Space[Any]]) -> None:
        self._spaces = [copy.deepcopy(space) for space in task_spaces]
        for space in self._spaces:
            space.seed(None)

    def seed(self, stream: int, seed: int) -> None:
        """Reseed stream ``stream`` from an env seed (see :func:`task_seed`)."""
        self._spaces[stream].seed(task_seed(seed))

    def sample(self, stream: int) -> Any:
        """The next task of stream ``stream``."""
        return self._spaces[stream].sample()


class TrialCore:
    r"""Trials of ``episodes_per_trial`` episodes for ``num_streams`` envs (RL^2's bookkeeping).

    Duan et al., "RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning", 2016,
    https://arxiv.org/abs/1611.02779. Per stream :math:`i`:

    * ``episode_in_trial[i]`` (int64, shape ``(num_streams,)``): the index :math:`j \in
      \{0, \dots, k-1\}` of the current episode in its trial, ``-1`` before the first reset.
    * tasks: trial :math:`m` after the last reseeding uses the :math:`m`-th draw of the
      stream's task sampler. ``set_task`` acts at the env's next reset, and in Gymnasium's
      SAME_STEP autoreset mode that reset happens inside the ``step`` that ends the trial;
      so the next trial's task is drawn and handed to the env as soon as the last episode
      of a trial begins (and, for a trial forced by ``reset``, just before that reset).
    * ``prev`` (float32, shape ``(num_streams, action_size + 2)``): the encoded previous
      action, the previous reward and the previous episode-end flag (RL^2's :math:`a, r,
      d`), zeros at the start of a trial; at the start of episode :math:`j > 0` the action
      and reward of the last step of episode :math:`j-1` and a flag of 1.

    ``pending`` holds, per stream, the task the env will apply at its next reset: the value
    last handed to the env. The ``begin``/``before_reset`` methods return the streams whose
    ``pending`` changed; the wrapper must hand those values to its env(s).
    """

    def __init__(
        self,
        task_spaces: Sequence[spaces.Space[Any]],
        episodes_per_trial: int,
        initial_pending: Sequence[Any],
        action_size: int = 0,
    ) -> None:
        n = len(task_spaces)
        self.num_streams = n
        self.episodes_per_trial = episodes_per_trial
        self.streams = TaskStreams(task_spaces)
        self.episode_in_trial: NDArray[np.int64] = np.full(n, -1, dtype=np.int64)
        self.pending: list[Any] = list(initial_pending)
        # True where ``pending`` is the next trial's task (drawn, not yet in use).
        self._next_drawn = np.zeros(n, dtype=bool)
        self.action_size = action_size
        self.prev: NDArray[np.float32] = np.zeros((n, action_size + 2), dtype=np.float32)

    def before_reset(
        self, rows: NDArray[np.bool_], seeds: Sequence[int | None], force_new_trial: NDArray[np.bool_]
    ) -> tuple[NDArray[np.bool_], list[int]]:
        """Prepare a ``reset`` of the streams ``rows``: reseed, and draw the tasks of forced new trials.

        A stream starts a new trial at this reset if it is reseeded, forced, has never been
        reset, or is in the last episode of its trial. Returns that mask (pass it to
        :meth:`begin`) and the streams whose ``pending`` task changed.
        """
        seeded = np.array([seed is not None for seed in seeds], dtype=bool) & rows
        for row in np.flatnonzero(seeded).tolist():
            self.streams.seed(row, int(seeds[row]))  # type: ignore[arg-type]
        # A reseeded stream discards a task drawn from its old RNG.
        self._next_drawn[seeded] = False
        new_trial = rows & (
            seeded | force_new_trial | (self.episode_in_trial < 0) | self._last_episode_running()
        )
        return new_trial, self._draw_next(new_trial & ~self._next_drawn)

    def begin(
        self, started: NDArray[np.bool_], new_trial: NDArray[np.bool_] | None = None
    ) -> tuple[NDArray[np.bool_], list[int]]:
        """Streams ``started`` begin an episode; return ``(new_trial mask, streams whose pending changed)``.

        ``new_trial``: the mask from :meth:`before_reset` for a ``reset``; ``None`` for an
        autoreset, where a stream starts a new trial after the last episode of its trial.
        """
        if new_trial is None:
            new_trial = started & self._last_episode_running()
        continuing = started & ~new_trial
        self.episode_in_trial[new_trial] = 0
        self.episode_in_trial[continuing] += 1
        self._next_drawn[new_trial] = False
        self.prev[new_trial] = 0.0
        # Also for an episode cut short by reset(): the flag marks the episode boundary.
        self.prev[continuing, -1] = 1.0
        return new_trial, self._draw_next(started & self._last_episode_running() & ~self._next_drawn)

    def trial_done(self, ended: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Mask of the streams whose episode that ``ended`` (a real transition) was the last of its trial."""
        return ended & self._last_episode_running()

    def record(
        self,
        transition: NDArray[np.bool_],
        actions: NDArray[np.float32],
        rewards: ArrayLike,
        ended: NDArray[np.bool_],
    ) -> None:
        """Store the encoded action (``(num_streams, action_size)``), reward and end flag of the real transitions."""
        if transition.all():
            self.prev[:, : self.action_size] = actions
            self.prev[:, -2] = rewards
            self.prev[:, -1] = ended
        else:
            self.prev[transition, : self.action_size] = actions[transition]
            self.prev[transition, -2] = np.asarray(rewards)[transition]
            self.prev[transition, -1] = ended[transition]

    def _draw_next(self, streams: NDArray[np.bool_]) -> list[int]:
        """Draw the next trial's task of ``streams`` into ``pending``; return their indices."""
        if not streams.any():
            return []
        changed: list[int] = np.flatnonzero(streams).tolist()
        for row in changed:
            self.pending[row] = self.streams.sample(row)
        self._next_drawn[changed] = True
        return changed

    def _last_episode_running(self) -> NDArray[np.bool_]:
        return self.episode_in_trial >= self.episodes_per_trial - 1
