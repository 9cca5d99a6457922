r"""The arithmetic of :class:`rlcore.stats.RunningMeanStd`: running mean and variance updates in float64.

Pure functions on NumPy arrays; private. The statistics come in as ``mean`` and ``var`` (float64
arrays) and ``count``. Every ``add_*`` function returns the new count, having written the new
mean and variance into ``mean`` and ``var``, or ``None``, having written nothing, where they
would not be finite (:mod:`rlcore._overflow`; the caller then raises).

A batch B is merged into the statistics A by the parallel algorithm of T. F. Chan, G. H. Golub
and R. J. LeVeque, "Updating Formulae and a Pairwise Algorithm for Computing Sample Variances"
(Stanford report STAN-CS-79-773, 1979), :func:`combine` (:func:`combine_scalar` for shape
``()``, in Python floats, with its own order of the sums, so the two stay separate):

.. math::
    \delta = \bar x_B - \bar x_A,\quad n = n_A + n_B,\quad
    \bar x = \bar x_A + \delta \frac{n_B}{n},\quad
    \sigma^2 = \frac{n_A \sigma_A^2 + n_B \sigma_B^2 + \delta^2 n_A n_B / n}{n}.

The batch's moments come from :func:`add_scalars` (shape ``()``, in Python floats up to
``PYTHON_MAX_BATCH`` values), :func:`add_batch_moments` (two passes over the batch) or the
argument of :func:`add_moments`. Once the statistics count at least as many samples as the batch
(``n_A >= n_B``), :func:`add_deviations` computes the same update from the deviations from the
current mean, ``d_i = x_i - \bar x_A``, in one pass:

.. math::
    \bar x = \bar x_A + \frac{\sum_i d_i}{n},\quad
    \sigma^2 = \frac{n_A \sigma_A^2 + \sum_i d_i^2}{n} - \Big(\frac{\sum_i d_i}{n}\Big)^2 .

Its subtraction cancels at most a factor ``1 + 2 n_B / n_A <= 3`` of the result, so the error
stays within a few ulps; earlier (a small prior, or ``epsilon=0``) it could cancel everything.
The three forms round the same update differently.

A single sample (:func:`add_one`; one per stream, :func:`add_streams`) takes the ``n_B = 1``
case, Welford's update (B. P. Welford, "Note on a Method for Calculating Corrected Sums of
Squares and Products", Technometrics 4(3), 1962), :func:`welford_step`, with ``w = 1 / n``:

.. math::
    \delta = x - \bar x_A,\quad \bar x = \bar x_A + w\delta,\quad
    \sigma^2 = (1 - w)\,\sigma_A^2 + w (1 - w)\,\delta^2 .

The batch functions check the entries for NaN and inf (``check``: the arguments of
:func:`~rlcore._numeric.raise_if_nonfinite`, or ``None``) only where the batch's first sum is not
finite, before anything else is computed from it; finite entries whose sum overflowed go on.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np

from rlcore._numeric import all_finite, probably_finite, raise_if_nonfinite
from rlcore._overflow import commit, small_increment

__all__ = [
    "PYTHON_MAX_BATCH",
    "add_batch_moments",
    "add_deviations",
    "add_moments",
    "add_one",
    "add_scalars",
    "add_streams",
    "batch_weights",
    "combine",
    "combine_scalar",
    "moments_since",
    "welford_step",
]

# The arguments of raise_if_nonfinite for a batch's entries, or None for no check.
Check: TypeAlias = tuple[np.ndarray, str, np.ndarray | None] | None

# Batches of scalars up to this size are reduced in Python floats (see add_scalars).
PYTHON_MAX_BATCH = 16


# ---------------------------------------------------------------------- batches
def add_scalars(
    mean: np.ndarray, var: np.ndarray, count: float, x64: np.ndarray, check: Check
) -> float | None:
    """Shape ``()``: the batch's moments, combined in Python floats.

    NumPy calls on 0-d arrays cost twice as much as on small 1-d ones. A batch of up to
    ``PYTHON_MAX_BATCH`` values (a vector env's rewards) is reduced in Python too, which costs
    less than the three NumPy calls of a larger one.
    """
    n = x64.shape[0]
    if n > PYTHON_MAX_BATCH:
        total = float(batch_weights(n)[0].dot(x64))
        if check is not None and not math.isfinite(total):
            raise_if_nonfinite(*check)
        centred = x64 - total / n
        return combine_scalar(mean, var, count, total / n, float(centred.dot(centred)) / (count + n), n)
    values = x64.tolist()
    total = sum(values)
    if check is not None and not math.isfinite(total):
        raise_if_nonfinite(*check)
    batch_mean = total / n
    batch_m2 = 0.0
    for value in values:
        deviation = value - batch_mean
        batch_m2 += deviation * deviation
    return combine_scalar(mean, var, count, batch_mean, batch_m2 / (count + n), n)


def add_deviations(
    mean: np.ndarray, var: np.ndarray, count: float, x64: np.ndarray, check: Check
) -> float | None:
    """Shape other than ``()``, ``count >= n``: the shifted-data form, one pass over the batch.

    Fewer array operations than :func:`add_batch_moments`, which matters for the small batches
    of a vector env's wrappers, whose cost is per call rather than per element.
    """
    n: int = x64.shape[0]
    total = count + n
    deviations = x64 - mean
    # Sums over the batch axis as dot products need it first and one axis after it; the
    # weights 1 / total give the sums already divided by the new count.
    flat = deviations if deviations.ndim == 2 else deviations.reshape(n, -1)
    weights = batch_weights(n)[0] * (1.0 / total)
    shift = weights.dot(flat)
    if check is not None and not probably_finite(shift):
        raise_if_nonfinite(*check)
    flat *= flat
    squares = weights.dot(flat)
    if flat is not deviations:
        shift, squares = shift.reshape(mean.shape), squares.reshape(mean.shape)
    # The new variance is var * (count / total) + squares - shift^2, and shift^2 <= squares
    # (Cauchy-Schwarz, n <= total). With squares at most (n / total) * max / 4, a finite var
    # makes it finite (see small_increment), and |shift| < 1e154 cannot overflow the mean:
    # the update is then made in place.
    if small_increment(squares, n / total):
        mean += shift
        shift *= shift
        var *= count / total
        var += squares
        var -= shift
        return total
    new_var = var * (count / total)
    new_var += squares
    np.multiply(shift, shift, out=squares)
    new_var -= squares
    # A finite variance makes every squared deviation, so each deviation and the shift, finite
    # and below 1.4e154, far less than half the spacing of floats near the float64 maximum:
    # mean + shift cannot overflow either.
    if not all_finite(new_var):
        return None
    mean += shift
    np.copyto(var, new_var)
    return total


def add_batch_moments(
    mean: np.ndarray, var: np.ndarray, count: float, x64: np.ndarray, check: Check
) -> float | None:
    """Shape other than ``()``, ``count < n``: the batch's own mean and variance, combined.

    Two passes over the batch, as np.mean / np.var make them (without their Python overhead):
    sums over the batch axis as dot products with vectors of ``1 / n`` and of ones.
    """
    n = x64.shape[0]
    ones, mean_weights = batch_weights(n)
    flat = x64 if x64.ndim == 2 else x64.reshape(n, -1)
    batch_mean = mean_weights.dot(flat)
    if check is not None and not probably_finite(batch_mean):
        raise_if_nonfinite(*check)
    centred = flat - batch_mean
    centred *= centred
    batch_share = ones.dot(centred)
    batch_share *= 1.0 / (count + n)
    if flat is not x64:
        batch_mean, batch_share = batch_mean.reshape(mean.shape), batch_share.reshape(mean.shape)
    return combine(mean, var, count, batch_mean, batch_share, n)


def add_moments(
    mean: np.ndarray, var: np.ndarray, count: float, batch_mean: np.ndarray, batch_var: np.ndarray, n: float
) -> float | None:
    """Add a batch given by its mean and population variance (float64, finite; ``batch_mean`` is overwritten)."""
    # Not batch_var * n, which may overflow where the result does not.
    share = batch_var * (n / (count + n))
    if not mean.shape:
        return combine_scalar(mean, var, count, float(batch_mean), float(share), n)
    return combine(mean, var, count, batch_mean, share, n)


def moments_since(
    mean: np.ndarray,
    var: np.ndarray,
    count: float,
    base_mean: np.ndarray,
    base_var: np.ndarray,
    base_count: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""The moments of the samples added to statistics ``base`` to make ``(mean, var, count)``.

    Chan et al.'s update solved for the batch: with :math:`n_B = n - n_A` and
    :math:`\delta = (\bar x - \bar x_A)\, n / n_B`,

    .. math::
        \bar x_B = \bar x_A + \delta,\quad
        \sigma_B^2 = \Big(\sigma^2 - \sigma_A^2 \frac{n_A}{n}
        - \delta^2 \frac{n_A}{n}\frac{n_B}{n}\Big) \frac{n}{n_B},

    clipped at 0. In exact arithmetic adding them back to ``base`` gives ``(mean, var, count)``;
    in float64 the subtraction loses about ``n / n_B`` ulps, so a few digits after many updates.
    Returns ``(batch_mean, batch_var, n_B)``; zeros and count 0 when nothing was added.
    """
    added = float(count) - float(base_count)
    if added <= 0.0:
        return np.zeros_like(mean), np.zeros_like(var), 0.0
    total = float(count)
    delta = (mean - base_mean) * (total / added)
    kept = float(base_count) / total
    batch_var = (var - base_var * kept - delta * delta * (kept * (added / total))) * (total / added)
    return np.asarray(base_mean + delta), np.maximum(np.asarray(batch_var), 0.0), added


# ---------------------------------------------------------------------- Chan et al.
def combine_scalar(
    mean: np.ndarray, var: np.ndarray, count: float, batch_mean: float, batch_share: float, n: float
) -> float | None:
    """:func:`combine` for shape ``()``, in Python floats; with ``n = 1`` and ``batch_share = 0`` it is Welford's.

    Python float arithmetic overflows to inf without an exception or warning. The order of the
    sums is not :func:`combine`'s, so the two round differently: they stay separate.
    """
    total = count + n
    old_mean = float(mean)
    delta = batch_mean - old_mean
    kept = count / total
    scaled = delta * (n / total)
    new_mean = old_mean + scaled
    new_var = float(var) * kept + batch_share + delta * kept * scaled
    if not (math.isfinite(new_var) and math.isfinite(new_mean) and math.isfinite(total)):
        return None
    mean[()] = new_mean
    var[()] = new_var
    return total


def combine(
    mean: np.ndarray, var: np.ndarray, count: float, batch_mean: np.ndarray, batch_share: np.ndarray, n: float
) -> float | None:
    """Chan et al.: merge a batch of ``n`` samples into the statistics; ``batch_mean`` is overwritten.

    ``batch_share`` is the batch's sum of squared deviations divided by the new count. Every term
    is formed already divided by the new count: ``var * count`` may overflow where the result
    does not.
    """
    total = count + n
    kept = count / total
    delta = batch_mean
    delta -= mean
    scaled = delta * (n / total)
    # kept before scaled: delta^2 alone may overflow where kept * delta^2 * n / total does not
    # (kept is 0 for the first batch with epsilon=0).
    delta *= kept
    delta *= scaled
    delta += batch_share
    new_var = var * kept
    new_var += delta
    scaled += mean
    if not math.isfinite(total) or not commit(mean, var, scaled, new_var):
        return None
    return total


# ---------------------------------------------------------------------- Welford
def add_one(mean: np.ndarray, var: np.ndarray, count: float, x: np.ndarray) -> float | None:
    """Add one sample ``x`` (float64, shape of ``mean``) to shared statistics."""
    if not mean.ndim:
        return combine_scalar(mean, var, count, float(x), 0.0, 1.0)
    total = count + 1.0
    w = 1.0 / total
    if not welford_step(mean, var, x - mean, w, w, w):
        return None
    return total


def add_streams(
    mean: np.ndarray, var: np.ndarray, count: np.ndarray, x: np.ndarray, mask: np.ndarray | None
) -> np.ndarray | None:
    """Per stream: add row ``i`` of ``x`` (any real dtype) to stream ``i``, for the rows ``mask`` selects (all if ``None``)."""
    if mask is not None:
        weight = mask.astype(np.float64)
        total = count + weight
        # Streams outside the mask get w = 0 and a zeroed delta (their row may hold anything,
        # NaN included), which leaves their mean and variance bit for bit.
        w = weight / np.maximum(total, 1e-300)
        delta = np.subtract(x, mean, dtype=np.float64)
        delta[~mask] = 0.0
    else:
        total = count + 1.0
        w = 1.0 / total
        delta = np.asarray(x, dtype=np.float64) - mean
    # Bounds of w over the streams whose delta is not 0 (outside the mask: w = 0, delta = 0).
    counts = total.tolist()
    w_min, w_max = 1.0 / max(counts), 1.0 / max(min(counts), 1e-300)
    if not welford_step(mean, var, delta, w.reshape((-1,) + (1,) * (mean.ndim - 1)), w_min, w_max):
        return None
    return total


def welford_step(
    mean: np.ndarray, var: np.ndarray, delta: np.ndarray, w: Any, w_min: float, w_max: float
) -> bool:
    """Welford's update with ``delta = x - mean`` (float64, overwritten) and ``w = 1 / new count``.

    ``w``: a float, or per stream an array broadcasting against ``delta``, with
    ``w_min <= w <= w_max`` where ``delta`` is not 0. False, changing nothing, where the new
    statistics would not be finite.
    """
    # delta - step is x minus the new mean; the product w (1 - w) delta^2 never overflows where
    # the result is finite (w = 1 for the first sample with epsilon=0 gives 0).
    step = delta * w
    delta -= step
    delta *= step
    # The new variance is var * (1 - w) + delta (now w (1 - w) delta^2). With delta at most
    # w * max / 4, a finite var makes it finite (see small_increment); with w <= 1/2 too,
    # (1 - w) delta^2 <= max / 4 bounds |step| = |w delta| by 1e154, which cannot overflow the
    # mean: the update is then made in place. Otherwise (also for the first samples, w > 1/2)
    # it is made into new arrays, checked, and copied.
    if w_max <= 0.5 and small_increment(delta, w_min):
        mean += step
        var *= 1.0 - w
        var += delta
        return True
    new_var = var * (1.0 - w)
    new_var += delta
    step += mean
    return commit(mean, var, step, new_var)


# ---------------------------------------------------------------------- helpers
_BATCH_WEIGHTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def batch_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only vectors of ``n`` ones and of ``n`` copies of ``1 / n``, cached.

    Batch sums and means are dot products with them; np.ones costs more than the dot product it
    feeds, and batch sizes repeat.
    """
    weights = _BATCH_WEIGHTS.get(n)
    if weights is None:
        if len(_BATCH_WEIGHTS) > 256:
            _BATCH_WEIGHTS.clear()
        ones, mean_weights = np.ones(n), np.full(n, 1.0 / n)
        ones.flags.writeable = mean_weights.flags.writeable = False
        weights = _BATCH_WEIGHTS[n] = (ones, mean_weights)
    return weights
