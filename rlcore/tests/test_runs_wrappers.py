"""A config's env wrappers (``RunConfig.env_wrappers``), ``per_sub_env`` and path-safe run names.

The references are Gymnasium's own vector observation wrappers on a vector env that autoresets
in the next step (which they accept), and a float64 NumPy re-computation of the transform.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from _runs_kit import tiny_config
from gymnasium import wrappers as single
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as batched
from hypothesis import given
from hypothesis import strategies as st

from rlcore._tiny_agent import TinyConfig, make_policy, train
from rlcore.runs import (
    Agent,
    EnvWrapper,
    Registry,
    RunConfig,
    default_run_dir,
    evaluate_run,
    make_envs,
    per_sub_env,
)
from rlcore.runs._envs import video_env

PENDULUM_LOW = np.array([-1.0, -1.0, -8.0])
PENDULUM_HIGH = np.array([1.0, 1.0, 8.0])


@pytest.fixture(autouse=True)
def _no_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    """No learning curve: nothing here reads it."""
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)


@dataclasses.dataclass(frozen=True)
class RescaledPendulum(RunConfig):
    """Pendulum's observations rescaled into [-1, 1] on each sub-env."""

    env_id: str = "Pendulum-v1"

    def env_wrappers(self) -> tuple[EnvWrapper, ...]:
        return (per_sub_env(batched.RescaleObservation, min_obs=np.float32(-1.0), max_obs=np.float32(1.0)),)


@dataclasses.dataclass(frozen=True)
class NegatedTiny(TinyConfig):
    """The tiny agent on CartPole with its observations negated (a picklable wrapper)."""

    def env_wrappers(self) -> tuple[EnvWrapper, ...]:
        return (functools.partial(single.TransformObservation, func=np.negative, observation_space=None),)


def rescaled(obs: np.ndarray) -> np.ndarray:
    """The float64 reference of RescaleObservation into [-1, 1]."""
    return -1.0 + 2.0 * (np.asarray(obs, dtype=np.float64) - PENDULUM_LOW) / (PENDULUM_HIGH - PENDULUM_LOW)


# --------------------------------------------------------------------------------- per_sub_env
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("FlattenObservation", {}),
        ("DtypeObservation", {"dtype": np.float64}),
        ("FilterObservation", {"filter_keys": ["a"]}),
        ("GrayscaleObservation", {"keep_dim": True}),
        ("RescaleObservation", {"min_obs": -1.0, "max_obs": 1.0}),
        ("ReshapeObservation", {"shape": (2, 2)}),
        ("ResizeObservation", {"shape": (40, 40)}),
    ],
)
def test_each_vector_observation_wrapper_maps_to_its_single_env_twin(
    name: str, kwargs: dict[str, Any]
) -> None:
    wrapper = per_sub_env(getattr(batched, name), **kwargs)
    assert isinstance(wrapper, functools.partial)
    assert wrapper.func is getattr(single, name)
    assert wrapper.keywords == kwargs


def test_the_generic_vectoriser_maps_to_the_wrapper_it_vectorises() -> None:
    wrapper = per_sub_env(batched.VectorizeTransformObservation, wrapper=single.FlattenObservation)
    assert isinstance(wrapper, functools.partial)
    assert (wrapper.func, wrapper.keywords) == (single.FlattenObservation, {})
    with pytest.raises(ValueError, match="wrapper="):
        per_sub_env(batched.VectorizeTransformObservation)


