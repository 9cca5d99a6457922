"""The task bookkeeping shared by rlcore's task-parameterised envs.

:class:`TaskParameterisedEnv` implements the :class:`rlcore.wrappers.meta.TaskEnv` protocol
once: ``task``, ``next_task`` (validated against ``task_space``), ``set_task`` and the rule
that a reset applies ``next_task``. Subclasses set ``task_space``, call :meth:`_init_task`
and call :meth:`_apply_next_task` in ``reset``.
"""

from __future__ import annotations

import copy
from typing import Any, Generic, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["TaskParameterisedEnv", "check_int_at_least", "check_positive_float"]

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")


def check_int_at_least(value: object, minimum: int, name: str, owner: str) -> int:
    """``value`` as an int ``>= minimum``, or a ``TypeError``/``ValueError`` naming ``owner.name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: {name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(value: object, name: str, owner: str) -> float:
    """``value`` as a finite float ``> 0``, or a ``ValueError`` naming ``owner.name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{owner}: {name} must be a finite number > 0, got {value!r} ({type(value).__name__})"
        )
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


class TaskParameterisedEnv(gym.Env[ObsType, ActType], Generic[ObsType, ActType]):
    """An env whose task is a sample of ``task_space``, set with :meth:`set_task`, applied at ``reset``.

    ``task`` is the task of the current episode; ``next_task`` (read/write, checked against
    ``task_space``) is the task the next ``reset`` applies, equal to ``task`` until changed.
    ``set_task(task)`` is ``next_task = task``, spelled as in Meta-World. Tasks are stored as
    private copies in a canonical form (:meth:`_canonical_task`).
    """

    task_space: spaces.Space[Any]

    def _init_task(self, task: Any | None, default: Any) -> None:
        """Set the first task (``default`` if ``task`` is None), in effect from the first reset on."""
        self._next_task = self._checked_task(default if task is None else task)
        self._task = self._next_task

    @property
    def task(self) -> Any:
        """The task of the current episode (a copy)."""
        return self._canonical_task(self._task)

    @property
    def next_task(self) -> Any:
        """The task the next ``reset`` applies (a copy)."""
        return self._canonical_task(self._next_task)

    @next_task.setter
    def next_task(self, task: Any) -> None:
        self._next_task = self._checked_task(task)

    def set_task(self, task: Any) -> None:
        """Use ``task`` (a sample of ``task_space``) from the next ``reset`` on."""
        self.next_task = task

    def _apply_next_task(self) -> None:
        self._task = self._next_task

    def _checked_task(self, task: Any) -> Any:
        try:
            # Box.contains warns when it casts a list; cast it here (a ragged list raises).
            candidate = np.asarray(task) if isinstance(self.task_space, spaces.Box) else task
            inside = candidate in self.task_space
        except (TypeError, ValueError):
            inside = False
        if not inside:
            raise ValueError(f"{type(self).__name__}: task {task!r} is not in task_space {self.task_space}")
        return self._canonical_task(task)

    def _canonical_task(self, task: Any) -> Any:
        """A private copy of ``task``: an int for a Discrete task space, an array of its dtype for a Box."""
        if isinstance(self.task_space, spaces.Discrete):
            return int(task)
        if isinstance(self.task_space, spaces.Box):
            return np.array(task, dtype=self.task_space.dtype)
        return copy.deepcopy(task)
