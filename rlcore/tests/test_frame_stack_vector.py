"""Vector FrameStack against a naive list of deques per sub-env, in all three autoreset modes."""

from __future__ import annotations

import copy
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorWrapper
from gymnasium.wrappers import FrameStackObservation

from rlcore.testing import GenericTestEnv, check_vector_wrapper, make_vector_env
from rlcore.wrappers.vector.frame_stack import FrameStack

NUM_ENVS = 4
IMAGE_SHAPE = (6, 5, 3)


def random_end_step(env, action):
    """Random frames; episodes end by a random termination or by truncation after 7 steps."""
    terminated = bool(env.np_random.random() < 0.15)
    return env.observation_space.sample(), float(env.t), terminated, env.t >= 7, {}


def make_image_env():
    return GenericTestEnv(
        observation_space=spaces.Box(0, 255, IMAGE_SHAPE, np.uint8), step_func=random_end_step
    )


def make_cartpole():
    return gym.make("CartPole-v1", max_episode_steps=15)


ENVS = {"image": make_image_env, "cartpole": make_cartpole}


class InfoSpy(VectorWrapper):
    """Passes everything through and keeps the last info it returned, with a deep copy of it."""

    def step(self, actions):
        out = self.env.step(actions)
        self.info, self.info_copy = out[4], copy.deepcopy(out[4])
        return out


class PerEnvDeques:
    """The reference: one deque of num_stack frames per sub-env, fed the raw vector env's outputs."""

    def __init__(self, num_stack, padding):
        self.num_stack, self.padding = num_stack, padding
        self.stacks = [None] * NUM_ENVS

    def restart(self, i, frame):
        pad = frame if self.padding is None else self.padding
        self.stacks[i] = deque([pad] * (self.num_stack - 1) + [frame], maxlen=self.num_stack)

    def batch(self):
        return np.stack([np.stack(list(stack)) for stack in self.stacks])


def run_against_deques(env_name, mode, num_stack, padding_type, steps=60, seed=5):
    """Step the wrapper and a raw twin through the same seeded trajectory, checking every output."""
    frame_space = ENVS[env_name]().observation_space
    padding = {"reset": None, "zero": np.zeros(frame_space.shape, frame_space.dtype)}.get(padding_type)
    if padding_type == "custom":
        padding = np.clip(np.full(frame_space.shape, 3), frame_space.low, frame_space.high).astype(
            frame_space.dtype
        )
    spy = InfoSpy(make_vector_env(ENVS[env_name], NUM_ENVS, mode))
    wrapped = FrameStack(spy, num_stack, padding_type=padding_type if padding_type != "custom" else padding)
    raw = make_vector_env(ENVS[env_name], NUM_ENVS, mode)
    reference = PerEnvDeques(num_stack, padding)
    returned = []

    def check(obs):
        np.testing.assert_array_equal(obs, reference.batch())
        assert obs.dtype == frame_space.dtype and obs in wrapped.observation_space
        returned.append((obs, obs.copy()))

    obs, _ = wrapped.reset(seed=seed)
    raw_obs, _ = raw.reset(seed=seed)
    for i in range(NUM_ENVS):
        reference.restart(i, raw_obs[i])
    check(obs)
    rng = np.random.default_rng(seed)
    pending = np.zeros(NUM_ENVS, dtype=bool)  # NEXT_STEP: whose next step is an autoreset step
    seen = {"terminated": False, "truncated": False, "final_obs": False, "partial reset": False}
    for _ in range(steps):
        actions = rng.integers(0, 2, NUM_ENVS)
        obs, reward, terminated, truncated, info = wrapped.step(actions)
        raw_obs, raw_reward, raw_terminated, raw_truncated, raw_info = raw.step(actions)
        np.testing.assert_array_equal(reward, raw_reward)
        np.testing.assert_array_equal(terminated, raw_terminated)
        np.testing.assert_array_equal(truncated, raw_truncated)
        done = raw_terminated | raw_truncated
        seen["terminated"] |= bool(raw_terminated.any())
        seen["truncated"] |= bool(raw_truncated.any())
        for i in range(NUM_ENVS):
            if mode == AutoresetMode.NEXT_STEP and pending[i]:
                reference.restart(i, raw_obs[i])
            elif mode == AutoresetMode.SAME_STEP and done[i]:
                final = deque(reference.stacks[i], maxlen=num_stack)
                final.append(raw_info["final_obs"][i])
                np.testing.assert_array_equal(info["final_obs"][i], np.stack(list(final)))
                assert info["final_obs"][i] in wrapped.single_observation_space
                returned.append((info["final_obs"][i], info["final_obs"][i].copy()))
                seen["final_obs"] = True
                reference.restart(i, raw_obs[i])
            else:
                reference.stacks[i].append(raw_obs[i])
        pending = done & ~pending
        if mode == AutoresetMode.SAME_STEP and done.any():
            np.testing.assert_array_equal(info["_final_obs"], raw_info["_final_obs"])
            assert all(info["final_obs"][i] is None for i in np.flatnonzero(~done))
            # The inner env's info is left as it was: single frames, not stacks.
            assert spy.info["final_obs"] is not info["final_obs"]
            for i in np.flatnonzero(done):
                np.testing.assert_array_equal(spy.info["final_obs"][i], spy.info_copy["final_obs"][i])
                assert spy.info["final_obs"][i].shape == frame_space.shape
        check(obs)
        if mode == AutoresetMode.DISABLED and done.any():
            kept = obs[~done]
            obs, _ = wrapped.reset(options={"reset_mask": done.copy()})
            raw_obs, _ = raw.reset(options={"reset_mask": done.copy()})
            for i in np.flatnonzero(done):
                reference.restart(i, raw_obs[i])
            check(obs)
            # Sub-envs outside the mask keep their stacks.
            np.testing.assert_array_equal(obs[~done], kept)
            seen["partial reset"] |= bool((~done).any())
    for obs, snapshot in returned:
        np.testing.assert_array_equal(obs, snapshot)
        assert not np.shares_memory(obs, wrapped._ring.frames)
    return seen


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.name)
@pytest.mark.parametrize("padding_type", ["reset", "zero", "custom"])
@pytest.mark.parametrize("num_stack", [1, 4])
@pytest.mark.parametrize("env_name", sorted(ENVS))
def test_matches_per_env_deques(env_name, mode, num_stack, padding_type):
    seen = run_against_deques(env_name, mode, num_stack, padding_type)
    assert seen["terminated"] and seen["truncated"]
    assert seen["final_obs"] == (mode == AutoresetMode.SAME_STEP)
    assert seen["partial reset"] == (mode == AutoresetMode.DISABLED)


