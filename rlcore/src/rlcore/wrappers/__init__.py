"""Single-environment wrappers for Gymnasium 1.x (vector twins live in :mod:`rlcore.wrappers.vector`).

Use Gymnasium's own wrappers (``RecordEpisodeStatistics``, ``TimeLimit``, ``ClipAction``,
``RescaleAction``, ``NumpyToTorch``, ...) where they do the job; rlcore adds:

* :class:`FrameStack`: the last ``num_stack`` observations, each frame stored once.
"""

from __future__ import annotations

from rlcore.wrappers.frame_stack import FrameStack

__all__ = ["FrameStack"]
