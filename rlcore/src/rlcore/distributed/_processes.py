"""The processes of one run: Lightning Fabric when there are several, plain PyTorch for one."""

from __future__ import annotations

import importlib
import os
from typing import Any

import torch
from torch import nn

__all__ = ["FABRIC_HINT", "Distributed", "check_settings", "is_launched", "uses_fabric"]

FABRIC_HINT = "pip install 'rlcore[fabric]' (Lightning Fabric)"


def _fabric_module(name: str = "") -> Any:
    """A module of Lightning Fabric: ``lightning_fabric[.name]``, or the full ``lightning``'s copy."""
    for package in ("lightning_fabric", "lightning.fabric"):
        try:
            return importlib.import_module(f"{package}.{name}" if name else package)
        except ImportError:
            continue
    return None


def _fabric_class() -> Any:
    """Lightning Fabric's ``Fabric``, from ``lightning-fabric`` or the full ``lightning``."""
    fabric = _fabric_module()
    if fabric is None:
        raise ImportError(f"several devices, a strategy or a precision need Lightning Fabric: {FABRIC_HINT}")
    return fabric.Fabric


def is_launched() -> bool:
    """Whether this process was started as one rank of several (by rlcore, Fabric, torchrun, SLURM, ...).

    ``LOCAL_RANK`` in the environment (what :func:`rlcore.distributed.launch`, ``fabric run`` and
    ``torchrun`` set), or a cluster that Lightning Fabric recognises: ``srun`` on SLURM,
    TorchElastic, LSF, MPI.
    """
    if "LOCAL_RANK" in os.environ:
        return True
    environments = _fabric_module("plugins.environments")
    if environments is None:
        return False
    clusters = ("TorchElasticEnvironment", "SLURMEnvironment", "LSFEnvironment", "MPIEnvironment")
    return any(getattr(environments, name).detect() for name in clusters)


def check_settings(device: str, devices: int, strategy: str) -> None:
    """Raise ValueError for settings rlcore cannot run: a strategy that starts processes itself
    (``ddp_spawn``, ``ddp_fork``, ``ddp_notebook``: rlcore starts them), one GPU (``cuda:K``)
    for several devices."""
    if any(word in strategy for word in ("spawn", "fork", "notebook")):
        raise ValueError(
            f"strategy {strategy!r} starts processes itself; rlcore starts them "
            "(rlcore.runs.launch, srun, torchrun): use 'auto' or 'ddp' (or fsdp, deepspeed)"
        )
    if device.startswith("cuda:") and devices > 1:
        raise ValueError(f"device {device!r} names one GPU but devices={devices}: use device 'cuda'")


def uses_fabric(devices: int, num_nodes: int, strategy: str, precision: str) -> bool:
    """Whether these settings need Lightning Fabric: one device, ``auto`` and ``32-true`` do not."""
    return devices * num_nodes > 1 or strategy != "auto" or precision != "32-true"


