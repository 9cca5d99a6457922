"""rlcore/PixelCatch-v0 against a plain-Python grid simulation drawn pixel by pixel, Gymnasium's
checker, and the random policy's expected return enumerated exactly over every episode."""

from __future__ import annotations

import itertools
import warnings
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore.envs
from rlcore.envs import PixelCatchEnv
from rlcore.nn import ImageEncoder, is_image_space
from rlcore.wrappers import FrameStack

ENV_ID = "rlcore/PixelCatch-v0"


# --------------------------------------------------------------------------- the reference
def _reference_episode(rows: int, columns: int, ball_column: int, actions: list[int]) -> list[tuple]:
    """``[(ball_row, ball_column, paddle_column, reward, terminated)]`` after reset and each action."""
    ball_row, paddle = 0, columns // 2
    states = [(ball_row, ball_column, paddle, 0.0, False)]
    for action in actions:
        if action == 0 and paddle > 0:
            paddle -= 1
        elif action == 2 and paddle < columns - 1:
            paddle += 1
        ball_row += 1
        done = ball_row == rows - 1
        reward = (1.0 if paddle == ball_column else -1.0) if done else 0.0
        states.append((ball_row, ball_column, paddle, reward, done))
        if done:
            break
    return states


def _reference_image(rows, columns, cell, ball_row, ball_column, paddle, channels_first) -> np.ndarray:
    """The observation drawn one pixel at a time."""
    height, width = rows * cell[0], columns * cell[1]
    image = np.zeros((height, width), dtype=np.uint8)
    for y in range(height):
        for x in range(width):
            r, c = y // cell[0], x // cell[1]
            if (r, c) == (ball_row, ball_column) or (r, c) == (rows - 1, paddle):
                image[y, x] = 255
    return image[None] if channels_first else image[:, :, None]


def _ball_column(obs: np.ndarray, env: PixelCatchEnv) -> int:
    """The ball's column read from the top row of cells of a reset observation."""
    image = obs[0] if env.channels_first else obs[..., 0]
    return int(np.flatnonzero(image[0])[0]) // env.cell_size[1]


def _towards_the_ball(obs: np.ndarray, env: PixelCatchEnv) -> int:
    """The optimal policy, from one frame: move the paddle (bottom cell row) under the ball."""
    image = obs[0] if env.channels_first else obs[..., 0]
    grid = image[:: env.cell_size[0], :: env.cell_size[1]] > 0  # (rows, columns): one pixel per cell
    (paddle,) = np.flatnonzero(grid[-1])
    ((_, ball),) = np.argwhere(grid[:-1])  # the ball is above the bottom row until the last step
    return 1 + int(np.sign(ball - paddle))


# --------------------------------------------------------------------------- the checker
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"channels_first": True},
        {"render_mode": "rgb_array"},
        {"rows": 2, "columns": 1},
        {"rows": 6, "columns": 9, "cell_size": (7, 5), "channels_first": True, "render_mode": "rgb_array"},
    ],
    ids=repr,
)
def test_passes_gymnasiums_checker_without_warnings(kwargs):
    env = gym.make(ENV_ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_registration_and_spaces():
    assert rlcore.envs.PixelCatchEnv is PixelCatchEnv
    env = gym.make(ENV_ID)
    assert env.spec is not None and env.spec.max_episode_steps is None  # episodes end by themselves
    assert isinstance(env.unwrapped, PixelCatchEnv)
    assert env.observation_space == gym.spaces.Box(0, 255, (40, 40, 1), np.uint8)
    assert env.action_space == gym.spaces.Discrete(3)
    assert env.unwrapped.cell_size == (4, 8)
    assert env.metadata["render_modes"] == ["rgb_array"] and env.metadata["render_fps"] > 0
    wide = gym.make(ENV_ID, rows=4, columns=20, channels_first=True)
    assert wide.observation_space.shape == (1, 40, 40) and wide.unwrapped.cell_size == (10, 2)
    assert gym.make(ENV_ID, rows=50, columns=3).observation_space.shape == (50, 42, 1)
    assert is_image_space(env.observation_space) and is_image_space(wide.observation_space)


# --------------------------------------------------------------------------- dynamics
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 12),
    columns=st.integers(1, 7),
    cell=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    channels_first=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    actions=st.lists(st.integers(0, 2), min_size=11, max_size=11),
)
def test_dynamics_match_the_reference_simulation(rows, columns, cell, channels_first, seed, actions):
    env = PixelCatchEnv(rows, columns, cell_size=cell, channels_first=channels_first)
    obs, info = env.reset(seed=seed)
    assert info == {}
    ball_column = _ball_column(obs, env)
    expected = _reference_episode(rows, columns, ball_column, actions)
    assert len(expected) == rows  # rows - 1 steps
    for t, (ball_row, column, paddle, reward, terminated) in enumerate(expected):
        if t > 0:
            obs, got_reward, got_terminated, truncated, info = env.step(actions[t - 1])
            assert (got_reward, got_terminated, truncated, info) == (reward, terminated, False, {})
            assert type(got_reward) is float
        assert obs in env.observation_space
        np.testing.assert_array_equal(
            obs, _reference_image(rows, columns, env.cell_size, ball_row, column, paddle, channels_first)
        )
    with pytest.raises(
        RuntimeError, match=r"PixelCatchEnv\.step: the episode has ended; call reset\(\) first"
    ):
        env.step(1)


