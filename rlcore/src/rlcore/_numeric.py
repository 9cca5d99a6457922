"""Numeric checks shared by rlcore's ground floor (statistics, wrappers, buffers): is a value a
real number, is an array finite, and where its first NaN or inf is. NumPy only; private."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "LARGE_SIZE",
    "all_finite",
    "first_nonfinite",
    "probably_finite",
    "raise_if_invalid",
    "raise_if_nonfinite",
    "real_number",
]


def real_number(value: object) -> float | None:
    """``value`` as a float if it is a real number, else ``None``.

    ``numbers.Real`` covers int, float, fractions and NumPy's integer and floating scalars
    (``np.float32(0.99)`` from a config read with NumPy); a bool is a mistake, not a number.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return None


# Arrays of at least this many elements are checked for NaN and inf without a dot product
# (see probably_finite).
LARGE_SIZE = 4096


def probably_finite(x: np.ndarray) -> bool:
    """True if every entry of ``x`` is finite; False if some entry is not, or (rarely) maybe not.

    Small arrays: one sum, or one dot product (a sum of squares is finite exactly when every
    entry is, unless it overflows, which is the "maybe"; np.vdot, unlike ndarray.dot, never
    warns). Large arrays: np.isfinite, because OpenBLAS splits a long dot product over
    threads, which on a busy machine was seen to stall for milliseconds.
    """
    if x.dtype.kind in "biu":
        return True
    if x.size >= LARGE_SIZE:
        return bool(np.isfinite(x).all())
    if x.ndim == 1 and x.size <= 64:
        # Python's sum of a short list costs half a NumPy call (NaN and inf propagate, and
        # inf + -inf is NaN, with no exception or warning).
        return math.isfinite(sum(x.tolist()))
    return math.isfinite(np.vdot(x, x))


def first_nonfinite(x: np.ndarray) -> tuple[tuple[int, ...], float] | None:
    """Index and value of the first NaN or inf in ``x`` (C order), or ``None`` if all are finite.

    The fast path is :func:`probably_finite`; the index is looked up only when that fails.
    """
    if probably_finite(x):
        return None
    bad = np.argwhere(~np.isfinite(x))
    if len(bad) == 0:  # finite values whose sum of squares overflowed: nothing is wrong.
        return None
    index = tuple(int(i) for i in bad[0])
    return index, float(x[index])


def raise_if_nonfinite(x: np.ndarray, where: str, row_mask: np.ndarray | None = None) -> None:
    """Raise ``ValueError`` naming ``where``, the index and the value of the first NaN or inf in ``x``.

    ``x`` may be the rows ``row_mask`` selects from a larger batch; the index then names the
    row in that batch.
    """
    found = first_nonfinite(x)
    if found is None:
        return
    index, value = found
    if row_mask is not None:
        index = (int(np.flatnonzero(row_mask)[index[0]]), *index[1:])
    raise ValueError(f"{where}: non-finite value {value!r} at index {index}; expected finite values")


def all_finite(x: np.ndarray) -> bool:
    """True if every entry of ``x`` is finite: :func:`probably_finite`, made exact where it fails."""
    return probably_finite(x) or bool(np.isfinite(x).all())


def raise_if_invalid(x: np.ndarray, what: str, shape: tuple[int, ...], *, nonnegative: bool = False) -> None:
    """Raise ``ValueError`` naming ``what`` unless ``x`` has shape ``shape``, is finite and (``nonnegative``) ``>= 0``.

    The checks in that order: the first that fails is reported (for NaN and inf, by
    :func:`raise_if_nonfinite`).
    """
    if x.shape != shape:
        raise ValueError(f"{what} has shape {x.shape}, expected {shape}")
    raise_if_nonfinite(x, what)
    if nonnegative and (x < 0).any():
        raise ValueError(f"{what} has a negative value {float(x.min())!r}; expected >= 0")
