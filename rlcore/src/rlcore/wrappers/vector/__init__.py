"""Vector-environment twins of :mod:`rlcore.wrappers`, for ``gymnasium.vector.VectorEnv``.

Each class has the same name and arguments as its single-env twin and shares its logic; all
work under the three Gymnasium 1.x autoreset modes (NEXT_STEP, SAME_STEP, DISABLED).

* :class:`NormalizeObservation`, :class:`NormalizeReward`: statistics shared across sub-envs
  (or per sub-env with ``per_env=True``); autoreset steps never enter them.
* :class:`FrameStack`: per-sub-env frame stacks, refilled only for sub-envs that reset.
* :class:`TrialWrapper`, :class:`TaskOneHot`: meta-RL trials and one-hot task ids, with task
  sampling in the main process (sync and async vector envs).
"""

from __future__ import annotations

from rlcore.wrappers.vector.frame_stack import FrameStack
from rlcore.wrappers.vector.meta import TaskOneHot, TrialWrapper, check_task_env
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

__all__ = [
    "FrameStack",
    "NormalizeObservation",
    "NormalizeReward",
    "TaskOneHot",
    "TrialWrapper",
    "check_task_env",
]
