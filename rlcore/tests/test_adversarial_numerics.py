"""Adversarial numerics: huge finite values, casts that would change data, NumPy-scalar arguments.

Regression tests for inputs that used to pass silently and corrupt state:

* observations or rewards of about 1e155 and up overflowed RunningMeanStd's variance to inf,
  the normalisers then returned zeros, and ``checkpoint.save`` wrote a state that
  ``checkpoint.load`` refused;
* an int64 action 300 was stored as 44 in an int8 ``MultiBinary`` buffer, a reward 1e300 as
  inf in a float32 one;
* ``NormalizeReward(gamma=np.float32(0.99))`` was refused.

References are independent of the code under test: exact rational arithmetic
(``fractions.Fraction``) for the statistics and for the float32 overflow threshold, integer
ranges written out by hand.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rlcore import checkpoint
from rlcore.buffers import ReplayBuffer, RolloutBuffer
from rlcore.stats import RunningMeanStd, StatisticsOverflowError
from rlcore.testing import GenericTestEnv, make_vector_env
from rlcore.wrappers import normalize as single
from rlcore.wrappers.vector import normalize as vector

SETTINGS = settings(max_examples=60, deadline=None)
FLOAT64_MAX = float(np.finfo(np.float64).max)
# Below this, every deviation, square and sum of squares of a few dozen samples is finite:
# no update may raise.
MODERATE = 5e152
MAGNITUDES = [1.0, 1e100, 1e150, MODERATE, 1e154, 1e155, 1e160, 1e200, 1e300, 1.7e308]
OVERFLOW = r"too large for float64 statistics: the largest magnitude entering is "


def _state(rms: RunningMeanStd) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in rms.state_dict().items()}


def _assert_unchanged(rms: RunningMeanStd, before: dict[str, torch.Tensor]) -> None:
    for key, value in rms.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def _assert_loadable(rms: RunningMeanStd) -> None:
    state = rms.state_dict()
    assert all(bool(torch.isfinite(v).all()) for v in state.values()), state
    assert bool((state["var"] >= 0).all()) and bool((state["count"] >= 0).all())
    rms.check_state_dict(state)


# --------------------------------------------------------------------------- 1. statistics
def _fed(shape, rows=10, epsilon=1e-4, num_streams=None):
    """Statistics that have seen ``rows`` zeros: a sample of 1e155 then truly overflows the variance."""
    rms = RunningMeanStd(shape, epsilon=epsilon, num_streams=num_streams)
    full = (num_streams, *shape) if num_streams else (rows, *shape)
    for _ in range(rows if num_streams else 1):
        rms.update(np.zeros(full))
    return rms


BIG = 1e155  # the reported input: finite, and its square is not
# name -> (statistics to start from, feed(rms, check_finite)); every way into RunningMeanStd.
HUGE_PATHS = {
    "update, one row": (lambda: _fed((3,)), lambda r, c: r.update(np.full((1, 3), BIG), check_finite=c)),
    "update, <= 16 scalars": (
        lambda: _fed(()),
        lambda r, c: r.update(np.array([1.0, -BIG, BIG]), check_finite=c),
    ),
    "update, > 16 scalars": (
        lambda: _fed(()),
        lambda r, c: r.update(np.linspace(-BIG, BIG, 40), check_finite=c),
    ),
    "update, deviations (count >= n)": (
        lambda: _fed((3,)),
        lambda r, c: r.update(np.array([[BIG, 0.0, 0.0], [-BIG, 0.0, 0.0]]), check_finite=c),
    ),
    "update, batch moments (count < n)": (
        lambda: _fed((3,), rows=2, epsilon=0.0),
        lambda r, c: r.update(np.stack([np.full(3, BIG), np.full(3, -BIG), np.zeros(3)]), check_finite=c),
    ),
    "update, masked rows": (
        lambda: _fed((3,)),
        lambda r, c: r.update(
            np.array([[BIG] * 3, [np.nan] * 3, [-BIG] * 3]),
            mask=np.array([True, False, True]),
            check_finite=c,
        ),
    ),
    "update_one": (lambda: _fed((3,)), lambda r, c: r.update_one(np.array([0.0, BIG, 0.0]), check_finite=c)),
    "update_one, shape ()": (lambda: _fed(()), lambda r, c: r.update_one(np.array(BIG), check_finite=c)),
    "update_scalar": (lambda: _fed(()), lambda r, c: r.update_scalar(BIG, check_finite=c)),
    "update_from_moments": (
        lambda: _fed((3,)),
        lambda r, c: r.update_from_moments(np.full(3, BIG), np.zeros(3), 10.0),
    ),
    "update_from_moments, shape ()": (
        lambda: _fed(()),
        lambda r, c: r.update_from_moments(np.array(BIG), np.array(0.0), 10.0),
    ),
    "per stream": (
        lambda: _fed((2,), num_streams=3),
        lambda r, c: r.update(np.array([[0.0, 0.0], [BIG, -BIG], [0.0, 0.0]]), check_finite=c),
    ),
    "per stream, masked": (
        lambda: _fed((), num_streams=3),
        lambda r, c: r.update(
            np.array([BIG, np.inf, 0.0]), mask=np.array([True, False, True]), check_finite=c
        ),
    ),
}


@pytest.mark.parametrize("check_finite", [True, False])
@pytest.mark.parametrize("path", sorted(HUGE_PATHS))
def test_every_update_path_refuses_values_too_large_for_float64_and_changes_nothing(path, check_finite):
    make, feed = HUGE_PATHS[path]
    rms = make()
    before = _state(rms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow warnings on the way
        # With check_finite=False too: the overflow is found from the new statistics.
        with pytest.raises(StatisticsOverflowError, match=OVERFLOW + r"1e\+155") as info:
            feed(rms, check_finite)
    assert isinstance(info.value, ValueError)
    assert "np.float64" not in str(info.value)
    _assert_unchanged(rms, before)
    # Nothing is broken: the statistics go on, and their state loads.
    rms.update(np.ones((rms.num_streams or 2, *rms.shape)))
    _assert_loadable(rms)


def test_nan_in_unchecked_samples_is_reported_as_nan_not_as_an_overflow():
    rms = RunningMeanStd((2,))
    before = _state(rms)
    with pytest.raises(ValueError, match=r"non-finite value nan at index \(1, 0\)") as info:
        rms.update(np.array([[1.0, 2.0], [np.nan, 0.0]]), check_finite=False)
    assert not isinstance(info.value, StatisticsOverflowError)
    _assert_unchanged(rms, before)


def test_statistics_set_to_inf_from_outside_are_named_as_the_cause():
    rms = RunningMeanStd((2,))
    rms.var[1] = np.inf
    with pytest.raises(StatisticsOverflowError, match=r"the statistics already hold NaN or inf"):
        rms.update_one(np.ones(2))


def _exact_moments(samples: list[Fraction], epsilon: float) -> tuple[Fraction, Fraction]:
    """Mean and variance of the prior (weight epsilon, mean 0, variance 1) and ``samples``, exactly."""
    eps = Fraction(epsilon)
    count = eps + len(samples)
    mean = sum(samples, Fraction(0)) / count
    second = (eps + sum((s * s for s in samples), Fraction(0))) / count
    return mean, second - mean * mean


@st.composite
def _operations(draw: st.DrawFn) -> tuple[tuple[int, ...], list[tuple[str, np.ndarray]]]:
    """A sample shape and a few updates, each of values of one magnitude (1 to 1.7e308)."""
    shape = draw(st.sampled_from([(), (2,)]))
    kinds = ["update", "update_one", "update_scalar"] if shape == () else ["update", "update_one"]
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(kinds))
        n = draw(st.integers(1, 20)) if kind == "update" else 1
        scale = draw(st.sampled_from(MAGNITUDES))
        unit = draw(hnp.arrays(np.float64, (n, *shape), elements=st.floats(-1.0, 1.0)))
        ops.append((kind, unit * scale))
    return shape, ops


@SETTINGS
@given(case=_operations(), epsilon=st.sampled_from([0.0, 1e-4, 1.0]))
def test_updates_either_stay_finite_and_exact_or_raise_and_change_nothing(case, epsilon):
    shape, ops = case
    rms = RunningMeanStd(shape, epsilon=epsilon)
    accepted = np.zeros((0, *shape))
    for kind, values in ops:
        before = _state(rms)
        candidate = np.concatenate([accepted, values])
        moderate = float(np.max(np.abs(candidate))) <= MODERATE
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if kind == "update":
                    rms.update(values)
                elif kind == "update_one":
                    rms.update_one(values[0])
                else:
                    rms.update_scalar(float(values[0]))
        except StatisticsOverflowError:
            assert not moderate, "values far below the float64 limits were refused"
            _assert_unchanged(rms, before)
            continue
        accepted = candidate
        _assert_loadable(rms)
        scale = Fraction(max(1.0, float(np.max(np.abs(accepted)))))
        columns = accepted.reshape(len(accepted), -1).T
        for mean, var, column in zip(rms.mean.reshape(-1), rms.var.reshape(-1), columns):
            exact_mean, exact_var = _exact_moments([Fraction(float(v)) for v in column], epsilon)
            # A variance beyond the float64 range cannot be stored: the update must have raised.
            assert exact_var <= Fraction(FLOAT64_MAX)
            assert abs(Fraction(float(mean)) - exact_mean) <= Fraction(1e-12) * scale
            assert abs(Fraction(float(var)) - exact_var) <= Fraction(1e-9) * (
                exact_var + scale * scale / 10**6
            )


@SETTINGS
@given(
    scale=st.sampled_from(MAGNITUDES),
    steps=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_per_stream_updates_either_stay_finite_or_raise_and_change_nothing(scale, steps, seed):
    rng = np.random.default_rng(seed)
    rms = RunningMeanStd((2,), num_streams=3)
    for _ in range(steps):
        before = _state(rms)
        mask = rng.random(3) < 0.7
        x = rng.uniform(-1.0, 1.0, (3, 2)) * scale
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rms.update(x, mask if mask.any() else None)
        except StatisticsOverflowError:
            assert scale > MODERATE
            _assert_unchanged(rms, before)
            continue
        _assert_loadable(rms)


def test_mean_and_var_are_updated_in_place_and_never_rebound():
    # Code ported from Gymnasium or SB3 that keeps `old_var = rms.var` sees it change; the
    # docstring says to take a copy. A view made once follows the statistics, loads included.
    rms = RunningMeanStd((2,))
    mean, var = rms.mean, rms.var
    snapshot = rms.var.copy()
    view = torch.from_numpy(rms.var)
    rms.update_one(np.array([3.0, -1.0]))
    rms.update(np.array([[1.0, 2.0], [5.0, 0.0], [2.0, 2.0]]))
    assert rms.mean is mean and rms.var is var
    np.testing.assert_array_equal(snapshot, [1.0, 1.0])
    other = RunningMeanStd((2,))
    other.update(np.array([[10.0, 20.0], [30.0, 40.0]]))
    rms.load_state_dict(other.state_dict())
    assert rms.mean is mean and rms.var is var
    np.testing.assert_array_equal(view.numpy(), other.var)
    assert "in place" in (RunningMeanStd.__doc__ or "") and ".copy()" in (RunningMeanStd.__doc__ or "")


def _scripted(observations, rewards):
    """An env whose k-th reset or step returns ``observations[k]`` and ``rewards[k]``."""
    calls = {"k": 0}

    def next_k():
        calls["k"] += 1
        return calls["k"] - 1

    return GenericTestEnv(
        observation_space=spaces.Box(-np.inf, np.inf, (2,), np.float64),
        reset_func=lambda env, seed, options: (observations[next_k()], {}),
        step_func=lambda env, action: (observations[(k := next_k())], rewards[k], False, False, {}),
        episode_length=None,
    )


def test_single_env_normalisers_raise_on_huge_values_instead_of_returning_zeros():
    # They used to return zeros from then on: (x - mean) / sqrt(inf).
    obs = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [1e155, 0.0]])
    rewards = [0.0, 1.0, 1.0, 1e155]
    for wrap, rms_name in (
        (single.NormalizeObservation, "obs_rms"),
        (single.NormalizeReward, "return_rms"),
    ):
        env = wrap(_scripted(obs, rewards))
        env.reset()
        env.step(0)
        env.step(0)
        rms = getattr(env, rms_name)
        before = _state(rms)
        accumulated = getattr(env, "discounted_return", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match=OVERFLOW + r"1e\+155"):
                env.step(0)
        _assert_unchanged(rms, before)
        assert getattr(env, "discounted_return", None) == accumulated


@pytest.mark.parametrize("per_env", [False, True])
def test_vector_normalisers_raise_on_huge_values_and_change_nothing(per_env):
    def make():
        def step(env, action):
            huge = env.t == 2
            return np.full(2, 1e155 if huge else float(env.t)), (1e155 if huge else 1.0), False, False, {}

        return GenericTestEnv(
            observation_space=spaces.Box(-np.inf, np.inf, (2,), np.float64),
            reset_func=lambda env, seed, options: (np.zeros(2), {}),
            step_func=step,
            episode_length=None,
        )

    for wrap, rms_name, what in (
        (vector.NormalizeObservation, "obs_rms", None),
        (vector.NormalizeReward, "return_rms", "discounted_return"),
    ):
        env = wrap(make_vector_env(make, 3), per_env=per_env)
        env.reset(seed=0)
        env.step(np.zeros(3, dtype=np.int64))
        rms = getattr(env, rms_name)
        before = _state(rms)
        kept = None if what is None else getattr(env, what).copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match=OVERFLOW + r"1e\+155"):
                env.step(np.zeros(3, dtype=np.int64))
        _assert_unchanged(rms, before)
        if kept is not None:
            np.testing.assert_array_equal(getattr(env, what), kept)


# The wrappers check NaN and inf themselves, so those messages name them; the overflow shows in
# the update of their statistics and names RunningMeanStd until the wrappers restate it with
# wrappers._normalize.statistics_overflow (a change to wrappers/normalize.py and
# wrappers/vector/normalize.py). Remove the marker with that change.
@pytest.mark.parametrize(
    ("wrap", "message"),
    [
        (single.NormalizeObservation, r"^NormalizeObservation: observations: values too large"),
        (single.NormalizeReward, r"^NormalizeReward: discounted returns: values too large"),
    ],
)
def test_the_overflow_message_names_the_wrapper(wrap, message):
    env = wrap(
        _scripted(np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [1e155, 0.0]]), [0.0, 1.0, 1.0, 1e155])
    )
    env.reset()
    env.step(0)
    env.step(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(StatisticsOverflowError, match=message):
            env.step(0)


@pytest.mark.parametrize("make", [single.NormalizeReward, vector.NormalizeReward])
def test_a_return_accumulated_beyond_float64_is_named_as_an_overflow(make):
    # Frozen, the statistics are not updated but the return still accumulates: two rewards of
    # 1e308 take it to inf, which the statistics refuse once unfrozen.
    def step(env, action):
        return np.zeros(2), (1e308 if env.t <= 2 else 0.0), False, False, {}

    def env_fn():
        return GenericTestEnv(
            observation_space=spaces.Box(-np.inf, np.inf, (2,), np.float64),
            step_func=step,
            episode_length=None,
        )

    env = make(env_fn()) if make is single.NormalizeReward else make(make_vector_env(env_fn, 2))
    action = 0 if make is single.NormalizeReward else np.zeros(2, dtype=np.int64)
    env.reset(seed=0)
    env.freeze()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the vector accumulator's overflow
        env.step(action)
        env.step(action)
        env.unfreeze()
        before = _state(env.return_rms)
        with pytest.raises(
            StatisticsOverflowError, match=r"^NormalizeReward: discounted returns: values too large"
        ):
            env.step(action)
    _assert_unchanged(env.return_rms, before)


# --------------------------------------------------------------------------- 1b. checkpoints
def test_save_refuses_statistics_that_load_would_refuse(tmp_path):
    rms = RunningMeanStd((3,))
    rms.update(np.ones((2, 3)))
    rms.var[2] = np.inf  # only from outside: updates refuse to get there
    path = tmp_path / "ckpt.pt"
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"checkpoint.save: object 'stats' \(RunningMeanStd\) has a state that load\(\) would refuse, "
        r"so nothing was written: ValueError: RunningMeanStd.load_state_dict: 'var': non-finite value inf at index \(2,\)",
    ):
        checkpoint.save(path, stats=rms)
    assert not list(tmp_path.iterdir())


def test_save_refuses_a_frozen_reward_normaliser_whose_return_overflowed(tmp_path):
    # Frozen, the statistics are not updated, but the accumulated return still is: two
    # rewards of 1e308 make it inf. That state used to save, then fail to load.
    env = single.NormalizeReward(_scripted(np.zeros((3, 2)), [0.0, 1e308, 1e308]))
    env.reset()
    env.freeze()
    env.step(0)
    env.step(0)
    assert env.discounted_return == math.inf
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"object 'env' \(NormalizeReward\) has a state that load\(\) would refuse.*"
        r"'discounted_return' has a non-finite value inf",
    ):
        checkpoint.save(tmp_path / "ckpt.pt", env=env)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.pop("count"),
        lambda s: s.update(mean=torch.zeros(5)),
        lambda s: s.update(var=torch.tensor([1.0, float("nan"), 1.0], dtype=torch.float64)),
        lambda s: s.update(var=torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)),
        lambda s: s.update(count=torch.tensor(float("-inf"))),
    ],
)
def test_check_state_dict_is_the_check_that_load_state_dict_runs(change):
    rms = RunningMeanStd((3,))
    state = rms.state_dict()
    change(state)
    with pytest.raises((KeyError, ValueError)) as checked:
        rms.check_state_dict(state)
    with pytest.raises(type(checked.value)) as loaded:
        rms.load_state_dict(state)
    assert str(checked.value) == str(loaded.value)


def test_normalisers_that_saved_load_back(tmp_path):
    env = single.NormalizeReward(
        single.NormalizeObservation(_scripted(np.ones((4, 2)), [0.0, 1.0, 2.0, 3.0]))
    )
    env.reset()
    for _ in range(3):
        env.step(0)
    checkpoint.save(tmp_path / "ckpt.pt", rewards=env, observations=env.env)
    fresh = single.NormalizeReward(single.NormalizeObservation(_scripted(np.ones((1, 2)), [0.0])))
    checkpoint.load(tmp_path / "ckpt.pt", rewards=fresh, observations=fresh.env)
    assert fresh.discounted_return == env.discounted_return
    np.testing.assert_array_equal(fresh.env.obs_rms.var, env.env.obs_rms.var)


# --------------------------------------------------------------------------- 2. buffers
FLOAT32_OVERFLOW = Fraction(2**128 - 2**103)  # float32 max plus half its spacing: rounds to inf


def _replay(action_space, num_envs=2):
    return ReplayBuffer(
        10,
        spaces.Box(-1.0, 1.0, (2,), np.float32),
        action_space,
        num_envs=num_envs,
        autoreset_mode="SameStep",
    )


def test_an_action_out_of_the_int8_range_is_refused_not_wrapped():
    buffer = _replay(spaces.MultiBinary(3))
    obs, no = np.zeros((2, 2), np.float32), np.zeros(2, bool)
    actions = np.array([[1, 0, 1], [0, 300, 1]])  # int64, as a policy returns them
    with pytest.raises(
        ValueError,
        match=r"ReplayBuffer.add: actions holds 300 at index \(1, 1\), which int8 cannot store "
        r"\(it would become 44\); expected integers in \[-128, 127\]",
    ):
        buffer.add(obs, obs, actions, np.zeros(2), no, no)
    assert len(buffer) == 0 and not buffer._actions.any()
    buffer.add(obs, obs, np.array([[1, 0, 1], [0, 1, 1]]), np.zeros(2), no, no)
    assert buffer.sample(2).actions.dtype == torch.int8


def test_a_reward_that_overflows_float32_is_refused_not_stored_as_inf():
    buffer = _replay(spaces.Discrete(2))
    obs, no = np.zeros((2, 2), np.float32), np.zeros(2, bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(
            ValueError,
            match=r"ReplayBuffer.add: rewards holds 1e\+300 at index \(0,\), which float32 cannot store "
            r"\(it would become inf\); expected magnitudes up to 3.40282e\+38",
        ):
            buffer.add(obs, obs, np.zeros(2, np.int64), np.array([1e300, 1.0]), no, no)
    assert len(buffer) == 0
    # NaN and inf are what they are in float32 too: stored as given.
    buffer.add(obs, obs, np.zeros(2, np.int64), np.array([np.nan, -np.inf]), no, no)
    assert np.isnan(buffer._rewards[0, 0]) and buffer._rewards[0, 1] == -np.inf


def test_rollout_buffer_fields_go_through_the_same_check():
    buffer = RolloutBuffer(
        2,
        spaces.Box(-1.0, 1.0, (2,), np.float32),
        spaces.MultiBinary(2),
        num_envs=2,
        autoreset_mode="SameStep",
    )
    obs, zeros, no = np.zeros((2, 2), np.float32), np.zeros(2), np.zeros(2, bool)
    good = np.zeros((2, 2), np.int64)
    with pytest.raises(
        ValueError, match=r"RolloutBuffer.add: actions holds -129 at index \(0, 1\), which int8"
    ):
        buffer.add(obs, np.array([[0, -129], [0, 0]]), zeros, zeros, zeros, no, no)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for field in ("log_probs", "rewards", "values"):
            args = {"log_probs": zeros, "rewards": zeros, "values": zeros}
            args[field] = np.array([0.0, -1e39])
            with pytest.raises(
                ValueError, match=rf"RolloutBuffer.add: {field} holds -1e\+39 at index \(1,\)"
            ):
                buffer.add(obs, good, args["log_probs"], args["rewards"], args["values"], no, no)
        assert len(buffer) == 0
        buffer.add(obs, good, zeros, zeros, zeros, no, no)
        buffer.add(obs, good, zeros, zeros, zeros, no, no)
        with pytest.raises(ValueError, match=r"compute_returns_and_advantages: last_values holds 1e\+300"):
            buffer.compute_returns_and_advantages(np.array([1e300, 0.0]))


@st.composite
def _int_fields(draw: st.DrawFn) -> tuple[np.ndarray, np.dtype]:
    dtype = np.dtype(draw(st.sampled_from([np.int8, np.int16, np.int32, np.uint64])))
    source = np.dtype(draw(st.sampled_from([np.int64, np.uint64, np.int32])))
    values = draw(hnp.arrays(source, (2, 3), elements=st.integers(0, 0) | hnp.from_dtype(source)))
    return values, dtype


@SETTINGS
@given(_int_fields())
def test_integer_actions_are_stored_exactly_or_refused(case):
    values, dtype = case
    box = spaces.Box(low=0, high=1, shape=(3,), dtype=dtype)
    buffer = _replay(box)
    obs, no = np.zeros((2, 2), np.float32), np.zeros(2, bool)
    info = np.iinfo(dtype)
    fits = all(int(info.min) <= int(v) <= int(info.max) for v in values.ravel().tolist())
    try:
        buffer.add(obs, obs, values, np.zeros(2, np.float32), no, no)
    except TypeError:
        assert not np.can_cast(values.dtype, dtype, "same_kind")  # a change of kind, refused as before
        return
    except ValueError as error:
        assert not fits and "actions holds" in str(error) and str(dtype) in str(error)
        assert len(buffer) == 0
        return
    assert fits
    assert [int(v) for v in buffer._actions[0].ravel().tolist()] == [int(v) for v in values.ravel().tolist()]


@SETTINGS
@given(
    hnp.arrays(
        np.float64,
        st.sampled_from([(8,), (5000,)]),  # the small and the large-array check
        elements=st.floats(allow_nan=True, allow_infinity=True)
        | st.sampled_from([3.4028235e38, 3.4028236e38]),
    )
)
def test_float64_rewards_into_float32_keep_every_finite_value_finite_or_are_refused(rewards):
    n = len(rewards)
    buffer = ReplayBuffer(
        n, spaces.Box(-1.0, 1.0, (1,), np.float32), spaces.Discrete(2), num_envs=n, autoreset_mode="SameStep"
    )
    obs, actions, no = np.zeros((n, 1), np.float32), np.zeros(n, np.int64), np.zeros(n, bool)
    overflows = [math.isfinite(v) and abs(Fraction(v)) >= FLOAT32_OVERFLOW for v in rewards.tolist()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            buffer.add(obs, obs, actions, rewards, no, no)
        except ValueError as error:
            first = overflows.index(True)
            assert f"rewards holds {float(rewards[first])!r} at index ({first},)" in str(error)
            assert len(buffer) == 0
            return
    assert not any(overflows)
    stored = buffer._rewards[0]
    np.testing.assert_array_equal(np.isfinite(stored), np.isfinite(rewards))
    np.testing.assert_array_equal(stored, rewards.astype(np.float32))


# --------------------------------------------------------------------------- 3. arguments
REAL_TYPES = [float, np.float32, np.float64, np.float16, Fraction]


@SETTINGS
@given(gamma=st.floats(0.0, 1.0), kind=st.sampled_from(REAL_TYPES))
def test_gamma_may_be_any_real_number_in_the_unit_interval(gamma, kind):
    value = kind(gamma)
    for make in (
        lambda: single.NormalizeReward(GenericTestEnv(), gamma=value),
        lambda: vector.NormalizeReward(make_vector_env(GenericTestEnv, 2), gamma=value),
    ):
        env = make()
        assert type(env.gamma) is float and env.gamma == float(value)


def test_the_reported_numpy_float32_gamma_and_numpy_epsilon_and_clip_are_accepted():
    env = single.NormalizeReward(
        GenericTestEnv(), gamma=np.float32(0.99), epsilon=np.float64(1e-6), clip=np.int64(5)
    )
    assert (env.gamma, env.epsilon, env.clip) == (float(np.float32(0.99)), 1e-6, 5.0)
    assert type(env.clip) is float
    obs_env = vector.NormalizeObservation(
        make_vector_env(GenericTestEnv, 2), epsilon=np.float32(1e-4), clip=Fraction(3)
    )
    assert obs_env.clip == 3.0
    assert RunningMeanStd(epsilon=np.float32(0.5)).count == 0.5
    assert _replay(spaces.Discrete(2)).gamma == 0.99
    assert (
        ReplayBuffer(
            4, spaces.Discrete(2), spaces.Discrete(2), autoreset_mode="SameStep", gamma=np.int64(1)
        ).gamma
        == 1.0
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"gamma": np.float32("nan")}, r"gamma must be a number in \[0, 1\], got np.float32\(nan\)$"),
        ({"gamma": float("nan")}, r"gamma must be a number in \[0, 1\], got nan$"),
        ({"gamma": True}, r"gamma must be a number in \[0, 1\], got True \(a bool, not a real number\)"),
        (
            {"gamma": np.bool_(True)},
            r"gamma must be a number in \[0, 1\], got np.True_ \(a bool, not a real number\)",
        ),
        ({"gamma": "0.99"}, r"gamma must be a number in \[0, 1\], got '0.99' \(a str, not a real number\)"),
        ({"gamma": np.float32(1.5)}, r"gamma must be a number in \[0, 1\], got np.float32\(1.5\)$"),
        ({"epsilon": np.float64(0.0)}, r"epsilon must be a finite number > 0, got np.float64\(0.0\)"),
        ({"epsilon": np.float32("inf")}, r"epsilon must be a finite number > 0, got np.float32\(inf\)"),
        ({"clip": np.int64(-1)}, r"clip must be None or a finite number > 0, got np.int64\(-1\)"),
        (
            {"clip": False},
            r"clip must be None or a finite number > 0, got False \(a bool, not a real number\)",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_the_wrapper_the_value_and_the_range(arguments, message):
    with pytest.raises(ValueError, match=r"^NormalizeReward: " + message):
        single.NormalizeReward(GenericTestEnv(), **arguments)
    with pytest.raises(ValueError, match=r"^NormalizeReward: " + message):
        vector.NormalizeReward(make_vector_env(GenericTestEnv, 2), **arguments)


def test_statistics_refuse_a_bool_epsilon():
    with pytest.raises(ValueError, match=r"epsilon must be a finite number >= 0, got True"):
        RunningMeanStd(epsilon=True)