def test_same_seed_same_episode_and_the_ball_column_is_uniform():
    def episode(seed: int) -> list[np.ndarray]:
        env = PixelCatchEnv(channels_first=True)
        observations = [env.reset(seed=seed)[0]]
        actions = np.random.default_rng(seed).integers(0, 3, 9)
        observations += [env.step(int(a))[0] for a in actions]
        return observations

    for seed in (0, 1, 12345):
        for a, b in zip(episode(seed), episode(seed)):
            np.testing.assert_array_equal(a, b)
    env = PixelCatchEnv()
    env.reset(seed=0)
    # Unseeded resets continue the seeded generator: reproducible, and every column comes up.
    columns = [_ball_column(env.reset()[0], env) for _ in range(5000)]
    counts = np.bincount(columns, minlength=5)
    assert counts.sum() == 5000 and np.all(np.abs(counts / 5000 - 0.2) < 0.03), counts


def test_channels_first_is_the_transpose_of_channels_last():
    last, first = PixelCatchEnv(), PixelCatchEnv(channels_first=True)
    a, _ = last.reset(seed=3)
    b, _ = first.reset(seed=3)
    for action in [0, 2, 2, 1, 0, 2, 2, 2, 1]:
        np.testing.assert_array_equal(np.transpose(a, (2, 0, 1)), b)
        a, b = last.step(action)[0], first.step(action)[0]
    np.testing.assert_array_equal(np.transpose(a, (2, 0, 1)), b)


def test_a_reset_mid_episode_starts_afresh():
    env = PixelCatchEnv()
    env.reset(seed=0)
    for _ in range(4):
        env.step(2)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, PixelCatchEnv().reset(seed=0)[0])
    assert [env.step(1)[2] for _ in range(9)] == [False] * 8 + [True]


# --------------------------------------------------------------------------- returns
def test_random_policy_expected_return_is_exactly_minus_three_fifths():
    rows, columns = 10, 5
    total = Fraction(0)
    for ball_column in range(columns):  # every episode of the uniform random policy
        for actions in itertools.product(range(3), repeat=rows - 1):
            total += Fraction(_reference_episode(rows, columns, ball_column, list(actions))[-1][3])
    expected = total / (columns * 3 ** (rows - 1))
    assert expected == Fraction(-3, 5)
    assert "**-0.6**" in (PixelCatchEnv.__doc__ or "")
    # The env itself, sampled: 3000 random episodes (standard error 0.8 / sqrt(3000) = 0.015).
    env = gym.make_vec(ENV_ID, num_envs=10, vectorization_mode="sync")
    env.action_space.seed(0)
    env.reset(seed=0)
    returns = []
    while len(returns) < 3000:
        _, reward, terminated, _, _ = env.step(env.action_space.sample())
        returns += list(reward[terminated])
    assert abs(np.mean(returns) - float(expected)) < 0.06


@pytest.mark.parametrize(
    ("rows", "columns", "channels_first"), [(10, 5, False), (10, 5, True), (6, 9, False)]
)
def test_moving_towards_the_ball_always_catches_it(rows, columns, channels_first):
    env = PixelCatchEnv(rows, columns, channels_first=channels_first)
    seen = set()
    for seed in range(60):
        obs, _ = env.reset(seed=seed)
        seen.add(_ball_column(obs, env))
        for t in range(rows - 1):
            obs, reward, terminated, truncated, _ = env.step(_towards_the_ball(obs, env))
            assert terminated == (t == rows - 2) and not truncated
        assert reward == 1.0
    assert seen == set(range(columns))


