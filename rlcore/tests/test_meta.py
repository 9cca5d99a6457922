"""Single-env meta-RL wrappers (TrialWrapper, TaskOneHot, the TaskEnv protocol) against naive reference loops.

The reference loops drive a raw env by hand (``set_task`` per trial, ``reset``, ``step``) and
build the expected augmented observations from its raw outputs; the task draws follow the
seeding rule stated in ``TrialWrapper``'s docstring, recomputed here from NumPy.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore.envs
from rlcore.envs import BernoulliBanditEnv, PointGoalEnv
from rlcore.testing import GenericTestEnv, check_wrapper
from rlcore.wrappers._meta_core import FlatEncoder
from rlcore.wrappers.meta import TaskEnv, TaskOneHot, TrialWrapper, check_task_env

NUM_TASKS = 1000
NUM_ACTIONS = 3


class CountingTaskEnv(gym.Env):
    """A TaskEnv written independently of rlcore.envs: the observation shows the task.

    Observation ``[task, t, noise]`` (noise from ``np_random``); reward ``10 * action + t +
    noise``; episode ``e`` (counted by resets) lasts ``1 + e % 3`` steps and ends by
    termination when ``e`` is even, by truncation when odd. ``reset_options`` records the
    options each reset received.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, task_space: spaces.Space | None = None):
        self.task_space = task_space if task_space is not None else spaces.Discrete(NUM_TASKS)
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._task = 0
        self.next_task = 0
        self.episode = -1
        self.t = 0
        self.reset_options: list[Any] = []

    @property
    def task(self):
        return self._task

    def set_task(self, task):
        self.next_task = task

    def _obs(self, noise):
        return np.array([self._task, self.t, noise], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.reset_options.append(options)
        self._task = self.next_task
        self.episode += 1
        self.t = 0
        return self._obs(self.np_random.random()), {"episode": self.episode}

    def step(self, action):
        self.t += 1
        noise = float(self.np_random.random())
        length = 1 + self.episode % 3
        ended = self.t >= length
        terminated = ended and self.episode % 2 == 0
        truncated = ended and not terminated
        return self._obs(noise), 10.0 * int(action) + self.t + noise, terminated, truncated, {}


def task_draws(task_space: spaces.Space, seed: int, count: int) -> list[Any]:
    """The tasks a wrapper draws after ``reset(seed=seed)``, by the documented seeding rule."""
    space = copy.deepcopy(task_space)
    stream = np.random.SeedSequence(seed, spawn_key=(0x7461736B,))
    space.seed(int(stream.generate_state(1, np.uint64)[0]))
    return [space.sample() for _ in range(count)]


def one_hot(index: int, size: int) -> np.ndarray:
    return np.eye(size, dtype=np.float32)[index]


def expected_augmented(obs, prev_action, prev_reward, prev_done) -> np.ndarray:
    return np.concatenate(
        [np.asarray(obs, dtype=np.float32).ravel(), prev_action, [prev_reward, prev_done]]
    ).astype(np.float32)


def reference_trials(k: int, seed: int, actions: list[int], cut_short_at: frozenset[int] = frozenset()):
    """Naive RL^2 loop on a raw CountingTaskEnv.

    Returns one record per reset and step: ``(kind, augmented obs, reward, terminated,
    truncated, episode_in_trial, trial_done, task)``. Steps whose index is in
    ``cut_short_at`` are followed by a reset even if the episode has not ended.
    """
    env = CountingTaskEnv()
    tasks = task_draws(env.task_space, seed, len(actions) + 2)
    records = []
    trial, j = 0, 0
    prev = (np.zeros(NUM_ACTIONS, np.float32), 0.0, 0.0)
    env.set_task(tasks[0])
    obs, _ = env.reset(seed=seed)
    records.append(("reset", expected_augmented(obs, *prev), None, None, None, j, None, env.task))
    for step, action in enumerate(actions):
        obs, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
        trial_done = done and j == k - 1
        prev = (one_hot(action, NUM_ACTIONS), float(np.float32(reward)), float(done))
        records.append(
            ("step", expected_augmented(obs, *prev), reward, terminated, truncated, j, trial_done, env.task)
        )
        if done or step in cut_short_at:
            if j == k - 1:
                trial, j = trial + 1, 0
                prev = (np.zeros(NUM_ACTIONS, np.float32), 0.0, 0.0)
            else:
                j += 1
                prev = (prev[0], prev[1], 1.0)
            env.set_task(tasks[trial])
            obs, _ = env.reset()
            records.append(("reset", expected_augmented(obs, *prev), None, None, None, j, None, env.task))
    return records


def run_wrapper(env: TrialWrapper, seed: int, actions: list[int], cut_short_at: frozenset[int] = frozenset()):
    records = []
    obs, info = env.reset(seed=seed)
    records.append(("reset", obs, None, None, None, info["episode_in_trial"], None, env.unwrapped.task))
    for step, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["episode_in_trial"] == env.episode_in_trial
        records.append(
            (
                "step",
                obs,
                reward,
                terminated,
                truncated,
                info["episode_in_trial"],
                info["trial_done"],
                env.unwrapped.task,
            )
        )
        if terminated or truncated or step in cut_short_at:
            obs, info = env.reset()
            records.append(
                ("reset", obs, None, None, None, info["episode_in_trial"], None, env.unwrapped.task)
            )
    return records


def assert_records_equal(got, expected, augmented: bool):
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g[0] == e[0], f"record {i}"
        if augmented:
            np.testing.assert_array_equal(g[1], e[1], err_msg=f"record {i} ({g[0]}): augmented obs")
            assert g[1].dtype == np.float32
        else:
            np.testing.assert_array_equal(g[1], e[1][:3], err_msg=f"record {i}: obs")
        assert g[2:] == e[2:], f"record {i} ({g[0]}): {g[2:]} != {e[2:]}"


# --------------------------------------------------------------------------- protocol
def test_envs_and_test_env_satisfy_the_protocol():
    assert isinstance(CountingTaskEnv(), TaskEnv)
    assert isinstance(PointGoalEnv(), TaskEnv)
    assert isinstance(BernoulliBanditEnv(), TaskEnv)
    assert not isinstance(GenericTestEnv(), TaskEnv)


def test_check_task_env_looks_through_wrappers():
    env = gym.make("rlcore/BernoulliBandit-v0", num_arms=3)
    assert not isinstance(env, TaskEnv)  # gym.make's wrappers do not forward attributes
    assert check_task_env(env) == spaces.Box(0.0, 1.0, (3,), np.float64)


def test_check_task_env_names_what_is_missing():
    with pytest.raises(
        TypeError, match=r"check_task_env: env .* missing \['task_space', 'task', 'next_task', 'set_task'\]"
    ):
        check_task_env(gym.make("CartPole-v1"))
    env = CountingTaskEnv()
    del env.next_task
    with pytest.raises(TypeError, match=r"missing \['next_task'\]"):
        check_task_env(env)
    env = CountingTaskEnv()
    env.task_space = [0, 1]
    with pytest.raises(TypeError, match=r"task_space \[0, 1\] \(list\), expected a gymnasium.spaces.Space"):
        check_task_env(env)
    env = CountingTaskEnv()
    env.set_task = 3
    with pytest.raises(TypeError, match="set_task that is not callable"):
        check_task_env(env)


# --------------------------------------------------------------------------- TrialWrapper
@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    actions=st.lists(st.integers(0, NUM_ACTIONS - 1), min_size=1, max_size=40),
    augment=st.booleans(),
)
def test_trial_wrapper_matches_the_naive_loop(k, seed, actions, augment):
    got = run_wrapper(TrialWrapper(CountingTaskEnv(), k, augment_obs=augment), seed, actions)
    assert_records_equal(got, reference_trials(k, seed, actions), augment)


