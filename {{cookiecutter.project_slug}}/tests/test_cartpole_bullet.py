"""The PyBullet cart-pole: Gymnasium's contract, CartPole-v1's physics, one simulation per env.

Every test makes its own envs and closes them; the async test starts two worker processes
(``spawn``, as on macOS and Windows), which import the package and so see its registration.
"""

from __future__ import annotations

from collections.abc import Iterator
{%- if cookiecutter.example_agent in ["ppo", "all"] %}
from pathlib import Path
{%- endif %}

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numpy.typing import NDArray

import {{ cookiecutter.package_name }} as package  # importing it registers the env ids
from {{ cookiecutter.package_name }}.envs.cartpole_bullet import CartPoleBulletEnv
{%- if cookiecutter.example_agent in ["ppo", "all"] %}
from {{ cookiecutter.package_name }}.ppo import AGENT as PPO_AGENT
{%- endif %}

ENV_ID = f"{package.__name__}/CartPoleBullet-v0"


@pytest.fixture
def env() -> Iterator[CartPoleBulletEnv]:
    env = CartPoleBulletEnv()
    yield env
    env.close()


def rollout(env: CartPoleBulletEnv, seed: int, actions: NDArray[np.int64]) -> NDArray[np.float32]:
    """The observations of an episode from ``reset(seed=seed)`` under ``actions`` (or fewer)."""
    observations = [env.reset(seed=seed)[0]]
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        assert reward == 1.0
        assert not truncated  # the env never truncates: the registration's TimeLimit does
        if terminated:
            break
    return np.stack(observations)


def random_actions(seed: int, size: int = 60) -> NDArray[np.int64]:
    return np.random.default_rng(seed).integers(0, 2, size=size, dtype=np.int64)


def balance(obs: NDArray[np.float32]) -> np.int64:
    """A hand-made controller: push towards where the pole is falling."""
    x, x_dot, theta, theta_dot = obs
    return np.int64(theta + 0.3 * theta_dot + 0.01 * x + 0.1 * x_dot > 0)


# Gymnasium 1.x's CartPole-v1 declares the velocities unbounded too; check_env warns about it.
@pytest.mark.filterwarnings("ignore:.*infinity:UserWarning")
def test_passes_gymnasium_env_checker() -> None:
    # Made through its id, so that it has a spec and the checker renders rgb_array frames too.
    env = gym.make(ENV_ID).unwrapped
    check_env(env)
    env.close()


def test_registered_with_a_500_step_time_limit() -> None:
    env = gym.make(ENV_ID)
    assert env.spec is not None
    assert env.spec.max_episode_steps == 500
    obs, _ = env.reset(seed=0)
    for step in range(1, 501):
        obs, _, terminated, truncated, _ = env.step(balance(obs))
        assert not terminated, f"the controller let the pole fall at step {step}"
    # The episode is cut by the time limit, not ended: truncated, not terminated.
    assert truncated
    env.close()


def test_starts_as_cartpole_v1_and_follows_its_physics(env: CartPoleBulletEnv) -> None:
    cartpole = gym.make("CartPole-v1").unwrapped
    for seed in range(5):
        cartpole_obs, _ = cartpole.reset(seed=seed)
        obs, _ = env.reset(seed=seed)
        np.testing.assert_array_equal(obs, cartpole_obs)  # the same draw from the same seed
        for action in random_actions(seed, size=10):
            cartpole_obs, _, _, _, _ = cartpole.step(int(action))
            obs, _, _, _, _ = env.step(action)
        # Over 0.2 s of random pushes, explicit Euler (CartPole-v1) and PyBullet agree within
        # 0.05 (m, rad) on the positions and 0.1 (m/s, rad/s) on the velocities.
        difference = np.abs(obs - cartpole_obs)
        assert (difference <= [0.05, 0.1, 0.05, 0.1]).all(), (seed, obs, cartpole_obs)
    cartpole.close()


def test_terminates_when_the_pole_falls_or_the_cart_leaves(env: CartPoleBulletEnv) -> None:
    # Pushing one way makes the pole fall the other way within a second.
    observations = rollout(env, 0, np.ones(50, dtype=np.int64))
    assert len(observations) < 51
    x, _, theta, _ = observations[-1]
    assert abs(theta) > np.radians(12) or abs(x) > 2.4
    assert theta < 0  # pushed towards +x, the pole leans towards -x
    assert observations[-1] in env.observation_space


