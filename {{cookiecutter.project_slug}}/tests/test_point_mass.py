{%- set package = cookiecutter.package_name -%}
"""The project's env, ``{{ package }}/PointMass-v0``: Gymnasium's checks, registration on import,
seeding, the dynamics against a naive re-implementation, episode ends, rendering, and worker
processes{{ ", and the project's PPO learning it" if cookiecutter.example_agent in ["ppo", "all"] }}.

Copy these tests with the env: most of them hold for any env (the checker, the registration, the
seeding, the time limit, the worker processes).
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
import warnings
{%- if cookiecutter.example_agent in ["ppo", "all"] %}
from pathlib import Path
{%- endif %}
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import TimeLimit
from numpy.typing import NDArray
{%- if cookiecutter.example_agent in ["ppo", "all"] %}
from rlcore.evaluation import evaluate
{%- endif %}

import {{ package }}
from {{ package }}.envs.point_mass import PointMassEnv
{%- if cookiecutter.example_agent in ["ppo", "all"] %}
from {{ package }}.ppo import AGENT
{%- endif %}

ENV_ID = "{{ package }}/PointMass-v0"
Obs = NDArray[np.float32]


def test_passes_gymnasiums_env_checker_without_a_warning() -> None:
    # Spaces, dtypes, observations inside their bounds, seeding, every render mode and close
    # (the env as made from its spec, which the checker makes again in each render mode).
    env = gym.make(ENV_ID, render_mode="rgb_array").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=False)


def test_importing_the_package_registers_the_env_with_its_time_limit() -> None:
    spec = gym.spec(ENV_ID)
    assert spec.entry_point == "{{ package }}.envs.point_mass:PointMassEnv"
    assert spec.max_episode_steps == 200
    env = gym.make(ENV_ID)
    assert isinstance(env, TimeLimit)
    assert isinstance(env.unwrapped, PointMassEnv)
    # Importing the module again registers nothing twice (Gymnasium would warn).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload({{ package }}.envs)
    assert gym.spec(ENV_ID) == spec


def test_any_module_of_the_package_registers_the_env_in_a_fresh_interpreter() -> None:
    code = (
        "import gymnasium as gym, {{ package }}.envs.point_mass; "
        f"env = gym.make({ENV_ID!r}); print(env.spec.max_episode_steps)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "200"


def rollout(env: gym.Env[Obs, np.int64], seed: int | None, actions: list[int]) -> list[Any]:
    """The results of ``reset(seed=seed)`` and of ``step`` of each action, to the episode's end."""
    seen: list[Any] = [env.reset(seed=seed)]
    for action in actions:
        seen.append(env.step(np.int64(action)))
        if seen[-1][2] or seen[-1][3]:
            break
    return seen


def assert_same(left: list[Any], right: list[Any]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]


def test_a_seed_fixes_the_episode_and_reset_without_one_continues_the_stream() -> None:
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 5, size=100)]
    first, second = gym.make(ENV_ID), gym.make(ENV_ID)
    assert_same(rollout(first, 3, actions), rollout(second, 3, actions))
    # Unseeded resets draw the next starts and goals of the seed's stream: the same in both.
    assert_same(rollout(first, None, actions), rollout(second, None, actions))
    other = rollout(gym.make(ENV_ID), 4, actions)
    assert not np.array_equal(other[0][0], rollout(first, 3, actions)[0][0])


def reference_step(obs: Obs, action: int) -> tuple[list[float], float, bool]:
    """One step from ``obs``, written out scalar by scalar: (next obs, reward, terminated)."""
    position, velocity = [float(obs[0]), float(obs[1])], [float(obs[2]), float(obs[3])]
    goal = [float(obs[4]) + position[0], float(obs[5]) + position[1]]
    push = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)][action]
    for i in range(2):
        velocity[i] = min(max(0.8 * velocity[i] + 0.2 * push[i], -1.0), 1.0)
        position[i] += 0.1 * velocity[i]
        if not -1.0 <= position[i] <= 1.0:  # a wall: the point stops there
            position[i], velocity[i] = min(max(position[i], -1.0), 1.0), 0.0
    before = math.dist(goal, [float(obs[0]), float(obs[1])])
    after = math.dist(goal, position)
    reached = after <= 0.1
    reward = 10.0 * (before - after) - 0.1 + (10.0 if reached else 0.0)
    to_goal = [goal[0] - position[0], goal[1] - position[1]]
    return [*position, *velocity, *to_goal], reward, reached


