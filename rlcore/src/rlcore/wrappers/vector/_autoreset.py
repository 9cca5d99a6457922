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

    After :meth:`on_step`, ``ended`` holds that step's ``terminated | truncated`` and
    ``any_ended`` / ``any_started`` say whether any sub-env ended / started an episode, so
    that a wrapper can skip its masked work on the common step where nothing did without
    another reduction of its own.

    The masks are never modified after they are handed out and must not be modified by
    the caller either: the all-True and all-False masks are shared read-only arrays (one
    allocation per tracker instead of one per step).
    """

    def __init__(self, env: VectorEnv) -> None:
        self.num_envs = int(env.num_envs)
        self.mode = autoreset_mode_of(env)
        self._next_step = self.mode == AutoresetMode.NEXT_STEP
        self._all = _read_only(np.ones(self.num_envs, dtype=bool))
        self._none = _read_only(np.zeros(self.num_envs, dtype=bool))
        self._no_bytes = self._none.tobytes()
        # NEXT_STEP: sub-envs whose next step is an autoreset step. Replaced, never written
        # in place, because on_step hands it out as the next step's `started`.
        self._pending = self._none
        self._any_pending = False
        self.ended: np.ndarray = self._none
        self.any_ended = False
        self.any_started = False

    def on_reset(self, options: Mapping[str, Any] | None) -> np.ndarray:
        """Mask of the sub-envs that this ``reset`` call resets (all, or ``options["reset_mask"]``)."""
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            reset = np.ones(self.num_envs, dtype=bool)
            self._pending = self._none
        else:
            reset = np.asarray(mask, dtype=bool)
            if reset.shape != (self.num_envs,):
                raise ValueError(
                    f"reset_mask must be a bool array of shape ({self.num_envs},), got shape {reset.shape}"
                )
            self._pending = self._pending & ~reset
        self._any_pending = self._pending.tobytes() != self._no_bytes
        return reset

    def on_step(self, terminated: np.ndarray, truncated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(started, transition)`` masks for this step.

        ``started``: sub-envs whose observation in this step's ``obs`` is the first of a new
        episode (NEXT_STEP: the autoreset step; SAME_STEP: the step that ended an episode).
        ``transition``: sub-envs whose reward and flags in this step are a real transition
        (everything except NEXT_STEP's autoreset step).
        """
        ended = np.logical_or(terminated, truncated)
        # A bool array holds a True iff its bytes are not all zero: on a small array this
        # "any" costs a quarter of np.count_nonzero and a tenth of ndarray.any, which
        # matters because every rlcore vector wrapper calls on_step on every step.
        any_ended = ended.tobytes() != self._no_bytes
        self.ended = ended
        self.any_ended = any_ended
        if self._next_step:
            started = self._pending
            self.any_started = self._any_pending
            if self._any_pending:
                transition = ~started
                # Normally False anyway (an autoreset step reports both flags False); masked so
                # that an env which reports a flag there cannot chain autoreset steps.
                self._pending = ended & transition
                self._any_pending = any_ended and self._pending.tobytes() != self._no_bytes
            else:
                transition = self._all
                self._pending = ended
                self._any_pending = any_ended
            return started, transition
        if self.mode == AutoresetMode.SAME_STEP:
            self.any_started = any_ended
            return ended, self._all
        self.any_started = False
        return self._none, self._all


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
