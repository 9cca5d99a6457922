"""Atari games through rlcore (rlcore.wrappers.atari, rlcore.runs.make_envs), against references.

The reference pipeline is built by hand from Gymnasium's and ale-py's own pieces
(``gym.make(..., frameskip=1)`` and ``AtariPreprocessing``), and :class:`TerminalOnLifeLoss`
is checked against a naive loop over one env that counts lives itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from _runs_kit import AGENT, read_log, tiny_config
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import AtariPreprocessing
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from rlcore import runs
from rlcore.runs import make_envs
from rlcore.wrappers import FrameStack
from rlcore.wrappers.atari import (
    ENV_KWARGS,
    FRAME_SKIP,
    TerminalOnLifeLoss,
    is_atari,
    register_atari_envs,
    training_wrappers,
)

ale_py = pytest.importorskip("ale_py")
pytest.importorskip("cv2")
register_atari_envs()


class LivesEnv(gym.Env[np.ndarray, int]):
    """A game of ``lives`` lives, one lost every ``every`` steps; rewards of several sizes and signs."""

    def __init__(self, lives: int = 3, every: int = 3) -> None:
        self.observation_space = spaces.Box(0, 255, (2,), np.uint8)
        self.action_space = spaces.Discrete(2)
        self.start_lives, self.every = lives, every

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t, self.lives = 0, self.start_lives
        self.offset = int(self.np_random.integers(0, 50))
        return self._obs(), {"lives": self.lives}

    def _obs(self) -> np.ndarray:
        return np.array([self.t + self.offset, self.lives], dtype=np.uint8)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        if self.t % self.every == 0:
            self.lives -= 1
        reward = float((self.t % 5) - 2) * 3.0 + action
        return self._obs(), reward, self.lives == 0, False, {"lives": self.lives}


def lives_envs(num_envs: int, **kwargs: Any) -> SyncVectorEnv:
    return SyncVectorEnv(
        [lambda: LivesEnv(**kwargs) for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
    )


def test_is_atari_knows_ale_ids_and_nothing_else():
    assert is_atari("ALE/Pong-v5") and is_atari("ale_py:ALE/Breakout-v5")
    assert is_atari("PongNoFrameskip-v4")  # registered by ale_py
    assert not is_atari("CartPole-v1") and not is_atari("rlcore/PixelCatch-v0") and not is_atari("Nope-v0")


def test_a_missing_ale_py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # as if not installed: importing it raises
    with pytest.raises(ImportError, match=r"rlcore\[atari\]"):
        register_atari_envs()
    with pytest.raises(ValueError, match=r"ALE/Pong-v5.*rlcore\[atari\]"):
        runs.check_env_id("ALE/Pong-v5")


def reference_env(env_id: str) -> gym.Env[Any, Any]:
    env = gym.make(env_id, frameskip=1, max_num_frames_per_episode=108_000)
    return AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)


@pytest.mark.parametrize("vector_mode", ["sync", "async"])
def test_make_envs_is_the_standard_pipeline_and_training_rewards_are_signs(vector_mode):
    config = tiny_config(None, env_id="ALE/Pong-v5", vector_mode=vector_mode)
    envs = make_envs(config, 2)
    eval_envs = make_envs(config, 2, evaluation_of=envs)
    references = [reference_env("ALE/Pong-v5") for _ in range(2)]
    assert envs.single_observation_space == spaces.Box(0, 255, (84, 84), np.uint8)
    obs, _ = envs.reset(seed=[3, 4])
    eval_obs, _ = eval_envs.reset(seed=[3, 4])
    ref_obs = [env.reset(seed=seed)[0] for env, seed in zip(references, (3, 4))]
    np.testing.assert_array_equal(obs, np.stack(ref_obs))
    np.testing.assert_array_equal(eval_obs, obs)
    rng = np.random.default_rng(0)
    nonzero = 0
    for _ in range(400):
        actions = rng.integers(0, envs.single_action_space.n, size=2)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        eval_obs, eval_rewards, *_ = eval_envs.step(actions)
        steps = [env.step(int(a)) for env, a in zip(references, actions)]
        np.testing.assert_array_equal(obs, np.stack([s[0] for s in steps]))
        np.testing.assert_array_equal(eval_obs, obs)
        raw = np.array([s[1] for s in steps])
        np.testing.assert_array_equal(eval_rewards, raw)  # evaluation: the game's own rewards
        np.testing.assert_array_equal(rewards, np.sign(raw))  # training: clipped to their sign
        nonzero += int(np.count_nonzero(raw))
        assert not (terminated | truncated).any()  # a Pong game lasts longer
    assert nonzero > 0, "no reward in 400 steps: the comparison of rewards saw nothing"
    envs.close()
    eval_envs.close()


def test_env_kwargs_make_an_unskipped_game_capped_at_108k_frames():
    env = gym.make("ALE/Breakout-v5", **ENV_KWARGS)
    assert env.spec is not None and env.spec.kwargs["frameskip"] == 1
    assert env.spec.kwargs["max_num_frames_per_episode"] == 108_000
    assert env.spec.kwargs["repeat_action_probability"] == 0.25  # v5's sticky actions are kept
    env.close()


def naive_life_loss(num_envs: int, actions: np.ndarray, seeds: list[int], **kwargs: Any) -> list[list[tuple]]:
    """Each env stepped alone: (obs, reward, terminated-for-the-learner, game over) per step, reset at game over."""
    out = []
    for i in range(num_envs):
        env = LivesEnv(**kwargs)
        obs, info = env.reset(seed=seeds[i])
        lives, rows = info["lives"], []
        for action in actions[:, i]:
            obs, reward, game_over, _, info = env.step(int(action))
            rows.append((obs, reward, game_over or info["lives"] < lives, game_over))
            lives = info["lives"]
            if game_over:
                obs, info = env.reset()
                lives = info["lives"]
                rows[-1] = (*rows[-1], obs)
        out.append(rows)
    return out


@pytest.mark.parametrize("every", [1, 2, 3])
def test_terminal_on_life_loss_against_a_naive_loop(every):
    num_envs, steps = 3, 40
    envs = training_wrappers(
        RecordEpisodeStatistics(lives_envs(num_envs, every=every)), terminal_on_life_loss=True
    )
    actions = np.random.default_rng(every).integers(0, 2, size=(steps, num_envs))
    seeds = [11, 12, 13]
    reference = naive_life_loss(num_envs, actions, seeds, every=every)
    envs.reset(seed=seeds)
    game_returns: list[list[float]] = [[] for _ in range(num_envs)]
    raw_sums = np.zeros(num_envs)
    for t in range(steps):
        obs, rewards, terminated, truncated, info = envs.step(actions[t])
        for i in range(num_envs):
            row = reference[i][t]
            raw_sums[i] += row[1]
            assert rewards[i] == np.sign(row[1])
            assert bool(terminated[i]) == row[2], (t, i)
            assert not truncated[i]
            if row[2]:  # the learner's episode ended: final_obs is the real next observation
                assert info["_final_obs"][i]
                np.testing.assert_array_equal(info["final_obs"][i], row[0])
            if row[3]:  # the game ended: its whole, unclipped return is logged
                assert info["_episode"][i]
                assert info["episode"]["r"][i] == pytest.approx(raw_sums[i])
                game_returns[i].append(raw_sums[i])
                raw_sums[i] = 0.0
                np.testing.assert_array_equal(obs[i], row[4])
            else:
                assert not ("_episode" in info and info["_episode"][i])
                np.testing.assert_array_equal(obs[i], row[0])  # the game goes on: no reset
    assert all(game_returns), "no game ended: the test saw no episode statistics"


def test_terminal_on_life_loss_refuses_other_autoreset_modes_and_envs_without_lives():
    next_step = SyncVectorEnv([LivesEnv], autoreset_mode=AutoresetMode.NEXT_STEP)
    with pytest.raises(ValueError, match="SAME_STEP"):
        TerminalOnLifeLoss(next_step)
    no_lives = TerminalOnLifeLoss(
        gym.make_vec(
            "CartPole-v1",
            1,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        )
    )
    with pytest.raises(ValueError, match=r"info\['lives'\]"):
        no_lives.reset(seed=0)


def test_terminal_on_life_loss_needs_an_atari_game():
    with pytest.raises(ValueError, match="terminal_on_life_loss.*CartPole-v1"):
        tiny_config(None, terminal_on_life_loss=True)


def test_breakout_loses_lives_as_episode_ends_and_logs_whole_games():
    config = tiny_config(None, env_id="ALE/Breakout-v5", terminal_on_life_loss=True)
    envs = make_envs(config, 1)
    envs.reset(seed=0)
    ends = games = 0
    rng = np.random.default_rng(0)
    while games < 1:
        _, _, terminated, _, info = envs.step(rng.integers(0, 4, size=1))
        ends += int(terminated[0])
        if "_episode" in info and info["_episode"][0]:
            games += 1
            assert info["episode"]["l"][0] > 50
    assert ends == 5  # one for each of Breakout's 5 lives, the last one the game's end
    envs.close()


def test_a_run_on_pong_logs_frames_and_uses_the_agents_frame_stack(tmp_path):
    config = tiny_config(
        tmp_path / "run",
        env_id="ALE/Pong-v5",
        total_timesteps=64,
        num_steps=16,
        eval_every=32,
        checkpoint_every=0,
        eval_episodes=1,
        final_eval_episodes=1,
    )
    summary = AGENT.train(config)  # through rlcore.runs.Run: what it logs, any agent logs
    assert summary["frames"] == 64 * FRAME_SKIP and summary["step"] == 64
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["frames"] == 256
    rows = read_log(tmp_path / "run")
    assert rows and all(int(row["time/frames"]) == FRAME_SKIP * int(row["step"]) for row in rows)
    assert summary["mean_return"] <= -19  # a whole game of Pong, unclipped (the score is -21 to 21)


def test_frame_stack_on_atari_frames():
    config = tiny_config(None, env_id="ALE/Pong-v5")

    class Stacked(type(config)):  # type: ignore[misc]
        def env_wrappers(self):
            return (lambda env: FrameStack(env, num_stack=4),)

    envs = make_envs(Stacked(env_id="ALE/Pong-v5"), 2)
    assert envs.single_observation_space.shape == (4, 84, 84)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    envs.close()
