"""Tests of rlcore.schedules against closed forms, NumPy's interp and PyTorch's LR schedulers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore.schedules import CosineSchedule, LinearSchedule, PiecewiseSchedule

FAST = settings(max_examples=50, deadline=None)
values = st.floats(-1e3, 1e3, allow_nan=False)
durations = st.floats(1e-3, 1e6)
steps = st.floats(0.0, 2e6)


@FAST
@given(start=values, end=values, duration=durations, t=steps)
def test_linear_matches_numpy_interp(start, end, duration, t):
    schedule = LinearSchedule(start, end, duration)
    assert schedule(t) == pytest.approx(np.interp(t, [0.0, duration], [start, end]), rel=1e-9, abs=1e-9)
    assert schedule(0) == start and schedule(duration) == end
    assert min(start, end) - 1e-9 <= schedule(t) <= max(start, end) + 1e-9


@FAST
@given(start=values, end=values, duration=durations, t=steps)
def test_cosine_matches_its_closed_form_and_is_monotone(start, end, duration, t):
    schedule = CosineSchedule(start, end, duration)
    fraction = min(t / duration, 1.0)
    expected = end + (start - end) * np.cos(np.pi * fraction / 2) ** 2  # (1 + cos x) / 2 = cos^2(x / 2)
    assert schedule(t) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert schedule(0) == start and schedule(duration) == end and schedule(duration * 3) == end
    later = schedule(min(t * 1.1 + 1e-3, 3 * duration))
    assert (later - schedule(t)) * (end - start) >= -1e-9  # moves from start towards end only


def test_schedules_agree_with_torch_lr_schedulers():
    base_lr, total = 0.5, 40
    for ours, make in [
        (
            LinearSchedule(base_lr, 0.1 * base_lr, total),
            lambda o: torch.optim.lr_scheduler.LinearLR(o, 1.0, 0.1, total),
        ),
        (
            CosineSchedule(base_lr, 0.01, total),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total, 0.01),
        ),
    ]:
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
        scheduler = make(optimizer)
        for step in range(total + 1):
            assert ours(step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-6), (ours, step)
            optimizer.step()
            scheduler.step()


def test_a_schedule_drives_lambda_lr_and_survives_its_state_dict():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2.0)
    factor = PiecewiseSchedule([(0, 1.0), (10, 0.5), (20, 0.25)])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    for _ in range(15):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0 * 0.375)
    assert pickle.loads(pickle.dumps(factor)) == factor and hash(factor) == hash(
        pickle.loads(pickle.dumps(factor))
    )


@FAST
@given(
    raw=st.lists(
        st.tuples(st.integers(0, 10_000).map(float), values), min_size=1, max_size=6, unique_by=lambda p: p[0]
    ),
    t=st.floats(0, 2e4),
)
def test_piecewise_linear_matches_numpy_interp_and_constant_matches_a_loop(raw, t):
    points = sorted(raw)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert PiecewiseSchedule(points)(t) == pytest.approx(np.interp(t, xs, ys), rel=1e-9, abs=1e-6)
    expected = ys[0]
    for x, y in points:  # the value of the last point at or before t
        if x <= t:
            expected = y
    assert PiecewiseSchedule(points, interpolation="constant")(t) == expected
    for x, y in points:
        assert PiecewiseSchedule(points)(x) == y


def test_piecewise_stores_an_immutable_copy():
    points = [[0, 1.0], [5, 0.0]]
    schedule = PiecewiseSchedule(points)  # type: ignore[arg-type]
    points[1][1] = 99.0
    assert schedule.points == ((0.0, 1.0), (5.0, 0.0)) and schedule(5) == 0.0


def test_schedules_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"LinearSchedule: duration must be a finite number > 0, got 0"):
        LinearSchedule(1.0, 0.0, 0)
    with pytest.raises(ValueError, match=r"CosineSchedule: start must be a finite number, got nan"):
        CosineSchedule(float("nan"), 0.0, 10)
    with pytest.raises(ValueError, match=r"LinearSchedule: end must be a finite number, got '0'"):
        LinearSchedule(1.0, "0", 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"CosineSchedule: duration must be a finite number > 0, got inf"):
        CosineSchedule(1.0, 0.0, float("inf"))
    with pytest.raises(ValueError, match=r"LinearSchedule: step must be a finite number >= 0, got -1"):
        LinearSchedule(1.0, 0.0, 10)(-1)
    with pytest.raises(TypeError, match=r"CosineSchedule: step must be a number >= 0, got str '3'"):
        CosineSchedule(1.0, 0.0, 10)("3")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"PiecewiseSchedule: points must hold at least one \(step, value\) pair, got none"
    ):
        PiecewiseSchedule([])
    with pytest.raises(
        ValueError,
        match=r"PiecewiseSchedule: steps must be strictly increasing, got 5.0 then 5.0 at points 0 and 1",
    ):
        PiecewiseSchedule([(5, 1.0), (5, 2.0)])
    with pytest.raises(
        ValueError,
        match=r"PiecewiseSchedule: point 0 must have a finite step >= 0 and a finite value, got \(-1.0, 1.0\)",
    ):
        PiecewiseSchedule([(-1, 1.0)])
    with pytest.raises(
        ValueError,
        match=r"PiecewiseSchedule: points must be \(step, value\) pairs of numbers, got \[\(1, 2, 3\)\]",
    ):
        PiecewiseSchedule([(1, 2, 3)])  # type: ignore[list-item]
    with pytest.raises(
        ValueError, match=r"PiecewiseSchedule: interpolation must be 'linear' or 'constant', got 'cubic'"
    ):
        PiecewiseSchedule([(0, 1.0)], interpolation="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"PiecewiseSchedule: step must be a finite number >= 0, got nan"):
        PiecewiseSchedule([(0, 1.0)])(float("nan"))
