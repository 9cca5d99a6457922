"""Frame stacking for a vector env: :class:`FrameStack`, the twin of :class:`rlcore.wrappers.frame_stack.FrameStack`.

Gymnasium has no vector frame stack; this one keeps the single-env semantics per sub-env
under all three Gymnasium 1.x autoreset modes. Both twins keep their frames in one ring
buffer implementation (``rlcore.wrappers._frame_ring``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from rlcore._autoreset import AutoresetTracker, final_observations, with_final_observations
from rlcore.wrappers._frame_ring import (
    FrameRing,
    check_empty_state,
    check_num_stack,
    resolve_padding,
    stack_box,
)

__all__ = ["FrameStack"]

_NAME = "vector.FrameStack"


class FrameStack(VectorWrapper, gym.utils.RecordConstructorArgs):
    """Stacks the last ``num_stack`` observations of each sub-env of a Box vector env, newest last.

    Per sub-env, the semantics of ``gymnasium.wrappers.FrameStackObservation`` (and of
    :class:`rlcore.wrappers.frame_stack.FrameStack`), frame stacking as in Mnih et al.
    ("Human-level control through deep reinforcement learning", Nature 518, 2015,
    https://doi.org/10.1038/nature14236):

    * observation batch: shape ``(num_envs, num_stack, *obs_shape)``, the env's dtype,
      ``obs[:, -1]`` the newest frames; ``single_observation_space`` tiles the Box bounds
      along the stack axis and ``observation_space`` batches that over the sub-envs.
    * ``padding_type``: ``"reset"`` (default) repeats each episode's first observation,
      ``"zero"`` uses zeros, and an observation of ``single_observation_space`` of the
      inner env uses that observation.

    A new episode refills only the stack of the sub-env that starts it, in every autoreset
    mode (``gymnasium.vector.AutoresetMode``):

    * ``NEXT_STEP``: the autoreset step's observation is a reset observation and starts a
      fresh stack.
    * ``SAME_STEP``: the observation of a sub-env that finished is its reset observation
      and starts a fresh stack; ``info["final_obs"]`` holds, for those sub-envs, the
      stacked final observation (the previous ``num_stack - 1`` frames and the final one),
      so that agents can bootstrap from it. The returned info is a new dict with a new
      ``final_obs`` array; the inner env's info is not mutated.
    * ``DISABLED``: ``reset(options={"reset_mask": mask})`` refills only the masked
      sub-envs; the others keep their stacks, which the returned batch repeats.

    Memory: each frame is stored once, in a ring buffer of ``num_stack`` frames per sub-env
    (``num_envs * num_stack * prod(obs_shape) * itemsize`` bytes). ``step`` writes the new
    frames and gathers the batch with one ``take`` into a fresh array, which the wrapper
    never mutates afterwards.

    ``state_dict()`` is ``{}`` and ``load_state_dict`` accepts only an empty mapping: the
    frames belong to the episodes in progress, tied to the sub-envs' internal state, which
    cannot be checkpointed; after loading, ``reset`` starts fresh stacks.

    Example:
        >>> from gymnasium import spaces
        >>> from gymnasium.vector import AutoresetMode
        >>> from rlcore.testing import GenericTestEnv, make_vector_env
        >>> def counter(env):  # the observation is the step count of the episode
        ...     return np.full(1, env.t, dtype=np.float32)
        >>> def make_env():
        ...     return GenericTestEnv(
        ...         observation_space=spaces.Box(0, 10, (1,), np.float32),
        ...         reset_func=lambda env, seed, options: (counter(env), {}),
        ...         step_func=lambda env, action: (counter(env), 0.0, env.t == 2, False, {}),
        ...     )
        >>> envs = FrameStack(make_vector_env(make_env, 2, AutoresetMode.SAME_STEP), 3)
        >>> envs.observation_space
        Box(0.0, 10.0, (2, 3, 1), float32)
        >>> obs, _ = envs.reset(seed=0)
        >>> obs[:, :, 0]
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
        >>> obs = envs.step(np.array([0, 0]))[0]
        >>> obs[:, :, 0]
        array([[0., 0., 1.],
               [0., 0., 1.]], dtype=float32)
        >>> obs, _, terminated, _, info = envs.step(np.array([0, 0]))
        >>> terminated, obs[:, :, 0]
        (array([ True,  True]), array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32))
        >>> info["final_obs"][0][:, 0]
        array([0., 1., 2.], dtype=float32)

    Change logs:
     * v0.1.0 - Initially added.

    Args:
        env: a vector env with a ``Box`` single observation space.
        num_stack: number of observations stacked, an int ``>= 1``.
        padding_type: ``"reset"``, ``"zero"`` or an observation of ``env.single_observation_space``.
    """

    def __init__(self, env: VectorEnv, num_stack: int, *, padding_type: str | NDArray[Any] = "reset") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, num_stack=num_stack, padding_type=padding_type)
        VectorWrapper.__init__(self, env)
        self.num_stack = check_num_stack(num_stack, _NAME)
        frame_space = env.single_observation_space
        self.single_observation_space = stack_box(frame_space, self.num_stack, _NAME)
        self.observation_space = batch_space(self.single_observation_space, n=self.num_envs)
        assert isinstance(frame_space, gym.spaces.Box)
        padding = resolve_padding(padding_type, frame_space, _NAME)
        self.padding_type = padding_type if isinstance(padding_type, str) else "custom"
        self._batch_shape = (self.num_envs, *frame_space.shape)
        self._tracker = AutoresetTracker.of(env, _NAME)
        self._same_step = self._tracker.mode == AutoresetMode.SAME_STEP
        self._ring = FrameRing(frame_space.shape, frame_space.dtype, self.num_stack, padding, self.num_envs)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[Any], dict[str, Any]]:
        """Reset the sub-envs (all, or ``options["reset_mask"]``) and refill their stacks only."""
        # Read the mask before the inner env, which may pop it from ``options``.
        reset = self._tracker.reset_rows(options)
        obs, info = self.env.reset(seed=seed, options=options)
        self._tracker.on_reset(reset)
        if np.shape(obs) != self._batch_shape:
            raise ValueError(
                f"{_NAME}: the vector env's reset observation has shape {np.shape(obs)}, expected "
                f"{self._batch_shape} from its single observation space {self.env.single_observation_space}"
            )
        if reset.all():
            self._ring.restart(obs)
        else:
            rows = reset.nonzero()[0]
            self._ring.restart(obs[rows], rows)
        return self._ring.stacked(), info

    def step(
        self, actions: Any
    ) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Step the sub-envs and return the stacks of their last ``num_stack`` observations."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        ring = self._ring
        ring.append(obs)
        started, _ = self._tracker.on_step(terminated, truncated)
        if started.any():
            rows = started.nonzero()[0]
            if self._same_step:
                info = self._with_stacked_final_obs(info, rows)
            ring.restart(obs[rows], rows)
        return ring.stacked(), rewards, terminated, truncated, info

    def _with_stacked_final_obs(self, info: dict[str, Any], rows: NDArray[np.intp]) -> dict[str, Any]:
        """A copy of ``info`` whose ``final_obs`` holds the stacks ending in each final frame of ``rows``."""
        final_obs = final_observations(info, rows, _NAME)
        self._ring.overwrite_newest(np.stack([final_obs[i] for i in rows]), rows)
        return with_final_observations(info, rows, self._ring.stacked_rows(rows))

    def state_dict(self) -> dict[str, Any]:
        """``{}``: a frame stack has no learned state (its frames belong to the running episodes)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Accept only an empty mapping (see :meth:`state_dict`)."""
        check_empty_state(state, _NAME)
