"""One agent on several processes, GPUs and nodes, with Lightning Fabric (the ``fabric`` extra).

Reinforcement learning fits Lightning's ``Trainer`` badly (rollouts squeezed through a
DataLoader) and Lightning Fabric well: the training loop stays a plain loop, and Fabric adds
the launch, DDP and device placement (Lightning's own PPO example,
``examples/fabric/reinforcement_learning``). rlcore uses Fabric as that engine; nothing here
is a distributed layer of its own:

* :class:`Distributed`: the processes of one run. One device (the default) is plain PyTorch,
  bit for bit what a single-process loop computes, without importing Lightning; several are a
  Fabric (``devices``, ``num_nodes``, ``strategy``, ``precision``) with DDP gradients.
* :func:`launch`: starts the processes of one machine (``torch.multiprocessing`` spawn) with the
  environment Fabric expects; on a cluster (``srun``, ``fabric run``, ``torchrun``) every
  process is started by it instead and :func:`launch` runs the function in place.
* :class:`StatisticsSync`: normalisation statistics merged across processes from each one's new
  data since the last merge (Chan et al. 1979), equal to one process that saw all the data.

:class:`rlcore.runs.Run` puts these together (rank seeds from :func:`rlcore.seeding.rank_seed`,
rank 0 writing the run directory, every rank's state in the checkpoints); an agent calls
``run.setup``, ``run.backward`` and ``run.clip_gradients``, and is otherwise unchanged.
"""

from __future__ import annotations

from rlcore.distributed._launch import launch
from rlcore.distributed._processes import FABRIC_HINT, Distributed, check_settings, is_launched, uses_fabric
from rlcore.distributed._statistics import StatisticsSync

__all__ = [
    "FABRIC_HINT",
    "Distributed",
    "StatisticsSync",
    "check_settings",
    "is_launched",
    "launch",
    "uses_fabric",
]
