"""TensorBoard backend (the ``tensorboard`` extra), imported only when constructed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rlcore.logging._base import LogData, Logger, check_log_data

__all__ = ["TensorBoardLogger"]


class TensorBoardLogger(Logger):
    """Write every value as a TensorBoard scalar, ``add_scalar(key, value, global_step=step)``.

    Uses ``torch.utils.tensorboard.SummaryWriter``, imported here rather than at module import
    so that ``import rlcore.logging`` does not need (or load) TensorBoard. The event file lands
    in ``log_dir`` itself, so ``tensorboard --logdir runs`` lists each run directory by name.
    Keys with a ``/`` are grouped by TensorBoard into sections (``eval/mean_return`` shows in
    ``eval``).

    Args:
        log_dir: directory of the event file (created if missing), usually the run directory.
        flush_secs: seconds between flushes of the event file to disk.

    Raises:
        ImportError: if TensorBoard is not installed; the message says to
            ``pip install "rlcore[tensorboard]"``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with TensorBoardLogger(run_dir) as logger:
        ...         logger.write({"eval/mean_return": 1.5}, step=10)
        ...     print(sorted(p.name.split(".")[0] for p in Path(run_dir).iterdir()))
        ['events']

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, flush_secs: float = 10.0) -> None:
        if not isinstance(flush_secs, (int, float)) or not flush_secs > 0:
            raise ValueError(f"TensorBoardLogger: flush_secs must be a number > 0, got {flush_secs!r}")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                'TensorBoardLogger needs TensorBoard, which is not installed: pip install "rlcore[tensorboard]"'
            ) from error
        self.log_dir = Path(log_dir)
        self._writer: Any = SummaryWriter(log_dir=str(self.log_dir), flush_secs=flush_secs)
        self._closed = False

    def write(self, data: LogData, step: int) -> None:
        """Add each value as a scalar at ``global_step=step``."""
        values, step = check_log_data(data, step, "TensorBoardLogger.write")
        if self._closed:
            raise RuntimeError(f"TensorBoardLogger.write: the logger of {str(self.log_dir)!r} is closed")
        for key, value in values.items():
            self._writer.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        """Flush and close the event file."""
        if not self._closed:
            self._writer.close()
            self._closed = True