@settings(max_examples=20, deadline=None)
@given(
    k=st.integers(1, 3),
    seed=st.integers(0, 1000),
    actions=st.lists(st.integers(0, NUM_ACTIONS - 1), min_size=1, max_size=25),
    cuts=st.frozensets(st.integers(0, 24), max_size=6),
)
def test_a_reset_that_cuts_an_episode_short_starts_the_next_episode_with_the_flag_set(k, seed, actions, cuts):
    env = TrialWrapper(CountingTaskEnv(), k, augment_obs=True)
    assert_records_equal(
        run_wrapper(env, seed, actions, cuts), reference_trials(k, seed, actions, cuts), True
    )


def test_task_switches_after_exactly_k_episodes():
    k = 3
    env = TrialWrapper(CountingTaskEnv(), k)
    draws = task_draws(spaces.Discrete(NUM_TASKS), 11, 5)
    tasks, indices = [], []
    env.reset(seed=11)
    for _ in range(4 * k):
        tasks.append(env.unwrapped.task)
        indices.append(env.episode_in_trial)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(0)
            done = terminated or truncated
        assert info["trial_done"] == (indices[-1] == k - 1)
        env.reset()
    assert indices == [0, 1, 2] * 4
    assert tasks == [draws[m] for m in range(4) for _ in range(k)]
    assert len(set(tasks)) == 4


