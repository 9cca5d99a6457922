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

from rlcore._numeric import all_finite, probably_finite, raise_if_nonfinite, real_number

__all__ = ["RunningMeanStd", "StatisticsOverflowError"]


class StatisticsOverflowError(ValueError):
    """Finite values too large for float64 running statistics: an update would make them inf or NaN.

    A variance squares deviations from the mean, so samples that differ by more than about
    ``1.3e154`` (the square root of the largest float64) cannot be tracked. The update that
    raises leaves the statistics as they were. ``detail`` is the message without the name
    of the method that raised, so that a caller (a normalisation wrapper) can restate it
    in its own name.
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.detail = detail


class RunningMeanStd:
    r"""Running mean and variance of a stream of arrays, in float64.

    A batch is combined with the statistics so far by the parallel algorithm of Chan, Golub
    and LeVeque ("Updating Formulae and a Pairwise Algorithm for Computing Sample Variances",
    1979), which is exact in exact arithmetic and numerically stable for large counts:

    .. math::
        \delta = \bar x_B - \bar x_A,\quad n = n_A + n_B,\quad
        \bar x = \bar x_A + \delta \frac{n_B}{n},\quad
        \sigma^2 = \frac{n_A \sigma_A^2 + n_B \sigma_B^2 + \delta^2 n_A n_B / n}{n}.

    Once the statistics count at least as many samples as the batch (``n_A >= n_B``), the
    same update is computed from the deviations from the current mean, ``d_i = x_i - \bar x_A``
    (one pass over the batch instead of two):

    .. math::
        \bar x = \bar x_A + \frac{\sum_i d_i}{n},\quad
        \sigma^2 = \frac{n_A \sigma_A^2 + \sum_i d_i^2}{n} - \Big(\frac{\sum_i d_i}{n}\Big)^2 .

    Its subtraction cancels at most a factor ``1 + 2 n_B / n_A <= 3`` of the result, so the
    error stays within a few ulps; earlier (a small prior, or ``epsilon=0``) it could cancel
    everything, and the batch's own mean and variance (two passes over it) enter the formula
    above instead.

    A single sample ``x`` takes the ``n_B = 1`` case, Welford's update (B. P. Welford, "Note
    on a Method for Calculating Corrected Sums of Squares and Products", Technometrics 4(3),
    1962), written with ``w = 1 / n`` as

    .. math::
        \delta = x - \bar x_A,\quad \bar x = \bar x_A + w\delta,\quad
        \sigma^2 = (1 - w)\,\sigma_A^2 + w (1 - w)\,\delta^2 .

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
        self,
        shape: Sequence[int] = (),
        epsilon: float = 1e-4,
        num_streams: int | None = None,
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
    # Each way of adding samples checks, before it writes into `mean` and `var`, that the new
    # values will be finite: in place where a bound on the increment of the variance (one sum
    # or maximum over `shape` entries, see _small_increment) proves it, else through new
    # arrays checked for inf and NaN, which catches an overflow and also NaN or inf in samples
    # that were not checked. It returns False on failure, and the public method raises through
    # _update_error, which looks at the samples to say why.
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
            raise ValueError(
                f"RunningMeanStd.update: expected a batch of shape (B, {_fmt(self.shape)}), got {x.shape}"
            )
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
                raise_if_nonfinite(x, "RunningMeanStd.update", row_mask=mask)
            updated = self._welford(x64[0])
        elif not self.shape:
            updated = self._add_scalars(x, x64, mask, check_finite)
        elif self.count >= n:
            updated = self._add_deviations(x, x64, mask, check_finite)
        else:
            updated = self._add_batch_moments(x, x64, mask, check_finite)
        if not updated:
            raise self._update_error("RunningMeanStd.update", x, mask)

    # The three ways of adding n >= 2 rows. Each takes ``x64``, the rows that enter as float64,
    # and ``x`` and ``mask`` as the caller passed them, for the error message. Each checks the
    # rows for NaN and inf through a sum it needs anyway: finite unless an entry is not (or the
    # sum overflows); only then are the entries checked one by one. The entries themselves,
    # not their float64 copy: a finite float128 beyond the float64 range is no input error
    # (it enters as inf, and the update then fails as an overflow). Each returns False,
    # changing nothing, where the new statistics would not be finite.
    def _add_scalars(
        self, x: np.ndarray, x64: np.ndarray, mask: np.ndarray | None, check_finite: bool
    ) -> bool:
        """Shape ``()``: the batch's moments, combined in Python floats.

        NumPy calls on 0-d arrays cost twice as much as on small 1-d ones. A batch of up to
        ``_PYTHON_MAX_BATCH`` values (a vector env's rewards) is reduced in Python too, which
        costs less than the three NumPy calls of a larger one.
        """
        n = x64.shape[0]
        if n > _PYTHON_MAX_BATCH:
            total = float(_batch_weights(n)[0].dot(x64))
            if check_finite and not math.isfinite(total):
                raise_if_nonfinite(x, "RunningMeanStd.update", row_mask=mask)
            centred = x64 - total / n
            return self._combine_scalar(total / n, float(centred.dot(centred)) / (self.count + n), n)
        values = x64.tolist()
        total = sum(values)
        if check_finite and not math.isfinite(total):
            raise_if_nonfinite(x, "RunningMeanStd.update", row_mask=mask)
        batch_mean = total / n
        batch_m2 = 0.0
        for value in values:
            deviation = value - batch_mean
            batch_m2 += deviation * deviation
        return self._combine_scalar(batch_mean, batch_m2 / (self.count + n), n)

    def _add_deviations(
        self, x: np.ndarray, x64: np.ndarray, mask: np.ndarray | None, check_finite: bool
    ) -> bool:
        """Shape other than ``()``, ``count >= n``: the shifted-data form (class docstring).

        Fewer array operations than :meth:`_add_batch_moments`, which matters for the small
        batches of a vector env's wrappers, whose cost is per call rather than per element.
        """
        n = x64.shape[0]
        count = self.count
        total = count + n
        deviations = x64 - self.mean
        # Sums over the batch axis as dot products need it first and one axis after it; the
        # weights 1 / total give the sums already divided by the new count.
        flat = deviations if deviations.ndim == 2 else deviations.reshape(n, -1)
        weights = _batch_weights(n)[0] * (1.0 / total)
        shift = weights.dot(flat)
        if check_finite and not probably_finite(shift):
            raise_if_nonfinite(x, "RunningMeanStd.update", row_mask=mask)
        flat *= flat
        squares = weights.dot(flat)
        if flat is not deviations:
            shift, squares = shift.reshape(self.shape), squares.reshape(self.shape)
        # The new variance is var * (count / total) + squares - shift^2, and shift^2 <= squares
        # (Cauchy-Schwarz, n <= total). With squares at most (n / total) * max / 4, a finite
        # var makes it finite (see _small_increment), and |shift| < 1e154 cannot overflow the
        # mean: the update is then made in place.
        if _small_increment(squares, n / total):
            self.mean += shift
            shift *= shift
            self.var *= count / total
            self.var += squares
            self.var -= shift
            self.count = total
            return True
        var = self.var * (count / total)
        var += squares
        np.multiply(shift, shift, out=squares)
        var -= squares
        # A finite variance makes every squared deviation, so each deviation and the shift,
        # finite and below 1.4e154, far less than half the spacing of floats near the float64
        # maximum: mean + shift cannot overflow either.
        if not all_finite(var):
            return False
        self.mean += shift
        np.copyto(self.var, var)
        self.count = total
        return True

    def _add_batch_moments(
        self, x: np.ndarray, x64: np.ndarray, mask: np.ndarray | None, check_finite: bool
    ) -> bool:
        """Shape other than ``()``, ``count < n``: the batch's own mean and variance, combined.

        Two passes over the batch, as np.mean / np.var make them (without their Python
        overhead): sums over the batch axis as dot products with vectors of ``1 / n`` and of
        ones.
        """
        n = x64.shape[0]
        ones, mean_weights = _batch_weights(n)
        flat = x64 if x64.ndim == 2 else x64.reshape(n, -1)
        batch_mean = mean_weights.dot(flat)
        if check_finite and not probably_finite(batch_mean):
            raise_if_nonfinite(x, "RunningMeanStd.update", row_mask=mask)
        centred = flat - batch_mean
        centred *= centred
        batch_share = ones.dot(centred)
        batch_share *= 1.0 / (self.count + n)
        if flat is not x64:
            batch_mean, batch_share = batch_mean.reshape(self.shape), batch_share.reshape(self.shape)
        return self._combine(batch_mean, batch_share, n)

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
        if not self._welford(np.asarray(x, dtype=np.float64)):
            raise self._update_error("RunningMeanStd.update_one", x)

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
        if not self._combine_scalar(x, 0.0, 1.0):
            raise self._update_error("RunningMeanStd.update_scalar", np.array(x))

    def _welford(self, x: np.ndarray) -> bool:
        # x: float64 of shape `shape`.
        if not self.shape:
            return self._combine_scalar(float(x), 0.0, 1.0)
        count = self.count + 1.0
        w = 1.0 / count
        if not self._welford_step(x - self.mean, w, w, w):
            return False
        self.count = count
        return True

    def _welford_step(self, delta: np.ndarray, w: Any, w_min: float, w_max: float) -> bool:
        # delta = x - mean (float64, overwritten), w = 1 / new count (a float, or per stream
        # an array broadcasting against delta, w_min <= w <= w_max where delta is not 0).
        # delta - step is x minus the new mean; the product w (1 - w) delta^2 never overflows
        # where the result is finite (w = 1 for the first sample with epsilon=0 gives 0).
        step = delta * w
        delta -= step
        delta *= step
        # The new variance is var * (1 - w) + delta (now w (1 - w) delta^2). With delta at
        # most w * max / 4, a finite var makes it finite (see _small_increment); with w <= 1/2
        # too, (1 - w) delta^2 <= max / 4 bounds |step| = |w delta| by 1e154, which cannot
        # overflow the mean: the update is then made in place. Otherwise (also for the first
        # samples, w > 1/2) it is made into new arrays, checked, and copied.
        if w_max <= 0.5 and _small_increment(delta, w_min):
            self.mean += step
            self.var *= 1.0 - w
            self.var += delta
            return True
        var = self.var * (1.0 - w)
        var += delta
        step += self.mean
        if not (all_finite(var) and all_finite(step)):
            return False
        np.copyto(self.mean, step)
        np.copyto(self.var, var)
        return True

    def _update_streams(self, x: np.ndarray, mask: np.ndarray | None, check_finite: bool) -> None:
        assert self.num_streams is not None
        expected = (self.num_streams, *self.shape)
        if x.shape != expected:
            raise ValueError(
                f"RunningMeanStd.update: expected shape {expected} (one sample per stream), got {x.shape}"
            )
        partial = False
        if mask is not None:
            mask = _check_mask(mask, self.num_streams)
            active = int(np.count_nonzero(mask))
            if active == 0:
                return
            partial = active < self.num_streams
        if partial:
            assert mask is not None
            if check_finite:
                raise_if_nonfinite(x[mask], "RunningMeanStd.update", row_mask=mask)
            weight = mask.astype(np.float64)
            count = self.count + weight
            # Streams outside the mask get w = 0 and a zeroed delta (their row may hold
            # anything, NaN included), which leaves their mean and variance bit for bit.
            w = weight / np.maximum(count, 1e-300)
            delta = np.subtract(x, self.mean, dtype=np.float64)
            delta[~mask] = 0.0
        else:
            if check_finite:
                raise_if_nonfinite(x, "RunningMeanStd.update")
            count = self.count + 1.0
            w = 1.0 / count
            delta = np.asarray(x, dtype=np.float64) - self.mean
        # Bounds of w over the streams whose delta is not 0 (outside the mask: w = 0, delta = 0).
        counts = count.tolist()
        w_min, w_max = 1.0 / max(counts), 1.0 / max(min(counts), 1e-300)
        if not self._welford_step(delta, w.reshape((-1,) + (1,) * len(self.shape)), w_min, w_max):
            raise self._update_error(
                "RunningMeanStd.update", x[mask] if partial else x, mask if partial else None
            )
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
        raise_if_nonfinite(mean, f"{where}: batch_mean")
        raise_if_nonfinite(var, f"{where}: batch_var")
        if np.any(var < 0):
            raise ValueError(f"{where}: batch_var has a negative value {float(var.min())!r}; expected >= 0")
        # Not var * batch_count, which may overflow where the result does not.
        share = var * (batch_count / (self.count + batch_count))
        updated = (
            self._combine_scalar(float(mean), float(share), batch_count)
            if not self.shape
            else self._combine(mean, share, batch_count)
        )
        if not updated:
            # From the arguments: _combine overwrites `mean`.
            largest = max(float(np.max(np.abs(batch_mean))), math.sqrt(float(np.max(var))))
            magnitude = _format_magnitude(largest)
            raise StatisticsOverflowError(
                where, _overflow_detail(self, f"{magnitude} (in batch_mean, or the root of batch_var)")
            )

    def _combine_scalar(self, batch_mean: float, batch_share: float, n: float) -> bool:
        # _combine for shape (), in Python floats; with n = 1 and batch_share = 0 it is
        # Welford's. Python float arithmetic overflows to inf without an exception or warning.
        count = self.count
        total = count + n
        mean = float(self.mean)
        delta = batch_mean - mean
        kept = count / total
        scaled = delta * (n / total)
        new_mean = mean + scaled
        new_var = float(self.var) * kept + batch_share + delta * kept * scaled
        if not (math.isfinite(new_var) and math.isfinite(new_mean) and math.isfinite(total)):
            return False
        self.mean[()] = new_mean
        self.var[()] = new_var
        self.count = total
        return True

    def _combine(self, batch_mean: np.ndarray, batch_share: np.ndarray, n: float) -> bool:
        # Chan et al. (class docstring) with batch_share = the batch's sum of squared
        # deviations divided by the new count; may overwrite batch_mean (float64). Every term
        # is formed already divided by the new count: var * count may overflow where the
        # result does not.
        count = self.count
        total = count + n
        kept = count / total
        delta = batch_mean
        delta -= self.mean
        scaled = delta * (n / total)
        # kept before scaled: delta^2 alone may overflow where kept * delta^2 * n / total
        # does not (kept is 0 for the first batch with epsilon=0).
        delta *= kept
        delta *= scaled
        delta += batch_share
        var = self.var * kept
        var += delta
        scaled += self.mean
        if not (math.isfinite(total) and all_finite(var) and all_finite(scaled)):
            return False
        np.copyto(self.mean, scaled)
        np.copyto(self.var, var)
        self.count = total
        return True

    def _update_error(self, where: str, x: np.ndarray, row_mask: np.ndarray | None = None) -> ValueError:
        """The error of an update that would have made the statistics non-finite.

        ``x``: the samples that entered (the rows ``row_mask`` selects from the caller's
        batch). NaN or inf among them (unchecked, ``check_finite=False``) is the cause and
        raises the usual error; otherwise they were too large.
        """
        raise_if_nonfinite(x, where, row_mask=row_mask)
        magnitude = _format_magnitude(np.max(np.abs(x)) if x.size else 0.0)
        return StatisticsOverflowError(where, _overflow_detail(self, magnitude))

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
        mean = _to_numpy(state["mean"])
        var = _to_numpy(state["var"])
        count = _to_numpy(state["count"])
        count_shape: tuple[int, ...] = () if self.num_streams is None else (self.num_streams,)
        for name, value, shape in (
            ("mean", mean, self.mean.shape),
            ("var", var, self.var.shape),
            ("count", count, count_shape),
        ):
            if value.shape != shape:
                raise ValueError(
                    f"RunningMeanStd.load_state_dict: '{name}' has shape {value.shape}, expected {shape}"
                )
            raise_if_nonfinite(value, f"RunningMeanStd.load_state_dict: '{name}'")
            if name != "mean" and np.any(value < 0):
                raise ValueError(
                    f"RunningMeanStd.load_state_dict: '{name}' has a negative value {float(value.min())!r}; expected >= 0"
                )
        return mean, var, count

    def __repr__(self) -> str:
        streams = "" if self.num_streams is None else f", num_streams={self.num_streams}"
        return f"RunningMeanStd(shape={self.shape}{streams}, count={self.count})"


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _fmt(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape) if shape else ""


