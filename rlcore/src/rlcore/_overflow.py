"""Overflow guard of rlcore's running statistics: an update leaves them finite or changes nothing.

A float64 variance squares deviations from the mean, which overflows beyond about ``1.3e154``.
The update functions of :mod:`rlcore._moments` make an update in place where
:func:`small_increment` proves the result finite from one look at the increment (no pass over
the new statistics), and otherwise into new arrays that :func:`commit` copies in only if they
are finite. :class:`StatisticsOverflowError` (public as ``rlcore.stats.StatisticsOverflowError``)
is raised for an update refused, with the message of :func:`overflow_detail` or
:func:`moments_overflow_detail`. NumPy only; private.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rlcore._numeric import all_finite

__all__ = [
    "StatisticsOverflowError",
    "commit",
    "moments_overflow_detail",
    "overflow_detail",
    "small_increment",
]


class StatisticsOverflowError(ValueError):
    """Finite values too large for float64 running statistics: an update would make them inf or NaN.

    A variance squares deviations from the mean, so samples that differ by more than about
    ``1.3e154`` (the square root of the largest float64) cannot be tracked. The update that
    raises leaves the statistics as they were. ``detail`` is the message without the name
    of the method that raised, so that a caller (a normalisation wrapper) can restate it
    in its own name.
    """

    __module__ = "rlcore.stats"  # public there (re-exported); defined here, next to its messages

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.detail = detail


_QUARTER_MAX = float(np.finfo(np.float64).max) / 4


def small_increment(increment: np.ndarray, weight: float) -> bool:
    """True if every entry of ``increment`` (``>= 0`` where finite) is at most ``weight`` times a quarter of the float64 maximum.

    Then ``var * (1 - weight) + increment`` is finite for every finite ``var >= 0``: at most
    ``max * (1 - 3 weight / 4)``, with room for the rounding of each term (exactly: the rounded
    product is at most ``max``, and an increment below half the spacing of floats near the
    maximum cannot round it up). One look at the increment, none at ``var``: its sum for a
    short one (Python's sum of a list costs less than a NumPy reduction), its maximum for a
    long one. NaN and inf make it False.
    """
    if increment.size <= 64:
        if increment.ndim != 1:
            increment = increment.ravel()
        largest = sum(increment.tolist())
    else:
        largest = float(increment.max())
    return bool(largest <= weight * _QUARTER_MAX)


def commit(mean: np.ndarray, var: np.ndarray, new_mean: np.ndarray, new_var: np.ndarray) -> bool:
    """Copy ``new_mean`` and ``new_var`` into ``mean`` and ``var`` if both are finite; else change nothing, False."""
    if not (all_finite(new_var) and all_finite(new_mean)):
        return False
    np.copyto(mean, new_mean)
    np.copyto(var, new_var)
    return True


def overflow_detail(mean: np.ndarray, var: np.ndarray, count: Any, x: np.ndarray) -> str:
    """The message (without the name of the method) of an update with the finite samples ``x`` refused."""
    return _detail(mean, var, count, _format_magnitude(np.max(np.abs(x)) if x.size else 0.0))


def moments_overflow_detail(
    mean: np.ndarray, var: np.ndarray, count: Any, batch_mean: Any, batch_var: np.ndarray
) -> str:
    """The message (without the name of the method) of an update with finite batch moments refused."""
    largest = max(float(np.max(np.abs(batch_mean))), math.sqrt(float(np.max(batch_var))))
    return _detail(
        mean, var, count, f"{_format_magnitude(largest)} (in batch_mean, or the root of batch_var)"
    )


def _detail(mean: np.ndarray, var: np.ndarray, count: Any, magnitude: str) -> str:
    if not (all_finite(mean) and all_finite(var) and np.isfinite(count).all()):
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


def _format_magnitude(magnitude: Any) -> str:
    """``1e+200``: three significant digits, also for a float128 beyond the float64 range."""
    if math.isfinite(float(magnitude)):
        return f"{float(magnitude):.3g}"
    return np.format_float_scientific(magnitude, precision=2, trim="-").replace(".e", "e")
