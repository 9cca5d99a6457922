"""Running statistics: the one implementation of a running mean and variance in rlcore.

Every normaliser in :mod:`rlcore.wrappers` (single env and vector) stores its statistics in a
:class:`RunningMeanStd`, so saving, loading, freezing and sharing them works the same way
everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["RunningMeanStd"]


class RunningMeanStd:
    r"""Running mean and variance of a stream of arrays, in float64.

    A batch is combined with the statistics so far by the parallel algorithm of Chan, Golub
    and LeVeque ("Updating Formulae and a Pairwise Algorithm for Computing Sample Variances",
    1979), which is exact in exact arithmetic and numerically stable for large counts:

    .. math::
        \delta = \bar x_B - \bar x_A,\quad n = n_A + n_B,\quad
        \bar x = \bar x_A + \delta \frac{n_B}{n},\quad
        \sigma^2 = \frac{n_A \sigma_A^2 + n_B \sigma_B^2 + \delta^2 n_A n_B / n}{n}.

    The statistics start as a pseudo-batch of ``epsilon`` samples with mean 0 and variance 1,
    like Gymnasium's and Stable-Baselines3's ``RunningMeanStd``, so that the first
    normalised values are finite. With ``epsilon=0`` the statistics are exactly the
    population mean and variance (``np.mean``, ``np.var``) of everything seen.

    Two layouts:

    * shared (``num_streams=None``): ``mean`` and ``var`` have shape ``shape``; ``update(x)``
      takes a batch ``x`` of shape ``(B, *shape)`` and adds its ``B`` samples.
    * per stream (``num_streams=N``): ``N`` independent statistics, ``mean`` and ``var`` of
      shape ``(N, *shape)``, ``count`` of shape ``(N,)``; ``update(x)`` takes ``x`` of shape
      ``(N, *shape)``, one sample per stream (for example one per sub-environment).

    In both, ``mask`` (bool, shape ``(B,)`` or ``(N,)``) selects the rows that enter.

    Args:
        shape: shape of one sample.
        epsilon: pseudo-count of the prior (mean 0, variance 1); ``>= 0``.
        num_streams: ``None`` for one shared statistic, or the number of independent streams.

    Example:
        >>> rms = RunningMeanStd(shape=(2,), epsilon=0.0)
        >>> rms.update(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> rms.mean, rms.var, rms.count
        (array([ 2., 20.]), array([  1., 100.]), 2.0)
        >>> rms.normalize(np.array([3.0, 30.0]), epsilon=0.0)
        array([1., 1.])
    """

    def __init__(
        self,
        shape: Sequence[int] = (),
        epsilon: float = 1e-4,
        num_streams: int | None = None,
    ) -> None:
        if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon >= 0):
            raise ValueError(f"RunningMeanStd: epsilon must be a finite number >= 0, got {epsilon!r}")
        if num_streams is not None and (not isinstance(num_streams, int) or num_streams < 1):
            raise ValueError(f"RunningMeanStd: num_streams must be None or an int >= 1, got {num_streams!r}")
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.num_streams = num_streams
        self.epsilon = float(epsilon)
        full_shape = self.shape if num_streams is None else (num_streams, *self.shape)
        self.mean: np.ndarray = np.zeros(full_shape, dtype=np.float64)
        self.var: np.ndarray = np.ones(full_shape, dtype=np.float64)
        # A float for the shared layout (cheap scalar arithmetic in the hot path), an array
        # of shape (num_streams,) per stream.
        self.count: Any = self.epsilon if num_streams is None else np.full(num_streams, self.epsilon)

    # ------------------------------------------------------------------ updates
    def update(self, x: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Add a batch of samples (see the class docstring for the shapes).

        Raises:
            ValueError: if ``x`` has the wrong shape or contains NaN or inf (the statistics
                are left untouched, and the message names the first offending index).
        """
        x = np.asarray(x, dtype=np.float64)
        if self.num_streams is not None:
            self._update_streams(x, mask)
            return
        if x.shape[1:] != self.shape or x.ndim != len(self.shape) + 1:
            raise ValueError(
                f"RunningMeanStd.update: expected a batch of shape (B, {_fmt(self.shape)}), got {x.shape}"
            )
        if mask is not None:
            x = x[np.asarray(mask, dtype=bool)]
        n = x.shape[0]
        if n == 0:
            return
        _check_finite(x, "RunningMeanStd.update")
        if n == 1:
            self._update_one(x[0])
            return
        batch_mean = x.mean(axis=0)
        batch_var = x.var(axis=0)
        self.update_from_moments(batch_mean, batch_var, n)

    def _update_one(self, x: np.ndarray) -> None:
        # Welford's single-sample update: the B=1 case of Chan et al. without the reductions.
        count = self.count + 1.0
        delta = x - self.mean
        self.mean = self.mean + delta / count
        self.var = (self.var * self.count + delta * (x - self.mean)) / count
        self.count = count

    def _update_streams(self, x: np.ndarray, mask: np.ndarray | None) -> None:
        assert self.num_streams is not None
        expected = (self.num_streams, *self.shape)
        if x.shape != expected:
            raise ValueError(f"RunningMeanStd.update: expected shape {expected} (one sample per stream), got {x.shape}")
        active = np.ones(self.num_streams, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if not active.any():
            return
        _check_finite(x[active], "RunningMeanStd.update", rows=np.flatnonzero(active))
        weight = active.astype(np.float64)
        count = self.count + weight
        # Streams outside the mask keep their statistics: their weight is 0.
        w = (weight / np.maximum(count, 1e-300)).reshape((-1,) + (1,) * len(self.shape))
        delta = np.where(w > 0, x - self.mean, 0.0)
        new_mean = self.mean + delta * w
        old_count = self.count.reshape(w.shape)
        new_count = count.reshape(w.shape)
        new_var = (self.var * old_count + delta * (x - new_mean) * (w > 0)) / np.maximum(new_count, 1e-300)
        self.mean = new_mean
        self.var = np.where(w > 0, new_var, self.var)
        self.count = count

    def update_from_moments(self, batch_mean: np.ndarray, batch_var: np.ndarray, batch_count: float) -> None:
        """Combine the moments of a batch (Chan et al. 1979) into the shared statistics."""
        if self.num_streams is not None:
            raise TypeError("RunningMeanStd.update_from_moments is for the shared layout (num_streams=None)")
        if batch_count <= 0:
            return
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (batch_count / total)
        m2 = self.var * self.count + batch_var * batch_count + np.square(delta) * (self.count * batch_count / total)
        self.var = m2 / total
        self.count = total

    # ------------------------------------------------------------------ use
    def normalize(self, x: np.ndarray, epsilon: float = 1e-8) -> np.ndarray:
        """Return ``(x - mean) / sqrt(var + epsilon)`` in float64; ``x`` broadcasts against ``mean``."""
        return (x - self.mean) / np.sqrt(self.var + epsilon)

    @property
    def std(self) -> np.ndarray:
        """Standard deviation, ``sqrt(var)``."""
        return np.sqrt(self.var)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Statistics as float64 tensors (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "mean": torch.from_numpy(np.array(self.mean, dtype=np.float64)),
            "var": torch.from_numpy(np.array(self.var, dtype=np.float64)),
            "count": torch.as_tensor(np.array(self.count, dtype=np.float64)),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load statistics saved by :meth:`state_dict` (tensors or arrays).

        Raises:
            KeyError: if a key is missing.
            ValueError: if a shape differs from this object's, or a value is NaN, inf or a
                negative variance or count.
        """
        missing = {"mean", "var", "count"} - set(state)
        if missing:
            raise KeyError(f"RunningMeanStd.load_state_dict: missing keys {sorted(missing)}; expected mean, var, count")
        mean = _to_numpy(state["mean"])
        var = _to_numpy(state["var"])
        count = _to_numpy(state["count"])
        count_shape: tuple[int, ...] = () if self.num_streams is None else (self.num_streams,)
        for name, value, shape in (("mean", mean, self.mean.shape), ("var", var, self.var.shape), ("count", count, count_shape)):
            if value.shape != shape:
                raise ValueError(
                    f"RunningMeanStd.load_state_dict: '{name}' has shape {value.shape}, expected {shape}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"RunningMeanStd.load_state_dict: '{name}' contains NaN or inf")
        if np.any(var < 0) or np.any(count < 0):
            raise ValueError("RunningMeanStd.load_state_dict: 'var' and 'count' must be >= 0")
        self.mean = mean.copy()
        self.var = var.copy()
        self.count = float(count) if self.num_streams is None else count.copy()

    def __repr__(self) -> str:
        streams = "" if self.num_streams is None else f", num_streams={self.num_streams}"
        return f"RunningMeanStd(shape={self.shape}{streams}, count={self.count})"


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _fmt(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape) if shape else ""


def _check_finite(x: np.ndarray, where: str, rows: np.ndarray | None = None) -> None:
    # One reduction on the hot path; the index is looked up only when something is wrong.
    if math.isfinite(float(np.add.reduce(x, axis=None))):
        return
    bad = np.argwhere(~np.isfinite(x))
    if len(bad) == 0:  # finite values whose sum overflowed: nothing is wrong.
        return
    index = tuple(int(i) for i in bad[0])
    if rows is not None:
        index = (int(rows[index[0]]), *index[1:])
    raise ValueError(f"{where}: non-finite value {x[tuple(bad[0])]!r} at index {index}")
