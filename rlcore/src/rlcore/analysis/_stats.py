"""Statistics of runs across seeds: the interquartile mean, percentile-bootstrap CIs, aggregation.

Private: :mod:`rlcore.analysis` re-exports its public names. Pure NumPy, on arrays whose axis 0
holds the ``N`` runs (seeds): ``(N,)`` final values or ``(N, P)`` aligned curves. Statistics
follow Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice"
(NeurIPS 2021, https://arxiv.org/abs/2108.13264), intervals the percentile bootstrap (Efron and
Tibshirani, "An Introduction to the Bootstrap", 1993). Every array is float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Aggregate", "Statistic", "aggregate", "bootstrap_ci", "interquartile_mean"]

Statistic = Callable[[np.ndarray, int], np.ndarray]
# Bootstrap resamples are evaluated in chunks of about this many numbers, so that memory stays
# bounded (about 32 MiB) whatever the number of runs, points and resamples.
_CHUNK_ELEMENTS = 1 << 22


def interquartile_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    r"""Interquartile mean: the mean of the middle 50% of ``x`` along ``axis``.

    With ``n`` values sorted, :math:`\lfloor n/4 \rfloor` are dropped at each end and the rest
    averaged, exactly as ``scipy.stats.trim_mean(x, 0.25)``, which ``rliable`` (the library of
    Agarwal et al. 2021) uses. For ``n < 4`` nothing is dropped and the IQM is the mean. NaN
    anywhere along ``axis`` gives NaN.

    Args:
        x: float array; ``axis`` has length ``n >= 1``.
        axis: the axis of the runs.

    Returns:
        float64 array of ``x``'s shape without ``axis`` (a 0-d array for 1-D input).

    Example:
        >>> float(interquartile_mean(np.arange(1.0, 9.0)))  # mean of 3, 4, 5, 6
        4.5
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ValueError(
            f"interquartile_mean: expected at least one value along axis {axis}, got shape {x.shape}"
        )
    n = x.shape[axis]
    cut = n // 4
    middle = np.take(np.sort(x, axis=axis), np.arange(cut, n - cut), axis=axis)
    return np.where(np.isnan(x).any(axis=axis), np.nan, middle.mean(axis=axis))


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.asarray(np.mean(x, axis=axis))


_STATISTICS: dict[str, Statistic] = {"mean": _mean, "iqm": interquartile_mean}


