"""Frame stacking for a single env: :class:`FrameStack`.

The vector twin of the same name is :class:`rlcore.wrappers.vector.frame_stack.FrameStack`;
both keep their frames in one ring buffer implementation (``rlcore.wrappers._frame_ring``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat, TypeVar

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from rlcore.wrappers._frame_ring import (
    FrameRing,
    check_empty_state,
    check_num_stack,
    resolve_padding,
    stack_box,
)

__all__ = ["FrameStack"]

ActType = TypeVar("ActType")


class FrameStack(gym.Wrapper[NDArray[Any], ActType, NDArray[Any], ActType], gym.utils.RecordConstructorArgs):
    """Stacks the last ``num_stack`` observations of a Box env, newest last.

    Same semantics as ``gymnasium.wrappers.FrameStackObservation(env, num_stack,
    padding_type=...)``, as used for Atari by Mnih et al. ("Human-level control through
    deep reinforcement learning", Nature 518, 2015, https://doi.org/10.1038/nature14236):

    * observation: shape ``(num_stack, *obs_shape)``, the env's dtype, row ``-1`` the
      newest frame; the observation space tiles the Box bounds along the new axis
      (``gymnasium.vector.utils.batch_space``).
    * ``padding_type``: what fills the rows older than the first frame of an episode:
      ``"reset"`` (default) repeats the reset observation, ``"zero"`` uses zeros, and an
      observation of the env's space uses that observation.

    Memory: each frame is stored once, in a ring buffer of ``num_stack`` frames
    (``num_stack * prod(obs_shape) * itemsize`` bytes: 28 KiB for 4 Atari frames of 84x84
    uint8). ``step`` writes the new frame into the ring and gathers the stack with one
    ``take`` into a fresh array, which the wrapper never mutates afterwards, so the
    observations can be stored as they are (each costs its own ``num_stack`` frames).

    ``state_dict()`` is ``{}`` and ``load_state_dict`` accepts only an empty mapping: the
    frames are part of the episode in progress, tied to the env's internal state, which
    cannot be checkpointed; after loading, ``reset`` starts a fresh stack.

    Example:
        >>> from gymnasium import spaces
        >>> from rlcore.testing import GenericTestEnv
        >>> def counter(env):  # the observation is the step count of the episode
        ...     return np.full(2, env.t, dtype=np.float32)
        >>> def make_env():
        ...     return GenericTestEnv(
        ...         observation_space=spaces.Box(-10, 10, (2,), np.float32),
        ...         reset_func=lambda env, seed, options: (counter(env), {}),
        ...         step_func=lambda env, action: (counter(env), 0.0, False, False, {}),
        ...     )
        >>> env = FrameStack(make_env(), 3)
        >>> env.observation_space
        Box(-10.0, 10.0, (3, 2), float32)
        >>> obs, _ = env.reset(seed=0)
        >>> env.step(0)[0]
        array([[0., 0.],
               [0., 0.],
               [1., 1.]], dtype=float32)
        >>> env.step(0)[0]
        array([[0., 0.],
               [1., 1.],
               [2., 2.]], dtype=float32)
        >>> env = FrameStack(make_env(), 3, padding_type=np.full(2, -1, dtype=np.float32))
        >>> env.reset(seed=0)[0]
        array([[-1., -1.],
               [-1., -1.],
               [ 0.,  0.]], dtype=float32)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: an env with a ``Box`` observation space.
        num_stack: number of observations stacked, an int ``>= 1``.
        padding_type: ``"reset"``, ``"zero"`` or an observation of ``env.observation_space``.
    """

    def __init__(
        self,
        env: gym.Env[NDArray[Any], ActType],
        num_stack: int,
        *,
        padding_type: str | NDArray[Any] = "reset",
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, num_stack=num_stack, padding_type=padding_type)
        gym.Wrapper.__init__(self, env)
        self.num_stack = check_num_stack(num_stack, "FrameStack")
        frame_space = env.observation_space
        self.observation_space = stack_box(frame_space, self.num_stack, "FrameStack")
        assert isinstance(frame_space, gym.spaces.Box)
        padding = resolve_padding(padding_type, frame_space, "FrameStack")
        self.padding_type = padding_type if isinstance(padding_type, str) else "custom"
        self._frame_shape = frame_space.shape
        self._ring = FrameRing(frame_space.shape, frame_space.dtype, self.num_stack, padding)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[Any], dict[str, Any]]:
        """Reset the env and fill the stack with padding and the reset observation (last)."""
        obs, info = self.env.reset(seed=seed, options=options)
        # Checked once per episode rather than per step: a wrong shape could otherwise be
        # broadcast silently into every slot of the ring.
        if np.shape(obs) != self._frame_shape:
            raise ValueError(
                f"FrameStack: the env's reset observation has shape {np.shape(obs)}, expected "
                f"{self._frame_shape} from its observation space {self.env.observation_space}"
            )
        self._ring.restart(obs)
        return self._ring.stacked(), info

    def step(self, action: ActType) -> tuple[NDArray[Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and return the stack of the last ``num_stack`` observations."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        ring = self._ring
        ring.append(obs)
        return ring.stacked(), reward, terminated, truncated, info

    def state_dict(self) -> dict[str, Any]:
        """``{}``: a frame stack has no learned state (its frames belong to the running episode)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Accept only an empty mapping (see :meth:`state_dict`)."""
        check_empty_state(state, "FrameStack")
