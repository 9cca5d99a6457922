"""What the ranks of ``test_distributed.py`` run: module-level functions, so that spawned processes import them.

Each returns plain data from rank 0 (gathered from every rank), and the test compares it with
a reference it computes in its own process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlcore.distributed import Distributed, StatisticsSync
from rlcore.stats import RunningMeanStd

__all__ = ["raise_on_rank_one", "rank_batches", "reference_model", "statistics_rounds", "train_in_lockstep"]

IN, OUT = 3, 2


def reference_model() -> nn.Module:
    """The network every rank starts from (rank 0's draw, broadcast by DDP)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, 8), nn.Tanh(), nn.Linear(8, OUT))


def rank_batches(rank: int, updates: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The data rank ``rank`` trains on: its own, for each update."""
    generator = torch.Generator().manual_seed(1000 + rank)
    return [
        (torch.randn(batch, IN, generator=generator), torch.randn(batch, OUT, generator=generator))
        for _ in range(updates)
    ]


def train_in_lockstep(updates: int, batch: int, max_norm: float) -> dict[str, Any]:
    """Every rank: DDP through ``Distributed``, its own batches; the parameters of each rank after each update."""
    distributed = Distributed(torch.device("cpu"), devices=2)
    torch.manual_seed(100 + distributed.rank)  # different initial weights: DDP must broadcast rank 0's
    model = nn.Sequential(nn.Linear(IN, 8), nn.Tanh(), nn.Linear(8, OUT))
    if distributed.rank == 0:
        model.load_state_dict(reference_model().state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    wrapped, wrapped_optimizer = distributed.setup(model, optimizer)
    history = []
    for inputs, targets in rank_batches(distributed.rank, updates, batch):
        loss = nn.functional.mse_loss(wrapped(inputs), targets)
        wrapped_optimizer.zero_grad()
        distributed.backward(loss)
        distributed.clip_gradients(wrapped, wrapped_optimizer, max_norm)
        wrapped_optimizer.step()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        history.append(flat.clone())
    every_rank = distributed.gather_objects(torch.stack(history))
    return {"world_size": distributed.world_size, "history": every_rank}


def statistics_rounds(rounds: list[list[np.ndarray]]) -> dict[str, Any]:
    """Every rank: updates its statistics with its own data, merging after each round."""
    distributed = Distributed(torch.device("cpu"), devices=2)
    shape = rounds[0][0].shape[1:]
    obs_rms, return_rms = RunningMeanStd(shape), RunningMeanStd(())
    sync = StatisticsSync([obs_rms, return_rms])
    for data in rounds:
        batch = data[distributed.rank]
        obs_rms.update(batch)
        return_rms.update(batch.reshape(len(batch), -1)[:, 0])
        sync.merge(distributed.all_gather)
    states = distributed.gather_objects(
        [(rms.mean.copy(), rms.var.copy(), float(rms.count)) for rms in (obs_rms, return_rms)]
    )
    return {"states": states}


def raise_on_rank_one() -> int:
    """Rank 1 raises; rank 0 waits for it at a barrier (launch must stop it and report rank 1's error)."""
    distributed = Distributed(torch.device("cpu"), devices=2)
    if distributed.rank == 1:
        raise ValueError("rank one failed on purpose")
    distributed.barrier()
    return 0