# --------------------------------------------------------------------------- rendering
def test_render_draws_the_grid_in_colour():
    env = PixelCatchEnv(render_mode="rgb_array")
    with pytest.raises(RuntimeError, match=r"PixelCatchEnv\.render: the env has not been reset"):
        env.render()
    obs, _ = env.reset(seed=0)
    for action in [0, 0, 2, 1, 1, 1, 1, 1, 1]:
        frame = env.render()
        assert frame is not None and frame.shape == (320, 160, 3) and frame.dtype == np.uint8
        cells = frame[::32, ::32]  # one pixel per 32 x 32 cell
        np.testing.assert_array_equal(frame, np.repeat(np.repeat(cells, 32, axis=0), 32, axis=1))
        colours, counts = np.unique(cells.reshape(-1, 3), axis=0, return_counts=True)
        background = colours[np.argmax(counts)]
        lit = np.any(cells != background, axis=-1)
        np.testing.assert_array_equal(lit, obs[::4, ::8, 0] > 0)  # where the observation is lit
        assert len(colours) == 1 + lit.sum()  # the ball and the paddle in their own colours
        obs = env.step(action)[0]


def test_render_without_a_mode_warns_and_returns_none():
    env = PixelCatchEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match=r"PixelCatchEnv\.render: no render_mode was given"):
        assert env.render() is None


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rows": 1}, ValueError, r"PixelCatchEnv: rows must be an int >= 2, got 1"),
        ({"rows": 10.0}, TypeError, r"PixelCatchEnv: rows must be an int >= 2, got 10\.0 \(float\)"),
        ({"columns": 0}, ValueError, r"PixelCatchEnv: columns must be an int >= 1, got 0"),
        ({"columns": True}, TypeError, r"PixelCatchEnv: columns must be an int >= 1, got True \(bool\)"),
        ({"cell_size": 4}, TypeError, r"PixelCatchEnv: cell_size must be None or a \(height, width\) pair"),
        ({"cell_size": (1, 2, 3)}, TypeError, r"cell_size must be None or a \(height, width\) pair"),
        (
            {"cell_size": (0, 4)},
            ValueError,
            r"PixelCatchEnv: cell_size\[0\] \(height\) must be an int >= 1, got 0",
        ),
        ({"cell_size": (4, 2.5)}, TypeError, r"cell_size\[1\] \(width\) must be an int >= 1, got 2\.5"),
        ({"channels_first": 1}, TypeError, r"PixelCatchEnv: channels_first must be a bool, got 1 \(int\)"),
        (
            {"render_mode": "human"},
            ValueError,
            r"render_mode must be None or one of \['rgb_array'\], got 'human'",
        ),
    ],
    ids=repr,
)
def test_constructor_arguments_are_validated(kwargs, error, match):
    with pytest.raises(error, match=match):
        PixelCatchEnv(**kwargs)


def test_step_errors():
    env = PixelCatchEnv()
    with pytest.raises(RuntimeError, match=r"PixelCatchEnv\.step: the env has not been reset; call reset"):
        env.step(1)
    env.reset(seed=0)
    for bad in (3, -1, 1.5, "left", None):
        with pytest.raises(ValueError, match=r"PixelCatchEnv\.step: action .* is not in Discrete\(3\)"):
            env.step(bad)
    env.step(np.int64(2))
    env.step(np.array(0))


# --------------------------------------------------------------------------- vectorised, with a pixel agent's torso
def test_sync_vector_env_autoresets_and_feeds_an_image_encoder():
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="sync", channels_first=True)
    assert envs.single_observation_space.shape == (1, 40, 40)
    obs, _ = envs.reset(seed=0)
    torch.manual_seed(0)
    encoder = ImageEncoder(envs.single_observation_space.shape, features_dim=8)
    assert encoder(torch.from_numpy(obs)).shape == (4, 8)
    steps_to_end = []
    for t in range(30):
        assert obs.shape == (4, 1, 40, 40) and obs.dtype == np.uint8
        obs, reward, terminated, truncated, _ = envs.step(np.ones(4, dtype=np.int64))
        assert not truncated.any()
        assert set(np.unique(reward)) <= ({-1.0, 1.0} if terminated.all() else {0.0})
        if terminated.all():
            steps_to_end.append(t)
    assert steps_to_end == [8, 18, 28]  # 9 steps, then the next-step autoreset


def test_frame_stacked_observations_reach_the_encoder():
    env = FrameStack(gym.make(ENV_ID), 4)
    assert env.observation_space.shape == (4, 40, 40, 1) and is_image_space(env.observation_space)
    encoder = ImageEncoder(env.observation_space.shape, features_dim=8)
    assert encoder.cnn_shape == (4, 40, 40)
    obs, _ = env.reset(seed=0)
    assert encoder(torch.from_numpy(obs)[None]).shape == (1, 8)
