"""Vector NormalizeObservation / NormalizeReward in the three autoreset modes, against a naive float64 loop."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorWrapper

from rlcore.stats import RunningMeanStd
from rlcore.testing import GenericTestEnv, check_vector_wrapper, make_vector_env
from rlcore.wrappers import normalize as single
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

PRIOR = 1e-4  # RunningMeanStd's default pseudo-count
EPSILON = 1e-8


def _scripted_env(obs, rewards, terminated, truncated):
    """An env that plays back entry k of its script at its k-th call to reset or step."""
    counter = {"k": 0}

    def next_index():
        k = counter["k"]
        counter["k"] = k + 1
        return k

    def reset_func(env, seed, options):
        return obs[next_index()], {}

    def step_func(env, action):
        k = next_index()
        return obs[k], float(rewards[k]), bool(terminated[k]), bool(truncated[k]), {}

    if obs.dtype == np.uint8:
        space = spaces.Box(0, 255, obs.shape[1:], np.uint8)
    else:
        space = spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float32)
    return GenericTestEnv(
        observation_space=space, reset_func=reset_func, step_func=step_func, episode_length=None
    )


def _scripts(seed, num_envs, length, shape=(3,), p_done=0.2, dtype=np.float32):
    rng = np.random.default_rng(seed)
    scripts = []
    for _ in range(num_envs):
        if dtype == np.uint8:
            obs = rng.integers(0, 256, (length, *shape), dtype=np.uint8)
        else:
            obs = (rng.normal(1.0, 2.0, (length, *shape)) * rng.uniform(0.5, 3.0, shape)).astype(np.float32)
        rewards = rng.normal(0.5, 2.0, length)
        terminated = rng.random(length) < p_done / 2
        truncated = ~terminated & (rng.random(length) < p_done / 2)
        scripts.append((obs, rewards, terminated, truncated))
    return scripts


def _vector(scripts, mode):
    return SyncVectorEnv([lambda s=s: _scripted_env(*s) for s in scripts], autoreset_mode=mode)


class _Reference:
    """Naive float64 recomputation: keeps every value that should enter the statistics.

    The rules, written out independently of the wrappers: explicit resets enter their rows;
    a step enters every row's observation (SAME_STEP: ``info["final_obs"]`` for a finished
    sub-env, then its reset observation) and each transition's discounted return
    ``g = gamma * g + r``; NEXT_STEP's autoreset step enters its observation but no return
    and leaves ``g`` alone; ``g`` is zeroed after a finishing step and by a reset of its sub-env.
    """

    def __init__(self, num_envs, mode, per_env, gamma):
        self.n, self.mode, self.per_env, self.gamma = num_envs, mode, per_env, gamma
        self.obs_seen = [[] for _ in range(num_envs)]
        self.returns_seen = [[] for _ in range(num_envs)]
        self.g = np.zeros(num_envs)
        self.autoreset_next = np.zeros(num_envs, dtype=bool)

    def _stats(self, seen, i):
        data = np.array([v for rows in seen for v in rows]) if not self.per_env else np.array(seen[i])
        count = PRIOR + len(data)
        total = data.sum(axis=0) if len(data) else 0.0
        square = np.square(data).sum(axis=0) if len(data) else 0.0
        mean = total / count
        return mean, (PRIOR + square) / count - mean**2

    def normalize_obs(self, raw):
        out = np.empty(raw.shape, dtype=np.float64)
        for i in range(self.n):
            mean, var = self._stats(self.obs_seen, i)
            out[i] = (raw[i] - mean) / np.sqrt(var + EPSILON)
        return out

    def reset(self, raw_obs, mask):
        for i in np.flatnonzero(mask):
            self.obs_seen[i].append(raw_obs[i].astype(np.float64))
            self.g[i] = 0.0
            self.autoreset_next[i] = False
        return self.normalize_obs(raw_obs)

    def step(self, raw_obs, rewards, terminated, truncated, info):
        done = terminated | truncated
        for i in range(self.n):
            final = self.mode == AutoresetMode.SAME_STEP and done[i]
            self.obs_seen[i].append((info["final_obs"][i] if final else raw_obs[i]).astype(np.float64))
            if self.mode == AutoresetMode.NEXT_STEP and self.autoreset_next[i]:
                continue  # the autoreset step: a first observation, not a transition
            self.g[i] = self.gamma * self.g[i] + rewards[i]
            self.returns_seen[i].append(self.g[i])
        scaled = np.array(
            [rewards[i] / np.sqrt(self._stats(self.returns_seen, i)[1] + EPSILON) for i in range(self.n)]
        )
        self.g[done] = 0.0
        self.autoreset_next = done.copy() if self.mode == AutoresetMode.NEXT_STEP else self.autoreset_next
        finals = None
        if self.mode == AutoresetMode.SAME_STEP and done.any():
            stacked = np.stack([info["final_obs"][i] if done[i] else raw_obs[i] for i in range(self.n)])
            finals = self.normalize_obs(stacked)
            for i in np.flatnonzero(done):  # the reset observations, after the final ones
                self.obs_seen[i].append(raw_obs[i].astype(np.float64))
        return self.normalize_obs(raw_obs), scaled, finals


# Frames of 3 x 40 x 40 make batches of 14,400 elements: large enough for the wrappers' and
# the statistics' large-array code paths (NaN checks without dot products, scaling by a
# reciprocal), in float32 and in uint8 (never checked for NaN).
FRAMES = [((3,), np.float32), ((3, 40, 40), np.float32), ((3, 40, 40), np.uint8)]


@pytest.mark.parametrize(("shape", "dtype"), FRAMES, ids=["small", "frames", "uint8-frames"])
@pytest.mark.parametrize("per_env", [False, True])
@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.name)
def test_against_a_naive_float64_reference(mode, per_env, shape, dtype):
    num_envs, steps, gamma = 3, 60 if shape == (3,) else 25, 0.9
    scripts = _scripts(7, num_envs, 2 * steps + 10, shape=shape, dtype=dtype)
    raw = _vector(scripts, mode)
    env = NormalizeReward(
        NormalizeObservation(_vector(scripts, mode), per_env=per_env), gamma=gamma, per_env=per_env
    )
    reference = _Reference(num_envs, mode, per_env, gamma)
    rng = np.random.default_rng(0)
    actions = np.zeros(num_envs, dtype=np.int64)

    raw_obs, _ = raw.reset(seed=0)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, reference.reset(raw_obs, np.ones(num_envs, bool)), rtol=1e-5, atol=1e-5)
    finals_checked = 0
    for _ in range(steps):
        raw_obs, raw_rewards, terminated, truncated, raw_info = raw.step(actions)
        obs, rewards, term_w, trunc_w, info = env.step(actions)
        expected_obs, expected_rewards, expected_finals = reference.step(
            raw_obs, raw_rewards, terminated, truncated, raw_info
        )
        np.testing.assert_array_equal(term_w, terminated)
        np.testing.assert_array_equal(trunc_w, truncated)
        assert obs.dtype == np.float32 and rewards.dtype == np.float64
        np.testing.assert_allclose(obs, expected_obs, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rewards, expected_rewards, rtol=1e-9)
        if expected_finals is not None:
            for i in np.flatnonzero(info["_final_obs"]):
                assert info["final_obs"][i].dtype == np.float32
                np.testing.assert_allclose(info["final_obs"][i], expected_finals[i], rtol=1e-5, atol=1e-5)
                finals_checked += 1
        done = terminated | truncated
        reset_mask = None
        if mode == AutoresetMode.DISABLED and done.any():
            reset_mask = done | (rng.random(num_envs) < 0.2)  # some sub-envs that did not finish, too
        elif rng.random() < 0.03:
            reset_mask = np.ones(num_envs, dtype=bool)
        if reset_mask is not None:
            raw_obs, _ = raw.reset(options={"reset_mask": reset_mask.copy()})
            obs, _ = env.reset(options={"reset_mask": reset_mask.copy()})
            np.testing.assert_allclose(obs, reference.reset(raw_obs, reset_mask), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(env.discounted_return, reference.g, rtol=1e-12)
    if mode == AutoresetMode.SAME_STEP:
        assert finals_checked > 0
    # The statistics themselves: mean and var of the entered values (count includes the prior).
    inner = env.env
    for i in range(num_envs if per_env else 1):
        mean, var = reference._stats(reference.obs_seen, i)
        rms_mean = inner.obs_rms.mean[i] if per_env else inner.obs_rms.mean
        rms_var = inner.obs_rms.var[i] if per_env else inner.obs_rms.var
        np.testing.assert_allclose(rms_mean, mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(rms_var, var, rtol=1e-8, atol=1e-9)


def test_one_sub_env_in_next_step_mode_agrees_with_a_single_env_stepped_by_hand():
    (script,) = _scripts(3, 1, 200, p_done=0.25)
    vector = NormalizeReward(NormalizeObservation(_vector([script], AutoresetMode.NEXT_STEP)), gamma=0.95)
    obs_wrapper = single.NormalizeObservation(_scripted_env(*script))
    by_hand = single.NormalizeReward(obs_wrapper, gamma=0.95)
    v_obs, _ = vector.reset(seed=0)
    s_obs, _ = by_hand.reset(seed=0)
    np.testing.assert_array_equal(v_obs[0], s_obs)
    episode_over = False
    episodes = 0
    for _ in range(80):
        v_obs, v_reward, v_term, v_trunc, _ = vector.step(np.zeros(1, dtype=np.int64))
        if episode_over:
            # The autoreset step: by hand, a reset (its observation enters, no return does).
            s_obs, _ = by_hand.reset()
            assert v_reward[0] == 0.0 and not v_term[0] and not v_trunc[0]
            episode_over = False
            episodes += 1
        else:
            s_obs, s_reward, s_term, s_trunc, _ = by_hand.step(0)
            assert v_reward[0] == pytest.approx(s_reward, rel=1e-12)
            assert (bool(v_term[0]), bool(v_trunc[0])) == (s_term, s_trunc)
            episode_over = s_term or s_trunc
        np.testing.assert_allclose(v_obs[0], s_obs, rtol=1e-6, atol=1e-6)
    assert episodes >= 3
    assert vector.env.obs_rms.count == pytest.approx(obs_wrapper.obs_rms.count)
    assert float(vector.return_rms.var) == pytest.approx(float(by_hand.return_rms.var), rel=1e-12)


def test_next_step_autoreset_step_enters_its_observations_but_no_returns():
    env = NormalizeReward(NormalizeObservation(make_vector_env(lambda: GenericTestEnv(episode_length=2), 2)))
    env.reset(seed=0)
    actions = np.zeros(2, dtype=np.int64)
    env.step(actions)
    env.step(actions)  # both episodes end here
    counts = (env.env.obs_rms.count, env.return_rms.count)
    # The accumulators were zeroed by the finishing step; give them values to show that the
    # autoreset step leaves them alone.
    env.load_state_dict(
        {**env.state_dict(), "discounted_return": torch.tensor([0.5, -2.0], dtype=torch.float64)}
    )
    returns = env.discounted_return.copy()
    _, rewards, *_ = env.step(actions)  # the autoreset step
    assert counts == (pytest.approx(6 + PRIOR), pytest.approx(4 + PRIOR))
    # The reset observations are the new episodes' first ones; there is no new return.
    assert (env.env.obs_rms.count, env.return_rms.count) == (counts[0] + 2, counts[1])
    np.testing.assert_array_equal(env.discounted_return, returns)
    np.testing.assert_array_equal(rewards, 0.0)


def test_partial_reset_touches_only_the_reset_sub_envs():
    scripts = _scripts(5, 3, 40, p_done=0.0)
    env = NormalizeReward(
        NormalizeObservation(_vector(scripts, AutoresetMode.DISABLED), per_env=True), gamma=0.9, per_env=True
    )
    env.reset(seed=0)
    for _ in range(4):
        env.step(np.zeros(3, dtype=np.int64))
    obs_before = {k: v.clone() for k, v in env.env.obs_rms.state_dict().items()}
    returns_before = env.discounted_return.copy()
    mask = np.array([False, True, False])
    env.reset(options={"reset_mask": mask})
    after = env.env.obs_rms.state_dict()
    for key in ("mean", "var", "count"):
        torch.testing.assert_close(
            after[key][~torch.from_numpy(mask)], obs_before[key][~torch.from_numpy(mask)], rtol=0, atol=0
        )
    assert after["count"][1] == obs_before["count"][1] + 1
    np.testing.assert_array_equal(env.discounted_return[~mask], returns_before[~mask])
    assert env.discounted_return[1] == 0.0 and np.all(returns_before != 0.0)
    # Gymnasium's vector NormalizeReward clears every accumulator instead.
    theirs = gym.wrappers.vector.NormalizeReward(
        _vector(_scripts(5, 3, 40, p_done=0.0), AutoresetMode.DISABLED)
    )
    theirs.reset(seed=0)
    for _ in range(4):
        theirs.step(np.zeros(3, dtype=np.int64))
    theirs.reset(options={"reset_mask": mask.copy()})
    np.testing.assert_array_equal(theirs.accumulated_reward, 0.0)


def test_partial_reset_with_shared_statistics_enters_only_the_reset_rows():
    scripts = _scripts(6, 3, 40, p_done=0.0)
    env = NormalizeObservation(_vector(scripts, AutoresetMode.DISABLED))
    env.reset(seed=0)
    env.step(np.zeros(3, dtype=np.int64))
    count = env.obs_rms.count
    env.reset(options={"reset_mask": np.array([True, False, True])})
    assert env.obs_rms.count == pytest.approx(count + 2)


class _InfoSpy(VectorWrapper):
    """Records the info dict the inner env returned and a deep copy of its final observations."""

    def step(self, actions):
        out = self.env.step(actions)
        self.info = out[4]
        self.final_copy = [None if o is None else np.array(o) for o in out[4].get("final_obs", [])]
        return out


def test_same_step_final_obs_normalised_without_mutating_the_inner_info():
    env_fns = [lambda: GenericTestEnv(episode_length=3)] * 2
    spy = _InfoSpy(SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.SAME_STEP))
    env = NormalizeObservation(spy, per_env=True)
    env.reset(seed=0)
    actions = np.zeros(2, dtype=np.int64)
    for _ in range(2):
        env.step(actions)
    count = env.obs_rms.count.copy()
    before = RunningMeanStd((3,), num_streams=2)
    before.load_state_dict(env.obs_rms.state_dict())
    _, _, terminated, _, info = env.step(actions)
    assert terminated.all()
    # The final observations are normalised with statistics that include them but not yet
    # the reset observations (the order of a single env's last step and its reset).
    before.update(np.stack([spy.final_copy[i] for i in range(2)]).astype(np.float64))
    assert info is not spy.info and info["final_obs"] is not spy.info["final_obs"]
    for i in range(2):
        np.testing.assert_array_equal(spy.info["final_obs"][i], spy.final_copy[i])  # untouched
        assert spy.info["final_obs"][i].dtype == np.float32
        raw_final = spy.final_copy[i].astype(np.float64)
        expected = (raw_final - before.mean[i]) / np.sqrt(before.var[i] + EPSILON)
        np.testing.assert_allclose(info["final_obs"][i], expected.astype(np.float32), rtol=1e-6)
    # The final observations and the reset observations returned in obs entered (two each).
    np.testing.assert_array_equal(env.obs_rms.count, count + 2)
    assert info["_final_obs"].all()


def test_same_step_missing_final_obs_is_reported():
    class _DropFinal(VectorWrapper):
        def step(self, actions):
            obs, rewards, terminated, truncated, info = self.env.step(actions)
            return obs, rewards, terminated, truncated, {k: v for k, v in info.items() if "final" not in k}

    inner = SyncVectorEnv([lambda: GenericTestEnv(episode_length=1)], autoreset_mode=AutoresetMode.SAME_STEP)
    env = NormalizeObservation(_DropFinal(inner))
    env.reset(seed=0)
    with pytest.raises(
        ValueError,
        match=r"^NormalizeObservation: in SAME_STEP autoreset mode, sub-envs \[0\] ended an episode but the inner "
        r"env's info has no 'final_obs'",
    ):
        env.step(np.zeros(1, dtype=np.int64))


def test_non_finite_values_name_the_sub_env_and_element():
    scripts = _scripts(8, 3, 20, p_done=0.0)
    scripts[2][0][2, 1] = np.nan
    scripts[1][1][3] = np.inf
    env = NormalizeReward(NormalizeObservation(_vector(scripts, AutoresetMode.NEXT_STEP)))
    env.reset(seed=0)
    env.step(np.zeros(3, dtype=np.int64))
    before = {"obs": env.env.state_dict(), "reward": env.state_dict()}
    with pytest.raises(
        ValueError,
        match=r"NormalizeObservation: sub-env 2 returned a non-finite observation value nan at index \(1,\)",
    ):
        env.step(np.zeros(3, dtype=np.int64))
    torch.testing.assert_close(env.env.state_dict(), before["obs"], rtol=0, atol=0)
    reward_only = NormalizeReward(_vector(scripts, AutoresetMode.NEXT_STEP))
    reward_only.reset(seed=0)
    for _ in range(2):
        reward_only.step(np.zeros(3, dtype=np.int64))
    state = reward_only.state_dict()
    with pytest.raises(ValueError, match=r"NormalizeReward: sub-env 1 returned a non-finite reward inf"):
        reward_only.step(np.zeros(3, dtype=np.int64))
    torch.testing.assert_close(reward_only.state_dict(), state, rtol=0, atol=0)


class _NanRewardAt(VectorWrapper):
    """Replaces sub-env ``row``'s reward by NaN at the ``at``-th step (1-based)."""

    def __init__(self, env, at, row):
        super().__init__(env)
        self.at, self.row, self.calls = at, row, 0

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        self.calls += 1
        if self.calls == self.at:
            rewards = rewards.copy()
            rewards[self.row] = np.nan
        return obs, rewards, terminated, truncated, info