def test_next_trial_task_is_handed_over_when_the_last_episode_begins():
    env = TrialWrapper(CountingTaskEnv(), 2)
    draws = task_draws(spaces.Discrete(NUM_TASKS), 5, 3)
    env.reset(seed=5)
    assert (env.unwrapped.task, env.unwrapped.next_task) == (draws[0], draws[0])
    env.reset()
    assert (env.unwrapped.task, env.unwrapped.next_task) == (draws[0], draws[1])
    env.reset()
    assert (env.unwrapped.task, env.unwrapped.next_task) == (draws[1], draws[1])


def test_new_trial_option_forces_a_new_trial_with_the_next_draw_and_is_not_passed_on():
    env = TrialWrapper(CountingTaskEnv(), 3, augment_obs=True)
    draws = task_draws(spaces.Discrete(NUM_TASKS), 2, 4)
    env.reset(seed=2)
    env.step(1)
    obs, info = env.reset(options={"new_trial": True, "other": 1})
    assert info["episode_in_trial"] == 0 and env.unwrapped.task == draws[1]
    np.testing.assert_array_equal(obs[3:], np.zeros(NUM_ACTIONS + 2))
    assert env.unwrapped.reset_options == [None, {"other": 1}]
    # From the last episode, a forced trial uses the task already drawn for the next trial.
    env.reset()
    env.reset()
    assert env.episode_in_trial == 2
    env.reset(options={"new_trial": np.True_})
    assert env.unwrapped.task == draws[2] and env.episode_in_trial == 0
    env.reset(options={"new_trial": False})
    assert env.episode_in_trial == 1


def test_seeding_is_reproducible_and_restarts_the_trial():
    def trace(env, seed):
        return [(r[1].tolist(), r[2:]) for r in run_wrapper(env, seed, [0, 1, 2, 1, 0, 2, 2, 1, 0, 0])]

    env = TrialWrapper(CountingTaskEnv(), 2, augment_obs=True)
    first = trace(env, 9)
    assert trace(env, 9) == first  # a seeded reset after play restarts everything
    assert trace(TrialWrapper(CountingTaskEnv(), 2, augment_obs=True), 9) == first
    assert trace(env, 10) != first


def test_task_sampling_leaves_the_env_task_space_rng_alone():
    env = CountingTaskEnv()
    env.task_space.seed(0)
    state = env.task_space.np_random.bit_generator.state
    wrapped = TrialWrapper(env, 1)
    wrapped.reset(seed=0)
    for _ in range(5):
        wrapped.step(0)
        wrapped.reset()
    assert env.task_space.np_random.bit_generator.state == state


