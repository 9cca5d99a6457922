"""bsuite's Catch drawn in pixels, to test that pixel agents learn: :class:`PixelCatchEnv`."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from rlcore.envs._task import check_int_at_least

__all__ = ["PixelCatchEnv"]

# The smallest image side of the default cell size: NatureCNN needs 36 pixels, 40 leaves room.
_MIN_DEFAULT_SIDE = 40
_BACKGROUND, _BALL, _PADDLE = (24, 24, 32), (230, 70, 60), (80, 160, 240)


class PixelCatchEnv(gym.Env[NDArray[np.uint8], np.int64]):
    r"""Catch a falling ball with a paddle, seen as a uint8 image.

    The Catch of Osband et al., "Behaviour Suite for Reinforcement Learning", ICLR 2020
    (https://arxiv.org/abs/1908.03568; the dynamics of bsuite's ``environments/catch.py``),
    observed in pixels:

    * grid: ``rows x columns`` cells. The ball starts in row 0, in a column drawn uniformly
      from ``np_random`` at ``reset``; the paddle starts in the bottom row, column
      ``columns // 2``.
    * ``action_space``: ``Discrete(3)``: 0 moves the paddle one column left, 1 keeps it, 2 moves
      it right, clipped at the walls. Each step moves the paddle, then the ball down one row.
    * reward: when the ball reaches the bottom row the episode terminates with ``+1.0`` if the
      paddle is in the ball's column and ``-1.0`` otherwise; every other step gives ``0.0``. An
      episode is therefore exactly ``rows - 1`` steps; never ``truncated``.
    * ``observation_space``: ``Box(0, 255, (H, W, 1), uint8)`` (Gymnasium's channels-last
      image convention), or ``(1, H, W)`` with ``channels_first=True``, where
      ``H = rows * cell_height`` and ``W = columns * cell_width``: each cell is a block of
      pixels, 255 where the ball or the paddle is and 0 elsewhere. The default cell size makes
      the image at least 40 x 40 (``(4, 8)`` pixels for the default grid: 40 x 40), enough for
      :class:`rlcore.nn.NatureCNN`.
    * ``render()`` (``render_mode="rgb_array"``): an RGB uint8 frame of shape
      ``(32 * rows, 32 * columns, 3)``, the ball red and the paddle blue.

    One frame shows where the ball and the paddle are, so the state is Markov. The ball can
    always be caught when ``rows - 1 >= columns // 2`` (true for the default 10 x 5 grid, where
    moving towards the ball's column returns +1). A policy that does not look at the ball
    catches it with probability exactly ``1 / columns`` (the ball's column is uniform and
    independent of the paddle), so its expected return is ``2 / columns - 1``: **-0.6** for the
    default grid, the uniformly random policy included.

    Registered as ``rlcore/PixelCatch-v0`` by ``import rlcore.envs``, without a ``TimeLimit``:
    episodes end by themselves, and a limit of the default ``rows - 1`` would cut episodes of
    a taller grid made with ``gym.make(..., rows=...)``.

    Example:
        >>> env = PixelCatchEnv()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype, env.action_space
        ((40, 40, 1), dtype('uint8'), Discrete(3))
        >>> for t in range(9):
        ...     obs, reward, terminated, truncated, info = env.step(1)  # stay in the middle
        >>> reward, terminated, truncated
        (-1.0, True, False)

    Change logs:
     * v0.3.0 - Initially added.

    Args:
        rows: rows of the grid, an int ``>= 2`` (10 in bsuite).
        columns: columns of the grid, an int ``>= 1`` (5 in bsuite).
        cell_size: ``(height, width)`` in pixels of one cell, two ints ``>= 1``, or ``None`` for
            the smallest cells that make the image at least 40 x 40:
            ``(ceil(40 / rows), ceil(40 / columns))``.
        channels_first: observations ``(1, H, W)`` instead of ``(H, W, 1)``.
        render_mode: ``None`` or ``"rgb_array"``.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is out of range, or ``render_mode`` is not one of
            ``metadata["render_modes"]``; from ``step``, if the action is not in
            ``action_space``.
        RuntimeError: from ``step`` and ``render``, before the first ``reset``; from ``step``,
            after the episode ended.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012 (Gymnasium's convention)
    #: Side in pixels of one cell in ``render()``'s frames.
    RENDER_CELL = 32

    def __init__(
        self,
        rows: int = 10,
        columns: int = 5,
        cell_size: tuple[int, int] | None = None,
        channels_first: bool = False,
        render_mode: str | None = None,
    ) -> None:
        owner = "PixelCatchEnv"
        self.rows = check_int_at_least(rows, 2, "rows", owner)
        self.columns = check_int_at_least(columns, 1, "columns", owner)
        if cell_size is None:
            cell_size = (
                math.ceil(_MIN_DEFAULT_SIDE / self.rows),
                math.ceil(_MIN_DEFAULT_SIDE / self.columns),
            )
        elif not isinstance(cell_size, (tuple, list)) or len(cell_size) != 2:
            raise TypeError(
                f"{owner}: cell_size must be None or a (height, width) pair of ints >= 1, got {cell_size!r}"
            )
        #: ``(height, width)`` in pixels of one cell of the observation.
        self.cell_size = (
            check_int_at_least(cell_size[0], 1, "cell_size[0] (height)", owner),
            check_int_at_least(cell_size[1], 1, "cell_size[1] (width)", owner),
        )
        if not isinstance(channels_first, (bool, np.bool_)):
            raise TypeError(
                f"{owner}: channels_first must be a bool, got {channels_first!r} ({type(channels_first).__name__})"
            )
        self.channels_first = bool(channels_first)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{owner}: render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        height, width = self.rows * self.cell_size[0], self.columns * self.cell_size[1]
        shape = (1, height, width) if self.channels_first else (height, width, 1)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(3)
        self._ball_row = self._ball_column = self._paddle_column = 0
        self._started = self._ended = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.uint8], dict[str, Any]]:
        """Drop a new ball from a uniformly random column of the top row; the paddle back in the middle."""
        super().reset(seed=seed)
        self._ball_row = 0
        self._ball_column = int(self.np_random.integers(self.columns))
        self._paddle_column = self.columns // 2
        self._started, self._ended = True, False
        return self._observation(), {}

    def step(self, action: Any) -> tuple[NDArray[np.uint8], float, bool, bool, dict[str, Any]]:
        """Move the paddle by ``action - 1`` columns (clipped), then the ball down one row."""
        if action not in self.action_space:
            raise ValueError(
                f"PixelCatchEnv.step: action {action!r} is not in {self.action_space} (0 left, 1 stay, 2 right)"
            )
        if not self._started or self._ended:
            raise RuntimeError(
                "PixelCatchEnv.step: "
                + ("the episode has ended" if self._started else "the env has not been reset")
                + "; call reset() first"
            )
        self._paddle_column = min(max(self._paddle_column + int(action) - 1, 0), self.columns - 1)
        self._ball_row += 1
        self._ended = self._ball_row == self.rows - 1
        reward = 0.0
        if self._ended:
            reward = 1.0 if self._paddle_column == self._ball_column else -1.0
        return self._observation(), reward, self._ended, False, {}

    def render(self) -> NDArray[np.uint8] | None:
        """``(32 * rows, 32 * columns, 3)`` uint8 RGB frame for ``render_mode="rgb_array"``, else ``None``."""
        if self.render_mode is None:
            gym.logger.warn(
                "PixelCatchEnv.render: no render_mode was given; make the env with render_mode='rgb_array'"
            )
            return None
        if not self._started:
            raise RuntimeError("PixelCatchEnv.render: the env has not been reset; call reset() first")
        frame = np.empty((self.rows, self.columns, 3), dtype=np.uint8)
        frame[:] = _BACKGROUND
        frame[self.rows - 1, self._paddle_column] = _PADDLE
        frame[self._ball_row, self._ball_column] = _BALL
        cell = self.RENDER_CELL
        return np.repeat(np.repeat(frame, cell, axis=0), cell, axis=1)

    def _observation(self) -> NDArray[np.uint8]:
        grid = np.zeros((self.rows, self.columns), dtype=np.uint8)
        grid[self.rows - 1, self._paddle_column] = 255
        grid[self._ball_row, self._ball_column] = 255
        image = np.repeat(np.repeat(grid, self.cell_size[0], axis=0), self.cell_size[1], axis=1)
        return image[None] if self.channels_first else image[..., None]
