"""Tests of rlcore.seeding: global RNGs, the SeedSequence tree, and seeding single and vector envs."""

from __future__ import annotations

import random

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcore.seeding import SeedReport, env_seeds, seed_env, seed_everything
from rlcore.testing import GenericTestEnv


def _make_env() -> gym.Env:
    return GenericTestEnv(
        observation_space=spaces.Box(-1.0, 1.0, (3,), np.float32),
        action_space=spaces.Box(-1.0, 1.0, (2,), np.float32),
    )


@pytest.fixture
def restore_torch_flags():
    flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    yield
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[1], flags[2]


def _draws(rng: np.random.Generator) -> tuple[float, float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(1).item(), float(rng.random())  # noqa: NPY002


# --------------------------------------------------------------------------- seed_everything
def test_seed_everything_reproduces_every_global_rng(restore_torch_flags):
    first = _draws(seed_everything(123))
    second = _draws(seed_everything(123))
    other = _draws(seed_everything(124))
    assert first == second
    assert all(a != b for a, b in zip(first, other))
    assert float(np.random.default_rng(123).random()) == seed_everything(123).random()


def test_seed_everything_by_default_does_not_import_the_compiler_stack():
    # torch.use_deterministic_algorithms imports torch._dynamo (seconds); the default needs no call.
    import subprocess
    import sys

    code = (
        "import sys; from rlcore.seeding import seed_everything; seed_everything(0); "
        "print('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_seed_everything_deterministic_flags(restore_torch_flags, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert __import__("os").environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    seed_everything(0, deterministic=True)
    assert __import__("os").environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # a user's choice is kept


def test_seed_everything_accepts_numpy_ints_and_rejects_bad_seeds(restore_torch_flags):
    seed_everything(np.int64(7))
    with pytest.raises(ValueError, match=r"seed_everything: seed must be an int in \[0, 2\*\*32\), got -1"):
        seed_everything(-1)
    with pytest.raises(
        ValueError, match=r"seed_everything: seed must be an int in \[0, 2\*\*32\), got 4294967296"
    ):
        seed_everything(2**32)
    with pytest.raises(TypeError, match=r"seed_everything: seed must be an int, got float 1.5"):
        seed_everything(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"seed_everything: seed must be an int, got True"):
        seed_everything(True)


# --------------------------------------------------------------------------- env_seeds
@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**63), num_envs=st.integers(1, 32))
def test_env_seeds_adjacent_base_seeds_and_streams_share_nothing(seed, num_envs):
    train, eval_ = env_seeds(seed, num_envs), env_seeds(seed, num_envs, "eval")
    neighbour = env_seeds(seed + 1, num_envs)
    assert len(set(train)) == num_envs
    assert not set(train) & set(neighbour)
    assert not set(train) & set(eval_)
    assert all(0 <= s < 2**64 for s in train + eval_)
    assert env_seeds(seed, num_envs) == train  # reproducible
    assert env_seeds(seed, num_envs + 3)[:num_envs] == train  # more envs extend the list


@pytest.mark.parametrize(("stream", "stream_id"), [("train", 0), ("eval", 1)])
def test_env_seeds_follow_the_documented_spawn_tree(stream, stream_id):
    children = np.random.SeedSequence(2024).spawn(2)[stream_id].spawn(1)[0].spawn(5)
    expected = [int(c.generate_state(1, np.uint64)[0]) for c in children]
    assert env_seeds(2024, 5, stream) == expected


def test_env_seeds_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"env_seeds: seed must be an int >= 0, got -3"):
        env_seeds(-3, 2)
    with pytest.raises(ValueError, match=r"env_seeds: num_envs must be an int >= 1, got 0"):
        env_seeds(0, 0)
    with pytest.raises(ValueError, match=r"env_seeds: stream must be 'train' or 'eval', got 'test'"):
        env_seeds(0, 2, "test")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- seed_env
