"""Running statistics kept alike on every process: each one's new data merged by Chan et al."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from rlcore._moments import moments_since
from rlcore.stats import RunningMeanStd

__all__ = ["StatisticsSync"]


class StatisticsSync:
    """Merges the :class:`~rlcore.stats.RunningMeanStd` s of every process at each :meth:`merge`.

    Between two merges each process updates its own copy of the statistics with its own data
    (its envs' observations, its discounted returns). :meth:`merge` takes from every process the
    moments of its *new* data since the last merge (not its totals, which would count the data
    merged before twice), gathers them, and adds them, in rank order, to the statistics of the
    last merge with :meth:`RunningMeanStd.update_from_moments` (the parallel algorithm of Chan,
    Golub and LeVeque, 1979). Every process computes the same sums from the same numbers, so
    afterwards they hold the same statistics, bit for bit: those of one process that saw all
    the data (up to rounding).

    Args:
        statistics: the process's statistics, shared layout (``num_streams=None``), in the
            same order on every process.

    Raises:
        TypeError: if one is not a shared-layout ``RunningMeanStd``.
    """

    def __init__(self, statistics: Sequence[RunningMeanStd]) -> None:
        for rms in statistics:
            if not isinstance(rms, RunningMeanStd) or rms.num_streams is not None:
                raise TypeError(
                    f"StatisticsSync: expected RunningMeanStd objects with num_streams=None, got {rms!r}"
                )
        self.statistics = tuple(statistics)
        self._base = [_snapshot(rms) for rms in self.statistics]

    def merge(self, all_gather: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Merge every process's new data into the statistics of all (a collective call).

        Args:
            all_gather: gathers a 1-D float64 tensor from every process into a tensor of shape
                ``(world_size, length)``, in rank order (``rlcore.distributed.Distributed.all_gather``).
        """
        if not self.statistics:
            return
        parts = []
        for rms, (mean, var, count) in zip(self.statistics, self._base, strict=True):
            new_mean, new_var, added = moments_since(rms.mean, rms.var, rms.count, mean, var, count)
            parts += [np.array([added]), new_mean.ravel(), new_var.ravel()]
        gathered = all_gather(torch.from_numpy(np.concatenate(parts))).cpu().numpy()
        offset = 0
        for index, rms in enumerate(self.statistics):
            size = rms.mean.size
            merged = RunningMeanStd(rms.shape, epsilon=0.0)
            mean, var, count = self._base[index]
            np.copyto(merged.mean, mean)
            np.copyto(merged.var, var)
            merged.count = count
            for row in gathered:
                added = float(row[offset])
                new_mean = row[offset + 1 : offset + 1 + size].reshape(rms.shape)
                new_var = row[offset + 1 + size : offset + 1 + 2 * size].reshape(rms.shape)
                merged.update_from_moments(new_mean, new_var, added)
            offset += 1 + 2 * size
            np.copyto(rms.mean, merged.mean)
            np.copyto(rms.var, merged.var)
            rms.count = merged.count
            self._base[index] = _snapshot(rms)

    def reset(self) -> None:
        """Take the statistics as they are now as merged (after a checkpoint has been loaded)."""
        self._base = [_snapshot(rms) for rms in self.statistics]


def _snapshot(rms: RunningMeanStd) -> tuple[np.ndarray, np.ndarray, float]:
    return rms.mean.copy(), rms.var.copy(), float(rms.count)
