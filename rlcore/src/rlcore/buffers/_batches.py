"""The batches the buffers hand to a loss: named tuples of torch tensors on the buffer's device."""

from __future__ import annotations

from typing import NamedTuple

import torch

from rlcore.buffers._common import check_positive_int

__all__ = ["ReplayBatch", "RolloutBatch"]


class ReplayBatch(NamedTuple):
    """A batch of ``B`` transitions sampled from a :class:`~rlcore.buffers.ReplayBuffer` (torch tensors on its device).

    Attributes:
        observations: ``(B, *obs_shape)``, the observation space's dtype.
        actions: ``(B, *action_shape)``, the action space's dtype.
        next_observations: ``(B, *obs_shape)``: the observation after the last step of the
            transition (``n_step`` steps, fewer at an episode end); the real final observation
            when that step ended the episode.
        rewards: ``(B,)`` float32: :math:`r_t`, or :math:`\\sum_{j<m} \\gamma^j r_{t+j}` with n-step.
        terminated: ``(B,)`` bool: the last step reached a terminal state; the only flag that
            masks bootstrapping.
        truncated: ``(B,)`` bool: the last step was truncated (for logging; it bootstraps).
        discounts: ``(B,)`` float32: :math:`\\gamma^m`, the discount of the bootstrap value.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    discounts: torch.Tensor

    def split(self, size: int) -> list[ReplayBatch]:
        """Consecutive batches of ``size`` transitions (views; the last one smaller if ``size`` does not divide ``B``).

        One :meth:`rlcore.buffers.ReplayBuffer.sample` of ``k * size`` transitions split in ``k`` has the
        distribution of ``k`` samples of ``size``: a round of ``k`` updates gathers once.
        """
        size = check_positive_int("ReplayBatch.split", "size", size)
        return [
            ReplayBatch(*parts) for parts in zip(*(torch.split(tensor, size) for tensor in self), strict=True)
        ]


class RolloutBatch(NamedTuple):
    """A minibatch of ``B`` transitions from a :class:`~rlcore.buffers.RolloutBuffer` (torch tensors on its device).

    Attributes:
        observations: ``(B, *obs_shape)``, the observation space's dtype.
        actions: ``(B, *action_shape)``, the action space's dtype.
        log_probs: ``(B,)`` float32, log-probabilities of the actions under the rollout policy.
        values: ``(B,)`` float32, :math:`v(s_t)` at rollout time.
        advantages: ``(B,)`` float32, GAE advantages (normalised if asked).
        returns: ``(B,)`` float32, ``advantages + values`` (the TD(λ) returns, never normalised).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
