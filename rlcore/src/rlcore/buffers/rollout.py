r"""A rollout buffer for on-policy agents (PPO, A2C) fed by Gymnasium vector environments.

:class:`RolloutBuffer` holds ``num_steps`` steps of ``num_envs`` sub-environments in
preallocated ``(T, N)`` arrays, computes advantages and returns with :func:`rlcore.returns.gae`
(Schulman et al. 2016, arXiv:1506.02438) and yields shuffled minibatches of the flattened
``T * N`` transitions as torch tensors.

Truncation is handled: a truncated step bootstraps from the value of its real final
observation, a terminated one does not. Where that value comes from depends on the vector
env's autoreset mode:

* ``NEXT_STEP`` (Gymnasium's default): the step after an episode end is an autoreset step
  whose observation *is* the final observation, so its value (passed to the next
  :meth:`~RolloutBuffer.add`) is the bootstrap. That step is not a transition: it gets no
  advantage and is left out of the minibatches.
* ``SAME_STEP`` and ``DISABLED``: the observation after an episode end is the reset
  observation, so :meth:`~RolloutBuffer.add` needs ``final_values``, the values of
  ``info["final_obs"]``, for the sub-envs that were truncated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from rlcore._autoreset import AutoresetTracker
from rlcore.buffers._batches import RolloutBatch
from rlcore.buffers._common import (
    FieldChecker,
    check_positive_int,
    check_state_keys,
    check_unit_interval,
    load_array,
    make_rng,
    rng_state,
    set_rng_state,
    space_layout,
)
from rlcore.returns import gae

__all__ = ["RolloutBatch", "RolloutBuffer"]


class RolloutBuffer:
    r"""Fixed-length on-policy storage: ``add`` ``num_steps`` times, compute advantages, iterate minibatches.

    Args:
        num_steps: steps per rollout, ``T``.
        observation_space: space of one sub-environment's observation.
        action_space: space of one sub-environment's action.
        num_envs: number of sub-environments, ``N``.
        autoreset_mode: the vector env's ``gymnasium.vector.AutoresetMode`` (or its value,
            e.g. ``"NextStep"``); see the module docstring.
        device: where minibatch tensors are put.
        gamma: discount in [0, 1].
        lam: GAE λ in [0, 1].
        seed: seed of the generator that :meth:`minibatches` shuffles with when given none.

    Example:
        >>> from gymnasium import spaces
        >>> buffer = RolloutBuffer(
        ...     4, spaces.Box(-1, 1, (3,)), spaces.Discrete(2), num_envs=2, autoreset_mode="NextStep", seed=0
        ... )
        >>> zeros, no = np.zeros(2, dtype=np.float32), np.zeros(2, dtype=bool)
        >>> for _ in range(4):
        ...     buffer.add(np.zeros((2, 3), np.float32), np.array([0, 1]), zeros, zeros + 1, zeros, no, no)
        >>> buffer.compute_returns_and_advantages(last_values=np.zeros(2, dtype=np.float32))
        >>> [batch.advantages.shape for batch in buffer.minibatches(batch_size=3)]
        [torch.Size([3]), torch.Size([3]), torch.Size([2])]
    """

    def __init__(
        self,
        num_steps: int,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        *,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str,
        device: torch.device | str = "cpu",
        gamma: float = 0.99,
        lam: float = 0.95,
        seed: int | None = None,
    ) -> None:
        where = "RolloutBuffer"
        self.num_steps = check_positive_int(where, "num_steps", num_steps)
        self.num_envs = n = check_positive_int(where, "num_envs", num_envs)
        self.gamma = check_unit_interval(where, "gamma", gamma)
        self.lam = check_unit_interval(where, "lam", lam)
        self.device = torch.device(device)
        self.obs_shape, self.obs_dtype = space_layout(where, "observation_space", observation_space)
        self.action_shape, self.action_dtype = space_layout(where, "action_space", action_space)
        self._autoreset = AutoresetTracker(n, autoreset_mode, where)
        self._rng = make_rng(seed)

        add = "RolloutBuffer.add"
        hint = f" (leading dimension num_envs={n})"
        f32 = np.dtype(np.float32)
        self._checks = {
            "obs": FieldChecker(add, "obs", (n, *self.obs_shape), self.obs_dtype, hint),
            "actions": FieldChecker(add, "actions", (n, *self.action_shape), self.action_dtype, hint),
            "log_probs": FieldChecker(add, "log_probs", (n,), f32, hint),
            "rewards": FieldChecker(add, "rewards", (n,), f32, hint),
            "values": FieldChecker(add, "values", (n,), f32, hint),
            "terminated": FieldChecker(add, "terminated", (n,), np.dtype(bool), hint),
            "truncated": FieldChecker(add, "truncated", (n,), np.dtype(bool), hint),
        }
        self._check_final_values = FieldChecker(add, "final_values", (n,), f32, hint)
        self._check_last_values = FieldChecker(
            "RolloutBuffer.compute_returns_and_advantages", "last_values", (n,), f32, hint
        )
        t = self.num_steps
        self.observations = np.zeros((t, n, *self.obs_shape), dtype=self.obs_dtype)
        self.actions = np.zeros((t, n, *self.action_shape), dtype=self.action_dtype)
        self.log_probs = np.zeros((t, n), dtype=np.float32)
        self.rewards = np.zeros((t, n), dtype=np.float32)
        self.values = np.zeros((t, n), dtype=np.float32)
        self.terminated = np.zeros((t, n), dtype=bool)
        self.truncated = np.zeros((t, n), dtype=bool)
        self.final_values = np.zeros((t, n), dtype=np.float32)
        self.has_final_value = np.zeros((t, n), dtype=bool)
        self.valid = np.ones((t, n), dtype=bool)
        self.advantages = np.zeros((t, n), dtype=np.float32)
        self.returns = np.zeros((t, n), dtype=np.float32)
        self._pos = 0
        self._computed: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ state of the rollout
    @property
    def full(self) -> bool:
        """Whether ``num_steps`` steps were added."""
        return self._pos == self.num_steps

    def __len__(self) -> int:
        """Steps added so far (at most ``num_steps``)."""
        return self._pos

    def reset(self) -> None:
        """Empty the buffer for the next rollout (which sub-envs are due an autoreset step is kept)."""
        self._pos = 0
        self._computed = None

    # ------------------------------------------------------------------ add
    def add(
        self,
        obs: Any,
        actions: Any,
        log_probs: Any,
        rewards: Any,
        values: Any,
        terminated: Any,
        truncated: Any,
        final_values: Any = None,
    ) -> None:
        """Store one vector-env step; every argument has leading dimension ``num_envs``.

        Args:
            obs: observations the actions were taken in, ``(N, *obs_shape)``.
            actions: ``(N, *action_shape)``.
            log_probs: ``(N,)`` log-probabilities of the actions.
            rewards: ``(N,)``.
            values: ``(N,)`` values :math:`v(s_t)` of ``obs``.
            terminated: bool ``(N,)``.
            truncated: bool ``(N,)``.
            final_values: ``(N,)`` values of the final observations of the episodes this step
                ended (read where ``terminated | truncated``); required under ``SAME_STEP`` /
                ``DISABLED`` autoreset when a sub-env was truncated, refused under ``NEXT_STEP``.
                Tensors are accepted everywhere and detached.

        Raises:
            RuntimeError: if the buffer is full.
            ValueError, TypeError: for a wrong shape or dtype, a value that would change when
                cast to the stored dtype (an int out of its range, a finite float that would
                become inf in float32), or a missing / unexpected ``final_values``. Nothing is
                stored then.
        """
        if self._pos == self.num_steps:
            raise RuntimeError(
                f"RolloutBuffer.add: the buffer is full ({self.num_steps} steps); call "
                "compute_returns_and_advantages(), use the minibatches, then reset() before adding more"
            )
        given = {
            "obs": obs,
            "actions": actions,
            "log_probs": log_probs,
            "rewards": rewards,
            "values": values,
            "terminated": terminated,
            "truncated": truncated,
        }
        checked = {name: self._checks[name](value) for name, value in given.items()}
        ended = checked["terminated"] | checked["truncated"]
        next_step = self._autoreset.next_step
        if final_values is not None:
            if next_step:
                raise ValueError(
                    "RolloutBuffer.add: final_values is not used with autoreset_mode NEXT_STEP: the autoreset "
                    "step observes the final observation, and its value (the next add's values) is the bootstrap"
                )
            final = self._check_final_values(final_values)
        else:
            needs = checked["truncated"] & ~checked["terminated"]
            if needs.any() and not next_step:
                raise ValueError(
                    f"RolloutBuffer.add: truncated[{int(np.argmax(needs))}] is True but final_values is None; with "
                    f"autoreset_mode {self._autoreset.mode.name} the next observation is the reset one, so pass "
                    "final_values = V(info['final_obs']) for the truncated sub-envs"
                )
            final = None
        valid = self._autoreset.transitions()

        p = self._pos
        self.observations[p] = checked["obs"]
        self.actions[p] = checked["actions"]
        self.log_probs[p] = checked["log_probs"]
        self.rewards[p] = checked["rewards"]
        self.values[p] = checked["values"]
        self.terminated[p] = checked["terminated"]
        self.truncated[p] = checked["truncated"]
        self.has_final_value[p] = ended if final is not None else False
        self.final_values[p] = final if final is not None else 0.0
        self.valid[p] = True if valid is None else valid
        self._autoreset.advance(ended, valid)
        self._pos += 1

    # ------------------------------------------------------------------ advantages
    def compute_returns_and_advantages(self, last_values: Any) -> None:
        """Fill :attr:`advantages` and :attr:`returns` with :func:`rlcore.returns.gae`.

        ``next_values[t]`` is ``values[t + 1]`` (``last_values`` for the last step), replaced by
        ``final_values[t]`` where step ``t`` ended an episode and one was given. Autoreset
        steps (``valid`` False) get advantage and return 0.

        Args:
            last_values: ``(N,)`` values of the observations returned by the last step.

        Raises:
            RuntimeError: if fewer than ``num_steps`` steps were added.
        """
        if self._pos != self.num_steps:
            raise RuntimeError(
                f"RolloutBuffer.compute_returns_and_advantages: the buffer holds {self._pos} of "
                f"{self.num_steps} steps; add the remaining steps first"
            )
        last = self._check_last_values(last_values)
        next_values = np.empty_like(self.values)
        next_values[:-1] = self.values[1:]
        next_values[-1] = last
        next_values = np.where(self.has_final_value, self.final_values, next_values)
        advantages, returns = gae(
            self.rewards,
            self.values,
            next_values,
            self.terminated,
            self.truncated,
            gamma=self.gamma,
            lam=self.lam,
        )
        self.advantages[:] = np.where(self.valid, advantages, 0.0)
        self.returns[:] = np.where(self.valid, returns, 0.0)
        rows = np.flatnonzero(self.valid.reshape(-1))
        flat = {
            "observations": self.observations.reshape(-1, *self.obs_shape),
            "actions": self.actions.reshape(-1, *self.action_shape),
            "log_probs": self.log_probs.reshape(-1),
            "values": self.values.reshape(-1),
            "advantages": self.advantages.reshape(-1),
            "returns": self.returns.reshape(-1),
        }
        # One copy to the device per rollout; minibatches then index on the device.
        self._computed = {name: torch.from_numpy(array[rows]).to(self.device) for name, array in flat.items()}

    # ------------------------------------------------------------------ minibatches
    def minibatches(
        self,
        batch_size: int,
        generator: np.random.Generator | None = None,
        normalize_advantages: bool = False,
    ) -> Iterator[RolloutBatch]:
        """Shuffled minibatches covering every transition once (the last one may be smaller).

        When ``batch_size`` covers the whole rollout, the one minibatch is the rollout in storage
        order, without drawing from the generator (the order of the rows changes nothing in a
        loss that averages over them). Every minibatch holds tensors of its own, which the
        caller may modify in place.

        Args:
            batch_size: transitions per minibatch, >= 1.
            generator: NumPy generator to shuffle with (default: the buffer's own, seeded by ``seed``).
            normalize_advantages: normalise the advantages of each minibatch to mean 0 and
                standard deviation 1 (``(a - mean) / (std + 1e-8)``; minibatches of one are left
                as they are).

        Raises:
            RuntimeError: if :meth:`compute_returns_and_advantages` has not run on this rollout.
            ValueError: if ``batch_size`` is not an int >= 1.
        """
        batch_size = check_positive_int("RolloutBuffer.minibatches", "batch_size", batch_size)
        if self._computed is None:
            raise RuntimeError(
                "RolloutBuffer.minibatches: call compute_returns_and_advantages(last_values) after the last add"
            )
        data = self._computed
        if batch_size >= len(data["values"]):
            return self._iterate(data, None, batch_size, normalize_advantages)
        order = torch.from_numpy(
            (self._rng if generator is None else generator).permutation(len(data["values"]))
        )
        return self._iterate(data, order.to(self.device), batch_size, normalize_advantages)

    @staticmethod
    def _iterate(
        data: dict[str, torch.Tensor], order: torch.Tensor | None, batch_size: int, normalize: bool
    ) -> Iterator[RolloutBatch]:
        # order None: the whole rollout as one minibatch.
        size = len(data["values"])
        for start in range(0, size, batch_size):
            if order is None:
                batch = {name: tensor.clone() for name, tensor in data.items()}
            else:
                index = order[start : start + batch_size]
                batch = {name: tensor[index] for name, tensor in data.items()}
            if normalize and len(batch["values"]) > 1:
                advantages = batch["advantages"]
                batch["advantages"] = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            yield RolloutBatch(**batch)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """What outlives a rollout: the shuffling generator and the sub-envs due an autoreset step.

        Tensors only, loadable with ``torch.load(weights_only=True)``; the rollout itself is not
        saved (it is discarded after each update).
        """
        return {
            "rng_state": rng_state(self._rng),
            "autoreset_pending": torch.from_numpy(self._autoreset.pending.copy()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load what :meth:`state_dict` saved.

        Raises:
            KeyError: if keys are missing or unexpected.
            ValueError, TypeError: if a value does not fit this buffer.
        """
        where = "RolloutBuffer.load_state_dict"
        check_state_keys(where, state, {"rng_state", "autoreset_pending"})
        pending = load_array(where, "autoreset_pending", state["autoreset_pending"], self._autoreset.pending)
        set_rng_state(where, self._rng, state["rng_state"])
        self._autoreset.pending = pending
