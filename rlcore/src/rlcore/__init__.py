"""rlcore: trusted building blocks for PyTorch reinforcement-learning research on Gymnasium 1.x.

The curated public names are listed in ``__all__`` below; the public submodules
(``rlcore.wrappers``, ``rlcore.wrappers.vector``, ``rlcore.nn``, ``rlcore.buffers``,
``rlcore.returns``, ``rlcore.seeding``, ``rlcore.checkpoint``, ``rlcore.schedules``,
``rlcore.evaluation``, ``rlcore.logging``, ``rlcore.analysis``, ``rlcore.envs``,
``rlcore.testing``) hold the rest. Names that start with an underscore are private and may
change in any release. ``import rlcore`` needs only numpy, gymnasium and torch; optional
integrations (TensorBoard, W&B, matplotlib, Ray) are imported by the functions that use them.
"""

from __future__ import annotations

from rlcore import buffers, checkpoint, nn, returns, schedules, seeding, wrappers
from rlcore._version import __version__
from rlcore.buffers import ReplayBuffer, RolloutBuffer
from rlcore.deprecation import RLCoreDeprecationWarning
from rlcore.evaluation import EvaluationResult, evaluate
from rlcore.logging import Logger, make_logger
from rlcore.returns import discounted_returns, gae, td_lambda_returns
from rlcore.seeding import seed_env, seed_everything
from rlcore.stats import RunningMeanStd
from rlcore.wrappers import FrameStack, NormalizeObservation, NormalizeReward, TaskOneHot, TrialWrapper

__all__ = [
    "EvaluationResult",
    "FrameStack",
    "Logger",
    "NormalizeObservation",
    "NormalizeReward",
    "RLCoreDeprecationWarning",
    "ReplayBuffer",
    "RolloutBuffer",
    "RunningMeanStd",
    "TaskOneHot",
    "TrialWrapper",
    "__version__",
    "buffers",
    "checkpoint",
    "discounted_returns",
    "evaluate",
    "gae",
    "make_logger",
    "nn",
    "returns",
    "schedules",
    "seed_env",
    "seed_everything",
    "seeding",
    "td_lambda_returns",
    "wrappers",
]