def test_seed_env_single_env_matches_a_hand_seeded_env():
    env = _make_env()
    report = seed_env(env, 5, stream="eval")
    assert isinstance(report, SeedReport)
    assert (report.seed, report.stream, report.num_envs) == (5, "eval", 1)
    assert report.reset_seeds == tuple(env_seeds(5, 1, "eval"))
    assert set(report.space_seeds) == {"action_space", "observation_space"}
    reference = _make_env()
    obs, _ = reference.reset(seed=report.reset_seeds[0])
    reference.action_space.seed(report.space_seeds["action_space"])
    reference.observation_space.seed(report.space_seeds["observation_space"])
    np.testing.assert_array_equal(report.obs, obs)
    np.testing.assert_array_equal(env.action_space.sample(), reference.action_space.sample())
    np.testing.assert_array_equal(
        env.step(env.action_space.sample())[0], reference.step(reference.action_space.sample())[0]
    )


def test_seed_env_is_reproducible_and_streams_differ():
    a, b, c = _make_env(), _make_env(), _make_env()
    ra, rb, rc = seed_env(a, 1), seed_env(b, 1), seed_env(c, 1, stream="eval")
    np.testing.assert_array_equal(ra.obs, rb.obs)
    np.testing.assert_array_equal(a.action_space.sample(), b.action_space.sample())
    assert not np.array_equal(ra.obs, rc.obs)
    assert ra.space_seeds["action_space"] != rc.space_seeds["action_space"]


def test_seed_env_vector_env_seeds_each_sub_env_and_every_space():
    envs = SyncVectorEnv([_make_env] * 3)
    report = seed_env(envs, 9)
    assert report.num_envs == 3 and report.reset_seeds == tuple(env_seeds(9, 3))
    assert set(report.space_seeds) == {
        "action_space",
        "observation_space",
        "single_action_space",
        "single_observation_space",
    }
    assert len(set(report.space_seeds.values())) == 4
    for i, sub_seed in enumerate(report.reset_seeds):
        obs, _ = _make_env().reset(seed=sub_seed)
        np.testing.assert_array_equal(report.obs[i], obs)
    again = SyncVectorEnv([_make_env] * 3)
    seed_env(again, 9)
    np.testing.assert_array_equal(envs.action_space.sample(), again.action_space.sample())
    np.testing.assert_array_equal(envs.single_action_space.sample(), again.single_action_space.sample())


def test_seed_env_adjacent_base_seeds_share_no_sub_env_stream_unlike_seed_plus_i():
    # Gymnasium's own reset(seed=s) uses s + i: sub-env 1 of seed 0 replays sub-env 0 of seed 1.
    gym_a, gym_b = SyncVectorEnv([_make_env] * 4), SyncVectorEnv([_make_env] * 4)
    obs_a, _ = gym_a.reset(seed=0)
    obs_b, _ = gym_b.reset(seed=1)
    np.testing.assert_array_equal(obs_a[1], obs_b[0])
    ours_a = seed_env(SyncVectorEnv([_make_env] * 4), 0).obs
    ours_b = seed_env(SyncVectorEnv([_make_env] * 4), 1).obs
    rows = np.concatenate([ours_a, ours_b])
    assert len({row.tobytes() for row in rows}) == 8


def test_seed_env_passes_options_and_rejects_bad_arguments():
    seen = {}

    def reset_func(env, seed, options):
        seen["options"] = options
        return env.observation_space.sample(), {"seed": seed}

    report = seed_env(GenericTestEnv(reset_func=reset_func), 0, options={"level": 3})
    assert seen["options"] == {"level": 3} and report.info == {"seed": report.reset_seeds[0]}
    with pytest.raises(
        TypeError, match=r"seed_env: env must be a gymnasium.Env or gymnasium.vector.VectorEnv, got str"
    ):
        seed_env("CartPole-v1", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"seed_env: stream must be 'train' or 'eval', got 'valid'"):
        seed_env(_make_env(), 0, stream="valid")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"seed_env: seed must be an int, got NoneType None"):
        seed_env(_make_env(), None)  # type: ignore[arg-type]
