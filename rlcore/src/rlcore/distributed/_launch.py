"""Starting the processes of a run on one machine: one per device, each running the same function."""

from __future__ import annotations

import gc
import os
import pickle
import socket
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.multiprocessing as mp

from rlcore.distributed._processes import is_launched

__all__ = ["launch"]

T = TypeVar("T")


def launch(function: Callable[..., T], /, *args: Any, processes: int, num_nodes: int = 1, **kwargs: Any) -> T:
    """Run ``function(*args, **kwargs)`` in ``processes`` processes of this machine; return rank 0's result.

    The processes are started with ``torch.multiprocessing``'s ``spawn`` (safe with CUDA), with
    the environment Lightning Fabric reads when another program launched it (``LOCAL_RANK``,
    ``NODE_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR=127.0.0.1`` and a free ``MASTER_PORT``), so
    that a ``Fabric(devices=processes)`` made inside connects them instead of starting
    processes of its own. This process only waits: if one rank raises, the others are
    stopped and the error is raised here: rank 0's own exception if rank 0 raised one (a
    refused run, a bad config: what one process would raise), otherwise PyTorch's
    ``ProcessRaisedException`` with the failed rank's traceback. ``function``, ``args`` and ``kwargs`` must be picklable
    (a module-level function: not one defined in a notebook).

    Directly, in this process, without starting any: one process, or a process that is
    already one of several (``fabric run``, ``torchrun``, ``srun`` on SLURM, see
    :func:`is_launched`): every process of those runs ``function`` itself.

    Raises:
        RuntimeError: for ``num_nodes > 1`` in a process that was not launched on a cluster:
            each node's processes are started by the cluster (srun, torchrun, fabric run).
    """
    if processes == 1 and num_nodes == 1:
        return function(*args, **kwargs)
    if is_launched():  # by the cluster: this process is one of them
        result = function(*args, **kwargs)
        leave_process_group()
        return result
    if num_nodes > 1:
        raise RuntimeError(
            f"num_nodes={num_nodes}: start {processes} process(es) on each node with srun (SLURM), "
            "fabric run or torchrun; rlcore starts the processes of one machine only"
        )
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    port = _free_port()
    start_processes: Any = mp.start_processes  # type: ignore[attr-defined]
    processes_context = start_processes(
        _run_rank,
        args=(processes, port, results, function, args, kwargs),
        nprocs=processes,
        join=False,
        start_method="spawn",
    )
    received: list[bytes] = []
    try:
        # Read the result while waiting: a large one would fill the pipe and block its writer.
        while not processes_context.join(timeout=0.2):
            while not results.empty():
                received.append(results.get())
    except Exception as failure:
        while not results.empty():
            received.append(results.get())
        outcome = pickle.loads(received[0]) if received else None  # from the rank this call spawned
        if isinstance(outcome, _Raised) and _its_own(outcome.error):
            # Rank 0's own error, as one process would raise it (a refused run, a bad config).
            raise outcome.error from failure
        raise
    while not results.empty():
        received.append(results.get())
    if not received:
        raise RuntimeError("launch: rank 0 ended without a result")
    value: T = pickle.loads(received[0])
    return value


def _its_own(error: BaseException) -> bool:
    """Whether rank 0's error is its own, not gloo's or NCCL's news that another rank died
    (a bare ``RuntimeError`` or a ``torch.distributed.DistError``)."""
    return type(error) is not RuntimeError and not isinstance(error, torch.distributed.DistError)


class _Raised:
    """What rank 0 raised, sent back to the process that launched it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _run_rank(
    rank: int,
    world_size: int,
    port: int,
    results: Any,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """One spawned process: the environment of rank ``rank`` of ``world_size``, then the function."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "LOCAL_RANK": str(rank),
            "NODE_RANK": "0",
            "WORLD_SIZE": str(world_size),
        }
    )
    try:
        value = function(*args, **kwargs)
    except Exception as error:
        if rank == 0:
            try:
                results.put(pickle.dumps(_Raised(error)))
            except Exception:  # an error that does not pickle: its text
                results.put(pickle.dumps(_Raised(RuntimeError(f"{type(error).__name__}: {error}"))))
        raise
    leave_process_group()
    if rank == 0:
        # Plain pickle bytes: torch's queue would share tensors through this process's memory,
        # which is gone once it has exited.
        results.put(pickle.dumps(value))


def leave_process_group() -> None:
    """Destroy the default process group, if any, once the training's DDP wrappers are gone.

    Left to the interpreter's exit, gloo's threads are torn down unjoined ("terminate called
    without an active exception", SIGABRT); destroyed while a DDP ``Reducer`` still holds it,
    the group's destructor runs when the reducer is freed, joining gloo's threads while holding
    the GIL they need (a deadlock). So: collect the wrappers, wait for every rank, destroy.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    gc.collect()
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