def test_non_finite_values_are_reported_on_autoreset_steps():
    # Sub-env 1 terminates at its first step, so the second vector step is its autoreset step:
    # that row enters no statistics but is still returned, so it is still checked.
    scripts = _scripts(11, 3, 20, p_done=0.0)
    scripts[1][2][1] = True
    scripts[1][0][2, 2] = np.nan
    env = NormalizeObservation(_vector(scripts, AutoresetMode.NEXT_STEP))
    env.reset(seed=0)
    env.step(np.zeros(3, dtype=np.int64))
    before = env.state_dict()
    with pytest.raises(
        ValueError, match=r"sub-env 1 returned a non-finite observation value nan at index \(2,\)"
    ):
        env.step(np.zeros(3, dtype=np.int64))
    torch.testing.assert_close(env.state_dict(), before, rtol=0, atol=0)

    scripts[1][1][2] = 0.0  # the autoreset step's reward comes from the vector env: 0
    rewards = NormalizeReward(_NanRewardAt(_vector(scripts, AutoresetMode.NEXT_STEP), at=2, row=1))
    rewards.reset(seed=0)
    rewards.step(np.zeros(3, dtype=np.int64))
    before = rewards.state_dict()
    with pytest.raises(ValueError, match=r"NormalizeReward: sub-env 1 returned a non-finite reward nan"):
        rewards.step(np.zeros(3, dtype=np.int64))
    torch.testing.assert_close(rewards.state_dict(), before, rtol=0, atol=0)


