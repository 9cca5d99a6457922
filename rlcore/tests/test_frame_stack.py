"""FrameStack (single env) against Gymnasium's FrameStackObservation, and its ring buffer against a deque."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import FrameStackObservation
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore.testing import GenericTestEnv, check_wrapper
from rlcore.wrappers._frame_ring import FrameRing
from rlcore.wrappers.frame_stack import FrameStack

IMAGE_SHAPE = (12, 10, 3)


def random_end_step(env, action):
    """Random frames; episodes end by a random termination or by truncation after 6 steps."""
    terminated = bool(env.np_random.random() < 0.2)
    return env.observation_space.sample(), float(env.t), terminated, env.t >= 6, {}


def make_image_env():
    return GenericTestEnv(
        observation_space=spaces.Box(0, 255, IMAGE_SHAPE, np.uint8), step_func=random_end_step
    )


def make_cartpole():
    return gym.make("CartPole-v1", max_episode_steps=20)


CUSTOM_PADDING = {
    "cartpole": np.array([0.5, -1.0, 0.1, 2.0], dtype=np.float32),
    "image": np.full(IMAGE_SHAPE, 7, dtype=np.uint8),
}
ENVS = {"cartpole": make_cartpole, "image": make_image_env}


def run_against_gymnasium(env_name: str, num_stack: int, padding_type: str, steps: int = 150, seed: int = 3):
    """Step ours and Gymnasium's wrapper through the same seeded trajectory; return the ways episodes ended."""
    padding = CUSTOM_PADDING[env_name] if padding_type == "custom" else padding_type
    ours = FrameStack(ENVS[env_name](), num_stack, padding_type=padding)
    reference = FrameStackObservation(ENVS[env_name](), num_stack, padding_type=padding)
    assert ours.observation_space == reference.observation_space
    ours.action_space.seed(seed)
    returned = []

    def check(obs, expected):
        assert obs.shape == expected.shape and obs.dtype == expected.dtype
        np.testing.assert_array_equal(obs, expected)
        assert obs in ours.observation_space
        returned.append((obs, obs.copy()))

    obs, _ = ours.reset(seed=seed)
    check(obs, reference.reset(seed=seed)[0])
    endings = set()
    for _ in range(steps):
        action = ours.action_space.sample()
        obs, reward, terminated, truncated, _ = ours.step(action)
        ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(action)
        check(obs, ref_obs)
        assert (reward, terminated, truncated) == (ref_reward, ref_terminated, ref_truncated)
        if terminated or truncated:
            endings.add("terminated" if terminated else "truncated")
            obs, _ = ours.reset()
            check(obs, reference.reset()[0])
    # The wrapper never writes into an array it has returned.
    for obs, snapshot in returned:
        np.testing.assert_array_equal(obs, snapshot)
        assert not np.shares_memory(obs, ours._ring.frames)
    return endings


@pytest.mark.parametrize("env_name", sorted(ENVS))
@pytest.mark.parametrize("padding_type", ["reset", "zero", "custom"])
@pytest.mark.parametrize("num_stack", [1, 3, 4])
def test_matches_gymnasium_frame_stack_observation(env_name, padding_type, num_stack):
    endings = run_against_gymnasium(env_name, num_stack, padding_type)
    assert endings == {"terminated", "truncated"}, "the trajectory must cover both ways an episode ends"


