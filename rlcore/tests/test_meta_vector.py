"""Vector meta-RL wrappers against a per-sub-env naive loop, in all three autoreset modes, sync and async.

The reference drives one raw ``CountingTaskEnv`` per sub-env by hand and replays Gymnasium's
autoreset rule for the mode (NEXT_STEP: an extra step returns the reset observation; SAME_STEP:
the ending step returns it and the final observation goes to ``info["final_obs"]``; DISABLED:
the test resets finished sub-envs with a ``reset_mask``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.wrappers import OrderEnforcing, TimeLimit
from test_meta import NUM_ACTIONS, NUM_TASKS, CountingTaskEnv, expected_augmented, one_hot, task_draws

import rlcore.envs
from rlcore.testing import GenericTestEnv, check_vector_wrapper, make_vector_env
from rlcore.wrappers.vector.meta import TaskOneHot, TrialWrapper, check_task_env

MODES = list(AutoresetMode)


def wrapped_counting_env(task_space=None):
    """Gymnasium wrappers around the task env: set_attr and has_wrapper_attr must see through them."""
    return OrderEnforcing(TimeLimit(CountingTaskEnv(task_space), 100))


def make_counting_vec(num_envs: int, mode: AutoresetMode, vectorization: str = "sync") -> VectorEnv:
    cls = SyncVectorEnv if vectorization == "sync" else AsyncVectorEnv
    return cls([wrapped_counting_env] * num_envs, autoreset_mode=mode)


class ReferenceSubEnv:
    """One sub-env's RL^2 trials, driven by hand."""

    def __init__(self, k: int, seed: int):
        self.env = CountingTaskEnv()
        self.k = k
        self.tasks = task_draws(self.env.task_space, seed, 500)
        self.trial, self.j = 0, 0
        self.prev = (np.zeros(NUM_ACTIONS, np.float32), 0.0, 0.0)
        self.env.set_task(self.tasks[0])
        raw, _ = self.env.reset(seed=seed)
        self.obs = expected_augmented(raw, *self.prev)
        self.autoreset_next = False

    def next_episode(self, force_new_trial: bool = False) -> np.ndarray:
        if force_new_trial or self.j == self.k - 1:
            self.trial, self.j = self.trial + 1, 0
            self.prev = (np.zeros(NUM_ACTIONS, np.float32), 0.0, 0.0)
        else:
            self.j += 1
            self.prev = (self.prev[0], self.prev[1], 1.0)
        self.env.set_task(self.tasks[self.trial])
        raw, _ = self.env.reset()
        self.obs = expected_augmented(raw, *self.prev)
        return self.obs

    def step(self, action: int, mode: AutoresetMode):
        """``(obs, reward, terminated, truncated, episode_in_trial, trial_done, final_obs)``."""
        if mode == AutoresetMode.NEXT_STEP and self.autoreset_next:
            self.autoreset_next = False
            return self.next_episode(), 0.0, False, False, self.j, False, None
        raw, reward, terminated, truncated, _ = self.env.step(action)
        done = terminated or truncated
        trial_done = done and self.j == self.k - 1
        self.prev = (one_hot(action, NUM_ACTIONS), float(np.float32(reward)), float(done))
        self.obs = expected_augmented(raw, *self.prev)
        final_obs = None
        if done and mode == AutoresetMode.SAME_STEP:
            final_obs = self.obs
            self.next_episode()
        elif done and mode == AutoresetMode.NEXT_STEP:
            self.autoreset_next = True
        return self.obs, reward, terminated, truncated, self.j, trial_done, final_obs


