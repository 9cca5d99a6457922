"""Which slots of a replay buffer hold transitions: a ring of rows, one row per vector-env step.

A replay buffer stores ``rows`` rows of ``num_envs`` slots (slot ``row * num_envs + env`` in
its flattened arrays) and overwrites the oldest row first. :class:`RowRing` keeps the
bookkeeping of that ring, apart from what the rows hold: which rows are alive, which of their
slots are transitions (NEXT_STEP's autoreset rows are not), uniform sampling over those, and
the n-step windows that start at a slot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowRing"]


class RowRing:
    """Alive rows and valid slots of a circular buffer of ``rows`` rows of ``num_envs`` slots.

    Rows carry absolute numbers: rows ``[tail, head)`` are alive and row ``a`` lives in
    storage row ``a % rows``. ``valid`` (bool, ``(rows, num_envs)``) is False for the slots
    that hold no transition (NEXT_STEP's autoreset steps); they are never sampled.
    """

    def __init__(self, rows: int, num_envs: int) -> None:
        self.rows = rows
        self.num_envs = num_envs
        self.valid = np.ones((rows, num_envs), dtype=bool)
        self._row_invalid = np.zeros(rows, dtype=np.int64)
        self._num_invalid: int = 0
        self.head: int = 0
        self.tail: int = 0

    def __len__(self) -> int:
        """Valid slots of the alive rows: the transitions that can be sampled."""
        return (self.head - self.tail) * self.num_envs - self._num_invalid

    def next_row(self, valid: np.ndarray | None) -> int:
        """Claim the storage row of the next step, whose valid slots are ``valid`` (``None``: all).

        Drops the oldest row if the ring is full. The row counts as alive at once: write it
        before anything can read the ring.
        """
        p = self.head % self.rows
        if self.head - self.tail == self.rows:
            self.drop_oldest()
        if valid is None:
            if self._row_invalid[p]:
                self.valid[p] = True
                self._row_invalid[p] = 0
        else:
            self.valid[p] = valid
            self._row_invalid[p] = invalid = self.num_envs - int(np.count_nonzero(valid))
            self._num_invalid += invalid
        self.head += 1
        return p

    def drop_oldest(self) -> None:
        """Forget the oldest alive row."""
        if self._num_invalid:
            self._num_invalid -= int(self._row_invalid[self.tail % self.rows])
        self.tail += 1

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Slots of ``batch_size`` valid transitions drawn uniformly with replacement (int64 ``(B,)``).

        Raises:
            ValueError: if ``batch_size`` is not an int >= 1, or the buffer is empty.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"ReplayBuffer.sample: batch_size must be an int >= 1, got {batch_size!r}")
        if len(self) == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty: add transitions first")
        n, alive = self.num_envs, (self.head - self.tail) * self.num_envs
        offset, total = self.tail * n, self.rows * n
        draws = rng.integers(0, alive, size=batch_size)
        slots = (draws + offset) % total
        if self._num_invalid:
            # Rejection keeps the draw uniform over valid transitions; autoreset rows follow an
            # episode end, so at most about half of the rows are invalid.
            valid = self.valid.reshape(-1)
            bad = np.flatnonzero(~valid[slots])
            while len(bad):
                slots[bad] = (rng.integers(0, alive, size=len(bad)) + offset) % total
                bad = bad[~valid[slots[bad]]]
        return slots

    def check_slots(self, indices: Any) -> np.ndarray:
        """``indices`` as int64 slots, each holding a transition that can be sampled.

        Raises:
            IndexError: if ``indices`` is not a 1-D int array, or a slot is out of range or
                holds no transition.
        """
        slots = np.asarray(indices)
        if slots.ndim != 1 or not np.issubdtype(slots.dtype, np.integer):
            raise IndexError(
                f"ReplayBuffer.gather: indices must be a 1-D int array, got shape {slots.shape} {slots.dtype}"
            )
        slots = slots.astype(np.int64)
        total = self.rows * self.num_envs
        out_of_range = (slots < 0) | (slots >= total)
        if out_of_range.any():
            bad = int(slots[np.argmax(out_of_range)])
            raise IndexError(f"ReplayBuffer.gather: slot {bad} is out of range [0, {total})")
        held = (
            (slots // self.num_envs - self.tail) % self.rows < self.head - self.tail
        ) & self.valid.reshape(-1)[slots]
        if not held.all():
            bad = int(slots[np.argmin(held)])
            raise IndexError(f"ReplayBuffer.gather: slot {bad} holds no transition that can be sampled")
        return slots

    def windows(
        self, slots: np.ndarray, n_step: int, terminated: np.ndarray, truncated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The n-step windows starting at ``slots``: ``(window_slots (B, n_step), lengths (B,))``.

        ``terminated`` and ``truncated`` (bool, flat: one entry per slot) mark the steps that
        ended an episode. A window stops after such a step, and before a row that is not written yet (it then bootstraps
        from the newest ``next_obs``) or a slot that holds no transition.
        """
        n, rows = self.num_envs, self.rows
        steps = np.arange(n_step)
        row, env = np.divmod(slots, n)
        first = self.tail + (row - self.tail) % rows
        window = first[:, None] + steps
        window_slots = (window % rows) * n + env[:, None]
        present = (window < self.head) & self.valid.reshape(-1)[window_slots]
        ended = terminated[window_slots] | truncated[window_slots]
        lengths = np.where(~present, steps, np.where(ended, steps + 1, n_step)).min(axis=1)
        return window_slots, lengths

    def load(self, head: int, tail: int) -> None:
        """Set the alive rows (after ``valid`` was loaded) and recount the invalid slots."""
        self.head, self.tail = head, tail
        self._row_invalid = self.num_envs - self.valid.sum(axis=1).astype(np.int64)
        alive = np.arange(tail, head) % self.rows
        self._num_invalid = int(self._row_invalid[alive].sum())
