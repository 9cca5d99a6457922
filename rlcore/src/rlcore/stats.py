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

from rlcore import _moments
from rlcore._numeric import raise_if_invalid, raise_if_nonfinite, real_number
from rlcore._overflow import StatisticsOverflowError, moments_overflow_detail, overflow_detail

__all__ = ["RunningMeanStd", "StatisticsOverflowError"]

_UPDATE = "RunningMeanStd.update"


class RunningMeanStd:
    """Running mean and variance of a stream of arrays, in float64.

    A batch is combined with the statistics so far by the parallel algorithm of Chan, Golub
    and LeVeque ("Updating Formulae and a Pairwise Algorithm for Computing Sample Variances",
    1979), which is exact in exact arithmetic and numerically stable for large counts; a single
    sample by its ``n = 1`` case, Welford's update (B. P. Welford, "Note on a Method for
    Calculating Corrected Sums of Squares and Products", Technometrics 4(3), 1962). The
    private module ``rlcore._moments`` has the formulas, the forms used and their error bounds.

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

    ``mean`` and ``var`` are float64 arrays updated in place and never rebound (updates and
    :meth:`load_state_dict` write into them), so a reference to them, or a tensor made with
    ``torch.from_numpy``, follows the statistics. Gymnasium's and Stable-Baselines3's
    ``RunningMeanStd`` bind new arrays on every update instead: code ported from them that
    keeps ``old_var = rms.var`` as a snapshot silently sees it change with the next update;
    take ``rms.var.copy()``. ``count`` is a Python float in the shared layout and a float64
    array of shape ``(N,)`` per stream (rebound by every update).

    Every update either leaves ``mean``, ``var`` and ``count`` finite, with ``var >= 0``, or
    raises and changes nothing: NaN and inf in the samples raise ``ValueError``, and finite
    samples too large for float64 statistics (deviations from the mean beyond about
    ``1.3e154``, whose squares overflow) raise :class:`StatisticsOverflowError`, a
    ``ValueError``. So :meth:`state_dict` always gives a state that :meth:`load_state_dict`
    accepts. The overflow is found from the few new values, not from another pass over the
    batch.

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
        >>> rms.update_one(np.array([2.0, 20.0]))
        >>> rms.count, rms.var
        (3.0, array([ 0.66666667, 66.66666667]))
    """

    def __init__(
        self, shape: Sequence[int] = (), epsilon: float = 1e-4, num_streams: int | None = None
    ) -> None:
        number = real_number(epsilon)
        if number is None or not 0 <= number < math.inf:
            raise ValueError(f"RunningMeanStd: epsilon must be a finite number >= 0, got {epsilon!r}")
        if num_streams is not None and (
            not isinstance(num_streams, int) or isinstance(num_streams, bool) or num_streams < 1
        ):
            raise ValueError(f"RunningMeanStd: num_streams must be None or an int >= 1, got {num_streams!r}")
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.num_streams = num_streams
        self.epsilon = number
        full_shape = self.shape if num_streams is None else (num_streams, *self.shape)
        self.mean: np.ndarray = np.zeros(full_shape, dtype=np.float64)
        self.var: np.ndarray = np.ones(full_shape, dtype=np.float64)
        # A float for the shared layout (cheap scalar arithmetic in the hot path), an array
        # of shape (num_streams,) per stream.
        self.count: Any = self.epsilon if num_streams is None else np.full(num_streams, self.epsilon)

    # ------------------------------------------------------------------ updates
    # Each checks its arguments and dispatches into rlcore._moments, which writes into `mean`
    # and `var` and returns the new count, or None, writing nothing, where the statistics would
    # not stay finite; _update_error then looks at the samples to say why.
    def update(self, x: np.ndarray, mask: np.ndarray | None = None, *, check_finite: bool = True) -> None:
        """Add a batch of samples (see the class docstring for the shapes).

        Args:
            x: shared layout: ``(B, *shape)``; per stream: ``(N, *shape)``. Any real dtype.
            mask: bool ``(B,)`` or ``(N,)``; only the rows where it is True enter.
            check_finite: check that the rows that enter are finite. In the shared layout
                with more than one row this costs next to nothing: the batch sums that the
                update needs are finite unless some entry is not (or a sum overflows, when
                the entries are checked one by one). Pass ``False`` only when the caller has
                already checked the rows.

        Raises:
            ValueError: if ``x`` or ``mask`` has the wrong shape, or a row that enters contains
                NaN or inf (the message names the first offending index).
            StatisticsOverflowError: if the rows are finite but too large for float64
                statistics (the message gives their largest magnitude).

            Either way the statistics are left untouched.
        """
        x = np.asarray(x)
        if self.num_streams is not None:
            self._update_streams(x, mask, check_finite)
            return
        if x.ndim == 0 or x.shape[1:] != self.shape:
            sample = ", ".join(map(str, self.shape))
            raise ValueError(f"RunningMeanStd.update: expected a batch of shape (B, {sample}), got {x.shape}")
        if mask is not None:
            mask = _check_mask(mask, x.shape[0])
            x = x[mask]
        n = x.shape[0]
        if n == 0:
            return
        # Mixed float32/float64 ufunc calls cost about three times more than float64 ones.
        x64 = np.asarray(x, dtype=np.float64)
        if n == 1:
            if check_finite:
                raise_if_nonfinite(x, _UPDATE, row_mask=mask)
            count = _moments.add_one(self.mean, self.var, self.count, x64[0])
        else:
            # The rows are checked for NaN and inf through a sum that the update needs anyway.
            # The entries themselves, not their float64 copy: a finite float128 beyond the
            # float64 range is no input error (it enters as inf; the update fails as an overflow).
            check = (x, _UPDATE, mask) if check_finite else None
            if not self.shape:
                count = _moments.add_scalars(self.mean, self.var, self.count, x64, check)
            elif self.count >= n:  # one pass over the batch, accurate once count >= n
                count = _moments.add_deviations(self.mean, self.var, self.count, x64, check)
            else:
                count = _moments.add_batch_moments(self.mean, self.var, self.count, x64, check)
        if count is None:
            raise self._update_error(_UPDATE, x, mask)
        self.count = count

    def update_one(self, x: np.ndarray, *, check_finite: bool = True) -> None:
        """Add one sample ``x`` of shape ``shape`` (no batch axis) to the shared statistics.

        Equivalent to ``update(x[None])`` but with no reductions: Welford's update in a few
        array operations (in Python floats for shape ``()``).

        Raises:
            TypeError: for the per-stream layout.
            ValueError: if ``x`` does not have shape ``shape`` or (with ``check_finite``)
                contains NaN or inf.
            StatisticsOverflowError: if ``x`` is finite but too large for float64 statistics.

            The statistics are left untouched whenever it raises.
        """
        if self.num_streams is not None:
            raise TypeError("RunningMeanStd.update_one is for the shared layout (num_streams=None)")
        x = np.asarray(x)
        if x.shape != self.shape:
            raise ValueError(
                f"RunningMeanStd.update_one: expected one sample of shape {self.shape}, got {x.shape}"
            )
        if check_finite:
            raise_if_nonfinite(x, "RunningMeanStd.update_one")
        count = _moments.add_one(self.mean, self.var, self.count, np.asarray(x, dtype=np.float64))
        if count is None:
            raise self._update_error("RunningMeanStd.update_one", x)
        self.count = count

    def update_scalar(self, x: float, *, check_finite: bool = True) -> None:
        """Add one scalar sample to shared statistics of shape ``()``, in Python float arithmetic.

        The fast path of the single-env reward normaliser: the same update as
        :meth:`update_one`, without NumPy calls.

        Raises:
            TypeError: for the per-stream layout or a shape other than ``()``.
            ValueError: if ``x`` is NaN or inf (with ``check_finite``).
            StatisticsOverflowError: if ``x`` is finite but too large for float64 statistics.

            The statistics are left untouched whenever it raises.
        """
        if self.num_streams is not None or self.shape:
            raise TypeError(
                "RunningMeanStd.update_scalar needs the shared layout with shape (), "
                f"got shape={self.shape}, num_streams={self.num_streams}"
            )
        x = float(x)
        if check_finite and not math.isfinite(x):
            raise ValueError(
                f"RunningMeanStd.update_scalar: non-finite value {x!r}; expected a finite number"
            )
        count = _moments.combine_scalar(self.mean, self.var, self.count, x, 0.0, 1.0)
        if count is None:
            raise self._update_error("RunningMeanStd.update_scalar", np.array(x))
        self.count = count

    def _update_streams(self, x: np.ndarray, mask: np.ndarray | None, check_finite: bool) -> None:
        assert self.num_streams is not None
        expected = (self.num_streams, *self.shape)
        if x.shape != expected:
            raise ValueError(
                f"RunningMeanStd.update: expected shape {expected} (one sample per stream), got {x.shape}"
            )
        if mask is not None:
            mask = _check_mask(mask, self.num_streams)
            active = int(np.count_nonzero(mask))
            if active == 0:
                return
            if active == self.num_streams:
                mask = None
        if check_finite:
            raise_if_nonfinite(x if mask is None else x[mask], _UPDATE, row_mask=mask)
        count = _moments.add_streams(self.mean, self.var, self.count, x, mask)
        if count is None:
            raise self._update_error(_UPDATE, x if mask is None else x[mask], mask)
        self.count = count

    def update_from_moments(self, batch_mean: np.ndarray, batch_var: np.ndarray, batch_count: float) -> None:
        """Combine the moments of a batch (Chan et al. 1979) into the shared statistics.

        Args:
            batch_mean: mean of the batch, shape ``shape``.
            batch_var: population variance of the batch, shape ``shape``, ``>= 0``.
            batch_count: number of samples in the batch; nothing happens if it is ``<= 0``.

        Raises:
            TypeError: for the per-stream layout.
            ValueError: if a moment's shape is not ``shape``, a moment holds NaN or inf,
                ``batch_var`` is negative or ``batch_count`` is not a finite number.
            StatisticsOverflowError: if the moments are finite but too large for float64
                statistics.

            The statistics are left untouched whenever it raises.
        """
        if self.num_streams is not None:
            raise TypeError("RunningMeanStd.update_from_moments is for the shared layout (num_streams=None)")
        where = "RunningMeanStd.update_from_moments"
        if not math.isfinite(batch_count):
            raise ValueError(f"{where}: batch_count must be a finite number, got {batch_count!r}")
        if batch_count <= 0:
            return
        for name, value in (("batch_mean", batch_mean), ("batch_var", batch_var)):
            if np.shape(value) != self.shape:
                raise ValueError(f"{where}: {name} has shape {np.shape(value)}, expected {self.shape}")
        mean = np.array(batch_mean, dtype=np.float64)
        var = np.array(batch_var, dtype=np.float64)
        raise_if_invalid(mean, f"{where}: batch_mean", self.shape)
        raise_if_invalid(var, f"{where}: batch_var", self.shape, nonnegative=True)
        count = _moments.add_moments(self.mean, self.var, self.count, mean, var, batch_count)
        if count is None:  # the message from the arguments: add_moments overwrites `mean`
            detail = moments_overflow_detail(self.mean, self.var, self.count, batch_mean, var)
            raise StatisticsOverflowError(where, detail)
        self.count = count

    def _update_error(self, where: str, x: np.ndarray, row_mask: np.ndarray | None = None) -> ValueError:
        """The error of an update that would have made the statistics non-finite.

        ``x``: the samples that entered (the rows ``row_mask`` selects from the caller's
        batch). NaN or inf among them (unchecked, ``check_finite=False``) is the cause and
        raises the usual error; otherwise they were too large.
        """
        raise_if_nonfinite(x, where, row_mask=row_mask)
        return StatisticsOverflowError(where, overflow_detail(self.mean, self.var, self.count, x))

    # ------------------------------------------------------------------ use
    def normalize(self, x: np.ndarray, epsilon: float = 1e-8) -> np.ndarray:
        """Return ``(x - mean) / sqrt(var + epsilon)`` in float64; ``x`` broadcasts against ``mean``."""
        normalized: np.ndarray = (x - self.mean) / np.sqrt(self.var + epsilon)
        return normalized

    @property
    def std(self) -> np.ndarray:
        """Standard deviation, ``sqrt(var)``."""
        std: np.ndarray = np.sqrt(self.var)
        return std

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Statistics as float64 tensors (loadable with ``torch.load(weights_only=True)``).

        Keys ``mean`` and ``var`` (shape of :attr:`mean`) and ``count`` (shape ``()`` shared,
        ``(N,)`` per stream). The tensors are copies.
        """
        return {
            "mean": torch.from_numpy(np.array(self.mean, dtype=np.float64)),
            "var": torch.from_numpy(np.array(self.var, dtype=np.float64)),
            "count": torch.as_tensor(np.array(self.count, dtype=np.float64)),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load statistics saved by :meth:`state_dict` (tensors or arrays).

        Everything is checked (by :meth:`check_state_dict`) before anything is assigned, so a
        failed load changes nothing. ``mean`` and ``var`` are copied into the existing arrays
        (see the class docstring).

        Raises:
            KeyError: if a key is missing.
            ValueError: if a shape differs from this object's, or a value is NaN, inf or a
                negative variance or count.
        """
        mean, var, count = self._checked_state(state)
        np.copyto(self.mean, mean)
        np.copyto(self.var, var)
        self.count = float(count) if self.num_streams is None else count.copy()

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Raise what :meth:`load_state_dict` would raise for ``state``; change nothing.

        :func:`rlcore.checkpoint.save` calls it, so that it never writes a checkpoint that
        :func:`rlcore.checkpoint.load` would refuse.
        """
        self._checked_state(state)

    def _checked_state(self, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        missing = {"mean", "var", "count"} - set(state)
        if missing:
            raise KeyError(
                f"RunningMeanStd.load_state_dict: missing keys {sorted(missing)}; expected mean, var, count"
            )
        mean, var, count = (_to_numpy(state[key]) for key in ("mean", "var", "count"))
        where = "RunningMeanStd.load_state_dict"
        raise_if_invalid(mean, f"{where}: 'mean'", self.mean.shape)
        raise_if_invalid(var, f"{where}: 'var'", self.var.shape, nonnegative=True)
        count_shape = () if self.num_streams is None else (self.num_streams,)
        raise_if_invalid(count, f"{where}: 'count'", count_shape, nonnegative=True)
        return mean, var, count

    def __repr__(self) -> str:
        streams = "" if self.num_streams is None else f", num_streams={self.num_streams}"
        return f"RunningMeanStd(shape={self.shape}{streams}, count={self.count})"


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


_BOOL = np.dtype(np.bool_)


def _check_mask(mask: np.ndarray, length: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != _BOOL or mask.shape != (length,):
        raise ValueError(
            f"RunningMeanStd.update: mask must be a bool array of shape ({length},), "
            f"got dtype {mask.dtype} and shape {mask.shape}"
        )
    return mask
