"""Which sub-environments of a vector env reset, and which rows are transitions.

One piece of bookkeeping, shared by rlcore's vector wrappers, its buffers and ``evaluate``.
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

:class:`AutoresetTracker` turns ``reset``/``step`` results into two masks: which sub-envs
start a new episode now, and which rows are real transitions. It changes its state only for
a ``reset`` or ``step`` that happened: a wrapper reads the rows a ``reset`` will reset with
:meth:`~AutoresetTracker.reset_rows` *before* the inner ``reset`` (which may pop
``"reset_mask"`` from the options) and records them with :meth:`~AutoresetTracker.on_reset`
only after it returned; a buffer looks at the coming rows with
:meth:`~AutoresetTracker.transitions` and records the step with
:meth:`~AutoresetTracker.advance` once it has stored it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

__all__ = ["AutoresetTracker", "autoreset_mode", "final_observations", "with_final_observations"]


def autoreset_mode(mode: object, where: str) -> AutoresetMode:
    """``mode`` as an ``AutoresetMode`` (a member or its value), or a ``ValueError`` naming ``where``."""
    if isinstance(mode, AutoresetMode):
        return mode
    try:
        return AutoresetMode(mode)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in AutoresetMode)
        raise ValueError(
            f"{where}: autoreset_mode must be a gymnasium AutoresetMode or one of {choices}, got {mode!r}"
        ) from None


class AutoresetTracker:
    """Tracks resets of ``num_envs`` sub-environments under one autoreset mode.

    Wrappers and ``evaluate`` call :meth:`on_reset` after every ``reset`` and :meth:`on_step`
    after every ``step``; buffers, which see steps only, call :meth:`transitions` and
    :meth:`advance`. Masks are boolean arrays of shape ``(num_envs,)``.

    After :meth:`on_step`, ``ended`` holds that step's ``terminated | truncated`` and
    ``any_ended`` / ``any_started`` say whether any sub-env ended / started an episode, so
    that a wrapper can skip its masked work on the common step where nothing did without
    another reduction of its own.

    The masks are never modified after they are handed out and must not be modified by
    the caller either: the all-True and all-False masks are shared read-only arrays (one
    allocation per tracker instead of one per step).

    Args:
        num_envs: the number of sub-environments.
        mode: a ``gymnasium.vector.AutoresetMode`` or its value (``"NextStep"``, ...).
        where: the owner's name, for the error raised on an unknown ``mode``.
    """

    def __init__(self, num_envs: int, mode: AutoresetMode | str, where: str = "AutoresetTracker") -> None:
        self.num_envs = int(num_envs)
        self.mode = autoreset_mode(mode, where)
        self.next_step = self.mode == AutoresetMode.NEXT_STEP
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

    @classmethod
    def of(cls, env: VectorEnv, where: str = "AutoresetTracker") -> AutoresetTracker:
        """A tracker for ``env``, in the mode its ``metadata["autoreset_mode"]`` declares (default NEXT_STEP)."""
        return cls(env.num_envs, env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP), where)

    @property
    def pending(self) -> np.ndarray:
        """NEXT_STEP: the sub-envs whose next step is an autoreset step (a read-only mask; state dicts save it)."""
        return self._pending

    @pending.setter
    def pending(self, mask: np.ndarray) -> None:
        mask = np.array(mask, dtype=bool)  # a copy, then read-only: handed out as `started`
        if mask.shape != (self.num_envs,):
            raise ValueError(f"autoreset pending mask must have shape ({self.num_envs},), got {mask.shape}")
        self._pending = _read_only(mask)
        self._any_pending = mask.tobytes() != self._no_bytes

    # ------------------------------------------------------------------ resets

    def reset_rows(self, options: Mapping[str, Any] | None) -> np.ndarray:
        """Mask of the sub-envs that a ``reset`` with ``options`` resets (all, or ``options["reset_mask"]``).

        Changes nothing: read it before the inner ``reset`` and pass it to :meth:`on_reset` after.

        Raises:
            ValueError: if ``options["reset_mask"]`` does not have shape ``(num_envs,)``.
        """
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            return self._all
        rows = np.asarray(mask, dtype=bool)
        if rows.shape != (self.num_envs,):
            raise ValueError(
                f"reset_mask must be a bool array of shape ({self.num_envs},), got shape {rows.shape}"
            )
        return _read_only(rows.copy())

    def on_reset(self, rows: np.ndarray | None = None) -> None:
        """Record a ``reset`` that happened, of ``rows`` (from :meth:`reset_rows`; ``None``: all sub-envs)."""
        self.pending = self._none if rows is None else self._pending & ~rows

    # ------------------------------------------------------------------ steps

    def on_step(self, terminated: np.ndarray, truncated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record a step that happened; return its ``(started, transition)`` masks.

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
        if self.next_step:
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

    def transitions(self) -> np.ndarray | None:
        """Mask of the coming step's real transitions, ``None`` if all rows are; changes nothing."""
        if not self._any_pending:
            return None
        return ~self._pending

    def advance(self, ended: np.ndarray, transitions: np.ndarray | None) -> None:
        """Record a step whose ``terminated | truncated`` were ``ended`` and whose transitions were
        ``transitions`` (what :meth:`transitions` returned for it)."""
        if self.next_step:
            pending = ended if transitions is None else ended & transitions
            self._pending = pending
            self._any_pending = pending.tobytes() != self._no_bytes


def final_observations(info: Mapping[str, Any], rows: np.ndarray, owner: str) -> Any:
    """SAME_STEP: ``info["final_obs"]`` of a step in which the sub-envs ``rows`` (indices) ended an episode.

    Raises:
        ValueError: naming ``owner`` and ``rows``, if ``info`` has no ``"final_obs"``.
    """
    final_obs = info.get("final_obs")
    if final_obs is None:
        raise ValueError(
            f"{owner}: in SAME_STEP autoreset mode, sub-envs {np.asarray(rows).tolist()} ended an episode but the "
            f"inner env's info has no 'final_obs' (keys: {sorted(info)})"
        )
    return final_obs


def with_final_observations(info: Mapping[str, Any], rows: np.ndarray, new: Any) -> dict[str, Any]:
    """A copy of ``info`` whose ``final_obs`` (a new object array) holds ``new[j]`` for sub-env ``rows[j]``.

    The inner env's ``final_obs`` array is left as it is.
    """
    final_obs = info["final_obs"]
    if isinstance(final_obs, np.ndarray) and final_obs.dtype == object and final_obs.ndim == 1:
        replaced = final_obs.copy()  # what Gymnasium's vector envs hand out
    else:  # element by element: np.array would stack a sequence of equal-shaped arrays
        replaced = np.empty(len(final_obs), dtype=object)
        for i in range(len(final_obs)):
            replaced[i] = final_obs[i]
    for i, row in zip(rows, new, strict=True):
        replaced[i] = row
    return {**info, "final_obs": replaced}


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
