"""Single-environment wrappers for Gymnasium 1.x (vector twins live in :mod:`rlcore.wrappers.vector`).

Use Gymnasium's own wrappers (``RecordEpisodeStatistics``, ``TimeLimit``, ``ClipAction``,
``RescaleAction``, ``NumpyToTorch``, ...) where they do the job; rlcore adds:

* :class:`NormalizeObservation`, :class:`NormalizeReward`: running normalisation whose float64
  statistics can be saved, loaded, frozen and shared between training and evaluation envs.
* :class:`FrameStack`: the last ``num_stack`` observations, each frame stored once.
* :class:`TrialWrapper`, :class:`TaskOneHot` and the :class:`TaskEnv` protocol: meta-RL and
  multi-task (RL^2 trials of k episodes, one-hot task ids).

:mod:`rlcore.wrappers.atari` holds the Atari pipeline (the ``atari`` extra), which
:func:`rlcore.runs.make_envs` applies to ALE ids.
"""

from __future__ import annotations

from rlcore.wrappers.frame_stack import FrameStack
from rlcore.wrappers.meta import TaskEnv, TaskOneHot, TrialWrapper, check_task_env
from rlcore.wrappers.normalize import NormalizeObservation, NormalizeReward

__all__ = [
    "FrameStack",
    "NormalizeObservation",
    "NormalizeReward",
    "TaskEnv",
    "TaskOneHot",
    "TrialWrapper",
    "check_task_env",
]