def compare_run(envs: TrialWrapper, mode, k, seed, steps, augment, check_tasks_every=1):
    n = envs.num_envs
    refs = [ReferenceSubEnv(k, seed + i) for i in range(n)]
    width = slice(None) if augment else slice(0, 3)

    def check_tasks():
        assert list(envs.unwrapped.get_attr("task")) == [ref.env.task for ref in refs]

    obs, info = envs.reset(seed=seed)
    np.testing.assert_array_equal(obs, np.stack([ref.obs[width] for ref in refs]))
    np.testing.assert_array_equal(info["episode_in_trial"], np.zeros(n))
    assert info["_episode_in_trial"].all()
    check_tasks()
    rng = np.random.default_rng(seed)
    trials_done = 0
    for t in range(steps):
        actions = rng.integers(0, NUM_ACTIONS, size=n)
        obs, rewards, terminated, truncated, info = envs.step(actions)
        expected = [ref.step(int(a), mode) for ref, a in zip(refs, actions)]
        np.testing.assert_array_equal(obs, np.stack([e[0][width] for e in expected]), err_msg=f"step {t}")
        np.testing.assert_array_equal(rewards, [e[1] for e in expected])
        np.testing.assert_array_equal(terminated, [e[2] for e in expected])
        np.testing.assert_array_equal(truncated, [e[3] for e in expected])
        np.testing.assert_array_equal(info["episode_in_trial"], [e[4] for e in expected], err_msg=f"step {t}")
        np.testing.assert_array_equal(info["trial_done"], [e[5] for e in expected], err_msg=f"step {t}")
        assert info["_episode_in_trial"].all() and info["_trial_done"].all()
        trials_done += int(info["trial_done"].sum())
        if mode == AutoresetMode.SAME_STEP:
            finished = info.get("_final_obs", np.zeros(n, dtype=bool))
            for i, e in enumerate(expected):
                assert bool(finished[i]) == (e[6] is not None)
                if e[6] is not None:
                    np.testing.assert_array_equal(info["final_obs"][i], e[6][width])
        done = np.logical_or(terminated, truncated)
        if mode == AutoresetMode.DISABLED and done.any():
            obs, info = envs.reset(options={"reset_mask": done})
            rows = [ref.next_episode() if d else ref.obs for ref, d in zip(refs, done)]
            np.testing.assert_array_equal(obs, np.stack([row[width] for row in rows]))
            np.testing.assert_array_equal(info["episode_in_trial"], [ref.j for ref in refs])
        if t % check_tasks_every == 0:
            check_tasks()
    np.testing.assert_array_equal(envs.episode_in_trial, [ref.j for ref in refs])
    assert trials_done > 0
    envs.close()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_sync_trial_wrapper_matches_the_reference(mode, k):
    compare_run(TrialWrapper(make_counting_vec(3, mode), k, augment_obs=True), mode, k, 17 * k, 40, True)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_sync_trial_wrapper_without_augmentation(mode):
    envs = TrialWrapper(make_counting_vec(2, mode), 2)
    assert envs.single_observation_space == envs.env.single_observation_space
    compare_run(envs, mode, 2, 5, 30, False)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda m: m.name)
def test_async_trial_wrapper_matches_the_reference(mode):
    envs = TrialWrapper(make_counting_vec(2, mode, "async"), 2, augment_obs=True)
    compare_run(envs, mode, 2, 3, 16, True, check_tasks_every=5)


def test_new_trial_flags_and_reset_mask_per_sub_env():
    k = 3
    envs = TrialWrapper(make_counting_vec(3, AutoresetMode.DISABLED), k, augment_obs=True)
    refs = [ReferenceSubEnv(k, 40 + i) for i in range(3)]
    envs.reset(seed=40)
    envs.step(np.array([1, 2, 0]))
    for ref, a in zip(refs, [1, 2, 0]):
        ref.step(a, AutoresetMode.DISABLED)
    options = {"reset_mask": np.array([True, True, False]), "new_trial": np.array([True, False, True])}
    obs, info = envs.reset(options=options)
    expected = [refs[0].next_episode(force_new_trial=True), refs[1].next_episode(), refs[2].obs]
    np.testing.assert_array_equal(obs, np.stack(expected))
    np.testing.assert_array_equal(info["episode_in_trial"], [0, 1, 0])
    assert list(envs.unwrapped.get_attr("task")) == [ref.env.task for ref in refs]
    assert "new_trial" in options and "reset_mask" in options  # the caller's dict is left alone
    assert all("new_trial" not in (o or {}) for o in envs.unwrapped.get_attr("reset_options")[0])
    obs, info = envs.reset(options={"new_trial": True})
    np.testing.assert_array_equal(obs, np.stack([ref.next_episode(force_new_trial=True) for ref in refs]))
    np.testing.assert_array_equal(info["episode_in_trial"], [0, 0, 0])


