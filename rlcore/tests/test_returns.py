"""rlcore.returns against naive per-env Python loops, SB3's GAE, identities and an analytic fixed point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rlcore.returns import discounted_returns, gae, n_step_returns, td_lambda_returns

RTOL, ATOL = 1e-10, 1e-9


# ---------------------------------------------------------------------------- naive references
# Written from the definitions, one env and one step at a time, in float64 Python floats.
def _columns(*xs):
    return [np.asarray(x, dtype=np.float64).reshape(len(x), int(np.prod(np.shape(x)[1:]))) for x in xs]


def naive_gae(r, v, nv, term, trunc, gamma, lam):
    shape = np.shape(r)
    r, v, nv, term, trunc = _columns(r, v, nv, term, trunc)
    steps, envs = r.shape
    adv = np.zeros_like(r)
    for n in range(envs):
        running = 0.0
        for t in reversed(range(steps)):
            bootstrap = 0.0 if term[t, n] else gamma * nv[t, n]
            delta = r[t, n] + bootstrap - v[t, n]
            if t == steps - 1 or term[t, n] or trunc[t, n]:
                running = delta
            else:
                running = delta + gamma * lam * running
            adv[t, n] = running
    return adv.reshape(shape), (adv + v).reshape(shape)


def naive_td_lambda(r, nv, term, trunc, gamma, lam):
    shape = np.shape(r)
    r, nv, term, trunc = _columns(r, nv, term, trunc)
    steps, envs = r.shape
    out = np.zeros_like(r)
    for n in range(envs):
        g = 0.0
        for t in reversed(range(steps)):
            if term[t, n]:
                g = r[t, n]
            elif trunc[t, n] or t == steps - 1:
                g = r[t, n] + gamma * nv[t, n]
            else:
                g = r[t, n] + gamma * ((1 - lam) * nv[t, n] + lam * g)
            out[t, n] = g
    return out.reshape(shape)


def naive_discounted(r, nv, term, trunc, gamma):
    shape = np.shape(r)
    r, nv, term, trunc = _columns(r, nv, term, trunc)
    steps, envs = r.shape
    out = np.zeros_like(r)
    for n in range(envs):
        g = 0.0
        for t in reversed(range(steps)):
            if term[t, n]:
                g = r[t, n]
            elif trunc[t, n] or t == steps - 1:
                g = r[t, n] + gamma * nv[t, n]
            else:
                g = r[t, n] + gamma * g
            out[t, n] = g
    return out.reshape(shape)


# ---------------------------------------------------------------------------- strategies
floats = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
unit = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))


@st.composite
def rollouts(draw, consistent=False):
    """(rewards, values, next_values, terminated, truncated) of shape (T, N)."""
    steps = draw(st.integers(1, 40))
    envs = draw(st.integers(1, 4))
    shape = (steps, envs)
    rewards = draw(arrays(np.float64, shape, elements=floats))
    values = draw(arrays(np.float64, shape, elements=floats))
    next_values = draw(arrays(np.float64, shape, elements=floats))
    p_end = draw(st.sampled_from([0.0, 0.1, 0.5]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    terminated = rng.random(shape) < p_end
    truncated = rng.random(shape) < p_end
    if consistent:
        # As in a rollout: inside an episode the next state's value is values[t + 1].
        ended = terminated | truncated
        next_values[:-1] = np.where(ended[:-1], next_values[:-1], values[1:])
    return rewards, values, next_values, terminated, truncated


# ---------------------------------------------------------------------------- against the loops
@settings(max_examples=50, deadline=None)
@given(data=rollouts(), gamma=unit, lam=unit)
def test_gae_matches_naive_loop(data, gamma, lam):
    adv, ret = gae(*data, gamma=gamma, lam=lam)
    ref_adv, ref_ret = naive_gae(*data, gamma, lam)
    np.testing.assert_allclose(adv, ref_adv, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ret, ref_ret, rtol=RTOL, atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(data=rollouts(), gamma=unit, lam=unit)
def test_td_lambda_returns_match_naive_loop(data, gamma, lam):
    r, _, nv, term, trunc = data
    out = td_lambda_returns(r, nv, term, trunc, gamma=gamma, lam=lam)
    np.testing.assert_allclose(out, naive_td_lambda(r, nv, term, trunc, gamma, lam), rtol=RTOL, atol=ATOL)


@settings(max_examples=50, deadline=None)
@given(data=rollouts(), gamma=unit)
def test_discounted_returns_match_naive_loop(data, gamma):
    r, _, nv, term, trunc = data
    out = discounted_returns(r, nv, term, trunc, gamma=gamma)
    np.testing.assert_allclose(out, naive_discounted(r, nv, term, trunc, gamma), rtol=RTOL, atol=ATOL)


@settings(max_examples=30, deadline=None)
@given(data=rollouts(), gamma=unit, lam=unit)
def test_torch_inputs_give_the_numpy_result(data, gamma, lam):
    adv, ret = gae(*(torch.from_numpy(x) for x in data), gamma=gamma, lam=lam)
    ref_adv, ref_ret = gae(*data, gamma=gamma, lam=lam)
    assert isinstance(adv, torch.Tensor) and adv.dtype == torch.float64
    np.testing.assert_allclose(adv.numpy(), ref_adv, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ret.numpy(), ref_ret, rtol=RTOL, atol=ATOL)


def test_long_rollout_stays_accurate():
    # 2048 x 8 with gamma * lam close to 1: the doubling scan against the loop, relatively.
    rng = np.random.default_rng(0)
    shape = (2048, 8)
    r, v, nv = rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(shape)
    term, trunc = rng.random(shape) < 0.002, rng.random(shape) < 0.002
    adv, ret = gae(r, v, nv, term, trunc, gamma=0.999, lam=0.99)
    ref_adv, ref_ret = naive_gae(r, v, nv, term, trunc, 0.999, 0.99)
    scale = np.abs(ref_adv).max()
    assert np.abs(adv - ref_adv).max() <= 1e-12 * scale
    assert np.abs(ret - ref_ret).max() <= 1e-12 * np.abs(ref_ret).max()


# ---------------------------------------------------------------------------- identities
@settings(max_examples=50, deadline=None)
@given(data=rollouts(consistent=True), gamma=unit, lam=unit)
def test_gae_returns_equal_td_lambda_returns(data, gamma, lam):
    r, v, nv, term, trunc = data
    _, ret = gae(r, v, nv, term, trunc, gamma=gamma, lam=lam)
    np.testing.assert_allclose(
        ret, td_lambda_returns(r, nv, term, trunc, gamma=gamma, lam=lam), rtol=RTOL, atol=ATOL
    )


@settings(max_examples=50, deadline=None)
@given(data=rollouts(consistent=True), gamma=unit)
def test_lam_one_gae_returns_are_bootstrapped_discounted_returns(data, gamma):
    r, v, nv, term, trunc = data
    _, ret = gae(r, v, nv, term, trunc, gamma=gamma, lam=1.0)
    np.testing.assert_allclose(ret, discounted_returns(r, nv, term, trunc, gamma=gamma), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        td_lambda_returns(r, nv, term, trunc, gamma=gamma, lam=1.0),
        discounted_returns(r, nv, term, trunc, gamma=gamma),
        rtol=RTOL,
        atol=ATOL,
    )


@settings(max_examples=50, deadline=None)
@given(data=rollouts(), gamma=unit)
def test_lam_zero_advantages_are_one_step_td_errors(data, gamma):
    r, v, nv, term, trunc = data
    adv, _ = gae(r, v, nv, term, trunc, gamma=gamma, lam=0.0)
    np.testing.assert_allclose(adv, r + gamma * ~term * nv - v, rtol=RTOL, atol=ATOL)


def test_matches_stable_baselines3_without_truncation():
    # SB3's RolloutBuffer knows only episode starts (terminations); with no truncation the
    # two must agree.
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer as SB3RolloutBuffer

    steps, envs, gamma, lam = 64, 3, 0.97, 0.9
    rng = np.random.default_rng(1)
    sb3 = SB3RolloutBuffer(
        steps, spaces.Box(-1, 1, (1,)), spaces.Discrete(2), gamma=gamma, gae_lambda=lam, n_envs=envs
    )
    rewards = rng.standard_normal((steps, envs)).astype(np.float32)
    values = rng.standard_normal((steps, envs)).astype(np.float32)
    terminated = rng.random((steps, envs)) < 0.1
    last_values = rng.standard_normal(envs).astype(np.float32)
    sb3.rewards[:], sb3.values[:] = rewards, values
    sb3.episode_starts[1:] = terminated[:-1]
    sb3.compute_returns_and_advantage(torch.from_numpy(last_values), terminated[-1])

    next_values = np.concatenate([values[1:], last_values[None]])
    adv, ret = gae(rewards, values, next_values, terminated, np.zeros_like(terminated), gamma=gamma, lam=lam)
    np.testing.assert_allclose(adv, sb3.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, sb3.returns, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- analytic checks
def _fixed_point_value(gamma, lam, truncation_as_termination):
    """Iterate V <- mean GAE return on a one-state env with reward 1 and a time limit of 10."""
    steps, limit = 200, 10
    truncated = (np.arange(steps) % limit == limit - 1)[:, None]
    rewards = np.ones((steps, 1))
    value = 0.0
    for _ in range(400):
        values = np.full((steps, 1), value)
        if truncation_as_termination:
            flags = (truncated, np.zeros_like(truncated))
        else:
            flags = (np.zeros_like(truncated), truncated)
        _, returns = gae(rewards, values, values, *flags, gamma=gamma, lam=lam)
        value = float(returns.mean())
    return value


@pytest.mark.parametrize("lam", [0.0, 0.95, 1.0])
def test_constant_reward_value_approaches_one_over_one_minus_gamma(lam):
    # SB3's analytic check: the task is infinite-horizon, the time limit only truncates, so
    # the value of the single state is 1 / (1 - gamma) once truncation bootstraps.
    gamma = 0.9
    assert _fixed_point_value(gamma, lam, truncation_as_termination=False) == pytest.approx(
        1 / (1 - gamma), rel=1e-9
    )
    # Treating the time limit as termination (CleanRL#198) underestimates it.
    assert _fixed_point_value(gamma, lam, truncation_as_termination=True) < 0.8 / (1 - gamma)


def test_truncation_bootstraps_and_termination_does_not():
    r = np.array([[1.0], [1.0]])
    v = np.array([[0.0], [0.0]])
    nv = np.array([[5.0], [7.0]])
    ended = np.array([[True], [False]])
    none = np.zeros_like(ended)
    adv_trunc, _ = gae(r, v, nv, none, ended, gamma=0.5, lam=0.5)
    adv_term, _ = gae(r, v, nv, ended, none, gamma=0.5, lam=0.5)
    # Step 0 ends the episode either way (step 1 never enters it); only truncation adds gamma * V(final).
    np.testing.assert_allclose(adv_trunc[:, 0], [1.0 + 0.5 * 5.0, 1.0 + 0.5 * 7.0])
    np.testing.assert_allclose(adv_term[:, 0], [1.0, 1.0 + 0.5 * 7.0])
    both, _ = gae(r, v, nv, ended, ended, gamma=0.5, lam=0.5)
    np.testing.assert_array_equal(both, adv_term)


# ---------------------------------------------------------------------------- kinds, shapes, dtypes
def test_output_dtype_follows_the_floating_inputs():
    r = np.ones((3, 2), dtype=np.float32)
    flags = np.zeros((3, 2), dtype=bool)
    adv, ret = gae(r, r, r, flags, flags)
    assert adv.dtype == np.float32 and ret.dtype == np.float32
    adv, _ = gae(r, r.astype(np.float64), r, flags, flags)
    assert adv.dtype == np.float64
    t = torch.ones(3, 2, dtype=torch.float32, requires_grad=True)
    tflags = torch.zeros(3, 2, dtype=torch.bool)
    adv, ret = gae(t, t, t, tflags, tflags)
    assert adv.dtype == torch.float32 and adv.device == t.device and not adv.requires_grad
    assert td_lambda_returns(t.double(), t, tflags, tflags).dtype == torch.float64


@pytest.mark.parametrize("shape", [(5,), (5, 1), (4, 2, 3), (1, 3), (0, 2)])
def test_any_trailing_shape(shape):
    rng = np.random.default_rng(0)
    r, v, nv = (rng.standard_normal(shape) for _ in range(3))
    term, trunc = rng.random(shape) < 0.3, rng.random(shape) < 0.3
    adv, ret = gae(r, v, nv, term, trunc, gamma=0.9, lam=0.8)
    assert adv.shape == shape
    ref_adv, ref_ret = naive_gae(r, v, nv, term, trunc, 0.9, 0.8)
    np.testing.assert_allclose(adv, ref_adv, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ret, ref_ret, rtol=RTOL, atol=ATOL)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((6, 2)) for _ in range(3)] + [rng.random((6, 2)) < 0.3 for _ in range(2)]
    copies = [x.copy() for x in data]
    gae(*data)
    td_lambda_returns(data[0], data[2], data[3], data[4])
    for x, c in zip(data, copies):
        np.testing.assert_array_equal(x, c)


# ---------------------------------------------------------------------------- errors
def _good():
    return (
        np.zeros((4, 2)),
        np.zeros((4, 2)),
        np.zeros((4, 2)),
        np.zeros((4, 2), bool),
        np.zeros((4, 2), bool),
    )


def test_error_on_shape_mismatch():
    r, _, nv, term, trunc = _good()
    with pytest.raises(
        ValueError, match=r"gae: values has shape \(4, 3\), expected the shape of rewards \(4, 2\)"
    ):
        gae(r, np.zeros((4, 3)), nv, term, trunc)
    with pytest.raises(ValueError, match=r"td_lambda_returns: truncated has shape \(4,\)"):
        td_lambda_returns(r, nv, term, np.zeros(4, bool))
    with pytest.raises(
        ValueError, match="rewards must have shape \\(T, ...\\) with a time axis first, got a 0-d"
    ):
        discounted_returns(np.ones(()), np.ones(()), np.zeros((), bool), np.zeros((), bool))


def test_error_on_dtypes():
    r, v, nv, term, trunc = _good()
    with pytest.raises(
        TypeError,
        match=r"gae: terminated must have dtype bool, got float64 \(convert it with \.astype\(bool\)\)",
    ):
        gae(r, v, nv, term.astype(np.float64), trunc)
    with pytest.raises(TypeError, match=r"gae: rewards must have a floating dtype, got int64"):
        gae(r.astype(np.int64), v, nv, term, trunc)
    with pytest.raises(
        TypeError, match=r"truncated must have dtype bool, got torch.float32 \(convert it with \.bool\(\)\)"
    ):
        td_lambda_returns(torch.zeros(3), torch.zeros(3), torch.zeros(3, dtype=torch.bool), torch.zeros(3))


def test_error_on_mixed_kinds_and_non_arrays():
    r, v, nv, term, trunc = _good()
    with pytest.raises(TypeError, match="gae: values is a torch.Tensor but rewards is a numpy.ndarray"):
        gae(r, torch.from_numpy(v), nv, term, trunc)
    with pytest.raises(TypeError, match="gae: rewards must be a numpy.ndarray or a torch.Tensor, got list"):
        gae([0.0], v, nv, term, trunc)


@pytest.mark.parametrize("name", ["gamma", "lam"])
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.9"])
def test_error_on_gamma_and_lam(name, bad):
    with pytest.raises(
        ValueError, match=rf"gae: {name} must be a number in \[0, 1\], got {bad!r}".replace("(", r"\(")
    ):
        gae(*_good(), **{name: bad})


def test_torch_outputs_stay_on_the_input_device():
    t = torch.zeros(5, 2, device="meta")
    flags = torch.zeros(5, 2, dtype=torch.bool, device="meta")
    adv, ret = gae(t, t, t, flags, flags)
    assert adv.device.type == "meta" and ret.device.type == "meta" and adv.dtype == torch.float32
    with pytest.raises(ValueError, match="gae: values is on device cpu, but rewards is on meta"):
        gae(t, torch.zeros(5, 2), t, flags, flags)


# ---------------------------------------------------------------------------- n-step windows
def naive_n_step(r, lengths, gamma):
    r = np.asarray(r, dtype=np.float64)
    out, discounts = np.zeros(r.shape[1]), np.zeros(r.shape[1])
    for b in range(r.shape[1]):
        total, weight = 0.0, 1.0
        for j in range(int(lengths[b])):
            total += weight * r[j, b]
            weight *= gamma
        out[b], discounts[b] = total, gamma ** int(lengths[b])
    return out, discounts


@st.composite
def windows(draw):
    steps = draw(st.integers(1, 12))
    envs = draw(st.integers(1, 6))
    rewards = draw(arrays(np.float64, (steps, envs), elements=st.floats(-1e3, 1e3)))
    lengths = np.asarray(draw(st.lists(st.integers(0, steps), min_size=envs, max_size=envs)), dtype=np.int64)
    return rewards, lengths


@settings(max_examples=100, deadline=None)
@given(data=windows(), gamma=unit)
def test_n_step_returns_match_naive_loop(data, gamma):
    rewards, lengths = data
    returns, discounts = n_step_returns(rewards, lengths, gamma)
    expected_returns, expected_discounts = naive_n_step(rewards, lengths, gamma)
    np.testing.assert_allclose(returns, expected_returns, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(discounts, expected_discounts, rtol=RTOL, atol=0)


@settings(max_examples=100, deadline=None)
@given(data=windows(), gamma=unit)
def test_n_step_returns_are_discounted_returns_of_the_cut_window(data, gamma):
    rewards, lengths = data
    steps = rewards.shape[0]
    j = np.arange(steps)[:, None]
    cut = np.where(j < lengths, rewards, 0.0)
    # The window terminates at its last step (m - 1); a window of length 0 holds nothing.
    terminated = (j == lengths - 1) | (lengths == 0)
    expected = discounted_returns(cut, np.zeros_like(cut), terminated, np.zeros_like(terminated), gamma)[0]
    np.testing.assert_allclose(n_step_returns(rewards, lengths, gamma)[0], expected, rtol=RTOL, atol=ATOL)


@settings(max_examples=30, deadline=None)
@given(data=windows(), gamma=unit)
def test_n_step_returns_of_tensors_equal_numpy(data, gamma):
    rewards, lengths = data
    expected = n_step_returns(rewards.astype(np.float32), lengths, gamma)
    got = n_step_returns(torch.from_numpy(rewards.astype(np.float32)), torch.from_numpy(lengths), gamma)
    for tensor, array in zip(got, expected, strict=True):
        assert tensor.dtype == torch.float32 and array.dtype == np.float32
        np.testing.assert_array_equal(tensor.numpy(), array)


def test_n_step_returns_ignore_rewards_beyond_the_window():
    rewards = np.array([[1.0, np.nan], [np.inf, 2.0], [np.nan, -np.inf]])
    with np.errstate(all="raise"):
        returns, discounts = n_step_returns(rewards, np.array([1, 0]), gamma=0.0)
    np.testing.assert_array_equal(returns, [1.0, 0.0])
    np.testing.assert_array_equal(discounts, [0.0, 1.0])


@pytest.mark.parametrize(
    ("rewards", "lengths", "error", "match"),
    [
        (
            np.zeros((3, 2)),
            np.array([-1, 2]),
            ValueError,
            r"lengths must be in \[0, n\] = \[0, 3\], got values in \[-1, 2\]",
        ),
        (np.zeros((3, 2)), np.array([1, 4]), ValueError, r"got values in \[1, 4\]"),
        (
            np.zeros((3, 2)),
            np.array([1]),
            ValueError,
            r"lengths has shape \(1,\), expected rewards.shape\[1:\] = \(2,\)",
        ),
        (np.zeros((3, 2)), np.array([1.0, 2.0]), TypeError, "rewards must be floating and lengths integer"),
        (np.zeros((3, 2), dtype=np.int64), np.array([1, 2]), TypeError, "rewards must be floating"),
        (
            np.zeros((3, 2)),
            [1, 2],
            TypeError,
            "lengths must be an integer numpy.ndarray like rewards, got builtins.list",
        ),
        (
            torch.zeros(3, 2),
            np.array([1, 2]),
            TypeError,
            "lengths must be an integer torch.Tensor like rewards",
        ),
        (torch.zeros(3, 2), torch.tensor([0, 4]), ValueError, r"got values in \[0, 4\]"),
        (np.zeros(()), np.zeros((), dtype=np.int64), ValueError, "time axis first"),
    ],
)
def test_n_step_returns_errors_name_the_argument(rewards, lengths, error, match):
    with pytest.raises(error, match=match):
        n_step_returns(rewards, lengths, 0.9)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan"), True])
def test_n_step_returns_gamma_outside_the_unit_interval(gamma):
    with pytest.raises(ValueError, match=r"n_step_returns: gamma must be a number in \[0, 1\]"):
        n_step_returns(np.zeros((2, 1)), np.array([1]), gamma)
