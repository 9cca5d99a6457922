"""Per-step overhead of rlcore's wrappers against what users would use instead, side by side in one run.

Single env: rlcore's NormalizeObservation + NormalizeReward + FrameStack against Gymnasium's
NormalizeObservation + NormalizeReward + FrameStackObservation. Vector (8 sync envs): rlcore's
vector twins against Gymnasium's vector normalisers (Gymnasium has no vector frame stack) and
against Stable-Baselines3's DummyVecEnv + VecNormalize + VecFrameStack.

Overhead = time per step of the wrapped env minus that of the same bare env, so each stack is
charged only for its wrappers. Rounds are interleaved (every contender once per round) and the
median over rounds is reported; ratios are what matter, absolute times on a shared machine are
noise. Run: ``python benchmarks/bench_wrappers.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv

from rlcore.wrappers import FrameStack, NormalizeObservation, NormalizeReward
from rlcore.wrappers import vector as rv

N_ENVS = 8
K = 4


class ImageEnv(gym.Env[np.ndarray, int]):
    """Atari-shaped 84x84 uint8 frames cycled from a pool: a near-free env, so wrapper costs show."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0, 255, (84, 84), np.uint8)
        self.action_space = spaces.Discrete(2)
        self._pool = np.random.default_rng(0).integers(0, 256, (16, 84, 84), dtype=np.uint8)
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._pool[0].copy(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t += 1
        return self._pool[self._t % 16].copy(), float(self._t % 3), False, self._t >= 500, {}


def cartpole() -> gym.Env:
    return gym.make("CartPole-v1", disable_env_checker=True)


def image() -> gym.Env:
    return gym.wrappers.TimeLimit(ImageEnv(), 500)


# ----------------------------------------------------------------------------- steppers
def single_stepper(env: gym.Env) -> Callable[[], None]:
    env.reset(seed=0)
    env.action_space.seed(0)
    action = env.action_space.sample()

    def step() -> None:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()

    return step


def vector_stepper(env: gym.vector.VectorEnv) -> Callable[[], None]:
    env.reset(seed=0)
    actions = np.zeros(env.num_envs, dtype=np.int64)
    return lambda: env.step(actions)


def sb3_stepper(env: Any) -> Callable[[], None]:
    env.seed(0)
    env.reset()
    actions = np.zeros(env.num_envs, dtype=np.int64)

    def step() -> None:
        env.step_async(actions)
        env.step_wait()

    return step


def measure(steppers: dict[str, Callable[[], None]], steps: int, rounds: int) -> dict[str, float]:
    """Median microseconds per step of each stepper, rounds interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in steppers}
    for fn in steppers.values():  # warm-up: statistics away from zero, caches warm
        for _ in range(200):
            fn()
    for _ in range(rounds):
        for name, fn in steppers.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            samples[name].append((time.perf_counter() - start) / steps * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


# ----------------------------------------------------------------------------- scenarios
def single_scenarios(
    make: Callable[[], gym.Env], steps: int, rounds: int
) -> list[tuple[str, float, float, float]]:
    W = gym.wrappers
    contenders = {
        "bare": single_stepper(make()),
        "gym NormalizeObservation": single_stepper(W.NormalizeObservation(make())),
        "rlcore NormalizeObservation": single_stepper(NormalizeObservation(make())),
        "gym NormalizeReward": single_stepper(W.NormalizeReward(make())),
        "rlcore NormalizeReward": single_stepper(NormalizeReward(make())),
        "gym FrameStackObservation": single_stepper(W.FrameStackObservation(make(), K)),
        "rlcore FrameStack": single_stepper(FrameStack(make(), K)),
        "gym all three": single_stepper(
            W.FrameStackObservation(W.NormalizeReward(W.NormalizeObservation(make())), K)
        ),
        "rlcore all three": single_stepper(FrameStack(NormalizeReward(NormalizeObservation(make())), K)),
    }
    times = measure(contenders, steps, rounds)
    bare = times["bare"]
    rows = []
    for what in ("NormalizeObservation", "NormalizeReward", "all three"):
        gym_name = f"gym {what}" if what != "FrameStack" else "gym FrameStackObservation"
        rows.append((what, times[gym_name] - bare, times[f"rlcore {what}"] - bare, bare))
    rows.insert(
        2, ("FrameStack", times["gym FrameStackObservation"] - bare, times["rlcore FrameStack"] - bare, bare)
    )
    return rows


def vector_scenarios(
    make: Callable[[], gym.Env], steps: int, rounds: int
) -> list[tuple[str, str, float, float, float, float]]:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecNormalize

    GV = gym.wrappers.vector

    def sync() -> gym.vector.VectorEnv:
        return SyncVectorEnv([make] * N_ENVS)

    def dummy() -> Any:
        return DummyVecEnv([make] * N_ENVS)

    is_image = len(sync().single_observation_space.shape) == 2
    contenders = {
        "bare sync": vector_stepper(sync()),
        "bare dummy": sb3_stepper(dummy()),
        "gym norm obs+rew": vector_stepper(GV.NormalizeReward(GV.NormalizeObservation(sync()))),
        "rlcore norm obs+rew": vector_stepper(rv.NormalizeReward(rv.NormalizeObservation(sync()))),
        "sb3 VecNormalize+VecFrameStack": sb3_stepper(
            VecFrameStack(VecNormalize(dummy(), norm_obs=not is_image), K, "first")
        ),
        "rlcore norm+FrameStack": vector_stepper(
            rv.FrameStack(rv.NormalizeReward(sync() if is_image else rv.NormalizeObservation(sync())), K)
        ),
    }
    times = measure(contenders, steps, rounds)
    what_sb3 = "norm rew + stack" if is_image else "norm obs+rew + stack"
    return [
        (
            "Gymnasium",
            "norm obs+rew",
            times["gym norm obs+rew"] - times["bare sync"],
            times["rlcore norm obs+rew"] - times["bare sync"],
            times["bare sync"],
            times["bare sync"],
        ),
        (
            "SB3",
            what_sb3,
            times["sb3 VecNormalize+VecFrameStack"] - times["bare dummy"],
            times["rlcore norm+FrameStack"] - times["bare sync"],
            times["bare dummy"],
            times["bare sync"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    args = parser.parse_args()
    steps, rounds = (300, 3) if args.quick else (2000, 9)

    print(f"## Single env: per-step overhead (us), median of {rounds} interleaved rounds of {steps} steps\n")
    print("| env | wrappers | Gymnasium | rlcore | rlcore / Gymnasium |")
    print("|---|---|---:|---:|---:|")
    for env_name, make in (("CartPole-v1", cartpole), ("84x84 uint8", image)):
        rows = single_scenarios(make, steps, rounds)
        for what, gym_over, rl_over, bare in rows:
            print(
                f"| {env_name} (bare {bare:.1f} us) | {what} | {gym_over:.1f} | {rl_over:.1f} | {rl_over / gym_over:.2f}x |"
            )

    print(f"\n## {N_ENVS} vector envs: per-step overhead (us) over the same bare vector env\n")
    print("| env | against | wrappers | theirs | rlcore | rlcore / theirs |")
    print("|---|---|---|---:|---:|---:|")
    for env_name, make in (("CartPole-v1", cartpole), ("84x84 uint8", image)):
        for against, what, theirs, ours, bare_theirs, bare_ours in vector_scenarios(make, steps // 2, rounds):
            print(
                f"| {env_name} (bare {bare_ours:.0f} us sync / {bare_theirs:.0f} us SB3) | {against} | {what} "
                f"| {theirs:.1f} | {ours:.1f} | {ours / theirs:.2f}x |"
            )


if __name__ == "__main__":
    main()
