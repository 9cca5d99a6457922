"""A run on several processes: what rank 0 decides for all, and every rank's state in the checkpoints.

Rank 0 writes the run directory; the other ranks learn its decisions (the path, the checkpoint
to resume) by broadcast. The networks and optimisers are the same on every rank (DDP), so a
checkpoint holds them once, from rank 0, with rank 0's other objects and RNG states, in the
layout of a single-process checkpoint; the other ranks' own objects (buffers, the wrappers'
state, their RNG states) go in with them, under ``ranks`` (their replay buffers under
``rank_buffers``, in the buffers file). A resume restores each rank from its part, on as many
processes as were saved: another number is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from rlcore import distributed
from rlcore._checkpoint_format import check_rng_state, rng_state, set_rng_states
from rlcore.checkpoint import CheckpointError
from rlcore.distributed import Distributed, StatisticsSync
from rlcore.runs._checkpoints import kept_apart, load_run_checkpoint
from rlcore.runs._config import RunConfig
from rlcore.runs._envs import check_device
from rlcore.runs._record import CONFIG_FILE, started_from
from rlcore.stats import RunningMeanStd

__all__ = [
    "RANKS",
    "RANK_BUFFERS",
    "RankBuffers",
    "RankStates",
    "UpdateOnRanks",
    "check_world_size",
    "decided_by_rank_zero",
    "empty_rank_holders",
    "gather_rank_states",
    "launch",
    "load_on_every_rank",
    "processes_of",
    "restore_rank_state",
    "statistics_sync",
]

T = TypeVar("T")
RANKS, RANK_BUFFERS = "ranks", "rank_buffers"


class RankStates:
    """The other ranks' own state in a checkpoint: ``{"<rank>": {name: state_dict, "rng": ...}}``."""

    def __init__(self, states: Mapping[str, Any] | None = None) -> None:
        self.states: dict[str, Any] = dict(states or {})

    def state_dict(self) -> dict[str, Any]:
        return self.states

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.states = dict(state)


class RankBuffers(RankStates):
    """The other ranks' replay buffers, saved with the buffers of rank 0 (the newest checkpoint only)."""

    KEPT_APART = True


class UpdateOnRanks:
    """The update's calls of :class:`rlcore.runs.Run`, the same on one process and on several."""

    distributed: Distributed
    _statistics: StatisticsSync | None  # the envs' statistics, on several processes
    _updated: bool  # a backward pass since the statistics were last merged

    def _merge_statistics(self, *, due: bool) -> None:
        """Merge the envs' statistics across the processes after an update, or when ``due``."""
        if self._statistics is not None and (self._updated or due):
            self._statistics.merge(self.distributed.all_gather)
            self._updated = False

    def setup(
        self,
        module: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        forward_methods: tuple[str, ...] = (),
    ) -> tuple[Any, Any]:
        """The network and optimiser to compute the loss and step with (:meth:`Distributed.setup`).

        For one process they are ``module`` and ``optimizer`` themselves; on several, Lightning
        Fabric's wrappers (DDP): every rank starts from rank 0's weights and :meth:`backward`
        all-reduces the gradients. ``forward_methods`` are the other methods of ``module`` the
        loss calls (``("policy_and_value",)``). Act and checkpoint with ``module`` itself.
        """
        return self.distributed.setup(module, optimizer, forward_methods=forward_methods)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``; on several processes the gradients are averaged over them."""
        self.distributed.backward(loss)
        self._updated = True

    def clip_gradients(
        self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, max_norm: float
    ) -> None:
        """Clip the gradients' global norm (``torch.nn.utils.clip_grad_norm_``; unscaled first under AMP)."""
        self.distributed.clip_gradients(module, optimizer, max_norm)


def launch(
    train: Callable[..., dict[str, Any]], config: RunConfig, *, resume: bool = False
) -> dict[str, Any]:
    """``train(config, resume=resume)`` on ``config.devices`` processes of this machine; rank 0's summary.

    What the entry points call (``python -m <package>.train``, the sweeps' trials), and what to
    call from Python or a notebook for a run on several devices: the processes are spawned
    (:func:`rlcore.distributed.launch`), each runs ``train`` (so the agent's module must be
    importable: not a notebook's), and the config file the entry point read travels with
    them. One device, or a process a cluster launched (``srun``, ``fabric run``,
    ``torchrun``): ``train`` runs here.
    """
    return distributed.launch(
        _train_rank,
        train,
        config,
        resume,
        CONFIG_FILE.get(),
        processes=config.devices,
        num_nodes=config.num_nodes,
    )


def _train_rank(
    train: Callable[..., dict[str, Any]], config: RunConfig, resume: bool, config_file: Path | None
) -> dict[str, Any]:
    with started_from(config_file):
        return train(config, resume=resume)


