"""Bookkeeping of which sub-environments reset, shared by every rlcore vector wrapper.

Gymnasium 1.x vector envs reset finished sub-environments in one of three ways
(``gymnasium.vector.AutoresetMode``):

* ``NEXT_STEP`` (the default): the step *after* a sub-env terminated or truncated is its
  autoreset step; ``step`` returns that sub-env's reset observation with reward 0 and both
  flags False, and the action is ignored. That step is not a transition.
* ``SAME_STEP``: the step that ends an episode returns the *reset* observation in ``obs``
  and the final observation in ``info["final_obs"]`` (object array, masked by
  ``info["_final_obs"]``).
* ``DISABLED``: nothing resets by itself; the user calls
  ``reset(options={"reset_mask": mask})`` to reset some sub-envs, and the returned batch
  keeps the last observation of the others.

:class:`AutoresetTracker` turns ``reset``/``step`` results into two masks that the wrappers
use: which sub-envs start a new episode now, and which rows are real transitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

__all__ = ["AutoresetTracker", "autoreset_mode_of"]


def autoreset_mode_of(env: VectorEnv) -> AutoresetMode:
    """The autoreset mode a vector env declares in ``metadata["autoreset_mode"]`` (default NEXT_STEP)."""
    mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    return AutoresetMode(mode) if not isinstance(mode, AutoresetMode) else mode


class AutoresetTracker:
    """Tracks resets of a vector env's sub-environments across all autoreset modes.

    Call :meth:`on_reset` with the options of every ``reset`` call and :meth:`on_step` with
    the flags of every ``step``; each returns boolean masks of shape ``(num_envs,)``.
    """

    def __init__(self, env: VectorEnv) -> None:
        self.num_envs = int(env.num_envs)
        self.mode = autoreset_mode_of(env)
        # NEXT_STEP: sub-envs whose next step is an autoreset step.
        self._pending = np.zeros(self.num_envs, dtype=bool)

    def on_reset(self, options: Mapping[str, Any] | None) -> np.ndarray:
        """Mask of the sub-envs that this ``reset`` call resets (all, or ``options["reset_mask"]``)."""
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            reset = np.ones(self.num_envs, dtype=bool)
        else:
            reset = np.asarray(mask, dtype=bool)
            if reset.shape != (self.num_envs,):
                raise ValueError(
                    f"reset_mask must be a bool array of shape ({self.num_envs},), got shape {reset.shape}"
                )
        self._pending[reset] = False
        return reset

    def on_step(self, terminated: np.ndarray, truncated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(started, transition)`` masks for this step.

        ``started``: sub-envs whose observation in this step's ``obs`` is the first of a new
        episode (NEXT_STEP: the autoreset step; SAME_STEP: the step that ended an episode).
        ``transition``: sub-envs whose reward and flags in this step are a real transition
        (everything except NEXT_STEP's autoreset step).
        """
        done = np.logical_or(terminated, truncated)
        if self.mode == AutoresetMode.NEXT_STEP:
            started = self._pending.copy()
            self._pending = done & ~started
            return started, ~started
        if self.mode == AutoresetMode.SAME_STEP:
            return done, np.ones(self.num_envs, dtype=bool)
        return np.zeros(self.num_envs, dtype=bool), np.ones(self.num_envs, dtype=bool)
