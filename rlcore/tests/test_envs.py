"""rlcore.envs: Gymnasium's env checker, registration on import, the task protocol, and float64 NumPy references."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore.envs
from rlcore.envs import BernoulliBanditEnv, PointGoalEnv
from rlcore.wrappers.meta import TaskEnv

IDS = ["rlcore/BernoulliBandit-v0", "rlcore/PointGoal-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_registered_envs_pass_gymnasiums_checker_without_warnings(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize(
    "env", [BernoulliBanditEnv(num_arms=1, horizon=4), PointGoalEnv(num_goals=1, goal_distance=3.0)]
)
def test_other_configurations_pass_the_checker(env):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


def test_registration_happens_on_import_rlcore_envs_only():
    code = """
        import json
        import gymnasium as gym
        import rlcore, rlcore.wrappers, rlcore.wrappers.vector
        before = sorted(i for i in gym.registry if i.startswith("rlcore/"))
        env = gym.make("rlcore.envs:rlcore/PointGoal-v0")  # Gymnasium imports the module on demand
        after = sorted(i for i in gym.registry if i.startswith("rlcore/"))
        print(json.dumps([before, after, env.spec.max_episode_steps]))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    before, after, max_steps = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == []
    assert after == sorted([*IDS, "rlcore/PixelCatch-v0"])
    assert max_steps == 50


def test_reimporting_does_not_warn():
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(rlcore.envs)


@pytest.mark.parametrize("env_id", IDS)
def test_task_protocol_set_task_acts_at_the_next_reset(env_id):
    env = gym.make(env_id).unwrapped
    assert isinstance(env, TaskEnv)
    env.task_space.seed(0)
    first, second = env.task_space.sample(), env.task_space.sample()
    env.set_task(first)
    env.reset(seed=0)
    np.testing.assert_array_equal(env.task, first)
    env.set_task(second)
    np.testing.assert_array_equal(env.task, first)  # mid-episode: unchanged
    np.testing.assert_array_equal(env.next_task, second)
    env.reset()
    np.testing.assert_array_equal(env.task, second)
    env.reset()
    np.testing.assert_array_equal(env.task, second)  # a reset keeps the task
    env.next_task = first
    env.reset()
    np.testing.assert_array_equal(env.task, first)


def test_tasks_are_private_copies():
    env = BernoulliBanditEnv(num_arms=2)
    task = np.array([0.2, 0.7])
    env.set_task(task)
    task[0] = 0.9
    env.reset(seed=0)
    env.task[1] = 0.0
    np.testing.assert_array_equal(env.task, [0.2, 0.7])


def test_default_tasks():
    np.testing.assert_allclose(BernoulliBanditEnv(num_arms=4).task, [0.2, 0.4, 0.6, 0.8])
    assert PointGoalEnv().task == 0
    assert PointGoalEnv(task=3).task == 3


@settings(max_examples=25, deadline=None)
@given(
    probabilities=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    horizon=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_bandit_against_a_numpy_reference(probabilities, horizon, seed, data):
    p = np.array(probabilities)
    env = BernoulliBanditEnv(num_arms=len(p), horizon=horizon, task=p)
    obs, info = env.reset(seed=seed)
    assert obs.dtype == np.float32 and obs.tolist() == [0.0] and info == {}
    rng = np.random.default_rng(
        seed
    )  # Gymnasium seeds np_random from SeedSequence(seed), as default_rng does
    for t in range(1, horizon + 1):
        arm = data.draw(st.integers(0, len(p) - 1))
        obs, reward, terminated, truncated, info = env.step(arm)
        assert reward == float(rng.random() < p[arm])
        np.testing.assert_array_equal(obs, np.array([t / horizon], dtype=np.float32))
        assert terminated == (t == horizon) and truncated is False
        assert info["regret"] == p.max() - p[arm]


def test_bandit_reward_frequencies_match_the_arm_probabilities():
    env = BernoulliBanditEnv(num_arms=2, task=np.array([0.3, 0.8]))
    env.reset(seed=1)
    for arm, p in [(0, 0.3), (1, 0.8)]:
        rewards = []
        for _ in range(4000):
            rewards.append(env.step(arm)[1])
            env.reset()
        # Five standard errors of a Bernoulli mean over 4000 draws.
        assert abs(np.mean(rewards) - p) < 5 * np.sqrt(p * (1 - p) / 4000)


@settings(max_examples=25, deadline=None)
@given(
    num_goals=st.integers(1, 8),
    goal=st.data(),
    seed=st.integers(0, 2**31 - 1),
    actions=st.lists(st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=2), min_size=1, max_size=40),
)
def test_point_goal_against_a_float64_reference(num_goals, goal, seed, actions):
    radius, speed, distance_to_goals = 0.15, 0.2, 1.5
    task = goal.draw(st.integers(0, num_goals - 1))
    env = PointGoalEnv(num_goals, distance_to_goals, radius, speed, task=task)
    angle = 2 * np.pi * task / num_goals
    target = distance_to_goals * np.array([np.cos(angle), np.sin(angle)])
    position = np.random.default_rng(seed).uniform(-0.05 * distance_to_goals, 0.05 * distance_to_goals, 2)
    obs, _ = env.reset(seed=seed)
    np.testing.assert_array_equal(obs, position.astype(np.float32))
    bound = 2 * distance_to_goals
    for action in actions:
        action = np.array(action, dtype=np.float32)
        for d in range(2):
            position[d] = min(max(position[d] + speed * min(max(float(action[d]), -1.0), 1.0), -bound), bound)
        dist = float(np.sqrt(((position - target) ** 2).sum()))
        obs, reward, terminated, truncated, info = env.step(action)
        np.testing.assert_array_equal(obs, position.astype(np.float32))
        assert reward == pytest.approx(-dist, abs=1e-12) and info["distance"] == pytest.approx(
            dist, abs=1e-12
        )
        assert terminated == (dist <= radius) and truncated is False
        assert obs in env.observation_space
        if terminated:
            break