def test_reset_mid_episode_refills_the_stack():
    def counter(env):
        return np.full(1, 10 * env.episode + env.t, dtype=np.float32)

    env = GenericTestEnv(
        observation_space=spaces.Box(0, 100, (1,), np.float32),
        reset_func=lambda env, seed, options: (counter(env), {}),
        step_func=lambda env, action: (counter(env), 0.0, False, False, {}),
    )
    stacked = FrameStack(env, 3)
    stacked.reset(seed=0)
    for _ in range(4):
        stacked.step(0)
    obs, _ = stacked.reset()
    np.testing.assert_array_equal(obs[:, 0], [10.0, 10.0, 10.0])
    np.testing.assert_array_equal(stacked.step(0)[0][:, 0], [10.0, 10.0, 11.0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_keeps_dtype_and_space(dtype):
    space = spaces.Box(0, 5, (2, 3), dtype)
    env = FrameStack(GenericTestEnv(observation_space=space), 4)
    assert env.observation_space == gym.vector.utils.batch_space(space, 4)
    obs, _ = env.reset(seed=1)
    assert obs.dtype == dtype and obs.shape == (4, 2, 3) and obs in env.observation_space


def test_passes_the_wrapper_contract():
    check_wrapper(lambda: FrameStack(make_image_env(), 4))
    check_wrapper(lambda: FrameStack(make_cartpole(), 2, padding_type="zero"))


def test_state_dict_is_empty_and_load_accepts_only_empty():
    env = FrameStack(make_cartpole(), 2)
    assert env.state_dict() == {}
    env.load_state_dict({})
    with pytest.raises(
        ValueError, match=r"FrameStack\.load_state_dict: a frame stack has no learned state.*\['frames'\]"
    ):
        env.load_state_dict({"frames": np.zeros(3)})
    with pytest.raises(TypeError, match=r"FrameStack\.load_state_dict: expected a mapping, got list"):
        env.load_state_dict([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("num_stack", "error", "match"),
    [
        (0, ValueError, r"FrameStack: num_stack must be an int >= 1, got 0"),
        (-2, ValueError, r"FrameStack: num_stack must be an int >= 1, got -2"),
        (2.0, TypeError, r"FrameStack: num_stack must be an int >= 1, got 2\.0 \(float\)"),
        (True, TypeError, r"FrameStack: num_stack must be an int >= 1, got True \(bool\)"),
        ("4", TypeError, r"FrameStack: num_stack must be an int >= 1, got '4' \(str\)"),
    ],
)
def test_rejects_bad_num_stack(num_stack, error, match):
    with pytest.raises(error, match=match):
        FrameStack(make_cartpole(), num_stack)


def test_accepts_numpy_integer_num_stack():
    assert FrameStack(make_cartpole(), np.int64(3)).observation_space.shape == (3, 4)


def test_rejects_non_box_space():
    env = GenericTestEnv(observation_space=spaces.Discrete(3))
    with pytest.raises(
        TypeError, match=r"FrameStack supports only Box observation spaces, got Discrete\(3\)"
    ):
        FrameStack(env, 2)


@pytest.mark.parametrize(
    ("padding_type", "match"),
    [
        ("Reset", r"FrameStack: padding_type must be 'reset', 'zero' or an observation of Box.*got 'Reset'"),
        (
            np.zeros(3, np.float32),
            r"FrameStack: a custom padding_type must be an observation of Box.*shape \(4,\)",
        ),
        (np.full(4, 100.0, np.float32), r"FrameStack: a custom padding_type must be .*within the bounds"),
        (np.zeros(4, np.float64), r"FrameStack: a custom padding_type must be .*dtype float32"),
        (None, r"FrameStack: a custom padding_type must be .*got None"),
    ],
)
def test_rejects_bad_padding(padding_type, match):
    with pytest.raises(ValueError, match=match):
        FrameStack(make_cartpole(), 2, padding_type=padding_type)


def test_custom_padding_is_copied():
    padding = CUSTOM_PADDING["cartpole"].copy()
    env = FrameStack(make_cartpole(), 2, padding_type=padding)
    padding[:] = 0.0
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[0], CUSTOM_PADDING["cartpole"])


def test_rejects_reset_observation_of_wrong_shape():
    env = GenericTestEnv(
        observation_space=spaces.Box(0, 1, (4,), np.float32),
        reset_func=lambda env, seed, options: (np.zeros(3, np.float32), {}),
    )
    with pytest.raises(
        ValueError, match=r"FrameStack: the env's reset observation has shape \(3,\), expected \(4,\)"
    ):
        FrameStack(env, 2).reset(seed=0)


# ------------------------------------------------------------------ the shared ring buffer
class DequeReference:
    """The naive frame stack: one deque of num_stack frames per stream, re-stacked on every read."""

    def __init__(self, num_stack, padding):
        self.num_stack, self.padding, self.stacks = num_stack, padding, {}

    def restart(self, stream, frame):
        pad = frame if self.padding is None else self.padding
        self.stacks[stream] = deque([pad] * (self.num_stack - 1) + [frame], maxlen=self.num_stack)

    def append(self, stream, frame):
        self.stacks[stream].append(frame)

    def stacked(self, stream):
        return np.stack(list(self.stacks[stream]))


@settings(max_examples=50, deadline=None)
@given(
    num_stack=st.integers(1, 5),
    num_envs=st.one_of(st.none(), st.integers(1, 4)),
    padding_kind=st.sampled_from(["reset", "zero", "custom"]),
    data=st.data(),
)
def test_ring_matches_a_deque_per_stream(num_stack, num_envs, padding_kind, data):
    frame_shape = (2,)
    padding = {"reset": None, "zero": np.zeros(frame_shape), "custom": np.array([-1.0, -2.0])}[padding_kind]
    ring = FrameRing(frame_shape, np.dtype(np.float64), num_stack, padding, num_envs)
    reference = DequeReference(num_stack, padding)
    streams = [None] if num_envs is None else list(range(num_envs))
    counter = iter(range(1, 10**6))

    def new_frames():
        frames = np.array([[next(counter), i] for i in range(len(streams))], dtype=np.float64)
        return frames[0] if num_envs is None else frames

    frames = new_frames()
    ring.restart(frames)
    for i, stream in enumerate(streams):
        reference.restart(stream, frames if num_envs is None else frames[i])
    returned = []
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        frames = new_frames()
        ring.append(frames)
        for i, stream in enumerate(streams):
            reference.append(stream, frames if num_envs is None else frames[i])
        if num_envs is not None and data.draw(st.booleans(), label="restart some"):
            mask = np.array(data.draw(st.lists(st.booleans(), min_size=num_envs, max_size=num_envs)))
            rows = mask.nonzero()[0]
            if data.draw(st.booleans(), label="final stack first"):
                # SAME_STEP's order: the final frame replaces the newest, its stack is read, then restart.
                final = frames[rows] + 0.5
                ring.overwrite_newest(final, rows)
                for j, row in enumerate(rows):
                    reference.stacks[row][-1] = final[j]
                got = ring.stacked_rows(rows)
                assert got.shape == (len(rows), num_stack, *frame_shape)
                for j, row in enumerate(rows):
                    np.testing.assert_array_equal(got[j], reference.stacked(row))
            restart_frames = frames[rows] + 1000
            ring.restart(restart_frames, rows)
            for j, row in enumerate(rows):
                reference.restart(row, restart_frames[j])
        stacked = ring.stacked()
        expected = np.stack([reference.stacked(stream) for stream in streams])
        np.testing.assert_array_equal(stacked, expected[0] if num_envs is None else expected)
        returned.append((stacked, stacked.copy()))
    for stacked, snapshot in returned:
        np.testing.assert_array_equal(stacked, snapshot)
