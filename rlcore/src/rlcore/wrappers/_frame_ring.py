"""Ring buffer of the last ``num_stack`` frames: the one implementation behind both FrameStack wrappers.

Frame stacking gives a memoryless policy the last ``k`` observations so that it can infer
velocities (Mnih et al., "Human-level control through deep reinforcement learning", Nature
518, 2015, https://doi.org/10.1038/nature14236, stack the last 4 Atari frames).
:class:`FrameRing` keeps those frames for one env or for each sub-env of a vector env; the
functions below validate the arguments both wrappers share, so that their checks and
messages are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space
from numpy.typing import ArrayLike, NDArray

__all__ = ["FrameRing", "check_empty_state", "check_num_stack", "resolve_padding", "stack_box"]


class FrameRing:
    r"""The last ``num_stack`` frames of one env, or of each of ``num_envs`` sub-envs.

    Storage: ``frames`` of shape ``(num_stack, *frame_shape)`` (single env) or
    ``(num_envs, num_stack, *frame_shape)`` (vector), in the observation dtype; each frame
    is written once. All streams share one head, the slot of the newest frame, so with the
    head in slot :math:`h` the stack from oldest to newest is the slots
    :math:`h+1, h+2, \dots, h+k \pmod k`; :meth:`stacked` gathers them with one ``take``
    along the slot axis, using an index order precomputed per head position, into a fresh
    array that the ring never touches again. :meth:`restart` rewrites every slot of the
    streams that start an episode, which is why a shared head needs no per-stream
    bookkeeping.

    Args:
        frame_shape: shape of one observation.
        dtype: dtype of the observations (frames are cast to it on write).
        num_stack: number of frames kept, ``k >= 1``.
        padding: the frame that fills the older slots at a restart, shape ``frame_shape``;
            ``None`` repeats each stream's first frame.
        num_envs: ``None`` for a single env, else the number of sub-envs.
    """

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        dtype: np.dtype[Any],
        num_stack: int,
        padding: NDArray[Any] | None,
        num_envs: int | None = None,
    ) -> None:
        self.num_stack = num_stack
        self.num_envs = num_envs
        self._axis = 0 if num_envs is None else 1
        batch = () if num_envs is None else (num_envs,)
        self.frames: NDArray[Any] = np.zeros((*batch, num_stack, *frame_shape), dtype=dtype)
        self._padding = padding
        self._orders = tuple(
            (np.arange(1, num_stack + 1, dtype=np.intp) + head) % num_stack for head in range(num_stack)
        )
        self._slots = tuple((slice(None),) * self._axis + (head,) for head in range(num_stack))
        self._head = num_stack - 1

    def append(self, frames: ArrayLike) -> None:
        """Write the newest frame of every stream (``frames``: ``frame_shape`` or ``(num_envs, *frame_shape)``)."""
        head = self._head + 1
        if head == self.num_stack:
            head = 0
        self._head = head
        self.frames[self._slots[head]] = frames

    def stacked(self) -> NDArray[Any]:
        """A fresh array of every stream's stack, oldest frame first.

        Shape ``(num_stack, *frame_shape)`` or ``(num_envs, num_stack, *frame_shape)``.
        """
        return self.frames.take(self._orders[self._head], axis=self._axis)

    def restart(self, frames: ArrayLike, rows: NDArray[np.intp] | None = None) -> None:
        """Start new episodes: padding in every slot of the streams, their first frame in the head slot.

        Args:
            frames: the first frame of each restarted stream: ``frame_shape`` (single env),
                ``(num_envs, *frame_shape)`` (``rows=None``) or ``(len(rows), *frame_shape)``.
            rows: the sub-envs that restart (vector only); ``None`` restarts all.
        """
        streams: Any = Ellipsis if rows is None else rows
        if self._padding is None:
            # Broadcasting each first frame over the slot axis fills all num_stack slots at once
            # (a single frame broadcasts by itself; a batch needs the slot axis inserted).
            self.frames[streams] = frames if self.num_envs is None else np.asarray(frames)[:, None]
        else:
            self.frames[streams] = self._padding
            self.frames[self._newest(rows)] = frames

    def overwrite_newest(self, frames: ArrayLike, rows: NDArray[np.intp]) -> None:
        """Replace the newest frame of the sub-envs ``rows`` (vector only)."""
        self.frames[self._newest(rows)] = frames

    def stacked_rows(self, rows: NDArray[np.intp]) -> NDArray[Any]:
        """A fresh array of the stacks of the sub-envs ``rows``, shape ``(len(rows), num_stack, *frame_shape)``."""
        return self.frames[np.ix_(rows, self._orders[self._head])]

    def _newest(self, rows: NDArray[np.intp] | None) -> Any:
        if self.num_envs is None:
            return self._head
        return (slice(None) if rows is None else rows, self._head)


def check_num_stack(num_stack: object, owner: str) -> int:
    """``num_stack`` as an int, or a ``TypeError``/``ValueError`` naming ``owner``."""
    # bool is an int subclass, but FrameStack(env, True) is a mistake, not a stack of 1.
    if isinstance(num_stack, bool) or not isinstance(num_stack, (int, np.integer)):
        raise TypeError(
            f"{owner}: num_stack must be an int >= 1, got {num_stack!r} ({type(num_stack).__name__})"
        )
    if num_stack < 1:
        raise ValueError(f"{owner}: num_stack must be an int >= 1, got {num_stack!r}")
    return int(num_stack)


def stack_box(space: spaces.Space[Any], num_stack: int, owner: str) -> spaces.Box:
    """The space of ``num_stack`` stacked observations of the Box ``space``.

    Built like Gymnasium's ``FrameStackObservation``: ``batch_space`` tiles the bounds along
    a new leading axis of length ``num_stack`` and keeps the dtype.
    """
    if not isinstance(space, spaces.Box):
        raise TypeError(f"{owner} supports only Box observation spaces, got {space}")
    stacked = batch_space(space, n=num_stack)
    assert isinstance(stacked, spaces.Box)
    return stacked


def resolve_padding(padding_type: object, space: spaces.Box, owner: str) -> NDArray[Any] | None:
    """The padding frame of ``padding_type``: ``None`` for ``"reset"``, zeros for ``"zero"``, else a copy.

    A custom padding must be an observation of ``space`` (shape, dtype and bounds), as in
    Gymnasium's ``FrameStackObservation``.
    """
    if isinstance(padding_type, str):
        if padding_type == "reset":
            return None
        if padding_type == "zero":
            return np.zeros(space.shape, dtype=space.dtype)
        raise ValueError(
            f"{owner}: padding_type must be 'reset', 'zero' or an observation of {space}, got {padding_type!r}"
        )
    try:
        padding = (
            np.asarray(padding_type, dtype=space.dtype)
            if not isinstance(padding_type, np.ndarray)
            else padding_type
        )
    except (TypeError, ValueError):
        padding = None
    if padding is None or padding not in space:
        raise ValueError(
            f"{owner}: a custom padding_type must be an observation of {space} (shape {space.shape}, "
            f"dtype {space.dtype}, within the bounds), got {padding_type!r}"
        )
    # A private copy: the caller may later mutate the array it passed.
    return np.array(padding, dtype=space.dtype)


def check_empty_state(state: object, owner: str) -> None:
    """Accept only an empty mapping: a frame stack has no learned state to load."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{owner}.load_state_dict: expected a mapping, got {type(state).__name__}")
    if state:
        raise ValueError(
            f"{owner}.load_state_dict: a frame stack has no learned state, so only an empty mapping is "
            f"accepted, got keys {sorted(map(str, state))}"
        )