# Batches of scalars up to this size are reduced in Python floats (see update).
_PYTHON_MAX_BATCH = 16

_BATCH_WEIGHTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_BOOL = np.dtype(np.bool_)


def _batch_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only vectors of ``n`` ones and of ``n`` copies of ``1 / n``, cached.

    Batch sums and means are dot products with them; np.ones costs more than the dot product
    it feeds, and batch sizes repeat.
    """
    weights = _BATCH_WEIGHTS.get(n)
    if weights is None:
        if len(_BATCH_WEIGHTS) > 256:
            _BATCH_WEIGHTS.clear()
        ones, mean_weights = np.ones(n), np.full(n, 1.0 / n)
        ones.flags.writeable = mean_weights.flags.writeable = False
        weights = _BATCH_WEIGHTS[n] = (ones, mean_weights)
    return weights


def _check_mask(mask: np.ndarray, length: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != _BOOL or mask.shape != (length,):
        raise ValueError(
            f"RunningMeanStd.update: mask must be a bool array of shape ({length},), "
            f"got dtype {mask.dtype} and shape {mask.shape}"
        )
    return mask


_QUARTER_MAX = float(np.finfo(np.float64).max) / 4


def _small_increment(increment: np.ndarray, weight: float) -> bool:
    """True if every entry of ``increment`` (``>= 0`` where finite) is at most ``weight`` times a quarter of the float64 maximum.

    Then ``var * (1 - weight) + increment`` is finite for every finite ``var >= 0``: at most
    ``max * (1 - 3 weight / 4)``, with room for the rounding of each term (exactly: the
    rounded product is at most ``max``, and an increment below half the spacing of floats
    near the maximum cannot round it up). One look at the increment, none at ``var``: its sum
    for a short one (Python's sum of a list costs less than a NumPy reduction), its maximum
    for a long one. NaN and inf make it False.
    """
    if increment.size <= 64:
        if increment.ndim != 1:
            increment = increment.ravel()
        largest = sum(increment.tolist())
    else:
        largest = float(increment.max())
    return bool(largest <= weight * _QUARTER_MAX)


def _format_magnitude(magnitude: Any) -> str:
    """``1e+200``: three significant digits, also for a float128 beyond the float64 range."""
    if math.isfinite(float(magnitude)):
        return f"{float(magnitude):.3g}"
    return np.format_float_scientific(magnitude, precision=2, trim="-").replace(".e", "e")


def _overflow_detail(rms: RunningMeanStd, magnitude: str) -> str:
    """The message of a :class:`StatisticsOverflowError` (without the name of the method)."""
    if not (all_finite(rms.mean) and all_finite(rms.var) and np.isfinite(rms.count).all()):
        # Only an assignment from outside can get them there (updates and loads refuse to).
        return (
            f"the statistics already hold NaN or inf (mean, var or count was set from outside), so no "
            f"sample can enter; the largest magnitude entering is {magnitude}"
        )
    return (
        f"values too large for float64 statistics: the largest magnitude entering is {magnitude}, "
        "and the running variance, a mean of squared deviations from the mean, would overflow "
        "(float64 squares do beyond about 1.3e154); the statistics are left unchanged. Scale the "
        "values down (e.g. divide them by a constant) before they enter"
    )