def test_point_goal_goals_lie_on_the_circle_and_can_be_reached():
    env = PointGoalEnv(num_goals=6, goal_distance=2.0)
    np.testing.assert_allclose(np.linalg.norm(env.goals, axis=1), 2.0)
    np.testing.assert_allclose(
        np.arctan2(env.goals[:, 1], env.goals[:, 0]) % (2 * np.pi), np.arange(6) * np.pi / 3
    )
    env = gym.make("rlcore/PointGoal-v0")
    env.unwrapped.set_task(2)
    obs, _ = env.reset(seed=0)
    goal = env.unwrapped.goals[2]
    terminated = truncated = False
    steps = 0
    while not (terminated or truncated):
        direction = (goal - obs) / np.linalg.norm(goal - obs)
        obs, _, terminated, truncated, _ = env.step(direction.astype(np.float32))
        steps += 1
    # Distance 1 minus the goal radius at 0.1 per step: about 9 steps, well inside the limit.
    assert terminated and steps < 15


def test_point_goal_is_truncated_by_the_registered_time_limit():
    env = gym.make("rlcore/PointGoal-v0")
    env.reset(seed=0)
    for _ in range(50):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
    assert truncated and not terminated


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_runs_are_reproducible(env_id):
    def trace(seed):
        env = gym.make(env_id)
        env.action_space.seed(seed)
        out = [env.reset(seed=seed)[0].tolist()]
        for _ in range(20):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            out.append((obs.tolist(), reward))
            if terminated or truncated:
                out.append(env.reset()[0].tolist())
        return out

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)


def test_env_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"BernoulliBanditEnv: num_arms must be an int >= 1, got 0"):
        BernoulliBanditEnv(num_arms=0)
    with pytest.raises(
        TypeError, match=r"BernoulliBanditEnv: horizon must be an int >= 1, got True \(bool\)"
    ):
        BernoulliBanditEnv(horizon=True)
    with pytest.raises(
        ValueError, match=r"BernoulliBanditEnv: task array\(\[0.5, 1.5\]\) is not in task_space Box"
    ):
        BernoulliBanditEnv(num_arms=2).set_task(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"BernoulliBanditEnv: task \[0.5\] is not in task_space"):
        BernoulliBanditEnv(num_arms=2, task=[0.5])
    with pytest.raises(ValueError, match=r"BernoulliBanditEnv.step: action 5 is not in Discrete\(2\)"):
        env = BernoulliBanditEnv(num_arms=2)
        env.reset(seed=0)
        env.step(5)
    with pytest.raises(ValueError, match=r"PointGoalEnv: goal_radius must be a finite number > 0, got -1"):
        PointGoalEnv(goal_radius=-1)
    with pytest.raises(
        TypeError, match=r"PointGoalEnv: max_step must be a finite number > 0, got '1' \(str\)"
    ):
        PointGoalEnv(max_step="1")
    with pytest.raises(ValueError, match=r"PointGoalEnv: task 4 is not in task_space Discrete\(4\)"):
        PointGoalEnv(num_goals=4).set_task(4)
    with pytest.raises(
        ValueError, match=r"PointGoalEnv.step: action must be a finite array of shape \(2,\), got"
    ):
        env = PointGoalEnv()
        env.reset(seed=0)
        env.step(np.array([np.nan, 0.0]))


def test_task_spaces():
    assert BernoulliBanditEnv(num_arms=3).task_space == spaces.Box(0.0, 1.0, (3,), np.float64)
    assert PointGoalEnv(num_goals=5).task_space == spaces.Discrete(5)