def test_same_seed_same_trajectory_bit_for_bit(env: CartPoleBulletEnv) -> None:
    first = rollout(env, 3, random_actions(3))
    for seed in range(5):  # other episodes in between leave nothing behind
        rollout(env, seed + 10, random_actions(seed))
    again = rollout(env, 3, random_actions(3))
    np.testing.assert_array_equal(again, first)
    other = CartPoleBulletEnv()
    np.testing.assert_array_equal(rollout(other, 3, random_actions(3)), first)
    other.close()
    assert not np.array_equal(rollout(env, 4, random_actions(3))[0], first[0])


def test_two_envs_in_one_process_are_independent(env: CartPoleBulletEnv) -> None:
    actions = random_actions(0)
    alone = rollout(env, 0, actions)
    first, second = CartPoleBulletEnv(), CartPoleBulletEnv()
    observations = [first.reset(seed=0)[0]]
    second.reset(seed=1)
    for action in actions[: len(alone) - 1]:
        second.step(1 - action)  # every step of the other env in between
        observations.append(first.step(action)[0])
    np.testing.assert_array_equal(np.stack(observations), alone)
    # Closing one leaves the other running.
    second.close()
    first.reset(seed=0)
    first.step(np.int64(0))
    first.close()


def test_renders_frames_of_the_moving_cart() -> None:
    env = CartPoleBulletEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame is not None
    assert frame.shape == (240, 320, 3)
    assert frame.dtype == np.uint8
    for _ in range(10):
        env.step(np.int64(1))
    moved = env.render()
    assert moved is not None
    assert (moved != frame).any(axis=-1).sum() > 100  # pixels that changed
    env.close()
    small = CartPoleBulletEnv(render_mode="rgb_array", width=64, height=48)
    small.reset(seed=0)
    small_frame = small.render()
    assert small_frame is not None
    assert small_frame.shape == (48, 64, 3)
    small.close()


def test_render_without_a_render_mode_warns(env: CartPoleBulletEnv) -> None:
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_refuses_bad_arguments(env: CartPoleBulletEnv) -> None:
    with pytest.raises(ValueError, match="render_mode"):
        CartPoleBulletEnv(render_mode="human")
    with pytest.raises(ValueError, match="width"):
        CartPoleBulletEnv(width=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 0 or 1"):
        env.step(np.int64(2))


def test_close_is_idempotent() -> None:
    env = CartPoleBulletEnv()
    env.reset(seed=0)
    env.close()
    env.close()


def test_async_vector_env_with_spawned_workers() -> None:
    # Each worker process imports the package (the entry point's module) and builds its own env.
    envs = gym.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"}
    )
    reference = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync")
    try:
        obs, _ = envs.reset(seed=0)
        expected, _ = reference.reset(seed=0)
        np.testing.assert_array_equal(obs, expected)
        actions = np.array([0, 1], dtype=np.int64)
        for _ in range(5):
            obs, rewards, _, _, _ = envs.step(actions)
            expected, _, _, _, _ = reference.step(actions)
        np.testing.assert_array_equal(obs, expected)
        np.testing.assert_array_equal(rewards, [1.0, 1.0])
    finally:
        envs.close()
        reference.close()
{%- if cookiecutter.example_agent in ["ppo", "all"] %}


def test_ppo_learns_to_balance(tmp_path: Path) -> None:
    """A short PPO run (the tuned settings over 30,720 steps) against a random policy."""
    env = gym.make(ENV_ID)
    env.action_space.seed(0)
    random_returns = []
    for episode in range(20):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        random_returns.append(total)
    env.close()
    # Measured over 100 episodes: 21.4 (std 11.3, at most 62).
    assert np.mean(random_returns) < 40
    config = PPO_AGENT.config_for_env(
        ENV_ID,
        total_timesteps=30_720,
        eval_every=0,
        progress=False,
        logger="csv",
        final_eval_episodes=10,
        run_dir=str(tmp_path / "run"),
    )
    summary = PPO_AGENT.train(config)
    # Over 10 seeds: 182 at worst, 500 (the maximum) for 8 of them, in 6 to 16 s each.
    assert summary["mean_return"] >= 150, summary["episode_returns"]
{%- endif %}
