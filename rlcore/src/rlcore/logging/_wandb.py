"""Weights & Biases backend (the ``wandb`` extra), imported only when constructed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlcore.logging._base import LogData, Logger, check_log_data

__all__ = ["WandbLogger"]


class WandbLogger(Logger):
    """Send every write to a W&B run, ``run.log(data, step=step)``.

    ``wandb`` is imported here rather than at module import, so ``import rlcore.logging`` does
    not need it. W&B requires the step of successive writes to be non-decreasing: it drops
    (with a warning) a write whose step is lower than the previous one. Set ``WANDB_MODE=offline``
    to record without an account or network (``wandb sync`` uploads later).

    Args:
        run_dir: the run directory; W&B keeps its files in ``run_dir/wandb`` and the run's name
            defaults to the directory's name.
        project: the W&B project (``None``: W&B's default, e.g. from ``WANDB_PROJECT``).
        config: the run's hyperparameters, shown and searchable in W&B.
        **init_kwargs: passed on to ``wandb.init`` (``entity``, ``group``, ``tags``, ``mode``, ...).

    Raises:
        ImportError: if wandb is not installed; the message says to ``pip install "rlcore[wandb]"``.

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        project: str | None = None,
        config: Mapping[str, Any] | None = None,
        **init_kwargs: Any,
    ) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ImportError(
                'WandbLogger needs Weights & Biases, which is not installed: pip install "rlcore[wandb]"'
            ) from error
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        init_kwargs.setdefault("name", self.run_dir.name)
        self._run: Any = wandb.init(
            project=project,
            dir=str(self.run_dir),
            config=dict(config) if config is not None else None,
            **init_kwargs,
        )
        self._closed = False

    def write(self, data: LogData, step: int) -> None:
        """Log ``data`` at ``step`` in the W&B run."""
        values, step = check_log_data(data, step, "WandbLogger.write")
        if self._closed:
            raise RuntimeError(f"WandbLogger.write: the logger of {str(self.run_dir)!r} is closed")
        self._run.log(values, step=step)

    def close(self) -> None:
        """Finish the W&B run (uploads what is left, or closes the offline files)."""
        if not self._closed:
            self._run.finish()
            self._closed = True
