"""The machinery under :mod:`rlcore.returns`: the reverse linear scan, input checks, NumPy/torch helpers.

Private: every name here may change in any release.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = [
    "cast",
    "check_inputs",
    "check_unit_interval",
    "continues",
    "f64",
    "no_grad",
    "reverse_linear_scan",
]


# ---------------------------------------------------------------------------- the scan
def reverse_linear_scan(b: Any, c: Any) -> Any:
    r"""Solve :math:`x_t = b_t + c_t x_{t+1}`, :math:`x_T = 0`, along axis 0; overwrites ``b`` and ``c``.

    Hillis-Steele doubling: after the round with offset ``k``, ``x[t]`` holds the sum of the
    terms :math:`(\prod_{u=t}^{s-1} c_u)\, b_s` for :math:`s < t + 2k` and ``c[t]`` the product
    :math:`\prod_{u=t}^{t+2k-1} c_u`. Each round reads only values of the previous round (the
    right-hand sides are evaluated before the assignment), so NumPy and torch give the same
    result, and ``log2(T)`` rounds of whole-array operations replace ``T`` Python steps.
    """
    x = b
    steps = x.shape[0]
    k = 1
    while k < steps:
        x[: steps - k] += c[: steps - k] * x[k:]
        if 2 * k < steps:
            c[: steps - k] = c[: steps - k] * c[k:]
        k *= 2
    return x


def continues(terminated: Any, truncated: Any) -> Any:
    """1.0 where the recursion goes on to ``t + 1`` (no episode end, not the last step), else 0.0."""
    cont = f64(~(terminated | truncated))
    if cont.shape[0]:
        cont[-1] = 0.0
    return cont


# ---------------------------------------------------------------------------- checks
def check_inputs(where: str, floats: dict[str, Any], flags: dict[str, Any]) -> str:
    """Check kinds, shapes, dtypes and devices; return ``"numpy"`` or ``"torch"``."""
    first_name, first = next(iter(floats.items()))
    if isinstance(first, np.ndarray):
        kind = "numpy"
    elif isinstance(first, torch.Tensor):
        kind = "torch"
    else:
        raise TypeError(
            f"{where}: {first_name} must be a numpy.ndarray or a torch.Tensor, got {type(first).__name__}"
        )
    array_type = np.ndarray if kind == "numpy" else torch.Tensor
    shape = tuple(first.shape)
    if len(shape) == 0:
        raise ValueError(
            f"{where}: {first_name} must have shape (T, ...) with a time axis first, got a 0-d array"
        )
    for name, x in {**floats, **flags}.items():
        if not isinstance(x, array_type):
            raise TypeError(
                f"{where}: {name} is a {type(x).__module__}.{type(x).__name__} but {first_name} is a "
                f"{array_type.__module__}.{array_type.__name__}; pass all arrays as NumPy arrays or all as torch tensors"
            )
        if tuple(x.shape) != shape:
            raise ValueError(
                f"{where}: {name} has shape {tuple(x.shape)}, expected the shape of {first_name} {shape}"
            )
        if kind == "torch" and x.device != first.device:
            raise ValueError(
                f"{where}: {name} is on device {x.device}, but {first_name} is on {first.device}"
            )
    for name, x in floats.items():
        floating = np.issubdtype(x.dtype, np.floating) if kind == "numpy" else x.is_floating_point()
        if not floating:
            raise TypeError(f"{where}: {name} must have a floating dtype, got {x.dtype}")
    for name, x in flags.items():
        if x.dtype != (np.bool_ if kind == "numpy" else torch.bool):
            convert = ".astype(bool)" if kind == "numpy" else ".bool()"
            raise TypeError(
                f"{where}: {name} must have dtype bool, got {x.dtype} (convert it with {convert})"
            )
    return kind


def check_unit_interval(where: str, name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(f"{where}: {name} must be a number in [0, 1], got {value!r}")


# ---------------------------------------------------------------------------- backend helpers
def f64(x: Any) -> Any:
    """A float64 copy-or-view of ``x`` (bool arrays become 0.0 / 1.0)."""
    if isinstance(x, torch.Tensor):
        return x.to(torch.float64)
    return x.astype(np.float64, copy=x.dtype != np.float64)


def cast(x: Any, kind: str, floats: dict[str, Any]) -> Any:
    """``x`` in the promoted dtype of the floating inputs."""
    if kind == "numpy":
        return x.astype(np.result_type(*(a.dtype for a in floats.values())), copy=False)
    dtype = functools.reduce(torch.promote_types, (a.dtype for a in floats.values()))
    return x.to(dtype)


def no_grad(kind: str) -> Any:
    # Returns and advantages are regression targets: gradients must not flow through them.
    return torch.no_grad() if kind == "torch" else contextlib.nullcontext()
