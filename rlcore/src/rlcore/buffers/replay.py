r"""A replay buffer for off-policy agents fed by Gymnasium vector environments.

:class:`ReplayBuffer` stores transitions of ``num_envs`` sub-environments in preallocated
NumPy arrays of shape ``(capacity // num_envs, num_envs, ...)``, overwritten oldest-first, and
samples them uniformly into a :class:`ReplayBatch` of torch tensors.

* Truncation-aware: ``next_obs`` is the real final observation of an episode that ended, so a
  truncated transition bootstraps from it; only ``terminated`` masks bootstrapping
  (Pardo et al., "Time Limits in Reinforcement Learning", ICML 2018, arXiv:1712.00378).
* Autoreset-aware: under Gymnasium's default ``NEXT_STEP`` autoreset, the step after an
  episode end is not a transition; the buffer skips it by itself.
* Optional n-step returns (Sutton & Barto 2018, §7.1), computed at sampling time, that stop at
  episode ends: :math:`G = \sum_{j<m} \gamma^j r_{t+j}` with ``m <= n`` steps, ``next_obs``
  the observation after step ``t + m - 1`` and ``discounts`` :math:`\gamma^m`, so the target
  is ``rewards + discounts * ~terminated * V(next_observations)``.
* Optional frame-once storage for frame-stacked observations (``store_frames_once=True``):
  each frame is stored once in a ring and stacks are rebuilt from indices at sampling time,
  with truncation handling still on (Stable-Baselines3's ``optimize_memory_usage`` cannot
  combine the two, SB3#934).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from rlcore._autoreset import AutoresetTracker
from rlcore.buffers._batches import ReplayBatch
from rlcore.buffers._common import (
    FieldChecker,
    check_positive_int,
    check_state_keys,
    check_unit_interval,
    load_array,
    load_int,
    make_rng,
    rng_state,
    set_rng_state,
    space_layout,
    to_numpy,
    to_tensor,
)
from rlcore.buffers._obs_store import FrameStore, WholeObservations
from rlcore.buffers._row_ring import RowRing
from rlcore.returns import n_step_returns

__all__ = ["ReplayBatch", "ReplayBuffer"]


class ReplayBuffer:
    r"""Circular replay buffer for ``num_envs`` parallel environments, with n-step and frame-once options.

    Call :meth:`add` once per vector-env step with arrays whose leading dimension is
    ``num_envs``; :meth:`sample` draws transitions uniformly with replacement.

    Args:
        capacity: transitions kept; rounded down to a multiple of ``num_envs`` (see
            :attr:`capacity`).
        observation_space: space of one sub-environment's observation (Box, Discrete,
            MultiDiscrete or MultiBinary); with ``store_frames_once`` a frame stack of shape
            ``(k, *frame_shape)``, newest frame last (as ``gymnasium.wrappers.FrameStackObservation``).
        action_space: space of one sub-environment's action.
        num_envs: number of sub-environments.
        autoreset_mode: the vector env's ``gymnasium.vector.AutoresetMode`` (or its value,
            e.g. ``"NextStep"``): with ``NEXT_STEP`` the step after an episode end is an
            autoreset step and is not stored; with ``SAME_STEP`` and ``DISABLED`` every step is a
            transition, and ``next_obs`` must be the final observation (``info["final_obs"]``).
        device: where sampled tensors are put.
        n_step: steps per transition (1: one-step transitions).
        gamma: discount of the n-step returns and of ``discounts``, in [0, 1].
        store_frames_once: store each frame once (see the class notes).
        frame_capacity: frames kept with ``store_frames_once`` (default ``capacity +
            capacity // 16 + (k + 1)**2 * num_envs``, enough while episodes average 16 steps or
            more). When frames run out, the oldest transitions are dropped before their frames
            are overwritten, so ``len(buffer)`` can stay below ``capacity``.
        check_frames: with ``store_frames_once``, check on every :meth:`add` that the stacks
            overlap as a frame stack's do (``next_obs[i][:-1] == obs[i][1:]``) and that ``obs``
            continues the previous ``next_obs`` of each episode that did not end; turn it off
            once a pipeline is known to be right (for 8 ``(4, 84, 84)`` uint8 stacks it costs about
            50 µs per add, as much as the rest of the add).
        seed: seed of the generator that :meth:`sample` uses when it is given none.

    Frame-once storage: a transition keeps the ring indices of its ``k`` observation frames and
    of the newest frame of ``next_obs``. An episode's first stack is stored from the stack
    itself, consecutive equal frames once (a ``"reset"``-padded stack costs one frame, a
    ``"zero"``-padded one two), so padding is rebuilt exactly and no frame of another episode
    ever enters a stack; every later step stores one frame. Memory is about
    ``frame_capacity * frame_bytes`` instead of ``2 * capacity * k * frame_bytes``.

    Example:
        >>> from gymnasium import spaces
        >>> buffer = ReplayBuffer(
        ...     100, spaces.Box(-1, 1, (3,)), spaces.Discrete(2), num_envs=2, autoreset_mode="SameStep", seed=0
        ... )
        >>> obs = np.zeros((2, 3), dtype=np.float32)
        >>> no = np.zeros(2, dtype=bool)
        >>> for _ in range(4):
        ...     buffer.add(obs, obs + 1, np.array([0, 1]), np.array([1.0, 2.0]), no, no)
        >>> len(buffer)
        8
        >>> batch = buffer.sample(5)
        >>> batch.observations.shape, batch.rewards.dtype, batch.terminated.dtype
        (torch.Size([5, 3]), torch.float32, torch.bool)
    """

    def __init__(
        self,
        capacity: int,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        *,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str,
        device: torch.device | str = "cpu",
        n_step: int = 1,
        gamma: float = 0.99,
        store_frames_once: bool = False,
        frame_capacity: int | None = None,
        check_frames: bool = True,
        seed: int | None = None,
    ) -> None:
        where = "ReplayBuffer"
        num_envs = check_positive_int(where, "num_envs", num_envs)
        capacity = check_positive_int(where, "capacity", capacity)
        if capacity < num_envs:
            raise ValueError(f"{where}: capacity must be >= num_envs ({num_envs}), got {capacity}")
        self.n_step = check_positive_int(where, "n_step", n_step)
        self.gamma = check_unit_interval(where, "gamma", gamma)
        self.num_envs: int = num_envs
        self.device = torch.device(device)
        self.obs_shape, self.obs_dtype = space_layout(where, "observation_space", observation_space)
        self.action_shape, self.action_dtype = space_layout(where, "action_space", action_space)
        self._autoreset = AutoresetTracker(num_envs, autoreset_mode, where)
        self._rng = make_rng(seed)
        rows = capacity // num_envs
        self._ring = RowRing(rows, num_envs)
        n = num_envs

        adding = "ReplayBuffer.add"
        hint = f" (leading dimension num_envs={n})"
        self._check_obs = FieldChecker(adding, "obs", (n, *self.obs_shape), self.obs_dtype, hint)
        self._check_next_obs = FieldChecker(adding, "next_obs", (n, *self.obs_shape), self.obs_dtype, hint)
        self._check_actions = FieldChecker(
            adding, "actions", (n, *self.action_shape), self.action_dtype, hint
        )
        self._check_rewards = FieldChecker(adding, "rewards", (n,), np.dtype(np.float32), hint)
        self._check_terminated = FieldChecker(adding, "terminated", (n,), np.dtype(bool), hint)
        self._check_truncated = FieldChecker(adding, "truncated", (n,), np.dtype(bool), hint)

        self._actions = np.zeros((rows, n, *self.action_shape), dtype=self.action_dtype)
        self._rewards = np.zeros((rows, n), dtype=np.float32)
        self._terminated = np.zeros((rows, n), dtype=bool)
        self._truncated = np.zeros((rows, n), dtype=bool)

        self.store_frames_once = bool(store_frames_once)
        self.check_frames = bool(check_frames)
        if not self.store_frames_once and frame_capacity is not None:
            raise ValueError(f"{where}: frame_capacity is only used with store_frames_once=True")
        self._frames = (
            FrameStore(where, rows, n, observation_space, self.obs_shape, self.obs_dtype, frame_capacity)
            if self.store_frames_once
            else None
        )
        self._store = self._frames or WholeObservations(rows, n, self.obs_shape, self.obs_dtype)

    # ------------------------------------------------------------------ size
    @property
    def capacity(self) -> int:
        """Transitions the buffer holds when full: ``(capacity // num_envs) * num_envs``."""
        return self._ring.rows * self.num_envs

    def __len__(self) -> int:
        """Transitions that can be sampled now."""
        return len(self._ring)

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated storage arrays."""
        return sum(a.nbytes for a in self._arrays().values())

    def __repr__(self) -> str:
        mode = ", store_frames_once=True" if self.store_frames_once else ""
        return (
            f"ReplayBuffer(capacity={self.capacity}, num_envs={self.num_envs}, len={len(self)}, "
            f"n_step={self.n_step}{mode})"
        )

    # ------------------------------------------------------------------ add
    def add(
        self,
        obs: Any,
        next_obs: Any,
        actions: Any,
        rewards: Any,
        terminated: Any,
        truncated: Any,
    ) -> None:
        """Store one vector-env step: each argument has leading dimension ``num_envs``.

        Args:
            obs: observations the actions were taken in, ``(num_envs, *obs_shape)``.
            next_obs: observations after the step, ``(num_envs, *obs_shape)``; where the step
                ended an episode, the real final observation (with ``SAME_STEP`` autoreset:
                ``info["final_obs"][i]``, not the reset observation).
            actions: ``(num_envs, *action_shape)``.
            rewards: ``(num_envs,)``.
            terminated: bool, ``(num_envs,)``.
            truncated: bool, ``(num_envs,)``.

        Raises:
            ValueError: if a shape differs from the expected one, a value would change when
                cast to the stored dtype (an int out of its range, such as an action 300 into
                int8; a finite float that would become inf, such as a reward 1e300 into
                float32: the message names the field, the value and the dtype), or (with
                ``check_frames``) the stacks are not a frame stack's. Nothing is stored then.
            TypeError: if a dtype cannot be stored without changing its kind (e.g. float
                observations into a uint8 buffer, or non-bool flags).
        """
        # The common case (arrays of the exact shape and dtype) costs one expression per field;
        # anything else goes through the checker, which converts or raises.
        nd, c = np.ndarray, self._check_obs
        if type(obs) is not nd or obs.shape != c.shape or obs.dtype is not c.dtype:
            obs = c(obs)
        c = self._check_next_obs
        if type(next_obs) is not nd or next_obs.shape != c.shape or next_obs.dtype is not c.dtype:
            next_obs = c(next_obs)
        c = self._check_actions
        if type(actions) is not nd or actions.shape != c.shape or actions.dtype is not c.dtype:
            actions = c(actions)
        c = self._check_rewards
        if type(rewards) is not nd or rewards.shape != c.shape or rewards.dtype is not c.dtype:
            rewards = c(rewards)
        c = self._check_terminated
        if type(terminated) is not nd or terminated.shape != c.shape or terminated.dtype is not c.dtype:
            terminated = c(terminated)
        c = self._check_truncated
        if type(truncated) is not nd or truncated.shape != c.shape or truncated.dtype is not c.dtype:
            truncated = c(truncated)
        valid = self._autoreset.transitions()
        frames = self._frames
        if frames is not None and self.check_frames:
            frames.check(obs, next_obs, valid)

        ring = self._ring
        p = ring.next_row(valid)
        self._actions[p] = actions
        self._rewards[p] = rewards
        self._terminated[p] = terminated
        self._truncated[p] = truncated
        next_step = self._autoreset.next_step
        ended = terminated | truncated if frames is not None or next_step else None
        self._store.push(p, obs, next_obs, valid, ended)
        if ended is not None and next_step:
            self._autoreset.advance(ended, valid)
        if frames is not None:
            while ring.tail < ring.head and frames.lost(ring.tail % ring.rows):
                ring.drop_oldest()

    # ------------------------------------------------------------------ sample
    def sample(self, batch_size: int, generator: np.random.Generator | None = None) -> ReplayBatch:
        """Draw ``batch_size`` transitions uniformly with replacement.

        Args:
            batch_size: number of transitions (any int >= 1: drawn with replacement).
            generator: NumPy generator to draw with (default: the buffer's own, seeded by ``seed``).

        Raises:
            ValueError: if ``batch_size`` is not an int >= 1 (more than ``len(self)`` is fine: with
                replacement), or the buffer is empty.
        """
        return self._gather(self.sample_indices(batch_size, generator))

    def sample_indices(self, batch_size: int, generator: np.random.Generator | None = None) -> np.ndarray:
        """Slots of ``batch_size`` transitions drawn uniformly with replacement (what :meth:`sample` draws).

        A slot is ``row * num_envs + env`` in the storage arrays of shape ``(capacity //
        num_envs, num_envs, ...)``; :meth:`gather` turns slots into a batch.
        """
        return self._ring.sample(batch_size, self._rng if generator is None else generator)

    def gather(self, indices: Any) -> ReplayBatch:
        """The transitions in slots ``indices`` (int array of shape ``(B,)``, see :meth:`sample_indices`).

        Raises:
            IndexError: if a slot is out of range or holds no transition that can be sampled.
        """
        return self._gather(self._ring.check_slots(to_numpy(indices)))

    def _gather(self, slots: np.ndarray) -> ReplayBatch:
        # np.take along axis 0 is several times faster than fancy indexing for small batches.
        flat_rewards = self._rewards.reshape(-1)
        flat_terminated = self._terminated.reshape(-1)
        flat_truncated = self._truncated.reshape(-1)
        if self.n_step == 1:
            last = slots
            rewards = np.take(flat_rewards, slots)
            discounts = np.full(len(slots), self.gamma, dtype=np.float32)
        else:
            window_slots, lengths = self._ring.windows(slots, self.n_step, flat_terminated, flat_truncated)
            rewards, discounts = n_step_returns(flat_rewards[window_slots].T, lengths, self.gamma)
            last = window_slots[np.arange(len(slots)), lengths - 1]
        observations, next_observations = self._store.stacks(slots, last)
        actions = np.take(self._actions.reshape(-1, *self.action_shape), slots, axis=0)
        device = self.device
        return ReplayBatch(
            observations=to_tensor(observations, device),
            actions=to_tensor(actions, device),
            next_observations=to_tensor(next_observations, device),
            rewards=to_tensor(rewards, device),
            terminated=to_tensor(np.take(flat_terminated, last), device),
            truncated=to_tensor(np.take(flat_truncated, last), device),
            discounts=to_tensor(discounts, device),
        )

    # ------------------------------------------------------------------ state
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "truncated": self._truncated,
            "valid": self._ring.valid,
        }
        arrays.update(self._store.arrays())
        return arrays

    def state_dict(self) -> dict[str, Any]:
        """Contents, counters, sampling generator: tensors (sharing memory) and ints, ``weights_only``-loadable."""
        state: dict[str, Any] = {name: torch.from_numpy(array) for name, array in self._arrays().items()}
        state["autoreset_pending"] = torch.from_numpy(self._autoreset.pending.copy())
        state.update(rng_state=rng_state(self._rng), head=self._ring.head, tail=self._ring.tail)
        if self._frames is not None:
            state["frames_pushed"] = self._frames.pushed
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load what :meth:`state_dict` saved from a buffer of the same configuration.

        Raises:
            KeyError: if keys are missing or unexpected (e.g. a plain buffer's state loaded into
                a ``store_frames_once`` one).
            ValueError, TypeError: if a shape, dtype or counter does not fit this buffer; the
                buffer is unchanged then (:meth:`check_state_dict` runs the same checks).
        """
        loaded, pending, head, tail, frames_pushed, rng = self._checked(state, "ReplayBuffer.load_state_dict")
        arrays = self._arrays()
        for name, array in loaded.items():
            np.copyto(arrays[name], array)
        self._rng.bit_generator.state = rng.bit_generator.state
        self._autoreset.pending = pending
        if self._frames is not None:
            self._frames.pushed = frames_pushed
        self._ring.load(head, tail)

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Raise what :meth:`load_state_dict` would raise for ``state``; change nothing."""
        self._checked(state, "ReplayBuffer.load_state_dict")

    def _checked(self, state: Mapping[str, Any], where: str) -> tuple[Any, ...]:
        arrays = self._arrays()
        counters = ["head", "tail", "frames_pushed"] if self.store_frames_once else ["head", "tail"]
        check_state_keys(where, state, {*arrays, *counters, "autoreset_pending", "rng_state"})
        loaded = {name: load_array(where, name, state[name], like) for name, like in arrays.items()}
        pending = load_array(where, "autoreset_pending", state["autoreset_pending"], self._autoreset.pending)
        head = load_int(where, "head", state["head"], 0, 2**62)
        tail = load_int(where, "tail", state["tail"], max(0, head - self._ring.rows), head)
        frames_pushed = load_int(where, "frames_pushed", state.get("frames_pushed", 0), 0, 2**62)
        rng = np.random.Generator(np.random.PCG64())
        set_rng_state(where, rng, state["rng_state"])
        return loaded, pending, head, tail, frames_pushed, rng