def test_frozen_wrappers_still_report_non_finite_values():
    scripts = _scripts(12, 3, 20, p_done=0.0)
    scripts[0][0][1, 0] = np.inf
    scripts[0][1][1] = -np.inf
    observations = NormalizeObservation(_vector(scripts, AutoresetMode.NEXT_STEP))
    rewards = NormalizeReward(_vector(scripts, AutoresetMode.NEXT_STEP))
    for env in (observations, rewards):
        env.reset(seed=0)
        env.freeze()
    with pytest.raises(
        ValueError, match=r"sub-env 0 returned a non-finite observation value inf at index \(0,\)"
    ):
        observations.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"sub-env 0 returned a non-finite reward -inf"):
        rewards.step(np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("per_env", [False, True])
@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.name)
def test_non_finite_frames_name_the_sub_env_and_element(mode, per_env):
    scripts = _scripts(13, 3, 20, shape=(3, 40, 40), p_done=0.0)
    scripts[2][0][3, 1, 5, 7] = np.nan
    env = NormalizeObservation(_vector(scripts, mode), per_env=per_env)
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.zeros(3, dtype=np.int64))
    before = env.state_dict()
    with pytest.raises(
        ValueError, match=r"sub-env 2 returned a non-finite observation value nan at index \(1, 5, 7\)"
    ):
        env.step(np.zeros(3, dtype=np.int64))
    torch.testing.assert_close(env.state_dict(), before, rtol=0, atol=0)


