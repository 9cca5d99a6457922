"""Schedules: callables mapping a step (or a progress fraction) to a value.

* :class:`LinearSchedule`: linear from ``start`` to ``end`` over ``duration``, then constant
  (DQN's epsilon-greedy annealing, PPO's learning-rate decay).
* :class:`CosineSchedule`: half a cosine from ``start`` to ``end`` over ``duration``, then
  constant (SGDR without restarts).
* :class:`PiecewiseSchedule`: through given ``(step, value)`` points, linearly or as a step
  function (OpenAI Baselines' ``PiecewiseSchedule``).

Each is a small frozen dataclass: callable, comparable, printable and picklable (unlike a
lambda), so it can sit in a config or a ``torch.optim.lr_scheduler.LambdaLR``. The argument is
a number ``t >= 0`` in whatever unit ``duration`` uses: environment steps, updates, or a
progress fraction in ``[0, 1]`` with ``duration=1``. (Stable-Baselines3 passes the *remaining*
progress ``1 -> 0``; use ``lambda p: schedule(1 - p)`` there.)
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["CosineSchedule", "LinearSchedule", "PiecewiseSchedule"]


@dataclass(frozen=True)
class _Ramp:
    """``start -> end`` over ``duration``, then ``end``; a subclass gives the shape of the ramp."""

    start: float
    end: float
    duration: float

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_finite(owner, start=self.start, end=self.end)
        _check_duration(owner, self.duration)

    def __call__(self, t: float) -> float:
        """Value at step (or progress) ``t >= 0``."""
        fraction = min(_check_step(type(self).__name__, t) / self.duration, 1.0)
        # Written from start (exact at t = 0), with the end snapped (exact at t >= T):
        # start + (end - start) can miss end in the last bits, and by far more when the two
        # differ by many orders of magnitude.
        if fraction == 1.0:
            return float(self.end)
        return float(self.start + (self.end - self.start) * self._shape(fraction))

    def _shape(self, fraction: float) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class LinearSchedule(_Ramp):
    r"""Linear interpolation from ``start`` to ``end`` over ``duration``, constant afterwards.

    .. math::
        v(t) = v_0 + (v_1 - v_0) \min(t / T, 1), \qquad t \ge 0.

    Args:
        start: value at ``t = 0``.
        end: value at ``t >= duration``.
        duration: length ``T > 0`` of the ramp.

    Example:
        >>> epsilon = LinearSchedule(start=1.0, end=0.05, duration=10_000)
        >>> epsilon(0), epsilon(5_000), epsilon(10_000), epsilon(50_000)
        (1.0, 0.525, 0.05, 0.05)
    """

    def _shape(self, fraction: float) -> float:
        return fraction


@dataclass(frozen=True)
class CosineSchedule(_Ramp):
    r"""Half-cosine decay from ``start`` to ``end`` over ``duration``, constant afterwards.

    .. math::
        v(t) = v_1 + \tfrac12 (v_0 - v_1) \big(1 + \cos(\pi \min(t / T, 1))\big), \qquad t \ge 0.

    Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017
    (https://arxiv.org/abs/1608.03983), eq. (5) with a single cycle and no restart.

    Args:
        start: value at ``t = 0``.
        end: value at ``t >= duration``.
        duration: length ``T > 0`` of the decay.

    Example:
        >>> lr = CosineSchedule(start=3e-4, end=0.0, duration=100)
        >>> lr(0), lr(50), lr(100), lr(1_000)
        (0.0003, 0.00015, 0.0, 0.0)
    """

    def _shape(self, fraction: float) -> float:
        return 0.5 * (1.0 - math.cos(math.pi * fraction))


@dataclass(frozen=True)
class PiecewiseSchedule:
    r"""Schedule through ``(step, value)`` points, constant before the first and after the last.

    With ``interpolation="linear"`` (OpenAI Baselines' ``PiecewiseSchedule``), between points
    :math:`(t_k, v_k)` and :math:`(t_{k+1}, v_{k+1})`

    .. math::
        v(t) = v_k + (v_{k+1} - v_k) \frac{t - t_k}{t_{k+1} - t_k};

    with ``interpolation="constant"`` the value jumps at each point: :math:`v(t) = v_k` for
    :math:`t_k \le t < t_{k+1}` (``optax.piecewise_constant_schedule``-like).

    Args:
        points: ``(step, value)`` pairs with strictly increasing, finite steps ``>= 0`` and
            finite values; at least one pair.
        interpolation: ``"linear"`` or ``"constant"``.

    Example:
        >>> schedule = PiecewiseSchedule([(0, 1.0), (100, 0.1), (200, 0.01)])
        >>> schedule(50), schedule(150), schedule(1_000)
        (0.55, 0.055, 0.01)
        >>> PiecewiseSchedule([(0, 1.0), (100, 0.1)], interpolation="constant")(99)
        1.0
    """

    points: Sequence[tuple[float, float]]
    interpolation: Literal["linear", "constant"] = "linear"

    def __post_init__(self) -> None:
        try:
            points = tuple((float(step), float(value)) for step, value in self.points)
        except (TypeError, ValueError):
            raise ValueError(
                f"PiecewiseSchedule: points must be (step, value) pairs of numbers, got {self.points!r}"
            ) from None
        if not points:
            raise ValueError("PiecewiseSchedule: points must hold at least one (step, value) pair, got none")
        for k, (step, value) in enumerate(points):
            if not (math.isfinite(step) and step >= 0 and math.isfinite(value)):
                raise ValueError(
                    f"PiecewiseSchedule: point {k} must have a finite step >= 0 and a finite value, got ({step}, {value})"
                )
            if k and step <= points[k - 1][0]:
                raise ValueError(
                    f"PiecewiseSchedule: steps must be strictly increasing, got {points[k - 1][0]} then {step} "
                    f"at points {k - 1} and {k}"
                )
        if self.interpolation not in ("linear", "constant"):
            raise ValueError(
                f"PiecewiseSchedule: interpolation must be 'linear' or 'constant', got {self.interpolation!r}"
            )
        # A tuple, so that the frozen schedule is hashable and cannot change under its user.
        object.__setattr__(self, "points", points)

    def __call__(self, t: float) -> float:
        """Value at step (or progress) ``t >= 0``."""
        t = _check_step("PiecewiseSchedule", t)
        steps = [step for step, _ in self.points]
        k = bisect.bisect_right(steps, t) - 1  # last point with step <= t
        if k < 0:
            return self.points[0][1]
        if k == len(self.points) - 1 or self.interpolation == "constant":
            return self.points[k][1]
        (t0, v0), (t1, v1) = self.points[k], self.points[k + 1]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def _check_finite(owner: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")


def _check_duration(owner: str, duration: float) -> None:
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not (math.isfinite(duration) and duration > 0)
    ):
        raise ValueError(f"{owner}: duration must be a finite number > 0, got {duration!r}")


def _check_step(owner: str, t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise TypeError(f"{owner}: step must be a number >= 0, got {type(t).__name__} {t!r}")
    value = float(t)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: step must be a finite number >= 0, got {t!r}")
    return value