def test_spaces_match_gymnasium_single_env_wrapper():
    envs = FrameStack(make_vector_env(make_image_env, NUM_ENVS), 3)
    single = FrameStackObservation(make_image_env(), 3).observation_space
    assert envs.single_observation_space == single
    assert envs.observation_space == gym.vector.utils.batch_space(single, NUM_ENVS)
    assert envs.observation_space.shape == (NUM_ENVS, 3, *IMAGE_SHAPE)


def test_works_with_async_vector_env():
    envs = FrameStack(make_vector_env(make_image_env, 2, AutoresetMode.SAME_STEP, "async"), 2)
    try:
        obs, _ = envs.reset(seed=0)
        finals = 0
        for _ in range(12):
            obs, _, terminated, truncated, info = envs.step(np.zeros(2, dtype=np.int64))
            assert obs in envs.observation_space
            for i in np.flatnonzero(terminated | truncated):
                assert info["final_obs"][i].shape == (2, *IMAGE_SHAPE)
                finals += 1
        assert finals > 0
    finally:
        envs.close()


def test_passes_the_vector_wrapper_contract():
    check_vector_wrapper(lambda mode: FrameStack(make_vector_env(make_image_env, 3, mode), 3))


def test_state_dict_is_empty_and_load_accepts_only_empty():
    envs = FrameStack(make_vector_env(make_cartpole, 2), 2)
    assert envs.state_dict() == {}
    envs.load_state_dict({})
    with pytest.raises(
        ValueError, match=r"vector\.FrameStack\.load_state_dict: a frame stack has no learned"
    ):
        envs.load_state_dict({"count": 1})
    with pytest.raises(TypeError, match=r"vector\.FrameStack\.load_state_dict: expected a mapping, got int"):
        envs.load_state_dict(3)  # type: ignore[arg-type]


def test_rejects_bad_arguments():
    envs = make_vector_env(make_cartpole, 2)
    with pytest.raises(ValueError, match=r"vector\.FrameStack: num_stack must be an int >= 1, got 0"):
        FrameStack(envs, 0)
    with pytest.raises(
        TypeError, match=r"vector\.FrameStack: num_stack must be an int >= 1, got 1\.5 \(float\)"
    ):
        FrameStack(envs, 1.5)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"vector\.FrameStack: padding_type must be 'reset', 'zero' .*got 'zeros'"
    ):
        FrameStack(envs, 2, padding_type="zeros")
    with pytest.raises(ValueError, match=r"vector\.FrameStack: a custom padding_type must be .*shape \(4,\)"):
        FrameStack(envs, 2, padding_type=np.zeros((2, 4), np.float32))
    discrete = make_vector_env(lambda: GenericTestEnv(observation_space=spaces.Discrete(3)), 2)
    with pytest.raises(
        TypeError, match=r"vector\.FrameStack supports only Box observation spaces, got Discrete"
    ):
        FrameStack(discrete, 2)


def test_rejects_reset_mask_of_wrong_shape():
    envs = FrameStack(make_vector_env(make_cartpole, 2, AutoresetMode.DISABLED), 2)
    envs.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"reset_mask must be a bool array of shape \(2,\), got shape \(3,\)"
    ):
        envs.reset(options={"reset_mask": np.ones(3, dtype=bool)})


class DropObsColumn(VectorWrapper):
    """A broken inner env: its reset observations lack the last column."""

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return obs[:, :-1], info


class DropFinalObs(VectorWrapper):
    """A broken inner env: SAME_STEP steps without ``final_obs`` in the info."""

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        info = {key: value for key, value in info.items() if key not in ("final_obs", "_final_obs")}
        return obs, reward, terminated, truncated, info


def test_rejects_reset_observation_of_wrong_shape():
    envs = FrameStack(DropObsColumn(make_vector_env(make_cartpole, 2)), 2)
    with pytest.raises(
        ValueError,
        match=r"vector\.FrameStack: the vector env's reset observation has shape \(2, 3\), expected \(2, 4\)",
    ):
        envs.reset(seed=0)


def test_same_step_without_final_obs_is_an_error():
    inner = make_vector_env(lambda: GenericTestEnv(episode_length=1), 2, AutoresetMode.SAME_STEP)
    envs = FrameStack(DropFinalObs(inner), 2)
    envs.reset(seed=0)
    with pytest.raises(
        ValueError,
        match=r"vector\.FrameStack: in SAME_STEP autoreset mode, sub-envs \[0, 1\] ended an episode but the inner env's info has no 'final_obs'",
    ):
        envs.step(np.zeros(2, dtype=np.int64))