@pytest.mark.parametrize(
    ("wrapper", "match"),
    [
        (batched.NormalizeObservation, "normalize_observation"),
        (batched.TransformObservation, "function of one observation"),
        (batched.ClipReward, "VectorizeTransformObservation"),
        (single.FlattenObservation, "single-env wrapper itself"),
        ("ResizeObservation", "VectorizeTransformObservation"),
    ],
)
def test_wrappers_without_an_exact_twin_are_refused(wrapper: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        per_sub_env(wrapper)


# ------------------------------------------------------------------------------------ make_envs
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_wrappers_transform_every_observation_final_ones_included(mode: str) -> None:
    """Same-step autoreset, the twin per sub-env: what Gymnasium's vector wrapper gives, and more."""
    config = RescaledPendulum(vector_mode=mode)  # type: ignore[arg-type]
    ours = make_envs(config, 2)
    raw = make_envs(RunConfig(env_id="Pendulum-v1"), 2)
    # Gymnasium's vector wrapper accepts a next-step env; its observations are the reference too.
    reference = batched.RescaleObservation(
        gym.make_vec(
            "Pendulum-v1",
            num_envs=2,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP},
        ),
        min_obs=np.float32(-1.0),
        max_obs=np.float32(1.0),
    )
    try:
        assert ours.single_observation_space == gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        obs, _ = ours.reset(seed=7)
        raw_obs, _ = raw.reset(seed=7)
        ref_obs, _ = reference.reset(seed=7)
        np.testing.assert_allclose(obs, rescaled(raw_obs), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(obs, ref_obs, rtol=1e-6, atol=1e-6)
        actions = np.random.default_rng(0).uniform(-2.0, 2.0, (200, 2, 1)).astype(np.float32)
        finals = 0
        for action in actions:  # Pendulum is truncated after 200 steps: the last step ends both
            obs, _, _, truncated, info = ours.step(action)
            raw_obs, _, _, raw_truncated, raw_info = raw.step(action)
            ref_obs, *_ = reference.step(action)
            np.testing.assert_allclose(obs, rescaled(raw_obs), rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(truncated, raw_truncated)
            # The next-step env returns the final observation where an episode ended.
            expected = np.array(
                [info["final_obs"][i] if cut else row for i, (cut, row) in enumerate(zip(truncated, obs))]
            )
            np.testing.assert_allclose(ref_obs, expected, rtol=1e-6, atol=1e-6)
            for i in np.flatnonzero(truncated):
                finals += 1
                final = info["final_obs"][i]
                np.testing.assert_allclose(final, rescaled(raw_info["final_obs"][i]), rtol=1e-6, atol=1e-6)
                assert np.all(np.abs(final) <= 1.0)
        assert finals == 2
    finally:
        for envs in (ours, raw, reference):
            envs.close()


def test_the_recorded_env_is_wrapped_like_the_evaluation_envs() -> None:
    config = RescaledPendulum()
    envs = make_envs(config, 1)
    env = video_env(config, envs)
    try:
        assert env.observation_space == envs.single_observation_space
        obs, _ = env.reset(seed=3)
        raw, _ = gym.make("Pendulum-v1").reset(seed=3)
        np.testing.assert_allclose(obs, rescaled(raw), rtol=1e-6, atol=1e-6)
    finally:
        env.close()
        envs.close()


def test_a_run_is_evaluated_through_its_configs_wrappers(tmp_path: Path) -> None:
    """``evaluate`` rebuilds the wrappers from config.json: it reproduces the final evaluation."""
    agent = Agent("tiny", NegatedTiny, functools.partial(train, algo="tiny"), policy=make_policy)
    run_dir = tmp_path / "run"
    config = NegatedTiny(**{**dataclasses.asdict(tiny_config(None)), "run_dir": str(run_dir)})
    agent.train(dataclasses.replace(config, final_eval_episodes=6))
    final = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    report = evaluate_run(Registry(agent), run_dir)
    assert report["episode_returns"] == final["episode_returns"]
    assert report["episode_lengths"] == final["episode_lengths"]


# --------------------------------------------------------------------------------- run names
@given(st.text(min_size=1, max_size=40))
def test_a_run_directory_name_never_holds_a_character_that_breaks_paths(env_id: str) -> None:
    path = default_run_dir("ppo", env_id, 3)
    assert path.parts[0] == "runs" and len(path.parts) == 3
    assert re.fullmatch(r"ppo-[A-Za-z0-9._-]+", path.parts[1])


@pytest.mark.parametrize(
    ("env_id", "name"),
    [
        ("my_project/PointMass-v0", "ppo-my_project_PointMass-v0"),
        ("my_project.envs:PointMass-v0", "ppo-my_project.envs_PointMass-v0"),
        ("CartPole-v1", "ppo-CartPole-v1"),
    ],
)
def test_namespaced_and_module_ids_make_flat_names(env_id: str, name: str) -> None:
    assert default_run_dir("ppo", env_id, 0).parts[1] == name


def test_image_observations_are_not_normalised() -> None:
    import rlcore.envs  # noqa: F401  (registers rlcore/PixelCatch-v0)

    with pytest.raises(ValueError, match=r"normalize_observation: 'rlcore/PixelCatch-v0' gives images"):
        make_envs(RunConfig(env_id="rlcore/PixelCatch-v0"), 2, normalize_observation=True)


@pytest.mark.parametrize("limit", [1, 7, 30])
def test_max_episode_steps_truncates_training_and_evaluation_episodes_like_time_limit(limit):
    config = tiny_config(None, env_id="Pendulum-v1", max_episode_steps=limit)
    envs = make_envs(config, 2)
    eval_envs = make_envs(config, 2, evaluation_of=envs)
    # The reference: Gymnasium's TimeLimit around each env by hand (Pendulum's own limit is 200).
    references = [single.TimeLimit(gym.make("Pendulum-v1"), max_episode_steps=limit) for _ in range(2)]
    for vector in (envs, eval_envs):
        vector.reset(seed=[5, 6])
        [env.reset(seed=seed) for env, seed in zip(references, (5, 6))]
        for _ in range(2 * limit + 3):
            actions = np.full((2, 1), 0.5, dtype=np.float32)
            _, rewards, terminated, truncated, info = vector.step(actions)
            expected = [env.step(action) for env, action in zip(references, actions)]
            np.testing.assert_allclose(rewards, [e[1] for e in expected], rtol=1e-6)
            np.testing.assert_array_equal(truncated, [e[3] for e in expected])
            assert not terminated.any()
            for i, e in enumerate(expected):
                if e[3]:
                    assert info["episode"]["l"][i] == limit
                    references[i].reset()
        vector.close()


def test_max_episode_steps_zero_keeps_the_envs_own_limit():
    envs = make_envs(tiny_config(None, env_id="Pendulum-v1"), 1)
    envs.reset(seed=0)
    lengths = []
    for _ in range(200):
        *_, truncated, info = envs.step(np.zeros((1, 1), dtype=np.float32))
        if truncated[0]:
            lengths.append(int(info["episode"]["l"][0]))
    assert lengths == [200]
    with pytest.raises(ValueError, match="max_episode_steps"):
        tiny_config(None, max_episode_steps=-1)
