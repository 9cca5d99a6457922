"""Tests of rlcore.evaluation against hand-rolled loops, SB3's evaluate_policy and a fake moviepy."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit

from rlcore.evaluation import EvaluationResult, evaluate
from rlcore.seeding import env_seeds


class CountdownEnv(gym.Env):
    """Episodes of a length drawn at reset (or fixed, or a function of the episode count).

    Observation: (steps left, step). Reward: 1 + 0.5 * action + 0.1 * length, so that returns
    grow with length and any bias towards short episodes moves the mean.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(
        self, fixed_length: int | None = None, env_id: int | None = None, render_mode: str | None = None
    ):
        self.observation_space = spaces.Box(0.0, 100.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.fixed_length, self.env_id, self.render_mode = fixed_length, env_id, render_mode
        self.episode, self.closed = -1, False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        if self.fixed_length is not None:
            self.length = self.fixed_length
        elif self.env_id is not None:
            self.length = 1 + (3 * self.episode + self.env_id) % 7
        else:
            self.length = int(self.np_random.integers(1, 12))
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        reward = 1.0 + 0.5 * int(action) + 0.1 * self.length
        return self._obs(), reward, self.t >= self.length, False, {}

    def render(self):
        return np.full((8, 8, 3), self.t, dtype=np.uint8)

    def close(self):
        self.closed = True

    def _obs(self):
        return np.array([self.length - self.t, self.t], dtype=np.float32)


def _make(**kwargs) -> gym.Env:
    return TimeLimit(CountdownEnv(**kwargs), max_episode_steps=8)  # lengths up to 11: some truncate


def single_policy(obs):
    return int(obs[0]) % 2


def batch_policy(obs):
    return obs[:, 0].astype(np.int64) % 2


def _hand_rolled(seed: int | None, episodes: int, **kwargs) -> list[tuple[float, int]]:
    env = _make(**kwargs)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(episodes):
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(single_policy(obs))
            total, steps, done = total + reward, steps + 1, terminated or truncated
        out.append((total, steps))
        obs, _ = env.reset()
    return out


def _pairs(result: EvaluationResult, index: int = 0) -> list[tuple[float, int]]:
    mask = result.env_indices == index
    return list(zip(result.episode_returns[mask].tolist(), result.episode_lengths[mask].tolist()))


# --------------------------------------------------------------------------- single env
def test_single_env_matches_a_hand_rolled_loop():
    result = evaluate(single_policy, _make(), n_episodes=6, seed=11)
    expected = _hand_rolled(env_seeds(11, 1, "eval")[0], 6)
    assert _pairs(result) == expected
    assert result.episode_returns.dtype == np.float64 and result.episode_lengths.dtype == np.int64
    assert result.env_indices.tolist() == [0] * 6
    truncated = evaluate(single_policy, _make(fixed_length=20), n_episodes=2, seed=0)
    assert truncated.episode_lengths.tolist() == [8, 8]  # TimeLimit truncation ends an episode too


def test_statistics_and_reproducibility():
    a = evaluate(single_policy, _make(), 20, seed=3)
    b = evaluate(single_policy, _make(), 20, seed=3)
    c = evaluate(single_policy, _make(), 20, seed=4)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
    assert not np.array_equal(a.episode_returns, c.episode_returns)
    assert a.mean_return == pytest.approx(np.mean(a.episode_returns))
    assert a.std_return == pytest.approx(np.std(a.episode_returns, ddof=0))
    assert a.mean_length == pytest.approx(np.mean(a.episode_lengths))
    assert a.std_length == pytest.approx(np.std(a.episode_lengths))
    assert repr(a).startswith("EvaluationResult(n_episodes=20, mean_return=")
    assert len(evaluate(single_policy, _make(), 3).episode_returns) == 3  # unseeded


def test_torch_policies_run_without_grad():
    def policy(obs):
        assert not torch.is_grad_enabled()
        return torch.as_tensor(obs[:, 0]).long() % 2

    envs = SyncVectorEnv([_make] * 2)
    result = evaluate(policy, envs, 4, seed=0)
    reference = evaluate(batch_policy, SyncVectorEnv([_make] * 2), 4, seed=0)
    np.testing.assert_array_equal(result.episode_returns, reference.episode_returns)


# --------------------------------------------------------------------------- vector env
@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_env_matches_hand_rolled_loops_per_sub_env(mode):
    n_episodes, num_envs, seed = 7, 3, 5
    envs = SyncVectorEnv([_make] * num_envs, autoreset_mode=mode)
    result = evaluate(batch_policy, envs, n_episodes, seed=seed)
    targets = [(n_episodes + i) // num_envs for i in range(num_envs)]
    assert targets == [2, 2, 3] and len(result.episode_returns) == n_episodes
    for i, sub_seed in enumerate(env_seeds(seed, num_envs, "eval")):
        assert _pairs(result, i) == _hand_rolled(sub_seed, targets[i]), f"sub-env {i}"


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_env_does_not_favour_short_episodes(mode):
    envs = SyncVectorEnv([lambda: _make(fixed_length=1), lambda: _make(fixed_length=6)], autoreset_mode=mode)
    result = evaluate(batch_policy, envs, 4, seed=0)
    # Stopping at the first four episodes to finish would have taken four 1-step episodes.
    assert sorted(result.episode_lengths.tolist()) == [1, 1, 6, 6]
    assert result.env_indices.tolist().count(0) == result.env_indices.tolist().count(1) == 2


class _SB3Model:
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return batch_policy(observation), None


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_vector_env_agrees_with_stable_baselines3_evaluate_policy(mode):
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    fns = [lambda i=i: _make(env_id=i) for i in range(3)]
    ours = evaluate(batch_policy, SyncVectorEnv(fns, autoreset_mode=mode), n_episodes=8)
    sb3_env = DummyVecEnv([lambda fn=fn: Monitor(fn()) for fn in fns])
    returns, lengths = evaluate_policy(_SB3Model(), sb3_env, n_eval_episodes=8, return_episode_rewards=True)
    # Monitor rounds returns to 6 significant digits.
    pairs = [(round(r, 4), n) for r, n in zip(ours.episode_returns.tolist(), ours.episode_lengths.tolist())]
    sb3_pairs = [(round(r, 4), n) for r, n in zip(returns, lengths)]
    if mode == AutoresetMode.SAME_STEP:  # the timeline of SB3's VecEnv: the same completion order
        assert pairs == sb3_pairs
    else:  # NEXT_STEP spends one extra step per episode on the reset: same episodes, other order
        assert sorted(pairs) == sorted(sb3_pairs)


# --------------------------------------------------------------------------- video
def _frames(path: Path) -> int:
    """The frames ffmpeg decodes from ``path`` (an independent reading of the file)."""
    import imageio_ffmpeg

    return int(imageio_ffmpeg.count_frames_and_secs(str(path))[0])


def test_video_recording_of_a_single_env_keeps_every_frame_and_the_env_open(tmp_path):
    inner = CountdownEnv(fixed_length=3, render_mode="rgb_array")
    env = TimeLimit(inner, 8)
    result = evaluate(single_policy, env, 2, seed=0, video_folder=tmp_path / "videos")
    assert result.episode_lengths.tolist() == [3, 3]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "eval-episode-0.mp4",
        "eval-episode-1.mp4",
    ]
    # The reset frame and one per step, every one written (moviepy alone drops some last frames).
    assert [_frames(tmp_path / "videos" / f"eval-episode-{k}.mp4") for k in (0, 1)] == [4, 4]
    assert not inner.closed


@pytest.mark.parametrize(("env_id", "episodes"), [("CartPole-v1", 2), ("Pendulum-v1", 1)])
def test_a_recorded_episode_decodes_to_its_number_of_frames(tmp_path, env_id, episodes):
    env = gym.make(env_id, render_mode="rgb_array")
    policy = (
        (lambda obs: int(obs[2] > 0)) if env_id == "CartPole-v1" else (lambda obs: np.zeros(1, np.float32))
    )
    result = evaluate(policy, env, episodes, seed=3, video_folder=tmp_path, video_name_prefix="step_5")
    env.close()
    import imageio_ffmpeg

    for k, length in enumerate(result.episode_lengths.tolist()):
        path = tmp_path / f"step_5-episode-{k}.mp4"
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        frames = list(reader)
        assert len(frames) == length + 1 == _frames(path)
        assert meta["codec"] == "h264" and meta["fps"] == env.metadata["render_fps"]
        width, height = meta["size"]
        assert len(frames[0]) == width * height * 3  # rgb24 frames of the rendered size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left


def test_video_recording_of_a_vector_env(tmp_path):
    envs = SyncVectorEnv([lambda: _make(fixed_length=2, render_mode="rgb_array")] * 2)
    evaluate(batch_policy, envs, 2, seed=0, video_folder=tmp_path / "videos", video_name_prefix="vec")
    written = sorted((tmp_path / "videos").iterdir())
    assert written and all(p.name.startswith("vec-") and p.suffix == ".mp4" for p in written)
    assert all(_frames(p) >= 1 for p in written)


def test_video_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(
        ValueError,
        match=r"evaluate: video_folder needs an env that renders images; got render_mode=None, expected 'rgb_array'",
    ):
        evaluate(single_policy, _make(), 1, video_folder=tmp_path)
    monkeypatch.setitem(sys.modules, "moviepy", None)  # what an absent package looks like to import
    with pytest.raises(
        ImportError,
        match=r"evaluate: video_folder needs moviepy, which is not installed; install it with pip install 'rlcore\[video\]'",
    ):
        evaluate(single_policy, _make(render_mode="rgb_array"), 1, video_folder=tmp_path)
    assert not list(tmp_path.iterdir())


def test_evaluate_rejects_bad_arguments():
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=rf"evaluate: n_episodes must be an int >= 1, got {bad!r}"):
            evaluate(single_policy, _make(), bad)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"evaluate: env must be a gymnasium.Env or gymnasium.vector.VectorEnv, got str"
    ):
        evaluate(single_policy, "CartPole-v1", 1)  # type: ignore[arg-type]