def test_a_list_of_seeds_gives_each_sub_env_its_stream():
    envs = TrialWrapper(make_counting_vec(3, AutoresetMode.NEXT_STEP), 1)
    envs.reset(seed=[8, None, 3])
    tasks = envs.unwrapped.get_attr("task")
    assert tasks[0] == task_draws(spaces.Discrete(NUM_TASKS), 8, 1)[0]
    assert tasks[2] == task_draws(spaces.Discrete(NUM_TASKS), 3, 1)[0]
    # With k = 1 the next trial's task is already handed over.
    assert envs.unwrapped.get_attr("next_task")[2] == task_draws(spaces.Discrete(NUM_TASKS), 3, 2)[1]


def test_seeded_runs_are_reproducible():
    def trace(seed):
        envs = TrialWrapper(make_counting_vec(2, AutoresetMode.SAME_STEP), 2, augment_obs=True)
        out = [envs.reset(seed=seed)[0]]
        for t in range(12):
            out.append(envs.step(np.array([t % 3, (t + 1) % 3]))[0])
        return np.stack(out)

    np.testing.assert_array_equal(trace(1), trace(1))
    assert not np.array_equal(trace(1), trace(2))


def test_tasks_reach_async_sub_envs_made_by_gym_make():
    envs = gym.make_vec("rlcore/PointGoal-v0", num_envs=2, vectorization_mode="async", num_goals=50)
    envs = TrialWrapper(envs, 1)
    envs.reset(seed=6)
    task_space = spaces.Discrete(50)
    expected = [task_draws(task_space, 6 + i, 2) for i in range(2)]
    assert list(envs.unwrapped.get_attr("task")) == [draws[0] for draws in expected]
    assert list(envs.unwrapped.get_attr("next_task")) == [draws[1] for draws in expected]
    envs.close()


def make_bandit():
    return rlcore.envs.BernoulliBanditEnv(num_arms=3, horizon=2)


def make_point_goal():
    return TimeLimit(rlcore.envs.PointGoalEnv(num_goals=3), 5)


def test_vector_wrappers_pass_the_contract():
    check_vector_wrapper(
        lambda m: TrialWrapper(make_vector_env(make_bandit, 2, m), 2, augment_obs=True),
        steps=20,
    )
    check_vector_wrapper(lambda m: TaskOneHot(make_vector_env(make_point_goal, 2, m)), steps=20)


# --------------------------------------------------------------------------- TaskOneHot
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_task_one_hot_follows_each_sub_env_task(mode):
    """The counting env writes its task into obs[0], an independent record of the task."""
    task_spaces = [spaces.Discrete(3), spaces.Discrete(5, start=10)]
    starts = [0, 10]
    envs = SyncVectorEnv([lambda s=s: wrapped_counting_env(s) for s in task_spaces], autoreset_mode=mode)
    envs = TaskOneHot(TrialWrapper(envs, 1), num_tasks=6)
    assert envs.single_observation_space.shape == (9,)

    def check(rows, which):
        for i, row in enumerate(rows):
            if row is None:
                continue
            np.testing.assert_array_equal(row[3:], one_hot(int(row[0]) - starts[i], 6), err_msg=which)

    obs, _ = envs.reset(seed=0)
    check(obs, "reset")
    seen = set()
    for t in range(30):
        obs, _, terminated, truncated, info = envs.step(np.array([t % 3, 1]))
        check(obs, f"step {t}")
        seen.update((i, int(row[0])) for i, row in enumerate(obs))
        if mode == AutoresetMode.SAME_STEP and "final_obs" in info:
            check([info["final_obs"][i] if info["_final_obs"][i] else None for i in range(2)], "final_obs")
        done = np.logical_or(terminated, truncated)
        if mode == AutoresetMode.DISABLED and done.any():
            obs, _ = envs.reset(options={"reset_mask": done})
            check(obs, "partial reset")
    assert len(seen) > 4  # the tasks did change