def test_unseeded_wrappers_draw_different_tasks():
    tasks = set()
    for _ in range(5):
        env = TrialWrapper(CountingTaskEnv(), 1)
        env.reset()
        tasks.add(env.unwrapped.task)
    assert len(tasks) > 1


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 1000),
    actions=st.lists(
        st.lists(st.floats(-3.0, 3.0, width=32), min_size=2, max_size=2), min_size=1, max_size=30
    ),
)
def test_box_actions_are_carried_raw_and_observations_stay_in_the_space(seed, actions):
    env = TrialWrapper(gym.make("rlcore/PointGoal-v0", max_episode_steps=4), 2, augment_obs=True)
    raw = gym.make("rlcore/PointGoal-v0", max_episode_steps=4)
    draws = task_draws(raw.unwrapped.task_space, seed, len(actions) + 2)
    trial, j = 0, 0
    raw.unwrapped.set_task(draws[0])
    obs, _ = env.reset(seed=seed)
    raw_obs, _ = raw.reset(seed=seed)
    np.testing.assert_array_equal(obs, np.concatenate([raw_obs, np.zeros(4)]).astype(np.float32))
    for action in actions:
        action = np.array(action, dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        raw_obs, raw_reward, raw_terminated, raw_truncated, _ = raw.step(action)
        assert (reward, terminated, truncated) == (raw_reward, raw_terminated, raw_truncated)
        done = raw_terminated or raw_truncated
        expected = np.concatenate([raw_obs, action, [raw_reward, float(done)]]).astype(np.float32)
        np.testing.assert_array_equal(obs, expected)
        assert obs in env.observation_space
        if done:
            trial, j = (trial + 1, 0) if j == 1 else (trial, j + 1)
            raw.unwrapped.set_task(draws[trial])
            obs, info = env.reset()
            raw_obs, _ = raw.reset()
            carried = np.zeros(4) if j == 0 else np.concatenate([action, [raw_reward, 1.0]])
            np.testing.assert_array_equal(obs, np.concatenate([raw_obs, carried]).astype(np.float32))
            assert env.unwrapped.task == draws[trial] and info["episode_in_trial"] == j


def test_augmented_space_and_discrete_observations_flatten_like_gymnasium():
    obs_space = spaces.Discrete(4, start=2)

    def reset_func(env, seed, options):
        return env.observation_space.sample(), {}

    class DiscreteObsTaskEnv(CountingTaskEnv):
        def __init__(self):
            super().__init__()
            self.observation_space = obs_space

        def _obs(self, noise):
            return int(2 + self.t % 4)

    env = TrialWrapper(DiscreteObsTaskEnv(), 2, augment_obs=True)
    assert env.observation_space == spaces.Box(
        np.array([0, 0, 0, 0, 0, 0, 0, -np.inf, 0], np.float32),
        np.array([1, 1, 1, 1, 1, 1, 1, np.inf, 1], np.float32),
        dtype=np.float32,
    )
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        raw = 2 + env.unwrapped.t % 4
        np.testing.assert_array_equal(obs[:4], spaces.flatten(obs_space, raw))
        obs = env.step(1)[0]
        if env.unwrapped.t == 1 + env.unwrapped.episode % 3:
            obs, _ = env.reset()


@settings(max_examples=50, deadline=None)
@given(data=st.data(), discrete=st.booleans(), batch=st.integers(0, 4))
def test_flat_encoder_matches_gymnasium_flatten(data, discrete, batch):
    if discrete:
        space = spaces.Discrete(data.draw(st.integers(1, 6)), start=data.draw(st.integers(-3, 3)))
    else:
        shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
        space = spaces.Box(-5.0, 5.0, shape, np.float64)
    space.seed(data.draw(st.integers(0, 1000)))
    samples = [space.sample() for _ in range(batch)]
    encoder = FlatEncoder(space, "observation", "test")
    encoded = encoder.encode(np.array(samples).reshape((batch, *space.shape)))
    expected = np.array([spaces.flatten(space, x) for x in samples], dtype=np.float32)
    expected = expected.reshape(batch, spaces.flatdim(space))
    assert encoded.dtype == np.float32 and encoded.shape == (batch, encoder.size)
    np.testing.assert_array_equal(encoded, expected)


def test_flat_encoder_rejects_values_outside_a_discrete_space_and_wrong_shapes():
    encoder = FlatEncoder(spaces.Discrete(3, start=1), "action", "Owner")
    with pytest.raises(
        ValueError, match=r"Owner: action values \[0, 2\] are not all in Discrete\(3, start=1\)"
    ):
        encoder.encode(np.array([0, 2]))
    box = FlatEncoder(spaces.Box(0, 1, (2,)), "observation", "Owner")
    with pytest.raises(
        ValueError,
        match=r"Owner: expected a batch of observations of shape \(B, \*\(2,\)\).*got shape \(1, 3\)",
    ):
        box.encode(np.zeros((1, 3)))


def test_trial_wrapper_passes_the_wrapper_contract():
    check_wrapper(
        lambda: TrialWrapper(gym.make("rlcore/PointGoal-v0", max_episode_steps=5), 2, augment_obs=True)
    )
    check_wrapper(lambda: TrialWrapper(BernoulliBanditEnv(3, horizon=2), 3, augment_obs=True))
    check_wrapper(lambda: TrialWrapper(BernoulliBanditEnv(3), 2))


def test_trial_wrapper_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"TrialWrapper: episodes_per_trial must be an int >= 1, got 0"):
        TrialWrapper(CountingTaskEnv(), 0)
    with pytest.raises(TypeError, match=r"episodes_per_trial must be an int >= 1, got True \(bool\)"):
        TrialWrapper(CountingTaskEnv(), True)
    with pytest.raises(TypeError, match=r"episodes_per_trial must be an int >= 1, got 2.0 \(float\)"):
        TrialWrapper(CountingTaskEnv(), 2.0)
    with pytest.raises(TypeError, match=r"TrialWrapper: augment_obs must be a bool, got 'yes'"):
        TrialWrapper(CountingTaskEnv(), 2, augment_obs="yes")
    with pytest.raises(
        TypeError, match=r"TrialWrapper: env .*CartPole.* does not implement the TaskEnv protocol"
    ):
        TrialWrapper(gym.make("CartPole-v1"), 2)
    dict_env = CountingTaskEnv()
    dict_env.observation_space = spaces.Dict({"a": spaces.Discrete(2)})
    with pytest.raises(
        TypeError, match=r"TrialWrapper supports only Box and Discrete observation spaces, got Dict"
    ):
        TrialWrapper(dict_env, 2, augment_obs=True)
    TrialWrapper(dict_env, 2)  # without augmentation any observation space is fine
    env = TrialWrapper(CountingTaskEnv(), 2)
    with pytest.raises(TypeError, match=r"TrialWrapper: options\['new_trial'\] must be a bool, got 'yes'"):
        env.reset(options={"new_trial": "yes"})