class Distributed:
    """The processes that train one agent together, and what the training loop asks of them.

    With one device, the default strategy and 32-bit precision, nothing of Lightning is
    imported and every method is the plain PyTorch call a single-process loop makes (the same
    results, bit for bit). Otherwise a ``lightning_fabric.Fabric`` is made with these settings
    (Fabric's names: ``devices``, ``num_nodes``, ``strategy``, ``precision``) and launched:
    :meth:`setup` wraps the network for the strategy (DDP: the weights broadcast from rank 0,
    the gradients all-reduced in :meth:`backward`), and the collectives are Fabric's.

    Args:
        device: the torch device of one process: ``cpu`` (processes on CPU cores, gloo),
            ``cuda`` (one GPU per process, NCCL), ``cuda:K`` (one device) or ``mps``.
        devices, num_nodes, strategy, precision: Lightning Fabric's arguments.

    Raises:
        ImportError: if Fabric is needed and not installed (``rlcore[fabric]``).
        RuntimeError: if several processes are asked for but this process was not launched as
            one of them (:func:`rlcore.distributed.launch`, ``fabric run``, ``torchrun``, ``srun``).
        ValueError: for a strategy that starts processes itself (``ddp_spawn``, ``ddp_fork``,
            ``ddp_notebook``), or ``cuda:K`` with several devices.
    """

    def __init__(
        self,
        device: torch.device,
        *,
        devices: int = 1,
        num_nodes: int = 1,
        strategy: str = "auto",
        precision: str = "32-true",
    ) -> None:
        self.fabric: Any = None
        self.rank, self.world_size, self.device = 0, 1, device
        if not uses_fabric(devices, num_nodes, strategy, precision):
            return
        if devices * num_nodes > 1 and not is_launched():
            raise RuntimeError(
                f"devices={devices}, num_nodes={num_nodes}: this process was not started as one of "
                f"{devices * num_nodes}; start the run with rlcore.runs.launch(train, config) or the "
                "project's command line (python -m <package>.train ... --devices N), or on a cluster "
                "with srun / fabric run / torchrun (one process per device)"
            )
        check_settings(str(device), devices, strategy)
        fabric_devices: Any = [device.index] if device.index is not None else devices
        self.fabric = _fabric_class()(
            accelerator=device.type,
            devices=fabric_devices,
            num_nodes=num_nodes,
            strategy=strategy,
            precision=precision,
        )
        self.fabric.launch()
        self.rank, self.world_size = int(self.fabric.global_rank), int(self.fabric.world_size)
        self.device = self.fabric.device

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes the run directory."""
        return self.rank == 0

    def setup(
        self, module: nn.Module, optimizer: torch.optim.Optimizer, *, forward_methods: tuple[str, ...] = ()
    ) -> tuple[Any, Any]:
        """The network and optimiser to train with: Fabric's wrappers, or themselves for one process.

        ``forward_methods``: the network's methods other than ``forward`` that the loss calls
        (``policy_and_value``); they go through the strategy's wrapper as ``forward`` does
        (``mark_forward_method``), so that DDP all-reduces their gradients. Keep the original
        module for acting and checkpoints: the wrapper shares its parameters.
        """
        if self.fabric is None:
            return module, optimizer
        wrapped, wrapped_optimizer = self.fabric.setup(module, optimizer)
        for name in forward_methods:
            wrapped.mark_forward_method(name)
        return wrapped, wrapped_optimizer

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through Fabric (gradient all-reduce, precision scaling) if in use."""
        if self.fabric is None:
            torch.autograd.backward(loss)
        else:
            self.fabric.backward(loss)

    def clip_gradients(self, module: nn.Module, optimizer: torch.optim.Optimizer, max_norm: float) -> None:
        """Clip the gradients' global norm to ``max_norm`` (unscaled first under mixed precision)."""
        if self.fabric is None:
            nn.utils.clip_grad_norm_(list(module.parameters()), max_norm, foreach=True)
        else:
            self.fabric.clip_gradients(module, optimizer, max_norm=max_norm)

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` of every process, stacked in rank order: ``(world_size, *tensor.shape)``."""
        if self.fabric is None or self.world_size == 1:
            return tensor.unsqueeze(0)
        # torch.distributed's own: Fabric's all_gather is the differentiable one, not needed here.
        local = tensor.to(self.device)
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, local)
        return torch.stack(parts).cpu()

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every process's picklable ``obj`` in rank order on rank 0; ``[]`` on the others."""
        if self.fabric is None or self.world_size == 1:
            return [obj]
        gathered: list[Any] | None = [None] * self.world_size if self.is_main else None
        torch.distributed.gather_object(obj, gathered, dst=0)
        return gathered if gathered is not None else []

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's picklable ``obj`` on every process."""
        if self.fabric is None or self.world_size == 1:
            return obj
        return self.fabric.broadcast(obj, src=0)

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.fabric is not None and self.world_size > 1:
            self.fabric.barrier()
