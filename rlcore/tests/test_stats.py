"""RunningMeanStd against float64 NumPy recomputations, naive loops and Gymnasium's update formula."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from gymnasium.wrappers.utils import update_mean_var_count_from_moments
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rlcore.stats import RunningMeanStd, StatisticsOverflowError

SETTINGS = settings(max_examples=50, deadline=None)
SHAPES = st.sampled_from([(), (3,), (2, 2)])


def _feed(rms: RunningMeanStd, data: np.ndarray, cuts: list[int], single: list[bool]) -> None:
    """Feed ``data`` in the batches that ``cuts`` delimit; batches of one go through ``update_one`` when asked."""
    for i, part in enumerate(np.split(data, sorted(set(cuts)))):
        if len(part) == 1 and single[i % len(single)]:
            rms.update_one(part[0])
        else:
            rms.update(part)


@st.composite
def _batched_data(draw: st.DrawFn, bound: float = 1e3) -> tuple[np.ndarray, list[int], list[bool]]:
    shape = draw(SHAPES)
    n = draw(st.integers(1, 40))
    data = draw(hnp.arrays(np.float64, (n, *shape), elements=st.floats(-bound, bound)))
    cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=6)) if n > 1 else []
    single = draw(st.lists(st.booleans(), min_size=1, max_size=4))
    return data, cuts, single


@SETTINGS
@given(_batched_data())
def test_epsilon_zero_gives_the_mean_and_var_of_everything_seen(case):
    data, cuts, single = case
    rms = RunningMeanStd(data.shape[1:], epsilon=0.0)
    _feed(rms, data, cuts, single)
    scale = max(1.0, float(np.max(np.abs(data))))
    np.testing.assert_allclose(rms.mean, np.mean(data, axis=0), rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(rms.var, np.var(data, axis=0), rtol=1e-9, atol=1e-12 * scale**2)
    assert rms.count == len(data)


@SETTINGS
@given(_batched_data(bound=100.0))
def test_default_prior_is_a_pseudo_batch_of_epsilon_samples_with_mean_0_var_1(case):
    data, cuts, single = case
    rms = RunningMeanStd(data.shape[1:])
    _feed(rms, data, cuts, single)
    eps, n = 1e-4, len(data)
    # Moments about zero of the union of the prior (weight eps, E[x^2] = 1) and the data.
    mean = data.sum(axis=0) / (eps + n)
    second_moment = (eps * 1.0 + np.square(data).sum(axis=0)) / (eps + n)
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(rms.var, second_moment - mean**2, rtol=1e-8, atol=1e-8)
    assert rms.count == pytest.approx(eps + n, rel=1e-15)


@SETTINGS
@given(
    scale=st.sampled_from([1e-100, 1e-50, 1e-8, 1.0, 1e8, 1e50, 1e100]),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(1, 59), max_size=6),
)
def test_very_large_and_very_small_magnitudes(scale, seed, cuts):
    data = scale * np.random.default_rng(seed).standard_normal((60, 2))
    rms = RunningMeanStd((2,), epsilon=0.0)
    _feed(rms, data, cuts, [True])
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=1e-11, atol=1e-13 * scale)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=1e-11)


@SETTINGS
@given(
    spread=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(1, 199), max_size=8),
)
def test_large_offset_with_small_spread(spread, seed, cuts):
    offset = 1e9
    data = offset + spread * np.random.default_rng(seed).standard_normal((200, 3))
    rms = RunningMeanStd((3,), epsilon=0.0)
    _feed(rms, data, cuts, [True, False])
    # A running mean is stored to the resolution ulp(offset); every mean difference then
    # carries an error of that size, so the attainable relative accuracy of the variance is
    # a small multiple of ulp(offset) / spread (np.var sees the same quantised data exactly).
    rtol = 100 * np.spacing(offset) / spread
    # Batch sums are dot products (not pairwise sums): error bound n * eps relative.
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=len(data) * np.finfo(float).eps)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=rtol)


@SETTINGS
@given(
    num_streams=st.integers(1, 5),
    shape=SHAPES,
    steps=st.integers(1, 12),
    epsilon=st.sampled_from([0.0, 1e-4, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_per_stream_layout_matches_independent_shared_objects(num_streams, shape, steps, epsilon, seed):
    rng = np.random.default_rng(seed)
    streams = RunningMeanStd(shape, epsilon=epsilon, num_streams=num_streams)
    naive = [RunningMeanStd(shape, epsilon=epsilon) for _ in range(num_streams)]
    for _ in range(steps):
        x = rng.normal(3.0, 2.0, (num_streams, *shape))
        mask = rng.random(num_streams) < 0.7
        x[~mask] = np.nan  # rows outside the mask must not be read
        streams.update(x, mask=None if (mask.all() and rng.random() < 0.5) else mask)
        for i in np.flatnonzero(mask):
            naive[i].update(x[i : i + 1])
    np.testing.assert_allclose(streams.mean, np.stack([r.mean for r in naive]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(streams.var, np.stack([r.var for r in naive]), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(streams.count, [r.count for r in naive])


@SETTINGS
@given(
    num_streams=st.integers(1, 5),
    shape=SHAPES,
    steps=st.integers(1, 12),
    offset=st.sampled_from([0.0, 1e4, -1e7]),
    seed=st.integers(0, 2**32 - 1),
)
def test_per_stream_layout_matches_numpy_per_stream(num_streams, shape, steps, offset, seed):
    # epsilon=0: each stream's statistics are np.mean / np.var of the rows its mask let in.
    rng = np.random.default_rng(seed)
    rms = RunningMeanStd(shape, epsilon=0.0, num_streams=num_streams)
    seen: list[list[np.ndarray]] = [[] for _ in range(num_streams)]
    for _ in range(steps):
        x = offset + rng.normal(0.0, 3.0, (num_streams, *shape)).astype(rng.choice([np.float32, np.float64]))
        mask = rng.random(num_streams) < 0.7
        rms.update(x, mask=mask)
        for i in np.flatnonzero(mask):
            seen[i].append(np.asarray(x[i], dtype=np.float64))
    for i, rows in enumerate(seen):
        if not rows:
            assert rms.count[i] == 0.0
            np.testing.assert_array_equal(rms.mean[i], 0.0)
            np.testing.assert_array_equal(rms.var[i], 1.0)
            continue
        data = np.stack(rows)
        rtol = 1e-10 + 100 * np.spacing(abs(offset)) / max(float(data.std(axis=0).min()), 1e-300)
        np.testing.assert_allclose(
            rms.mean[i], data.mean(axis=0), rtol=1e-12, atol=1e-12 * (1.0 + abs(offset))
        )
        np.testing.assert_allclose(rms.var[i], data.var(axis=0), rtol=rtol, atol=1e-300)
        assert rms.count[i] == len(rows)


@SETTINGS
@given(
    shape=SHAPES,
    batches=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_update_from_moments_matches_gymnasiums_formula(shape, batches, seed):
    rng = np.random.default_rng(seed)
    rms = RunningMeanStd(shape)
    mean, var, count = np.zeros(shape), np.ones(shape), 1e-4
    for n in batches:
        x = rng.normal(-1.0, 5.0, (n, *shape))
        rms.update_from_moments(x.mean(axis=0), x.var(axis=0), n)
        mean, var, count = update_mean_var_count_from_moments(
            mean, var, count, x.mean(axis=0), x.var(axis=0), n
        )
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rms.var, var, rtol=1e-12)
    assert rms.count == pytest.approx(count, rel=1e-15)


@SETTINGS
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), epsilon=st.sampled_from([0.0, 1e-4]))
def test_scalar_and_single_sample_paths_agree_with_the_batch_of_one(values, epsilon):
    by_scalar, by_one, by_batch = (RunningMeanStd((), epsilon=epsilon) for _ in range(3))
    for v in values:
        by_scalar.update_scalar(v)
        by_one.update_one(np.array(v))
        by_batch.update(np.array([v]))
    for rms in (by_scalar, by_one):
        np.testing.assert_allclose(rms.mean, by_batch.mean, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(rms.var, by_batch.var, rtol=1e-12, atol=1e-12)
        assert rms.count == by_batch.count
        assert isinstance(rms.mean, np.ndarray) and rms.mean.shape == ()


def test_welford_single_samples_match_a_naive_recomputation():
    data = np.random.default_rng(0).normal(2.0, 3.0, (25, 4)).astype(np.float32)
    rms = RunningMeanStd((4,), epsilon=0.0)
    for i, x in enumerate(data):
        rms.update_one(x)
        seen = data[: i + 1].astype(np.float64)
        np.testing.assert_allclose(rms.mean, seen.mean(axis=0), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(rms.var, seen.var(axis=0), rtol=1e-11, atol=1e-14)


def test_normalize_and_std():
    rms = RunningMeanStd((2,), epsilon=0.0)
    data = np.array([[1.0, -4.0], [5.0, 0.0], [3.0, 10.0]])
    rms.update(data)
    x = np.array([2.0, 1.0])
    expected = (x - data.mean(axis=0)) / np.sqrt(data.var(axis=0) + 1e-8)
    np.testing.assert_allclose(rms.normalize(x), expected, rtol=1e-15)
    np.testing.assert_allclose(rms.std, data.std(axis=0), rtol=1e-15)


def test_finite_values_whose_sum_of_squares_overflows_are_accepted():
    # The one-reduction finiteness check overflows here; the values are finite, and so are
    # their statistics (the spread is small next to the offset).
    data = np.array([[1e160, -1e160], [1e160 + 1e150, -1e160 - 3e150]])
    rms = RunningMeanStd((2,), epsilon=0.0)
    rms.update(data)
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=1e-9)


# --------------------------------------------------------------------------- state
def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("num_streams", [None, 3])
def test_state_dict_round_trip_through_torch_save(num_streams):
    rng = np.random.default_rng(1)
    rms = RunningMeanStd((2,), num_streams=num_streams)
    for _ in range(5):
        rms.update(rng.normal(size=(3, 2)))
    state = rms.state_dict()
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in state.values())
    fresh = RunningMeanStd((2,), num_streams=num_streams)
    fresh.load_state_dict(_roundtrip(state))
    np.testing.assert_array_equal(fresh.mean, rms.mean)
    np.testing.assert_array_equal(fresh.var, rms.var)
    np.testing.assert_array_equal(fresh.count, rms.count)
    # The loaded copy evolves exactly like the original.
    x = rng.normal(size=(3, 2))
    rms.update(x)
    fresh.update(x)
    np.testing.assert_array_equal(fresh.var, rms.var)
    # state_dict hands out copies.
    state["mean"] += 1.0
    assert not np.array_equal(rms.mean + 1.0, fresh.mean)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda s: s.pop("var"), KeyError, r"missing keys \['var'\]"),
        (lambda s: s.update(mean=torch.zeros(4)), ValueError, r"'mean' has shape \(4,\), expected \(3,\)"),
        (lambda s: s.update(count=torch.zeros(2)), ValueError, r"'count' has shape \(2,\), expected \(\)"),
        (
            lambda s: s.update(var=torch.tensor([1.0, float("nan"), 1.0], dtype=torch.float64)),
            ValueError,
            r"'var': non-finite value nan at index \(1,\)",
        ),
        (
            lambda s: s.update(count=torch.tensor(float("inf"))),
            ValueError,
            r"'count': non-finite value inf at index \(\)",
        ),
        (
            lambda s: s.update(var=torch.tensor([1.0, -2.0, 1.0])),
            ValueError,
            r"'var' has a negative value -2.0",
        ),
    ],
)
def test_load_state_dict_rejects_bad_states_and_changes_nothing(change, error, match):
    rms = RunningMeanStd((3,))
    rms.update(np.arange(6.0).reshape(2, 3))
    before = rms.state_dict()
    state = rms.state_dict()
    change(state)
    with pytest.raises(error, match=match) as info:
        rms.load_state_dict(state)
    assert "np.float64" not in str(info.value)
    for key, value in rms.state_dict().items():
        torch.testing.assert_close(value, before[key])


# --------------------------------------------------------------------------- errors
def test_constructor_validates_its_arguments():
    with pytest.raises(ValueError, match=r"epsilon must be a finite number >= 0, got -1"):
        RunningMeanStd(epsilon=-1)
    with pytest.raises(ValueError, match=r"epsilon must be a finite number >= 0, got nan"):
        RunningMeanStd(epsilon=float("nan"))
    with pytest.raises(ValueError, match=r"num_streams must be None or an int >= 1, got 0"):
        RunningMeanStd(num_streams=0)
    with pytest.raises(ValueError, match=r"num_streams must be None or an int >= 1, got True"):
        RunningMeanStd(num_streams=True)


def test_update_rejects_bad_input_and_leaves_the_statistics_alone():
    rms = RunningMeanStd((3,))
    rms.update(np.ones((2, 3)))
    before = {k: v.clone() for k, v in rms.state_dict().items()}
    with pytest.raises(ValueError, match=r"expected a batch of shape \(B, 3\), got \(3,\)"):
        rms.update(np.ones(3))
    with pytest.raises(
        ValueError, match=r"mask must be a bool array of shape \(2,\), got dtype int64 and shape \(2,\)"
    ):
        rms.update(np.ones((2, 3)), mask=np.array([1, 0]))
    bad = np.ones((4, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value nan at index \(2, 1\)") as info:
        rms.update(bad)
    assert "np.float64" not in str(info.value)
    # The index names the row of the full batch, not of the masked selection.
    bad[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"non-finite value -inf at index \(2, 1\)"):
        rms.update(bad, mask=np.array([False, True, True, False]))
    with pytest.raises(ValueError, match=r"update_one: non-finite value inf at index \(0,\)"):
        rms.update_one(np.array([np.inf, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"expected one sample of shape \(3,\), got \(1, 3\)"):
        rms.update_one(np.ones((1, 3)))
    for key, value in rms.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_layout_specific_methods_refuse_the_other_layout():
    streams = RunningMeanStd((2,), num_streams=3)
    with pytest.raises(TypeError, match=r"update_one is for the shared layout"):
        streams.update_one(np.zeros(2))
    with pytest.raises(TypeError, match=r"update_from_moments is for the shared layout"):
        streams.update_from_moments(np.zeros(2), np.ones(2), 1)
    with pytest.raises(
        TypeError, match=r"update_scalar needs the shared layout with shape \(\), got shape=\(2,\)"
    ):
        RunningMeanStd((2,)).update_scalar(1.0)
    with pytest.raises(ValueError, match=r"update_scalar: non-finite value nan"):
        RunningMeanStd().update_scalar(float("nan"))
    with pytest.raises(ValueError, match=r"expected shape \(3, 2\) \(one sample per stream\), got \(2, 2\)"):
        streams.update(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"update: non-finite value nan at index \(1, 0\)"):
        streams.update(np.array([[0.0, 0.0], [np.nan, 0.0], [0.0, 0.0]]), mask=np.array([False, True, True]))
    with pytest.raises(ValueError, match=r"batch_var has shape \(3,\), expected \(2,\)"):
        RunningMeanStd((2,)).update_from_moments(np.zeros(2), np.ones(3), 4)


def test_an_empty_mask_changes_nothing():
    for rms in (RunningMeanStd((2,)), RunningMeanStd((2,), num_streams=2)):
        rms.update(np.full((2, 2), np.nan), mask=np.zeros(2, dtype=bool))
        np.testing.assert_array_equal(rms.mean, 0.0)
        np.testing.assert_array_equal(rms.count, 1e-4)


# --------------------------------------------------------------------------- fast paths
# update() has three ways to reduce a batch: Python floats for up to 16 scalars, the
# deviations from the current mean once the count is at least the batch size, and the
# two-pass form otherwise. Each must agree with NumPy's own mean and variance.
@SETTINGS
@given(
    shape=SHAPES,
    batch=st.sampled_from([2, 8, 16, 17, 40]),
    batches=st.integers(1, 12),
    offset=st.sampled_from([0.0, 1e4, -1e7]),
    epsilon=st.sampled_from([0.0, 1e-4, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_reduction_path_matches_numpy(shape, batch, batches, offset, epsilon, seed):
    rng = np.random.default_rng(seed)
    data = offset + rng.normal(0.0, 3.0, (batches * batch, *shape)) * rng.uniform(0.1, 10.0, shape)
    rms = RunningMeanStd(shape, epsilon=epsilon)
    for part in np.split(data, batches):
        rms.update(part)
    # Moments of the union of the prior (weight epsilon, mean 0, variance 1) and the data.
    count = epsilon + len(data)
    mean = data.sum(axis=0) / count
    centred = data - mean
    var = (epsilon * (1.0 + mean**2) + np.square(centred).sum(axis=0)) / count
    # As in test_large_offset_with_small_spread: a running mean is stored to the resolution
    # ulp(offset), which bounds the attainable relative accuracy of the variance.
    rtol = 1e-10 + 100 * np.spacing(abs(offset)) / data.std(axis=0).min()
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-12, atol=1e-12 * (1.0 + abs(offset)))
    np.testing.assert_allclose(rms.var, var, rtol=rtol)
    assert rms.count == pytest.approx(count, rel=1e-15)


@pytest.mark.parametrize("batch", [8, 40])
def test_scalar_batches_report_the_first_non_finite_value_and_change_nothing(batch):
    rms = RunningMeanStd()
    rms.update(np.arange(batch, dtype=np.float64))
    before = {k: v.clone() for k, v in rms.state_dict().items()}
    bad = np.ones(batch)
    bad[batch - 3] = -np.inf
    bad[batch - 1] = np.nan
    with pytest.raises(ValueError, match=rf"non-finite value -inf at index \({batch - 3},\)"):
        rms.update(bad)
    for key, value in rms.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_large_batches_report_the_first_non_finite_value_and_change_nothing():
    # 8 x 24 x 24 = 4608 entries: the finiteness test without a dot product.
    rms = RunningMeanStd((24, 24))
    rms.update(np.random.default_rng(0).normal(size=(8, 24, 24)).astype(np.float32))
    before = {k: v.clone() for k, v in rms.state_dict().items()}
    bad = np.zeros((8, 24, 24), dtype=np.float32)
    bad[5, 3, 7] = np.inf
    bad[6, 0, 0] = np.nan
    for check in (True, False):
        bad_rms = RunningMeanStd((24, 24))
        bad_rms.load_state_dict(before)
        with pytest.raises(ValueError, match=r"non-finite value inf at index \(5, 3, 7\)"):
            bad_rms.update(bad) if check else bad_rms.update(bad, mask=np.ones(8, dtype=bool))
        for key, value in bad_rms.state_dict().items():
            torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_opposite_infinities_in_one_column_are_reported():
    # Their sum is NaN (NumPy may warn about the invalid operation before the error).
    rms = RunningMeanStd((2,))
    rms.update(np.ones((3, 2)))
    before = {k: v.clone() for k, v in rms.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"non-finite value inf at index \(0, 1\)"):
            rms.update(np.array([[0.0, np.inf], [0.0, -np.inf], [0.0, 0.0]]))
    for key, value in rms.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="no extended precision")
def test_finite_extended_precision_values_are_not_reported_as_non_finite():
    # Finite where they come from: only their float64 copies overflow, so they are too large
    # for float64 statistics, which is no NaN or inf in the input.
    values = np.array([np.longdouble(1e300) * np.longdouble(1e10), np.longdouble(1.0)])
    rms = RunningMeanStd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflowing cast to float64
        with pytest.raises(StatisticsOverflowError, match=r"too large for float64 statistics: .* is 1e\+310"):
            rms.update(values)
    assert rms.count == 1e-4


def test_statistics_overflow_error_presents_as_rlcore_stats():
    # Defined in the private rlcore._overflow, next to its messages; public (and named in
    # tracebacks, reprs and pickles) as rlcore.stats.StatisticsOverflowError.
    rms = RunningMeanStd((2,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the squares that overflow
        with pytest.raises(StatisticsOverflowError) as info:
            rms.update(np.array([[1e200, 0.0], [-1e200, 0.0]]))
    assert type(info.value).__module__ == "rlcore.stats"
    assert (
        f"{type(info.value).__module__}.{type(info.value).__qualname__}"
        == "rlcore.stats.StatisticsOverflowError"
    )
    assert isinstance(info.value, ValueError)
    assert info.value.detail.startswith("values too large for float64 statistics")
