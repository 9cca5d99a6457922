"""Single-env NormalizeObservation / NormalizeReward against Gymnasium, Stable-Baselines3 and float64 loops."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlcore.stats import RunningMeanStd
from rlcore.testing import GenericTestEnv, check_wrapper
from rlcore.wrappers.normalize import NormalizeObservation, NormalizeReward

PRIOR = 1e-4  # RunningMeanStd's default pseudo-count


def _scripted_env(obs, rewards, terminated, truncated, obs_space=None):
    """An env that plays back ``obs[k]`` / ``rewards[k]`` / flags at its k-th call to reset or step.

    Resets count as calls too, so two copies driven through the same calls see the same data
    (a wrapped env reset by hand and one inside an auto-resetting vector env).
    """
    counter = {"k": 0}

    def next_index():
        k = counter["k"]
        counter["k"] = k + 1
        return k

    def reset_func(env, seed, options):
        return obs[next_index()], {}

    def step_func(env, action):
        k = next_index()
        return obs[k], rewards[k], bool(terminated[k]), bool(truncated[k]), {}

    space = obs_space or spaces.Box(-np.inf, np.inf, obs.shape[1:], obs.dtype)
    return GenericTestEnv(
        observation_space=space, reset_func=reset_func, step_func=step_func, episode_length=None
    )


def _trajectory(seed, length, shape=(3,), p_done=0.15):
    rng = np.random.default_rng(seed)
    obs = (rng.normal(2.0, 3.0, (length, *shape)) * rng.uniform(0.1, 10.0, shape)).astype(np.float32)
    rewards = rng.normal(0.5, 2.0, length)
    terminated = rng.random(length) < p_done / 2
    truncated = ~terminated & (rng.random(length) < p_done / 2)
    return obs, rewards, terminated, truncated


def _run(env, steps, seed=0):
    """Reset, then step with action 0, resetting by hand after an episode ends; returns the outputs."""
    outputs = [env.reset(seed=seed)[0]]
    rewards = []
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(0)
        outputs.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            outputs.append(env.reset()[0])
    return outputs, rewards


def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# --------------------------------------------------------------------------- NormalizeObservation
def test_observation_matches_gymnasium_on_cartpole():
    ours = NormalizeObservation(gym.make("CartPole-v1"))
    theirs = gym.wrappers.NormalizeObservation(gym.make("CartPole-v1"))
    actions = np.random.default_rng(0).integers(0, 2, 400)
    a, _ = ours.reset(seed=3)
    b, _ = theirs.reset(seed=3)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for action in actions:
        a, _, terminated, truncated, _ = ours.step(int(action))
        b, *_ = theirs.step(int(action))
        assert a.dtype == np.float32
        # Gymnasium keeps its statistics in float32, rlcore in float64.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        if terminated or truncated:
            a, _ = ours.reset()
            b, _ = theirs.reset()
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert ours.obs_rms.count == pytest.approx(theirs.obs_rms.count)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(3,), (2, 2), ()]))
def test_observation_matches_a_float64_recomputation(seed, shape):
    obs, rewards, terminated, truncated = _trajectory(seed, 61, shape)
    env = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated), epsilon=1e-3)
    outputs, _ = _run(env, 30)
    seen = obs[: len(outputs)].astype(np.float64)
    for k, out in enumerate(outputs):
        data = seen[: k + 1]
        # Moments about zero of the prior pseudo-batch (mean 0, var 1) and the data.
        mean = data.sum(axis=0) / (PRIOR + k + 1)
        var = (PRIOR + np.square(data).sum(axis=0)) / (PRIOR + k + 1) - mean**2
        expected = (seen[k] - mean) / np.sqrt(var + 1e-3)
        np.testing.assert_allclose(out, expected, rtol=2e-5, atol=2e-5)
        assert out.shape == shape and out.dtype == np.float32


def test_observation_clip_and_space():
    obs, rewards, terminated, truncated = _trajectory(1, 101)
    plain = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated))
    clipped = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated), clip=0.5)
    assert plain.observation_space == spaces.Box(-np.inf, np.inf, (3,), np.float32)
    assert clipped.observation_space == spaces.Box(-0.5, 0.5, (3,), np.float32)
    plain_out, _ = _run(plain, 50)
    clipped_out, _ = _run(clipped, 50)
    for a, b in zip(plain_out, clipped_out):
        np.testing.assert_array_equal(b, np.clip(a, -0.5, 0.5))
        assert b in clipped.observation_space
    assert any(np.abs(a).max() > 0.5 for a in plain_out)


def test_observation_integer_observations_are_accepted():
    space = spaces.Box(0, 255, (2, 2), np.uint8)
    env = NormalizeObservation(GenericTestEnv(observation_space=space))
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.shape == (2, 2)
    env.step(0)
    assert env.obs_rms.count == pytest.approx(2 + PRIOR)


def test_observation_freeze_uses_but_never_updates_the_statistics():
    obs, rewards, terminated, truncated = _trajectory(2, 40)
    env = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated))
    env.reset(seed=0)
    for _ in range(5):
        env.step(0)
    env.freeze()
    assert env.frozen
    frozen_state = env.state_dict()
    out, *_ = env.step(0)
    raw = obs[6].astype(np.float64)
    expected = (raw - env.obs_rms.mean) / np.sqrt(env.obs_rms.var + 1e-8)
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=1e-6)
    env.reset()
    for key, value in env.state_dict()["obs_rms"].items():
        torch.testing.assert_close(value, frozen_state["obs_rms"][key], rtol=0, atol=0)
    env.unfreeze()
    assert not env.frozen
    env.step(0)
    assert env.obs_rms.count == pytest.approx(7 + PRIOR)
    with pytest.raises(AttributeError):
        env.frozen = True


def test_observation_shared_statistics_between_a_training_and_a_frozen_evaluation_env():
    train = NormalizeObservation(gym.make("CartPole-v1"))
    evaluation = NormalizeObservation(gym.make("CartPole-v1"), obs_rms=train.obs_rms)
    evaluation.freeze()
    assert evaluation.obs_rms is train.obs_rms
    train.reset(seed=0)
    for _ in range(5):
        train.step(1)
    count = train.obs_rms.count
    out, _ = evaluation.reset(seed=1)
    assert train.obs_rms.count == count
    raw, _ = gym.make("CartPole-v1").reset(seed=1)
    np.testing.assert_allclose(out, train.obs_rms.normalize(raw).astype(np.float32), rtol=1e-6)


def test_observation_constructor_errors():
    box = GenericTestEnv()
    with pytest.raises(
        TypeError, match=r"NormalizeObservation needs a Box observation space, got Discrete\(3\)"
    ):
        NormalizeObservation(GenericTestEnv(observation_space=spaces.Discrete(3)))
    with pytest.raises(ValueError, match=r"NormalizeObservation: epsilon must be a finite number > 0, got 0"):
        NormalizeObservation(box, epsilon=0)
    with pytest.raises(
        ValueError, match=r"NormalizeObservation: clip must be None or a finite number > 0, got -1.0"
    ):
        NormalizeObservation(box, clip=-1.0)
    with pytest.raises(ValueError, match=r"NormalizeObservation: obs_rms has shape \(4,\), expected \(3,\)"):
        NormalizeObservation(box, obs_rms=RunningMeanStd((4,)))
    with pytest.raises(
        ValueError, match=r"obs_rms has num_streams=2, expected None \(one shared statistic\)"
    ):
        NormalizeObservation(box, obs_rms=RunningMeanStd((3,), num_streams=2))
    with pytest.raises(
        TypeError, match=r"NormalizeObservation: obs_rms must be a RunningMeanStd or None, got dict"
    ):
        NormalizeObservation(box, obs_rms={})


@pytest.mark.parametrize("frozen", [False, True])
def test_observation_nan_or_inf_raises_before_the_statistics_change(frozen):
    obs, rewards, terminated, truncated = _trajectory(3, 10)
    obs[3, 1] = np.nan
    obs[0, 2] = np.inf
    env = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated))
    if frozen:
        env.freeze()
    with pytest.raises(
        ValueError, match=r"NormalizeObservation: non-finite observation value inf at index \(2,\)"
    ):
        env.reset(seed=0)
    env.step(0)
    env.step(0)
    before = env.state_dict()
    with pytest.raises(
        ValueError, match=r"NormalizeObservation: non-finite observation value nan at index \(1,\)"
    ):
        env.step(0)
    torch.testing.assert_close(env.state_dict(), before, rtol=0, atol=0)


def test_observation_state_dict_round_trip_and_errors():
    obs, rewards, terminated, truncated = _trajectory(4, 40)
    env = NormalizeObservation(_scripted_env(obs, rewards, terminated, truncated))
    env.reset(seed=0)
    for _ in range(10):
        env.step(0)
    state = _roundtrip(env.state_dict())
    fresh = NormalizeObservation(_scripted_env(obs[11:], rewards[11:], terminated[11:], truncated[11:]))
    fresh.load_state_dict(state)
    # After loading, the fresh wrapper continues exactly like the original.
    for _ in range(10):
        np.testing.assert_array_equal(fresh.step(0)[0], env.step(0)[0])
    with pytest.raises(KeyError, match=r"NormalizeObservation.load_state_dict: missing keys \['obs_rms'\]"):
        env.load_state_dict({})
    with pytest.raises(KeyError, match=r"unknown keys \['extra'\]"):
        env.load_state_dict({**state, "extra": torch.zeros(1)})
    bad = {"obs_rms": {**state["obs_rms"], "mean": torch.zeros(4, dtype=torch.float64)}}
    with pytest.raises(
        ValueError,
        match=r"NormalizeObservation.load_state_dict: 'obs_rms': .*'mean' has shape \(4,\), expected \(3,\)",
    ):
        env.load_state_dict(bad)
    bad = {
        "obs_rms": {**state["obs_rms"], "var": torch.tensor([1.0, float("nan"), 1.0], dtype=torch.float64)}
    }
    with pytest.raises(ValueError, match=r"'var': non-finite value nan at index \(1,\)"):
        env.load_state_dict(bad)


@pytest.mark.parametrize("clip", [None, 1.0])
def test_observation_passes_the_wrapper_contract(clip):
    check_wrapper(lambda: NormalizeObservation(GenericTestEnv(), clip=clip))


# --------------------------------------------------------------------------- NormalizeReward
def _sb3_rewards(obs, rewards, terminated, truncated, steps, gamma, epsilon):
    venv = VecNormalize(
        DummyVecEnv([lambda: _scripted_env(obs, rewards, terminated, truncated)]),
        norm_obs=False,
        norm_reward=True,
        clip_reward=1e12,
        gamma=gamma,
        epsilon=epsilon,
    )
    venv.reset()
    return [float(venv.step(np.zeros(1, dtype=np.int64))[1][0]) for _ in range(steps)], venv


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    gamma=st.sampled_from([0.0, 0.5, 0.99, 1.0]),
    epsilon=st.sampled_from([1e-8, 1e-2]),
)
def test_reward_matches_stable_baselines3_vecnormalize(seed, gamma, epsilon):
    obs, rewards, terminated, truncated = _trajectory(seed, 121, p_done=0.3)
    # DummyVecEnv stores rewards in a float32 buffer; feed both sides float32-exact rewards.
    rewards = rewards.astype(np.float32).astype(np.float64)
    expected, venv = _sb3_rewards(obs, rewards, terminated, truncated, 60, gamma, epsilon)
    env = NormalizeReward(_scripted_env(obs, rewards, terminated, truncated), gamma=gamma, epsilon=epsilon)
    _, ours = _run(env, 60)
    assert all(isinstance(r, float) for r in ours)
    # SB3 hands out float32 rewards.
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-6)
    assert env.return_rms.var == pytest.approx(venv.ret_rms.var, rel=1e-12)
    assert env.discounted_return == pytest.approx(venv.returns[0], rel=1e-12, abs=1e-300)


def test_reward_matches_a_naive_float64_loop_with_clip():
    obs, rewards, terminated, truncated = _trajectory(5, 121, p_done=0.3)
    gamma, epsilon, clip = 0.9, 1e-8, 1.5
    env = NormalizeReward(_scripted_env(obs, rewards, terminated, truncated), gamma=gamma, clip=clip)
    _, ours = _run(env, 60)
    returns, expected, g, k = [], [], 0.0, 1  # k: index into the script (index 0 was the reset)
    for _ in range(60):
        g = gamma * g + rewards[k]
        returns.append(g)
        data = np.array(returns)
        mean = data.sum() / (PRIOR + len(data))
        var = (PRIOR + np.square(data).sum()) / (PRIOR + len(data)) - mean**2
        expected.append(np.clip(rewards[k] / np.sqrt(var + epsilon), -clip, clip))
        if terminated[k] or truncated[k]:
            g = 0.0
            k += 1  # the reset by hand consumed one script entry
        k += 1
    np.testing.assert_allclose(ours, expected, rtol=1e-9)
    assert max(abs(r) for r in ours) == clip


def test_reward_resets_the_return_on_truncation_unlike_gymnasium():
    n = 6
    truncated = np.zeros(n, dtype=bool)
    truncated[3] = True
    obs = np.zeros((n, 3), np.float32)
    rewards = np.ones(n)
    ours = NormalizeReward(_scripted_env(obs, rewards, np.zeros(n, bool), truncated), gamma=0.5)
    theirs = gym.wrappers.NormalizeReward(
        _scripted_env(obs, rewards, np.zeros(n, bool), truncated), gamma=0.5
    )
    ours.reset(seed=0)
    theirs.reset(seed=0)
    for _ in range(3):
        ours.step(0)
        theirs.step(0)
    assert ours.discounted_return == 0.0  # after the truncating step
    assert float(theirs.discounted_reward[0]) == pytest.approx(1.75)
    ours.step(0)
    assert ours.discounted_return == 1.0


def test_reward_reset_clears_the_return():
    env = NormalizeReward(GenericTestEnv(episode_length=None), gamma=0.9)
    env.reset(seed=0)
    env.step(0)
    assert env.discounted_return != 0.0
    env.reset()
    assert env.discounted_return == 0.0


def test_reward_freeze_keeps_statistics_but_follows_the_return():
    env = NormalizeReward(GenericTestEnv(episode_length=None), gamma=0.9)
    env.reset(seed=0)
    for _ in range(5):
        env.step(0)
    env.freeze()
    var, count, g = float(env.return_rms.var), env.return_rms.count, env.discounted_return
    raw = GenericTestEnv(episode_length=None)
    raw.reset(seed=0)
    raw_rewards = [raw.step(0)[1] for _ in range(7)]
    _, scaled, *_ = env.step(0)
    assert scaled == pytest.approx(raw_rewards[5] / np.sqrt(var + 1e-8), rel=1e-12)
    assert (float(env.return_rms.var), env.return_rms.count) == (var, count)
    assert env.discounted_return == pytest.approx(0.9 * g + raw_rewards[5])
    env.unfreeze()
    env.step(0)
    assert env.return_rms.count == count + 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_reward_non_finite_raises_before_anything_changes(bad):
    env = NormalizeReward(
        GenericTestEnv(step_func=lambda env, a: (env.observation_space.sample(), bad, False, False, {}))
    )
    env.reset(seed=0)
    before = env.state_dict()
    with pytest.raises(
        ValueError, match=rf"NormalizeReward: non-finite reward {bad!r}; expected a finite number"
    ):
        env.step(0)
    torch.testing.assert_close(env.state_dict(), before, rtol=0, atol=0)


def test_reward_constructor_errors():
    env = GenericTestEnv()
    with pytest.raises(ValueError, match=r"NormalizeReward: gamma must be a number in \[0, 1\], got 1.5"):
        NormalizeReward(env, gamma=1.5)
    with pytest.raises(ValueError, match=r"NormalizeReward: epsilon must be a finite number > 0, got -1e-08"):
        NormalizeReward(env, epsilon=-1e-8)
    with pytest.raises(
        ValueError, match=r"NormalizeReward: clip must be None or a finite number > 0, got inf"
    ):
        NormalizeReward(env, clip=float("inf"))
    with pytest.raises(ValueError, match=r"NormalizeReward: return_rms has shape \(2,\), expected \(\)"):
        NormalizeReward(env, return_rms=RunningMeanStd((2,)))


def test_reward_shared_statistics():
    train = NormalizeReward(GenericTestEnv(episode_length=None))
    evaluation = NormalizeReward(GenericTestEnv(episode_length=None), return_rms=train.return_rms)
    evaluation.freeze()
    train.reset(seed=0)
    evaluation.reset(seed=0)
    for _ in range(4):
        train.step(0)
    count = train.return_rms.count
    evaluation.step(0)
    assert evaluation.return_rms is train.return_rms and train.return_rms.count == count


def test_reward_state_dict_round_trip_and_errors():
    obs, rewards, terminated, truncated = _trajectory(6, 60, p_done=0.0)
    env = NormalizeReward(_scripted_env(obs, rewards, terminated, truncated), gamma=0.9)
    env.reset(seed=0)
    for _ in range(10):
        env.step(0)
    state = _roundtrip(env.state_dict())
    assert state["discounted_return"].dtype == torch.float64 and state["discounted_return"].shape == ()
    fresh = NormalizeReward(_scripted_env(obs[11:], rewards[11:], terminated[11:], truncated[11:]), gamma=0.9)
    fresh.load_state_dict(state)
    assert fresh.discounted_return == env.discounted_return
    for _ in range(10):
        assert fresh.step(0)[1] == env.step(0)[1]
    with pytest.raises(
        KeyError, match=r"NormalizeReward.load_state_dict: missing keys \['discounted_return'\]"
    ):
        env.load_state_dict({"return_rms": state["return_rms"]})
    before = env.state_dict()
    with pytest.raises(ValueError, match=r"'discounted_return' has shape \(2,\), expected \(\)"):
        env.load_state_dict({**state, "discounted_return": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"'discounted_return' has a non-finite value nan at index \(\)"):
        env.load_state_dict({**state, "discounted_return": torch.tensor(float("nan"))})
    bad_stats = {**state["return_rms"], "count": torch.tensor(-1.0)}
    with pytest.raises(
        ValueError, match=r"NormalizeReward.load_state_dict: 'return_rms': .*'count' has a negative"
    ):
        env.load_state_dict({**state, "return_rms": bad_stats, "discounted_return": torch.tensor(5.0)})
    torch.testing.assert_close(env.state_dict(), before, rtol=0, atol=0)


@pytest.mark.parametrize("clip", [None, 2.0])
def test_reward_passes_the_wrapper_contract(clip):
    check_wrapper(lambda: NormalizeReward(GenericTestEnv(), clip=clip))
