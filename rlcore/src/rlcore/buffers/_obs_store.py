"""How a replay buffer stores its observations: whole, or frame stacks one frame at a time.

:class:`WholeObservations` keeps ``obs`` and ``next_obs`` as they come. A frame-stacked
observation of shape ``(k, *frame_shape)`` shares ``k - 1`` frames with the next one, so a
buffer that stores whole stacks stores each frame ``k`` times (twice more for ``next_obs``).
:class:`FrameStore` (``ReplayBuffer(store_frames_once=True)``) writes each frame once into a
ring of ``frame_capacity`` frames and keeps, per stored transition, the absolute numbers of
the frames of its stack; the stacks are rebuilt with one ``take`` at sampling time. Both store
rows with ``push`` and rebuild slots with ``stacks``; a FrameStore's rows can also be ``lost``.
(The wrappers keep their own, much smaller, ring of the last ``k`` frames per env in
``rlcore.wrappers._frame_ring``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from rlcore.buffers._common import check_positive_int

__all__ = ["FrameStore", "WholeObservations"]


class WholeObservations:
    """``obs`` and ``next_obs`` of every slot, as they come: arrays of shape ``(rows, num_envs, *obs_shape)``."""

    def __init__(
        self, rows: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype[Any]
    ) -> None:
        self.obs_shape = obs_shape
        self.obs = np.zeros((rows, num_envs, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((rows, num_envs, *obs_shape), dtype=obs_dtype)

    def arrays(self) -> dict[str, np.ndarray]:
        """The storage arrays by the names a buffer's state dict gives them."""
        return {"observations": self.obs, "next_observations": self.next_obs}

    def push(
        self,
        p: int,
        obs: np.ndarray,
        next_obs: np.ndarray,
        valid: np.ndarray | None,
        ended: np.ndarray | None,
    ) -> None:
        """Store row ``p``."""
        self.obs[p] = obs
        self.next_obs[p] = next_obs

    def stacks(self, slots: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(obs, next_obs)``: the observations in ``slots`` and after the steps in ``last``, ``(B, *obs_shape)``."""
        return (
            np.take(self.obs.reshape(-1, *self.obs_shape), slots, axis=0),
            np.take(self.next_obs.reshape(-1, *self.obs_shape), last, axis=0),
        )


class FrameStore:
    """The frames of a replay buffer's observations, each stored once.

    The buffer's rows are ``(rows, num_envs)`` slots; :meth:`push` records row ``p``'s
    observations, :meth:`stacks` rebuilds the observations of slots. A row must be dropped
    once a frame it refers to is overwritten: :meth:`lost` says so.

    Args:
        where: the owner's name, for errors.
        rows: rows of the buffer.
        num_envs: sub-environments per row.
        observation_space: the space of one observation (for the error on a shape ``()``).
        obs_shape: ``(k, *frame_shape)``, the stacked observation's shape.
        obs_dtype: its dtype.
        frame_capacity: frames in the ring (default: one per transition plus 1/16 and the
            minimum); at least ``(k + 1) ** 2 * num_envs``.
    """

    def __init__(
        self,
        where: str,
        rows: int,
        num_envs: int,
        observation_space: spaces.Space[Any],
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype[Any],
        frame_capacity: int | None,
    ) -> None:
        if len(obs_shape) == 0:
            raise ValueError(
                f"{where}: store_frames_once needs observations of shape (k, *frame_shape), "
                f"got observation_space {observation_space}"
            )
        n = self.num_envs = num_envs
        k = self.k = obs_shape[0]
        minimum = (k + 1) ** 2 * n
        if frame_capacity is None:
            frame_capacity = rows * n + rows * n // 16 + minimum
        frame_capacity = check_positive_int(where, "frame_capacity", frame_capacity)
        if frame_capacity < minimum:
            # One add pushes up to (k + 1) frames per env, and a transition refers back up
            # to k adds: fewer frames could overwrite the row being written.
            raise ValueError(
                f"{where}: frame_capacity must be >= (k + 1)**2 * num_envs = {minimum}, got {frame_capacity}"
            )
        self.capacity = frame_capacity
        self.frames = np.zeros((frame_capacity, *obs_shape[1:]), dtype=obs_dtype)
        # Absolute frame numbers (frame f lives in ring slot f % capacity).
        self.obs_frames = np.zeros((rows, n, k), dtype=np.int64)
        self.next_frame = np.zeros((rows, n), dtype=np.int64)
        self.pushed: int = 0
        # Oldest frame each row refers to. It never decreases from one row to the next: an
        # env's stack either shifts forward by one frame or restarts with new frames. So
        # dropping tail rows while their guard is below the oldest frame kept drops exactly
        # the rows that lost a frame.
        self.row_guard = np.zeros(rows, dtype=np.int64)
        self.stack = np.zeros((n, k), dtype=np.int64)
        self.needs_start: np.ndarray = np.ones(n, dtype=bool)

    def arrays(self) -> dict[str, np.ndarray]:
        """The storage arrays by the names a buffer's state dict gives them."""
        return {
            "frames": self.frames,
            "obs_frames": self.obs_frames,
            "next_frame": self.next_frame,
            "row_guard": self.row_guard,
            "stack": self.stack,
            "needs_start": self.needs_start,
        }

    def check(self, obs: np.ndarray, next_obs: np.ndarray, valid: np.ndarray | None) -> None:
        """Raise ``ValueError`` unless the transitions ``valid`` selects (``None``: all) are frame stacks
        that continue the stored ones (``obs[t] == next_obs[t - 1]`` within an episode)."""
        envs = np.arange(self.num_envs) if valid is None else np.flatnonzero(valid)
        if self.k > 1 and len(envs):
            overlap = (next_obs[envs, :-1] == obs[envs, 1:]).reshape(len(envs), -1).all(axis=1)
            if not overlap.all():
                i = int(envs[np.argmin(overlap)])
                raise ValueError(
                    f"ReplayBuffer.add: next_obs[{i}][:-1] differs from obs[{i}][1:]; store_frames_once needs "
                    "frame stacks (frames on axis 0, newest last, as gymnasium.wrappers.FrameStackObservation)"
                )
        cont = (
            np.flatnonzero(~self.needs_start) if valid is None else np.flatnonzero(valid & ~self.needs_start)
        )
        if len(cont):
            stored = self.frames[self.stack[cont] % self.capacity]
            same = (stored == obs[cont]).reshape(len(cont), -1).all(axis=1)
            if not same.all():
                i = int(cont[np.argmin(same)])
                raise ValueError(
                    f"ReplayBuffer.add: obs[{i}] is not the next_obs of env {i}'s previous step, which did not end "
                    "its episode; store_frames_once stores each frame once and needs obs[t] == next_obs[t - 1] "
                    "within an episode (check autoreset_mode)"
                )

    def push(
        self,
        p: int,
        obs: np.ndarray,
        next_obs: np.ndarray,
        valid: np.ndarray | None,
        ended: np.ndarray | None,
    ) -> None:
        """Store row ``p``: the new frames of ``obs`` where an episode starts, and each newest frame of ``next_obs``."""
        assert ended is not None  # needs_ended
        k = self.k
        pushed = self.pushed
        obs_frames = self.stack.copy()
        starts = self.needs_start if valid is None else self.needs_start & valid
        for i in np.flatnonzero(starts):
            stack = obs[i]
            keep = np.ones(k, dtype=bool)
            if k > 1:
                keep[1:] = (stack[1:] != stack[:-1]).reshape(k - 1, -1).any(axis=1)
            kept = stack[keep]
            self._write(pushed, kept)
            obs_frames[i] = pushed + np.cumsum(keep) - 1
            pushed += len(kept)
        envs = np.arange(self.num_envs) if valid is None else np.flatnonzero(valid)
        newest = next_obs[:, -1] if valid is None else next_obs[envs, -1]
        self._write(pushed, newest)
        next_frame = np.full(self.num_envs, -1, dtype=np.int64)
        next_frame[envs] = pushed + np.arange(len(envs))
        guard = int(obs_frames[envs, 0].min()) if len(envs) else pushed
        pushed += len(envs)

        self.obs_frames[p] = obs_frames
        self.next_frame[p] = next_frame
        self.stack[envs, :-1] = obs_frames[envs, 1:]
        self.stack[envs, -1] = next_frame[envs]
        self.pushed = pushed
        self.needs_start = ended.copy() if valid is None else ended | ~valid
        self.row_guard[p] = guard

    def _write(self, start: int, frames: np.ndarray) -> None:
        count = len(frames)
        pos = start % self.capacity
        first = min(count, self.capacity - pos)
        self.frames[pos : pos + first] = frames[:first]
        if first < count:
            self.frames[: count - first] = frames[first:]

    def lost(self, p: int) -> bool:
        """Whether row ``p`` refers to a frame that was overwritten."""
        return bool(self.row_guard[p] < self.pushed - self.capacity)

    def stacks(self, slots: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(obs, next_obs)``: the stacks observed in ``slots`` and after the steps in ``last``, ``(B, k, ...)``."""
        ring = self.capacity
        obs_frames = self.obs_frames.reshape(-1, self.k)
        observations = np.take(self.frames, np.take(obs_frames, slots, axis=0) % ring, axis=0)
        next_frames = np.concatenate(
            [np.take(obs_frames, last, axis=0)[:, 1:], np.take(self.next_frame, last)[:, None]], axis=1
        )
        return observations, np.take(self.frames, next_frames % ring, axis=0)
