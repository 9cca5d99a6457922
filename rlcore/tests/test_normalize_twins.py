"""Vector normalisers against their single-env twins over exactly the same episodes.

The vector ``NormalizeObservation`` / ``NormalizeReward`` must keep the statistics that
``num_envs`` single-env wrappers would keep over the same episodes: one shared
``RunningMeanStd`` for all of them, or one each with ``per_env=True``. The twins below are
driven by hand as a user drives a single env (``reset()`` whenever an episode ends), so the
rules of what enters are the single-env wrappers', not re-derived from the vector ones. The
last tests check the claims the docstrings and the README make about Gymnasium and
Stable-Baselines3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlcore.stats import RunningMeanStd
from rlcore.testing import GenericTestEnv
from rlcore.wrappers import normalize as single
from rlcore.wrappers import vector

PRIOR = 1e-4  # RunningMeanStd's default pseudo-count

# (length, terminates): the k-th episode of an env lasts episodes[k % len(episodes)] steps
# and then terminates (True) or is truncated (False).
Episodes = Sequence[tuple[int, bool]]


def episode_env(episodes: Episodes) -> GenericTestEnv:
    """A deterministic env: observations and rewards are functions of (seed, episode, step)."""

    def observe(env: GenericTestEnv) -> np.ndarray:
        # Distinct first observations per episode, so that leaving one out moves the mean.
        return np.array(
            [env.base + 0.5 * env.episode + env.t, (env.t * env.t) % 7 - 3.0 * (env.episode % 2)],
            dtype=np.float32,
        )

    def reset_func(env: GenericTestEnv, seed: int | None, options: Any) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None or not hasattr(env, "base"):
            env.base = 0 if seed is None else seed
        return observe(env), {}

    def step_func(env: GenericTestEnv, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        length, terminates = episodes[env.episode % len(episodes)]
        over = env.t >= length
        reward = float((env.base + 3 * env.episode + 2 * env.t) % 5) - 1.5
        return observe(env), reward, over and terminates, over and not terminates, {}

    return GenericTestEnv(
        observation_space=spaces.Box(-np.inf, np.inf, (2,), np.float32),
        reset_func=reset_func,
        step_func=step_func,
        episode_length=None,
    )


class Twins:
    """A vector stack and its ``num_envs`` single-env twins, stepped through the same episodes.

    Vector: ``NormalizeReward(NormalizeObservation(SyncVectorEnv))``. Twin ``i``:
    ``NormalizeReward(NormalizeObservation(env_i))``, reset whenever its episode ends (NEXT_STEP:
    at the vector env's autoreset step; SAME_STEP: right after the finishing step) and when a
    ``reset_mask`` selects it. ``observations[i]`` / ``returns[i]`` count what the twin saw
    unfrozen: every observation a reset or a step returned, and every step's return.
    """

    def __init__(
        self, mode: AutoresetMode, episodes: Sequence[Episodes], per_env: bool, gamma: float = 0.9
    ) -> None:
        self.mode, self.per_env, self.n = mode, per_env, len(episodes)
        fns = [lambda e=e: episode_env(e) for e in episodes]
        self.obs_wrapper = vector.NormalizeObservation(
            SyncVectorEnv(fns, autoreset_mode=mode), per_env=per_env
        )
        self.vector = vector.NormalizeReward(self.obs_wrapper, gamma=gamma, per_env=per_env)
        shared_obs = None if per_env else RunningMeanStd((2,))
        shared_returns = None if per_env else RunningMeanStd(())
        self.twin_obs = [single.NormalizeObservation(episode_env(e), obs_rms=shared_obs) for e in episodes]
        self.twins = [
            single.NormalizeReward(t, gamma=gamma, return_rms=shared_returns) for t in self.twin_obs
        ]
        self.pending = np.zeros(self.n, dtype=bool)  # NEXT_STEP: the next vector step autoresets
        self.observations = np.zeros(self.n, dtype=np.int64)
        self.returns = np.zeros(self.n, dtype=np.int64)
        self.episodes_ended = 0
        self.counting = 1  # 0 while frozen

    def reset(self, seed: int = 0) -> None:
        obs, _ = self.vector.reset(seed=seed)
        for i, twin in enumerate(self.twins):
            twin_obs, _ = twin.reset(seed=seed + i)  # a vector env seeds sub-env i with seed + i
            self.observations[i] += self.counting
            self._same_output(obs[i], twin_obs)
        self.pending[:] = False

    def partial_reset(self, mask: np.ndarray) -> None:
        obs, _ = self.vector.reset(options={"reset_mask": mask.copy()})
        for i in np.flatnonzero(mask):
            twin_obs, _ = self.twins[i].reset()
            self.observations[i] += self.counting
            self._same_output(obs[i], twin_obs)
        self.pending[mask] = False

    def step(self) -> np.ndarray:
        """One vector step and the twins' matching calls; returns the vector ``terminated | truncated``."""
        obs, rewards, terminated, truncated, info = self.vector.step(np.zeros(self.n, dtype=np.int64))
        for i, twin in enumerate(self.twins):
            if self.mode == AutoresetMode.NEXT_STEP and self.pending[i]:
                twin_obs, _ = twin.reset()
                self.observations[i] += self.counting
                self.pending[i] = False
                assert rewards[i] == 0.0 and not terminated[i] and not truncated[i]
                self._same_output(obs[i], twin_obs)
                continue
            twin_obs, reward, twin_terminated, twin_truncated, _ = twin.step(0)
            self.observations[i] += self.counting
            self.returns[i] += self.counting
            assert (bool(terminated[i]), bool(truncated[i])) == (twin_terminated, twin_truncated)
            if self.per_env:
                assert rewards[i] == pytest.approx(reward, rel=1e-10)
            if not (twin_terminated or twin_truncated):
                self._same_output(obs[i], twin_obs)
                continue
            self.episodes_ended += 1
            if self.mode == AutoresetMode.NEXT_STEP:
                self._same_output(obs[i], twin_obs)
                self.pending[i] = True
            elif self.mode == AutoresetMode.SAME_STEP:
                self._same_output(info["final_obs"][i], twin_obs)
                twin_obs, _ = twin.reset()
                self.observations[i] += self.counting
                self._same_output(obs[i], twin_obs)
            else:
                self._same_output(obs[i], twin_obs)
        return np.logical_or(terminated, truncated)

    def advance(self) -> None:
        """One step, then (DISABLED, where nothing resets by itself) a reset of the finished sub-envs."""
        done = self.step()
        if self.mode == AutoresetMode.DISABLED and done.any():
            self.partial_reset(done)

    def freeze(self, frozen: bool) -> None:
        self.counting = 0 if frozen else 1
        for wrapper in (self.obs_wrapper, self.vector, *self.twin_obs, *self.twins):
            if frozen:
                wrapper.freeze()
            else:
                wrapper.unfreeze()

    def _same_output(self, vector_obs: np.ndarray, twin_obs: np.ndarray) -> None:
        # With shared statistics the vector wrapper normalises a batch with the statistics
        # after the whole batch, the twins one by one: only the statistics agree.
        if self.per_env:
            np.testing.assert_allclose(vector_obs, twin_obs, rtol=1e-6, atol=1e-6)

    def assert_same_statistics(self) -> None:
        """The vector statistics against the twins' (and the counts against what they saw)."""
        obs_rms, return_rms = self.obs_wrapper.obs_rms, self.vector.return_rms
        if self.per_env:
            twin_obs_rms = [t.obs_rms for t in self.twin_obs]
            twin_return_rms = [t.return_rms for t in self.twins]
            for name, rms, twins in (("obs", obs_rms, twin_obs_rms), ("return", return_rms, twin_return_rms)):
                np.testing.assert_allclose(
                    rms.mean, [t.mean for t in twins], rtol=1e-10, atol=1e-12, err_msg=name
                )
                np.testing.assert_allclose(
                    rms.var, [t.var for t in twins], rtol=1e-10, atol=1e-12, err_msg=name
                )
                np.testing.assert_allclose(rms.count, [t.count for t in twins], rtol=1e-14, err_msg=name)
            expected_obs, expected_returns = self.observations, self.returns
        else:
            for name, rms, twin in (
                ("obs", obs_rms, self.twin_obs[0].obs_rms),
                ("return", return_rms, self.twins[0].return_rms),
            ):
                np.testing.assert_allclose(rms.mean, twin.mean, rtol=1e-10, atol=1e-12, err_msg=name)
                np.testing.assert_allclose(rms.var, twin.var, rtol=1e-10, atol=1e-12, err_msg=name)
                np.testing.assert_allclose(rms.count, twin.count, rtol=1e-14, err_msg=name)
            expected_obs, expected_returns = self.observations.sum(), self.returns.sum()
        # Exact counts: the number of values that entered, the prior taken off. (The float
        # counts themselves differ in the last bit: 1e-4 + 3 is not 1e-4 + 1 + 1 + 1.)
        np.testing.assert_array_equal(np.rint(np.asarray(obs_rms.count) - PRIOR), expected_obs)
        np.testing.assert_array_equal(np.rint(np.asarray(return_rms.count) - PRIOR), expected_returns)
        np.testing.assert_allclose(
            self.vector.discounted_return, [t.discounted_return for t in self.twins], rtol=1e-12, atol=1e-12
        )


# Three sub-envs with different episode lengths, each ending by termination and truncation.
EPISODES = [[(3, True), (5, False)], [(4, False), (2, True), (6, True)], [(1, True), (7, False)]]
MODES = list(AutoresetMode)


@pytest.mark.parametrize("per_env", [False, True], ids=["shared", "per_env"])
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_statistics_equal_the_single_env_twins(mode, per_env):
    twins = Twins(mode, EPISODES, per_env)
    twins.reset(seed=3)
    for _ in range(40):
        twins.advance()
        twins.assert_same_statistics()
    assert twins.episodes_ended >= 15


@pytest.mark.parametrize("per_env", [False, True], ids=["shared", "per_env"])
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_frozen_and_unfrozen_statistics_stay_equal_to_the_twins(mode, per_env):
    twins = Twins(mode, EPISODES, per_env)
    twins.reset(seed=1)
    for step in range(36):
        if step in (10, 25):
            twins.freeze(step == 10)
            before = (twins.obs_wrapper.obs_rms.state_dict(), twins.vector.return_rms.state_dict())
        twins.advance()
        if 10 <= step < 25:
            for rms, state in zip((twins.obs_wrapper.obs_rms, twins.vector.return_rms), before):
                np.testing.assert_array_equal(rms.count, state["count"].numpy())
        else:
            twins.assert_same_statistics()
    assert twins.episodes_ended >= 10


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, ...]:
    mode = draw(st.sampled_from(MODES))
    num_envs = draw(st.integers(1, 4))
    episode = st.tuples(st.integers(1, 6), st.booleans())
    episodes = [draw(st.lists(episode, min_size=1, max_size=4)) for _ in range(num_envs)]
    steps = draw(st.integers(1, 25))
    # Per step: a reset mask applied after it (partial resets in every mode; DISABLED also
    # resets every finished sub-env), or None.
    masks = draw(
        st.lists(
            st.one_of(st.none(), st.lists(st.booleans(), min_size=num_envs, max_size=num_envs)),
            min_size=steps,
            max_size=steps,
        )
    )
    return mode, episodes, masks, draw(st.booleans()), draw(st.floats(0.0, 1.0)), draw(st.integers(0, 100))


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_statistics_equal_the_twins_for_random_episodes_and_reset_masks(scenario):
    mode, episodes, masks, per_env, gamma, seed = scenario
    twins = Twins(mode, episodes, per_env, gamma=gamma)
    twins.reset(seed=seed)
    for extra in masks:
        done = twins.step()
        mask = np.zeros(twins.n, dtype=bool) if extra is None else np.array(extra)
        if mode == AutoresetMode.DISABLED:
            mask |= done
        if mask.any():
            twins.partial_reset(mask)
        twins.assert_same_statistics()