# --------------------------------------------------------------------------- TaskOneHot
def test_task_one_hot_appends_the_current_task_and_changes_only_at_reset():
    env = TaskOneHot(CountingTaskEnv(spaces.Discrete(5, start=10)))
    assert env.observation_space == spaces.Box(
        np.array([-np.inf] * 3 + [0] * 5, np.float32), np.array([np.inf] * 3 + [1] * 5, np.float32)
    )
    env.unwrapped.set_task(12)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.concatenate([env.unwrapped._obs(obs[2]), one_hot(2, 5)]))
    env.unwrapped.set_task(14)
    obs = env.step(0)[0]
    np.testing.assert_array_equal(obs[3:], one_hot(2, 5))  # still the episode's task
    obs, _ = env.reset()
    np.testing.assert_array_equal(obs[3:], one_hot(4, 5))


@settings(max_examples=30, deadline=None)
@given(num_goals=st.integers(1, 6), pad=st.integers(0, 3), seed=st.integers(0, 1000))
def test_task_one_hot_matches_a_numpy_one_hot(num_goals, pad, seed):
    env = TaskOneHot(PointGoalEnv(num_goals=num_goals), num_tasks=num_goals + pad)
    env.unwrapped.task_space.seed(seed)
    for _ in range(3):
        env.unwrapped.set_task(env.unwrapped.task_space.sample())
        obs, _ = env.reset(seed=seed)
        expected = np.eye(num_goals + pad, dtype=np.float32)[env.unwrapped.task]
        np.testing.assert_array_equal(obs[2:], expected)
        np.testing.assert_array_equal(obs[:2], env.unwrapped._position.astype(np.float32))
        assert obs in env.observation_space


def test_task_one_hot_composes_with_trial_wrapper_and_passes_the_contract():
    env = TaskOneHot(TrialWrapper(CountingTaskEnv(), 1))
    obs, _ = env.reset(seed=4)
    for _ in range(10):
        assert obs[3 + int(obs[0])] == 1.0 and obs[3:].sum() == 1.0
        obs, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            obs, _ = env.reset()
    check_wrapper(lambda: TaskOneHot(TrialWrapper(gym.make("rlcore/PointGoal-v0", max_episode_steps=6), 2)))


def test_task_one_hot_errors_name_the_argument():
    with pytest.raises(
        TypeError, match=r"TaskOneHot needs a Discrete task_space .* got Box\(0.0, 1.0, \(2,\), float64\)"
    ):
        TaskOneHot(BernoulliBanditEnv(num_arms=2))
    with pytest.raises(ValueError, match=r"TaskOneHot: num_tasks must be None or an int >= 4 .*got 3"):
        TaskOneHot(PointGoalEnv(num_goals=4), num_tasks=3)
    with pytest.raises(
        TypeError, match=r"TaskOneHot: num_tasks must be None or an int >= 4 .*got True \(bool\)"
    ):
        TaskOneHot(PointGoalEnv(num_goals=4), num_tasks=True)
    with pytest.raises(TypeError, match=r"TaskOneHot: env .* does not implement the TaskEnv protocol"):
        TaskOneHot(GenericTestEnv())


def test_rlcore_envs_module_is_imported():
    # The ids used above come from this import, not from ``import rlcore``.
    assert rlcore.envs.PointGoalEnv is PointGoalEnv