def test_non_finite_final_obs_is_reported():
    bad = np.array([[0.0, np.nan, 0.0]], dtype=np.float32)

    def step_func(env, action):
        return bad[0], 0.0, True, False, {}

    inner = SyncVectorEnv(
        [lambda: GenericTestEnv(), lambda: GenericTestEnv(step_func=step_func)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    env = NormalizeObservation(inner)
    env.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"sub-env 1 returned a non-finite final observation value nan at index \(1,\)"
    ):
        env.step(np.zeros(2, dtype=np.int64))


def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_observation_state_loads_between_single_env_and_shared_vector_twin():
    vector = NormalizeObservation(make_vector_env(GenericTestEnv, 3))
    vector.reset(seed=0)
    for _ in range(5):
        vector.step(np.zeros(3, dtype=np.int64))
    lone = single.NormalizeObservation(GenericTestEnv())
    lone.load_state_dict(_roundtrip(vector.state_dict()))
    torch.testing.assert_close(lone.state_dict(), vector.state_dict(), rtol=0, atol=0)
    lone.reset(seed=1)
    lone.step(0)
    vector.load_state_dict(_roundtrip(lone.state_dict()))
    torch.testing.assert_close(vector.state_dict(), lone.state_dict(), rtol=0, atol=0)
    per_env = NormalizeObservation(make_vector_env(GenericTestEnv, 3), per_env=True)
    assert per_env.state_dict()["obs_rms"]["mean"].shape == (3, 3)
    assert per_env.state_dict()["obs_rms"]["count"].shape == (3,)
    with pytest.raises(
        ValueError,
        match=r"NormalizeObservation.load_state_dict: 'obs_rms': .*'mean' has shape \(3,\), expected \(3, 3\)",
    ):
        per_env.load_state_dict(lone.state_dict())


@pytest.mark.parametrize("per_env", [False, True])
def test_reward_state_round_trip_and_errors(per_env):
    scripts = _scripts(9, 2, 60)
    env = NormalizeReward(_vector(scripts, AutoresetMode.NEXT_STEP), per_env=per_env)
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.zeros(2, dtype=np.int64))
    state = _roundtrip(env.state_dict())
    assert state["discounted_return"].shape == (2,)
    assert state["return_rms"]["count"].shape == ((2,) if per_env else ())
    fresh = NormalizeReward(_vector(scripts, AutoresetMode.NEXT_STEP), per_env=per_env)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.state_dict(), env.state_dict(), rtol=0, atol=0)
    with pytest.raises(
        ValueError,
        match=r"NormalizeReward.load_state_dict: 'discounted_return' has shape \(\), expected \(2,\)",
    ):
        env.load_state_dict({**state, "discounted_return": torch.tensor(0.0)})
    with pytest.raises(KeyError, match=r"missing keys \['return_rms'\]"):
        env.load_state_dict({"discounted_return": state["discounted_return"]})


