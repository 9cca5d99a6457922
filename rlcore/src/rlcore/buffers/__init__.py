"""Storage of experience: a replay buffer for off-policy agents, a rollout buffer for on-policy ones.

Both take batches from Gymnasium vector envs (leading dimension ``num_envs``), keep terminated
and truncated apart, know Gymnasium's autoreset modes, and return torch tensors. The rollout
buffer computes its advantages with :func:`rlcore.returns.gae`.
"""

from __future__ import annotations

from rlcore.buffers.replay import ReplayBatch, ReplayBuffer
from rlcore.buffers.rollout import RolloutBatch, RolloutBuffer

__all__ = ["ReplayBatch", "ReplayBuffer", "RolloutBatch", "RolloutBuffer"]