def bootstrap_ci(
    x: np.ndarray,
    statistic: Literal["mean", "iqm"] | Statistic = "mean",
    *,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    r"""Percentile-bootstrap confidence interval of a statistic of the runs (axis 0 of ``x``).

    ``num_resamples`` times, ``N`` runs are drawn with replacement (the same draw for every
    point of a curve) and the statistic computed; the interval is the
    :math:`(1 - c)/2` and :math:`(1 + c)/2` percentiles of those values (``np.percentile``'s
    linear interpolation), for confidence :math:`c` (Efron and Tibshirani 1993, ch. 13).

    The resample indices are one draw ``rng.integers(0, N, size=(num_resamples, N))`` from
    ``np.random.default_rng(seed)``, so a seed gives the same interval on every machine.
    With one run the interval is that run's value, of width 0: no interval can be had.

    Args:
        x: float array of shape ``(N, ...)``, e.g. ``(N,)`` final returns or ``(N, P)`` curves.
        statistic: ``"mean"``, ``"iqm"`` (:func:`interquartile_mean`) or ``f(samples, axis)``.
        confidence: the interval's coverage, in ``(0, 1)``.
        num_resamples: the number of bootstrap resamples (Agarwal et al. use 2000 and more).
        seed: an int seed or a ``numpy.random.Generator``.

    Returns:
        float64 array of shape ``(2, ...)``: the lower and upper bounds.

    Example:
        >>> low, high = bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0]), "mean", seed=0)
        >>> bool(1.0 <= low < 2.5 < high <= 4.0)
        True
    """
    x, statistics, rng = _check_bootstrap_args(
        x, [statistic], confidence, num_resamples, seed, "bootstrap_ci"
    )
    return _bootstrap(x, statistics, confidence, num_resamples, rng)[0]


def _check_bootstrap_args(
    x: Any,
    statistics: Sequence[str | Statistic],
    confidence: Any,
    num_resamples: Any,
    seed: Any,
    where: str,
) -> tuple[np.ndarray, list[Statistic], np.random.Generator]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(
            f"{where}: expected an array of shape (N, ...) with N >= 1 runs, got shape {x.shape}"
        )
    if not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise ValueError(f"{where}: confidence must be in (0, 1), got {confidence!r}")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"{where}: num_resamples must be an int >= 1, got {num_resamples!r}")
    functions = []
    for statistic in statistics:
        if isinstance(statistic, str):
            if statistic not in _STATISTICS:
                raise ValueError(f"{where}: statistic must be 'mean', 'iqm' or a callable, got {statistic!r}")
            functions.append(_STATISTICS[statistic])
        elif callable(statistic):
            functions.append(statistic)
        else:
            raise TypeError(f"{where}: statistic must be 'mean', 'iqm' or a callable, got {statistic!r}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif isinstance(seed, int) and not isinstance(seed, bool):
        rng = np.random.default_rng(seed)
    else:
        raise TypeError(f"{where}: seed must be an int or a numpy.random.Generator, got {seed!r}")
    return x, functions, rng


def _bootstrap(
    x: np.ndarray,
    statistics: Sequence[Statistic],
    confidence: float,
    num_resamples: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    n = x.shape[0]
    indices = rng.integers(0, n, size=(num_resamples, n))
    per_resample = max(1, x.size)
    chunk = max(1, _CHUNK_ELEMENTS // per_resample)
    values: list[list[np.ndarray]] = [[] for _ in statistics]
    for start in range(0, num_resamples, chunk):
        samples = x[indices[start : start + chunk]]  # (chunk, N, ...)
        for out, statistic in zip(values, statistics, strict=True):
            out.append(np.asarray(statistic(samples, 1), dtype=np.float64))
    tail = 100.0 * (1.0 - confidence) / 2.0
    return [np.percentile(np.concatenate(v), [tail, 100.0 - tail], axis=0) for v in values]


@dataclass(frozen=True, eq=False)
class Aggregate:
    """Statistics of ``N`` runs: floats for one value per run, float64 arrays of shape ``S`` for
    more (``(P,)`` for curves); intervals of shape ``(2, *S)``, lower bound first.

    Attributes:
        num_runs: ``N``.
        mean: the mean over runs.
        std: the sample standard deviation over runs (``ddof=1``; NaN for one run).
        mean_ci: the bootstrap confidence interval of the mean.
        iqm: the interquartile mean (:func:`interquartile_mean`).
        iqm_ci: the bootstrap confidence interval of the IQM.
        confidence: the intervals' coverage, e.g. 0.95.
    """

    num_runs: int
    mean: Any
    std: Any
    mean_ci: np.ndarray
    iqm: Any
    iqm_ci: np.ndarray
    confidence: float


def aggregate(
    values: np.ndarray,
    *,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
) -> Aggregate:
    """Mean, std, IQM and their bootstrap CIs over the runs (axis 0) of ``values``.

    Both intervals come from the same resamples (:func:`bootstrap_ci`), so they are
    reproducible from ``seed`` and consistent with each other.

    Args:
        values: float array of shape ``(N, *S)``, e.g. ``(N,)`` final returns or ``(N, P)``
            aligned curves (:func:`align_curves`).
        confidence, num_resamples, seed: as in :func:`bootstrap_ci`.

    Returns:
        An :class:`Aggregate`; for ``(N,)`` input its statistics are Python floats.

    Example:
        >>> result = aggregate(np.arange(1.0, 9.0))
        >>> result.num_runs, result.mean, result.iqm, round(result.std, 4)
        (8, 4.5, 4.5, 2.4495)
    """
    x, statistics, rng = _check_bootstrap_args(
        values, ["mean", "iqm"], confidence, num_resamples, seed, "aggregate"
    )
    mean_ci, iqm_ci = _bootstrap(x, statistics, confidence, num_resamples, rng)
    n = x.shape[0]
    std = np.std(x, axis=0, ddof=1) if n > 1 else np.full(x.shape[1:], np.nan)
    return Aggregate(
        num_runs=n,
        mean=_plain(np.mean(x, axis=0)),
        std=_plain(std),
        mean_ci=mean_ci,
        iqm=_plain(interquartile_mean(x, axis=0)),
        iqm_ci=iqm_ci,
        confidence=float(confidence),
    )


def _plain(value: Any) -> Any:
    """A Python float for a 0-d result, the float64 array otherwise."""
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array
