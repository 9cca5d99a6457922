"""Aligning learning curves: resampling the runs' ``(x, y)`` curves onto one x grid.

Private: :mod:`rlcore.analysis` re-exports :func:`align_curves`. Pure NumPy: the aligned
``(N, P)`` values (``N`` runs, ``P`` grid points, float64) are what :func:`rlcore.analysis.aggregate`
summarises point by point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["align_curves"]


def align_curves(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    num_points: int = 100,
    grid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample learning curves onto one x grid by linear interpolation.

    Each curve ``(x, y)`` is sorted by ``x`` and values logged at the same ``x`` are averaged
    (several episodes can end at one step of a vector env). Outside a curve's own x range its
    values are NaN: curves are never extrapolated.

    Args:
        curves: ``N`` pairs ``(x, y)`` of float arrays of shape ``(n_i,)``.
        num_points: ``P``, the number of grid points when ``grid`` is not given: the grid is then
            ``linspace`` over the range every curve covers, from the largest first x to the
            smallest last x.
        grid: explicit x grid, shape ``(P,)``.

    Returns:
        ``(grid, values)``: float64 arrays of shapes ``(P,)`` and ``(N, P)``.

    Raises:
        ValueError: if ``curves`` is empty, a curve is empty or its arrays differ in shape, or the
            curves share no x range.

    Example:
        >>> grid, values = align_curves([(np.array([0, 10]), np.array([0.0, 1.0])),
        ...                              (np.array([0, 5, 20]), np.array([2.0, 2.0, 4.0]))], num_points=3)
        >>> grid
        array([ 0.,  5., 10.])
        >>> values
        array([[0.  , 0.5 , 1.  ],
               [2.  , 2.  , 2.66666667]])
    """
    if not curves:
        raise ValueError("align_curves: curves is empty, expected at least one (x, y) pair")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 1:
        raise ValueError(f"align_curves: num_points must be an int >= 1, got {num_points!r}")
    cleaned = [
        _collapse(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), i)
        for i, (x, y) in enumerate(curves)
    ]
    if grid is None:
        low = max(x[0] for x, _ in cleaned)
        high = min(x[-1] for x, _ in cleaned)
        if low > high:
            raise ValueError(
                f"align_curves: the curves share no x range (the latest start is {low}, the earliest end "
                f"{high}); pass an explicit grid"
            )
        grid = np.linspace(low, high, num_points) if high > low else np.array([low])
    else:
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim != 1 or grid.size == 0 or np.isnan(grid).any():
            raise ValueError(
                f"align_curves: grid must be a non-empty 1-D array without NaN, got shape {grid.shape}"
            )
    values = np.stack([np.interp(grid, x, y, left=np.nan, right=np.nan) for x, y in cleaned])
    return grid, values


def _collapse(x: np.ndarray, y: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(
            f"align_curves: curve {index} must be two non-empty 1-D arrays of one shape, got x {x.shape} and y {y.shape}"
        )
    unique, inverse = np.unique(x, return_inverse=True)
    if unique.size == x.size:
        order = np.argsort(x, kind="stable")
        return x[order], y[order]
    sums = np.bincount(inverse, weights=y, minlength=unique.size)
    counts = np.bincount(inverse, minlength=unique.size)
    return unique, sums / counts