# --------------------------------------------------------------------------- the review's toy case
def counter_env() -> GenericTestEnv:
    """Observation ``[t]``, the step count within the episode; every episode terminates at t = 3."""
    return GenericTestEnv(
        observation_space=spaces.Box(0.0, 10.0, (1,), np.float32),
        reset_func=lambda env, seed, options: (np.array([env.t], dtype=np.float32), {}),
        step_func=lambda env, action: (np.array([env.t], dtype=np.float32), 1.0, env.t >= 3, False, {}),
        episode_length=None,
    )


def test_review_toy_case_vector_mean_matches_the_single_env_and_gymnasium():
    # Ten steps of one env whose episodes last 3 steps. SAME_STEP sees 0 1 2 3 | 0 1 2 3 |
    # 0 1 2 3 | 0 1; NEXT_STEP spends a step on each autoreset: 0 1 2 3 | 0 1 2 3 | 0 1 2.
    # Before the fix the vector wrapper left the first 0 of every later episode out (mean
    # 15/9 instead of 15/11 in NEXT_STEP, 19/11 instead of 19/14 in SAME_STEP).
    steps = 10
    expected = {  # (sum, count) of the observations above
        AutoresetMode.SAME_STEP: (19.0, 14),
        AutoresetMode.NEXT_STEP: (15.0, 11),
    }
    for mode, (total, count) in expected.items():
        ours, theirs = (
            single.NormalizeObservation(counter_env()),
            gym.wrappers.NormalizeObservation(counter_env()),
        )
        for env in (ours, theirs):
            env.reset(seed=0)
            pending = False
            for _ in range(steps):
                if pending:  # NEXT_STEP: the vector env's autoreset step is a reset here
                    env.reset()
                    pending = False
                    continue
                _, _, terminated, truncated, _ = env.step(0)
                if terminated or truncated:
                    if mode == AutoresetMode.SAME_STEP:
                        env.reset()
                    else:
                        pending = True
        vector_env = vector.NormalizeObservation(SyncVectorEnv([counter_env], autoreset_mode=mode))
        vector_env.reset(seed=0)
        for _ in range(steps):
            vector_env.step(np.zeros(1, dtype=np.int64))
        assert ours.obs_rms.count == pytest.approx(count + PRIOR)
        np.testing.assert_allclose(ours.obs_rms.mean, [total / (count + PRIOR)], rtol=1e-12)
        np.testing.assert_allclose(theirs.obs_rms.mean, ours.obs_rms.mean, rtol=1e-6)
        np.testing.assert_allclose(theirs.obs_rms.var, ours.obs_rms.var, rtol=1e-6)
        np.testing.assert_allclose(vector_env.obs_rms.mean, ours.obs_rms.mean, rtol=1e-12)
        np.testing.assert_allclose(vector_env.obs_rms.var, ours.obs_rms.var, rtol=1e-12)
        assert vector_env.obs_rms.count == pytest.approx(ours.obs_rms.count, rel=1e-14)