def test_task_one_hot_on_async():
    envs = TaskOneHot(
        gym.make_vec("rlcore/PointGoal-v0", num_envs=2, vectorization_mode="async", num_goals=4)
    )
    envs.unwrapped.set_attr("next_task", [3, 1])
    obs, _ = envs.reset(seed=0)
    np.testing.assert_array_equal(obs[:, 2:], np.eye(4, dtype=np.float32)[[3, 1]])
    envs.close()


# --------------------------------------------------------------------------- errors
def test_check_task_env_names_the_sub_envs_and_members_missing():
    assert check_task_env(make_counting_vec(2, AutoresetMode.NEXT_STEP)) == [spaces.Discrete(NUM_TASKS)] * 2

    def plain_env():
        return GenericTestEnv(spaces.Box(-np.inf, np.inf, (3,), np.float32), spaces.Discrete(NUM_ACTIONS))

    mixed = SyncVectorEnv([wrapped_counting_env, plain_env])
    with pytest.raises(
        TypeError,
        match=r"check_task_env: the sub-envs of .* do not implement the TaskEnv protocol .*missing "
        r"task_space \(sub-envs \[1\]\), task \(sub-envs \[1\]\), next_task \(sub-envs \[1\]\), "
        r"set_task \(sub-envs \[1\]\)",
    ):
        check_task_env(mixed)


def test_async_env_without_the_protocol_is_rejected_cleanly():
    envs = AsyncVectorEnv([GenericTestEnv, GenericTestEnv])
    with pytest.raises(
        TypeError, match=r"vector.TrialWrapper: the sub-envs .* missing task_space \(sub-envs \[0, 1\]\)"
    ):
        TrialWrapper(envs, 2)
    envs.reset(seed=0)  # the workers are still alive
    envs.close()


class BareVectorEnv(VectorEnv):
    """A VectorEnv without call/get_attr/set_attr."""

    def __init__(self):
        self.num_envs = 2
        self.single_observation_space = spaces.Box(0, 1, (1,))
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0, 1, (2, 1))
        self.action_space = spaces.MultiDiscrete([2, 2])
        self.metadata = {}


def test_vector_errors_name_the_argument():
    make = lambda: make_counting_vec(2, AutoresetMode.NEXT_STEP)  # noqa: E731
    with pytest.raises(
        ValueError, match=r"vector.TrialWrapper: episodes_per_trial must be an int >= 1, got 0"
    ):
        TrialWrapper(make(), 0)
    with pytest.raises(TypeError, match=r"vector.TrialWrapper: augment_obs must be a bool, got 1"):
        TrialWrapper(make(), 2, augment_obs=1)
    with pytest.raises(
        TypeError, match=r"vector.TrialWrapper: the base vector env .* has no call/get_attr/set_attr"
    ):
        TrialWrapper(BareVectorEnv(), 2)
    envs = TrialWrapper(make(), 2)
    with pytest.raises(
        TypeError, match=r"options\['new_trial'\] must be a bool or a bool array of shape \(2,\), got "
    ):
        envs.reset(options={"new_trial": np.array([True, False, True])})
    with pytest.raises(
        ValueError, match=r"reset seed must be None, an int or a list of 2 seeds .*got a list of 3"
    ):
        envs.reset(seed=[1, 2, 3])
    bandits = gym.make_vec("rlcore/BernoulliBandit-v0", num_envs=2)
    with pytest.raises(TypeError, match=r"vector.TaskOneHot needs a Discrete task_space .*got Box"):
        TaskOneHot(bandits)
    with pytest.raises(ValueError, match=r"vector.TaskOneHot: num_tasks must be None or an int >= 1000"):
        TaskOneHot(make(), num_tasks=10)