def test_steps_match_a_naive_reimplementation_walls_included() -> None:
    env = PointMassEnv()
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=1)
    walls, action = 0, 0
    for step in range(3_000):
        if step % 20 == 0:  # long pushes along one axis, so that the point reaches the walls too
            action = int(rng.integers(0, 5))
        expected, expected_reward, expected_terminated = reference_step(obs, action)
        obs, reward, terminated, truncated, info = env.step(np.int64(action))
        np.testing.assert_allclose(obs, expected, atol=1e-5)
        assert reward == pytest.approx(expected_reward, abs=1e-4)
        assert (terminated, truncated) == (expected_terminated, False)
        assert info["distance"] == pytest.approx(math.hypot(obs[4], obs[5]), abs=1e-5)
        walls += bool(np.any(np.abs(obs[:2]) == 1.0))
        if terminated:
            obs, _ = env.reset()
    assert walls > 0, "no step reached a wall"


def steer(obs: Obs) -> int:
    """A hand-written controller: the push that best brings the velocity towards the goal."""
    wanted = np.clip(2.0 * obs[4:6], -1.0, 1.0) - obs[2:4]
    axis = int(np.argmax(np.abs(wanted)))
    return 1 + 2 * axis + int(wanted[axis] < 0)


def test_reaching_the_goal_terminates_with_the_bonus_and_the_return_telescopes() -> None:
    env = gym.make(ENV_ID)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        start_distance, total, steps, terminated, truncated = info["distance"], 0.0, 0, False, False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(np.int64(steer(obs)))
            total += float(reward)
            steps += 1
        assert (terminated, truncated) == (True, False)
        assert steps < 50
        assert info["distance"] <= 0.1
        # The progress rewards telescope: the return is 10 (d_0 - d_T) - 0.1 T, plus the bonus 10.
        telescoped = 10.0 * (start_distance - info["distance"]) - 0.1 * steps + 10.0
        assert total == pytest.approx(telescoped)


def test_coasting_is_truncated_by_the_time_limit_not_terminated() -> None:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    for _ in range(199):
        _, reward, terminated, truncated, _ = env.step(np.int64(0))
        assert (terminated, truncated) == (False, False)
    _, reward, terminated, truncated, _ = env.step(np.int64(0))
    # At rest, far from the goal (at least 0.5 away at the start): only time passes.
    assert (terminated, truncated) == (False, True)
    assert reward == pytest.approx(-0.1)


def test_invalid_actions_and_render_modes_are_refused() -> None:
    env = PointMassEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an int in \[0, 5\), got "):
        env.step(np.int64(5))
    message = r"render_mode must be None or one of \['rgb_array'\], got 'human'"
    with pytest.raises(ValueError, match=message):
        PointMassEnv(render_mode="human")


def pixel(x: float, y: float, size: int = 128) -> tuple[int, int]:
    """The (row, column) of the point (x, y) of the square in a frame."""
    return int((1.0 - y) / 2.0 * size), int((x + 1.0) / 2.0 * size)


def test_renders_the_point_and_the_goal_as_an_rgb_frame() -> None:
    env = gym.make(ENV_ID, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.shape == (128, 128, 3)
    assert frame.dtype == np.uint8
    position, goal = obs[:2], obs[:2] + obs[4:6]
    assert tuple(frame[pixel(*position)]) == (30, 80, 200)
    assert tuple(frame[pixel(*goal)]) == (40, 160, 60)
    assert tuple(frame[0, 0]) == (255, 255, 255)
    assert PointMassEnv().render() is None
    env.close()


def test_async_vector_env_makes_the_env_in_fresh_processes() -> None:
    # "spawn": each worker is a new interpreter that has imported nothing, as on macOS and Windows.
    envs = gym.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"}
    )
    reference = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync")
    try:
        for obs, expected in zip(envs.reset(seed=5), reference.reset(seed=5), strict=True):
            np.testing.assert_equal(obs, expected)
        actions = np.array([1, 3])
        for obs, expected in zip(envs.step(actions), reference.step(actions), strict=True):
            np.testing.assert_equal(obs, expected)
    finally:
        envs.close()
        reference.close()
{%- if cookiecutter.example_agent in ["ppo", "all"] %}


def test_ppo_learns_to_reach_the_goal(tmp_path: Path) -> None:
    env = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync")
    env.action_space.seed(0)
    random_return = evaluate(lambda obs: env.action_space.sample(), env, 10, seed=0).mean_return
    # The random policy mostly drifts for 200 steps: -18.1 here (-17 over 100 episodes).
    assert random_return < -10
    config = AGENT.config_for_env(
        ENV_ID,
        total_timesteps=10_240,
        eval_every=0,
        final_eval_episodes=10,
        run_dir=str(tmp_path / "run"),
        progress=False,
        logger="csv",
    )
    summary = AGENT.train(config)
    # Seeds 0-9 with the tuned settings (ppo.ENV_DEFAULTS) return 14.4-19.8 after 10,240 steps,
    # a few seconds each; reaching the goal straight pays about 18.
    assert summary["mean_return"] >= random_return + 25, summary["episode_returns"]
{%- endif %}