def test_next_step_observations_match_gymnasiums_vector_wrapper():
    # Gymnasium's vector NormalizeObservation (NEXT_STEP only) enters every row, as rlcore's does.
    fns = [lambda e=e: episode_env(e) for e in EPISODES]
    ours = vector.NormalizeObservation(SyncVectorEnv(fns))
    theirs = gym.wrappers.vector.NormalizeObservation(SyncVectorEnv(fns))
    for env in (ours, theirs):
        env.reset(seed=5)
        for _ in range(30):
            obs = env.step(np.zeros(3, dtype=np.int64))[0]
    np.testing.assert_allclose(ours.obs_rms.mean, theirs.obs_rms.mean, rtol=1e-6)
    np.testing.assert_allclose(ours.obs_rms.var, theirs.obs_rms.var, rtol=1e-6)
    assert ours.obs_rms.count == pytest.approx(theirs.obs_rms.count, rel=1e-12)
    assert obs.dtype == np.float32


# --------------------------------------------------------------------------- documented differences
def scripted_rewards(rewards: Sequence[float], ends: dict[int, str]) -> GenericTestEnv:
    """Plays back ``rewards`` across episodes; step k (1-based, counted over the whole run) ends
    its episode by ``ends[k]``, "terminated" or "truncated"."""
    counter = {"k": 0}

    def step_func(env: GenericTestEnv, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        counter["k"] += 1
        k = counter["k"]
        end = ends.get(k)
        return np.zeros(3, np.float32), float(rewards[k - 1]), end == "terminated", end == "truncated", {}

    return GenericTestEnv(step_func=step_func, reset_func=lambda env, s, o: (np.zeros(3, np.float32), {}))


@pytest.mark.parametrize("ending", ["terminated", "truncated"])
def test_gymnasium_carries_the_return_into_the_next_episode_rlcore_does_not(ending):
    gamma, rewards = 0.5, [1.0, 2.0, 4.0, 8.0]  # the episode ends at step 2
    # Gymnasium: G = gamma * (1 - terminated) * G + r, never cleared. At a termination r_T = 2
    # enters alone and gamma * 2 flows on; at a truncation the whole return gamma * 1 + 2 does.
    carried = gamma * 2.0 if ending == "terminated" else gamma * (gamma * 1.0 + 2.0)
    ours = single.NormalizeReward(scripted_rewards(rewards, {2: ending}), gamma=gamma)
    theirs = gym.wrappers.NormalizeReward(scripted_rewards(rewards, {2: ending}), gamma=gamma)
    for env in (ours, theirs):
        env.reset(seed=0)
        env.step(0)
        env.step(0)  # the episode ends
        env.reset()
        env.step(0)  # the next episode's first step, reward 4
    assert ours.discounted_return == 4.0
    assert float(theirs.discounted_reward[0]) == pytest.approx(carried + 4.0)
    # Their vector wrapper does the same in NEXT_STEP mode (not in SAME_STEP, nor across a
    # partial reset in DISABLED, which clears every accumulator).
    fns = [lambda: scripted_rewards(rewards, {2: ending})]
    ours_vector = vector.NormalizeReward(SyncVectorEnv(fns), gamma=gamma)
    theirs_vector = gym.wrappers.vector.NormalizeReward(SyncVectorEnv(fns), gamma=gamma)
    for env in (ours_vector, theirs_vector):
        env.reset(seed=0)
        for _ in range(4):  # two steps, the autoreset step, the next episode's first step
            env.step(np.zeros(1, dtype=np.int64))
    np.testing.assert_array_equal(ours_vector.discounted_return, [4.0])
    np.testing.assert_allclose(theirs_vector.accumulated_reward, [carried + 4.0])


@pytest.mark.parametrize("clip", [10.0, None])
def test_reward_matches_stable_baselines3_vecnormalize_defaults_with_clip_10(clip):
    # Large rewards after many small ones, so that SB3's default clip_reward=10 bites.
    rng = np.random.default_rng(0)
    rewards = np.concatenate([rng.normal(0.0, 0.01, 300), rng.normal(0.0, 50.0, 40)])
    ends = {7: "terminated", 119: "truncated", 303: "terminated", 321: "truncated"}
    ours = single.NormalizeReward(scripted_rewards(rewards, ends), gamma=0.95, clip=clip)
    theirs = VecNormalize(
        DummyVecEnv([lambda: scripted_rewards(rewards, ends)]), norm_obs=False, gamma=0.95, epsilon=1e-8
    )
    assert theirs.clip_reward == 10.0  # SB3's default
    ours.reset(seed=0)
    theirs.reset()
    clipped = 0
    for _ in range(len(rewards)):
        _, reward, terminated, truncated, _ = ours.step(0)
        if terminated or truncated:
            ours.reset()  # DummyVecEnv resets in the same step
        _, sb3_reward, _, _ = theirs.step(np.zeros(1, dtype=np.int64))
        clipped += abs(sb3_reward[0]) == 10.0
        if clip == 10.0:
            assert reward == pytest.approx(float(sb3_reward[0]), rel=1e-6)  # SB3 returns float32
    assert clipped > 0
    # DummyVecEnv hands the rewards on as float32, hence the tolerance.
    np.testing.assert_allclose(ours.return_rms.var, theirs.ret_rms.var, rtol=1e-6)


def test_running_mean_std_updates_in_place_unlike_gymnasium():
    ours = single.NormalizeObservation(GenericTestEnv())
    theirs = gym.wrappers.NormalizeObservation(GenericTestEnv())
    for env in (ours, theirs):
        env.reset(seed=0)
    ours_var, theirs_var, kept = ours.obs_rms.var, theirs.obs_rms.var, ours.obs_rms.var.copy()
    ours_before, theirs_before = ours_var.copy(), theirs_var.copy()
    for env in (ours, theirs):
        env.step(0)
    # A reference taken from rlcore's statistics follows them; Gymnasium's binds a new array.
    assert ours.obs_rms.var is ours_var and not np.array_equal(ours_var, ours_before)
    assert theirs.obs_rms.var is not theirs_var and np.array_equal(theirs_var, theirs_before)
    np.testing.assert_array_equal(kept, ours_before)  # a copy is a snapshot