def processes_of(config: RunConfig) -> Distributed:
    """The processes of a run of ``config`` (device, devices, num_nodes, strategy, precision), launched."""
    return Distributed(
        check_device(config.device),
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
    )


def decided_by_rank_zero(distributed: Distributed, decide: Callable[[], T]) -> T:
    """``decide()`` on rank 0, its result on every rank; its error raised on every rank."""
    if distributed.world_size == 1:
        return decide()
    if distributed.is_main:
        try:
            value = decide()
        except BaseException as error:
            distributed.broadcast(("error", f"{type(error).__name__}: {error}"))
            raise
        return distributed.broadcast(("ok", value))[1]  # type: ignore[no-any-return]
    status, value = distributed.broadcast(None)
    if status == "error":
        raise RuntimeError(f"Run: rank 0 could not start the run: {value}")
    return value  # type: ignore[no-any-return]


def _own(obj: Any) -> bool:
    """Whether each rank has its own state of ``obj``: all but the networks and optimisers."""
    return not isinstance(obj, (nn.Module, torch.optim.Optimizer))


def gather_rank_states(distributed: Distributed, stateful: Mapping[str, Any]) -> dict[str, RankStates]:
    """Every rank's own state, gathered on rank 0 as the two holders it saves (``{}`` elsewhere)."""
    if distributed.world_size == 1:
        return {}
    own = {name: obj for name, obj in stateful.items() if _own(obj)}
    apart = kept_apart(own)
    local = {
        "objects": {name: obj.state_dict() for name, obj in own.items() if name not in apart},
        "buffers": {name: obj.state_dict() for name, obj in apart.items()},
        "rng": rng_state(),
    }
    gathered = distributed.gather_objects(local)
    if not distributed.is_main:
        return {}
    others = {str(rank): state for rank, state in enumerate(gathered) if rank > 0}
    holders: dict[str, RankStates] = {
        RANKS: RankStates({rank: {**state["objects"], "rng": state["rng"]} for rank, state in others.items()})
    }
    if apart:
        holders[RANK_BUFFERS] = RankBuffers({rank: state["buffers"] for rank, state in others.items()})
    return holders


def empty_rank_holders(distributed: Distributed, stateful: Mapping[str, Any]) -> dict[str, RankStates]:
    """The holders a checkpoint of a run on several ranks loads the other ranks' states into."""
    if distributed.world_size == 1:
        return {}
    holders: dict[str, RankStates] = {RANKS: RankStates()}
    if kept_apart({name: obj for name, obj in stateful.items() if _own(obj)}):
        holders[RANK_BUFFERS] = RankBuffers()
    return holders


def restore_rank_state(
    distributed: Distributed, stateful: Mapping[str, Any], holders: Mapping[str, Any]
) -> None:
    """On rank ``r > 0``, load its own objects and RNG states from the loaded holders."""
    if distributed.rank == 0:
        return
    rank = str(distributed.rank)
    objects = dict(holders[RANKS].states[rank])
    rng = objects.pop("rng")
    if RANK_BUFFERS in holders and rank in holders[RANK_BUFFERS].states:
        objects.update(holders[RANK_BUFFERS].states[rank])
    for name, state in objects.items():
        stateful[name].load_state_dict(state)
    set_rng_states(check_rng_state(rng))


def load_on_every_rank(
    distributed: Distributed, path: Path, stateful: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """Load the checkpoint ``path`` into ``stateful`` on every rank, each its own part; its metadata."""
    check_world_size(path, metadata, distributed.world_size)
    holders = empty_rank_holders(distributed, stateful)
    loaded = load_run_checkpoint(path, {**stateful, **holders}, metadata)
    restore_rank_state(distributed, stateful, holders)
    return loaded


def check_world_size(path: Path, metadata: Mapping[str, Any], world_size: int) -> None:
    """Refuse to resume the checkpoint ``path`` on another number of processes than saved it."""
    saved = int(metadata.get("world_size", 1))
    if saved != world_size:
        raise CheckpointError(
            f"Run: {path.name} was saved by a run on {saved} process(es) (devices x num_nodes) and this "
            f"one has {world_size}: each process's envs, buffers and RNG streams are in it, so resume it "
            f"on {saved} (--devices {saved} --num-nodes 1, or the same split across nodes), or start a "
            "new run"
        )


def statistics_sync(distributed: Distributed, wrappers: Mapping[str, Any]) -> StatisticsSync | None:
    """The merging of the shared statistics of the envs' ``wrappers`` across ranks (None for one process)."""
    if distributed.world_size == 1:
        return None
    statistics = [
        value
        for wrapper in wrappers.values()
        for value in vars(wrapper).values()
        if isinstance(value, RunningMeanStd) and value.num_streams is None
    ]
    return StatisticsSync(statistics) if statistics else None