def test_freeze_keeps_vector_statistics_and_follows_the_returns():
    env = NormalizeReward(
        NormalizeObservation(make_vector_env(lambda: GenericTestEnv(episode_length=None), 2))
    )
    env.reset(seed=0)
    env.step(np.zeros(2, dtype=np.int64))
    env.freeze()
    env.env.freeze()
    obs_state, reward_state = env.env.obs_rms.state_dict(), env.return_rms.state_dict()
    returns = env.discounted_return.copy()
    env.step(np.zeros(2, dtype=np.int64))
    assert not np.array_equal(env.discounted_return, returns)  # the accumulators follow the episodes
    env.reset(seed=3)
    torch.testing.assert_close(env.env.obs_rms.state_dict(), obs_state, rtol=0, atol=0)
    torch.testing.assert_close(env.return_rms.state_dict(), reward_state, rtol=0, atol=0)
    assert env.frozen and env.env.frozen
    env.unfreeze()
    env.step(np.zeros(2, dtype=np.int64))
    assert env.return_rms.count == pytest.approx(4 + PRIOR)


def test_constructor_errors():
    venv = make_vector_env(GenericTestEnv, 2)
    with pytest.raises(
        TypeError, match=r"NormalizeObservation needs a Box observation space, got Discrete\(4\)"
    ):
        NormalizeObservation(make_vector_env(lambda: GenericTestEnv(observation_space=spaces.Discrete(4)), 2))
    with pytest.raises(TypeError, match=r"NormalizeObservation: per_env must be a bool, got 1"):
        NormalizeObservation(venv, per_env=1)
    with pytest.raises(ValueError, match=r"obs_rms has num_streams=None, expected 2 \(one per sub-env\)"):
        NormalizeObservation(venv, obs_rms=RunningMeanStd((3,)), per_env=True)
    with pytest.raises(
        ValueError, match=r"NormalizeReward: return_rms has num_streams=3, expected 2 \(one per sub-env\)"
    ):
        NormalizeReward(venv, return_rms=RunningMeanStd((), num_streams=3), per_env=True)
    with pytest.raises(ValueError, match=r"NormalizeReward: gamma must be a number in \[0, 1\], got -0.1"):
        NormalizeReward(venv, gamma=-0.1)
    with pytest.raises(
        ValueError, match=r"NormalizeObservation: clip must be None or a finite number > 0, got 0"
    ):
        NormalizeObservation(venv, clip=0)


@pytest.mark.parametrize("per_env", [False, True])
def test_clip_bounds_the_outputs_of_the_unclipped_wrappers(per_env):
    scripts = _scripts(10, 2, 80)
    plain = NormalizeReward(
        NormalizeObservation(_vector(scripts, AutoresetMode.NEXT_STEP), per_env=per_env), per_env=per_env
    )
    clipped = NormalizeReward(
        NormalizeObservation(_vector(scripts, AutoresetMode.NEXT_STEP), clip=0.8, per_env=per_env),
        clip=1.5,
        per_env=per_env,
    )
    np.testing.assert_array_equal(clipped.reset(seed=0)[0], np.clip(plain.reset(seed=0)[0], -0.8, 0.8))
    saw = {"obs": False, "low": False, "high": False}
    for _ in range(30):
        obs_a, reward_a, *_ = plain.step(np.zeros(2, dtype=np.int64))
        obs_b, reward_b, *_ = clipped.step(np.zeros(2, dtype=np.int64))
        np.testing.assert_array_equal(obs_b, np.clip(obs_a, -0.8, 0.8))
        np.testing.assert_array_equal(reward_b, np.clip(reward_a, -1.5, 1.5))
        saw["obs"] |= bool(np.any(np.abs(obs_a) > 0.8))
        saw["low"] |= bool(np.any(reward_a < -1.5))
        saw["high"] |= bool(np.any(reward_a > 1.5))
    assert all(saw.values()), saw


def test_spaces_and_shared_statistics_with_a_single_env_wrapper():
    venv = NormalizeObservation(make_vector_env(GenericTestEnv, 2), clip=3.0)
    assert venv.single_observation_space == spaces.Box(-3.0, 3.0, (3,), np.float32)
    assert venv.observation_space == spaces.Box(-3.0, 3.0, (2, 3), np.float32)
    evaluation = single.NormalizeObservation(GenericTestEnv(), obs_rms=venv.obs_rms)
    evaluation.freeze()
    venv.reset(seed=0)
    count = venv.obs_rms.count
    evaluation.reset(seed=0)
    assert evaluation.obs_rms is venv.obs_rms and venv.obs_rms.count == count


@pytest.mark.parametrize("per_env", [False, True])
def test_vector_wrappers_pass_the_contract(per_env):
    check_vector_wrapper(
        lambda mode: NormalizeObservation(make_vector_env(GenericTestEnv, 2, mode), per_env=per_env)
    )
    check_vector_wrapper(
        lambda mode: NormalizeReward(make_vector_env(GenericTestEnv, 2, mode), clip=1.0, per_env=per_env)
    )
