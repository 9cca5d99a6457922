"""rlcore's buffers, GAE and RunningMeanStd side by side with Stable-Baselines3, in one run.

Prints a Markdown table of per-operation times (median over repeats, ``time.perf_counter``)
and the ratio rlcore / SB3 (below 1: rlcore is faster or smaller), plus the memory of 50k
Atari-shaped transitions computed from the allocated arrays' ``nbytes``. SB3 and rlcore are
timed in alternating repeats so that drift in the machine's load hits both alike.

    python benchmarks/bench_buffers.py            # about a minute
    python benchmarks/bench_buffers.py --quick    # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import NStepReplayBuffer as SB3NStepReplayBuffer
from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer
from stable_baselines3.common.buffers import RolloutBuffer as SB3RolloutBuffer
from stable_baselines3.common.running_mean_std import RunningMeanStd as SB3RunningMeanStd

import rlcore
from rlcore.buffers import ReplayBuffer, RolloutBuffer
from rlcore.returns import gae
from rlcore.stats import RunningMeanStd

NUM_ENVS = 8
CARTPOLE_OBS = spaces.Box(-np.inf, np.inf, (4,), np.float32)
CARTPOLE_ACT = spaces.Discrete(2)
ATARI_OBS = spaces.Box(0, 255, (4, 84, 84), np.uint8)
ATARI_ACT = spaces.Discrete(6)
GiB = 1024**3


def median_times(fns: list[Callable[[], object]], number: int, repeats: int) -> list[float]:
    """Median seconds per call of each function, the functions timed in alternating repeats."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, samples in zip(fns, times):
            gc.disable()
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
            gc.enable()
    return [statistics.median(samples) for samples in times]


def cartpole_step(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    obs = rng.standard_normal((NUM_ENVS, 4)).astype(np.float32)
    next_obs = rng.standard_normal((NUM_ENVS, 4)).astype(np.float32)
    actions = rng.integers(0, 2, NUM_ENVS)
    rewards = np.ones(NUM_ENVS, dtype=np.float32)
    terminated = rng.random(NUM_ENVS) < 0.01
    truncated = rng.random(NUM_ENVS) < 0.01
    return obs, next_obs, actions, rewards, terminated, truncated


def bench_replay(number: int, repeats: int, fill: int) -> list[tuple[str, float, float, str]]:
    rng = np.random.default_rng(0)
    rows = []
    sb3 = SB3ReplayBuffer(100_000, CARTPOLE_OBS, CARTPOLE_ACT, device="cpu", n_envs=NUM_ENVS)
    ours = ReplayBuffer(
        100_000, CARTPOLE_OBS, CARTPOLE_ACT, num_envs=NUM_ENVS, autoreset_mode="SameStep", seed=0
    )
    ours_next = ReplayBuffer(
        100_000, CARTPOLE_OBS, CARTPOLE_ACT, num_envs=NUM_ENVS, autoreset_mode="NextStep", seed=0
    )
    obs, next_obs, actions, rewards, terminated, truncated = cartpole_step(rng)
    dones = terminated | truncated
    # The SB3 call includes building its infos list, which a user must do for timeouts.
    t_sb3, t_ours, t_next = median_times(
        [
            lambda: sb3.add(
                obs, next_obs, actions, rewards, dones, [{"TimeLimit.truncated": bool(t)} for t in truncated]
            ),
            lambda: ours.add(obs, next_obs, actions, rewards, terminated, truncated),
            lambda: ours_next.add(obs, next_obs, actions, rewards, terminated, truncated),
        ],
        number,
        repeats,
    )
    rows.append(("ReplayBuffer.add, 8 envs, CartPole shapes (SAME_STEP)", t_sb3, t_ours, "<= 0.67"))
    rows.append(("ReplayBuffer.add, same, with NEXT_STEP autoreset bookkeeping", t_sb3, t_next, ""))

    for _ in range(fill // NUM_ENVS):
        obs, next_obs, actions, rewards, terminated, truncated = cartpole_step(rng)
        sb3.add(
            obs,
            next_obs,
            actions,
            rewards,
            terminated | truncated,
            [{"TimeLimit.truncated": bool(t)} for t in truncated],
        )
        ours.add(obs, next_obs, actions, rewards, terminated, truncated)
    t_sb3, t_ours = median_times(
        [lambda: sb3.sample(256), lambda: ours.sample(256)], max(1, number // 20), repeats
    )
    rows.append((f"ReplayBuffer.sample(256), {fill} stored", t_sb3, t_ours, "<= 0.67"))

    # n-step: SB3's NStepReplayBuffer (3-step returns, computed at sampling as rlcore does).
    sb3_n = SB3NStepReplayBuffer(
        100_000, CARTPOLE_OBS, CARTPOLE_ACT, device="cpu", n_envs=NUM_ENVS, n_steps=3
    )
    ours_n = ReplayBuffer(
        100_000, CARTPOLE_OBS, CARTPOLE_ACT, num_envs=NUM_ENVS, autoreset_mode="SameStep", n_step=3, seed=0
    )
    for _ in range(fill // NUM_ENVS):
        obs, next_obs, actions, rewards, terminated, truncated = cartpole_step(rng)
        infos = [{"TimeLimit.truncated": bool(t)} for t in truncated]
        sb3_n.add(obs, next_obs, actions, rewards, terminated | truncated, infos)
        ours_n.add(obs, next_obs, actions, rewards, terminated, truncated)
    t_sb3, t_ours = median_times(
        [lambda: sb3_n.sample(256), lambda: ours_n.sample(256)], max(1, number // 20), repeats
    )
    rows.append((f"ReplayBuffer.sample(256), n_step=3, {fill} stored", t_sb3, t_ours, ""))
    return rows


def bench_atari_throughput(number: int, repeats: int) -> list[tuple[str, float, float, str]]:
    """Add and sample(32) of 8 envs' (4, 84, 84) uint8 stacks: SB3 plain vs rlcore frames once."""
    capacity, length = 5_000, number + 4
    rng = np.random.default_rng(0)
    # Each env's frames in order; the stacks of step t are the views seq[:, t : t + 4].
    seq = rng.integers(0, 256, (NUM_ENVS, length, 84, 84), dtype=np.uint8)
    actions = np.zeros(NUM_ENVS, dtype=np.int64)
    rewards = np.ones(NUM_ENVS, dtype=np.float32)
    no = np.zeros(NUM_ENVS, dtype=bool)
    end = np.ones(NUM_ENVS, dtype=bool)  # each timed pass is one episode, so the next restarts cleanly
    sb3 = SB3ReplayBuffer(capacity, ATARI_OBS, ATARI_ACT, device="cpu", n_envs=NUM_ENVS)
    checked = ReplayBuffer(
        capacity, ATARI_OBS, ATARI_ACT, num_envs=NUM_ENVS, autoreset_mode="SameStep", store_frames_once=True
    )
    unchecked = ReplayBuffer(
        capacity,
        ATARI_OBS,
        ATARI_ACT,
        num_envs=NUM_ENVS,
        autoreset_mode="SameStep",
        store_frames_once=True,
        check_frames=False,
    )
    infos = [{"TimeLimit.truncated": False} for _ in range(NUM_ENVS)]

    def stepper(add: Callable[[np.ndarray, np.ndarray, np.ndarray], None]) -> Callable[[], None]:
        t = 0

        def step() -> None:
            nonlocal t
            add(seq[:, t : t + 4], seq[:, t + 1 : t + 5], end if t == number - 1 else no)
            t = (t + 1) % number

        return step

    t_sb3, t_checked, t_unchecked = median_times(
        [
            stepper(lambda obs, nxt, done: sb3.add(obs, nxt, actions, rewards, done, infos)),
            stepper(lambda obs, nxt, done: checked.add(obs, nxt, actions, rewards, done, no)),
            stepper(lambda obs, nxt, done: unchecked.add(obs, nxt, actions, rewards, done, no)),
        ],
        number,
        repeats,
    )
    t_sb3_sample, t_ours_sample = median_times(
        [lambda: sb3.sample(32), lambda: checked.sample(32)], max(1, number // 2), repeats
    )
    return [
        ("Atari add, 8 envs: SB3 plain vs frames once (check_frames=True)", t_sb3, t_checked, ""),
        ("Atari add, 8 envs: SB3 plain vs frames once (check_frames=False)", t_sb3, t_unchecked, ""),
        ("Atari sample(32): SB3 plain vs frames once", t_sb3_sample, t_ours_sample, ""),
    ]


def atari_memory(capacity: int) -> list[tuple[str, float, str]]:
    # np.zeros maps zero pages lazily, so building the buffers reserves address space but
    # touches no memory; the figures are the nbytes of the arrays each buffer allocated.
    plain = SB3ReplayBuffer(
        capacity, ATARI_OBS, ATARI_ACT, device="cpu", n_envs=NUM_ENVS, handle_timeout_termination=True
    )
    plain_bytes = sum(
        a.nbytes
        for a in (
            plain.observations,
            plain.next_observations,
            plain.actions,
            plain.rewards,
            plain.dones,
            plain.timeouts,
        )
    )
    del plain
    optimized = SB3ReplayBuffer(
        capacity,
        ATARI_OBS,
        ATARI_ACT,
        device="cpu",
        n_envs=NUM_ENVS,
        optimize_memory_usage=True,
        handle_timeout_termination=False,  # SB3 cannot combine the two (SB3#934)
    )
    optimized_bytes = sum(
        a.nbytes
        for a in (
            optimized.observations,
            optimized.actions,
            optimized.rewards,
            optimized.dones,
            optimized.timeouts,
        )
    )
    del optimized
    ours = ReplayBuffer(
        capacity, ATARI_OBS, ATARI_ACT, num_envs=NUM_ENVS, autoreset_mode="SameStep", store_frames_once=True
    )
    ours_bytes = ours.nbytes
    del ours
    gc.collect()
    return [
        ("SB3 ReplayBuffer, timeouts handled", plain_bytes, "1.00"),
        (
            "SB3 optimize_memory_usage=True (timeouts NOT handled)",
            optimized_bytes,
            f"{optimized_bytes / plain_bytes:.3f}",
        ),
        (
            "rlcore store_frames_once=True, truncation handled",
            ours_bytes,
            f"{ours_bytes / plain_bytes:.3f} (goal <= 0.15)",
        ),
    ]


def bench_gae(number: int, repeats: int) -> list[tuple[str, float, float, str]]:
    steps = 2048
    rng = np.random.default_rng(0)
    rewards = rng.standard_normal((steps, NUM_ENVS)).astype(np.float32)
    values = rng.standard_normal((steps, NUM_ENVS)).astype(np.float32)
    terminated = rng.random((steps, NUM_ENVS)) < 0.005
    truncated = rng.random((steps, NUM_ENVS)) < 0.005
    last_values = rng.standard_normal(NUM_ENVS).astype(np.float32)
    next_values = np.concatenate([values[1:], last_values[None]])

    sb3 = SB3RolloutBuffer(
        steps, CARTPOLE_OBS, CARTPOLE_ACT, device="cpu", gamma=0.99, gae_lambda=0.95, n_envs=NUM_ENVS
    )
    sb3.rewards[:], sb3.values[:] = rewards, values
    sb3.episode_starts[1:] = terminated[:-1] | truncated[:-1]
    sb3.full = True
    last_tensor = torch.from_numpy(last_values)
    last_done = terminated[-1] | truncated[-1]

    ours = RolloutBuffer(steps, CARTPOLE_OBS, CARTPOLE_ACT, num_envs=NUM_ENVS, autoreset_mode="SameStep")
    obs, actions = np.zeros((NUM_ENVS, 4), np.float32), np.zeros(NUM_ENVS, np.int64)
    for t in range(steps):
        ours.add(obs, actions, values[t], rewards[t], values[t], terminated[t], truncated[t], values[t])

    t_sb3, t_ours, t_buffer = median_times(
        [
            lambda: sb3.compute_returns_and_advantage(last_tensor, last_done),
            lambda: gae(rewards, values, next_values, terminated, truncated, gamma=0.99, lam=0.95),
            lambda: ours.compute_returns_and_advantages(last_values),
        ],
        number,
        repeats,
    )
    return [
        ("gae, 2048 steps x 8 envs vs SB3 compute_returns_and_advantage", t_sb3, t_ours, "<= 0.20"),
        ("RolloutBuffer.compute_returns_and_advantages (gae + flatten to torch)", t_sb3, t_buffer, ""),
    ]


def bench_running_mean_std(number: int, repeats: int) -> list[tuple[str, float, float, str]]:
    batch = np.random.default_rng(0).standard_normal((NUM_ENVS, 4))
    sb3 = SB3RunningMeanStd(shape=(4,))
    ours = RunningMeanStd(shape=(4,))
    t_sb3, t_ours = median_times([lambda: sb3.update(batch), lambda: ours.update(batch)], number, repeats)
    return [("RunningMeanStd.update, (8, 4) batch", t_sb3, t_ours, "")]


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repeats, small fill: a smoke run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    number, repeats, fill = (200, 3, 5_000) if args.quick else (5_000, 15, 50_000)
    gae_number = 3 if args.quick else 20

    print(
        f"rlcore {rlcore.__version__}, stable-baselines3 {stable_baselines3.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}"
        + (" (--quick)" if args.quick else "")
    )
    print()
    print("| operation | SB3 | rlcore | rlcore / SB3 | goal |")
    print("|---|---:|---:|---:|---:|")
    rows = bench_replay(number, repeats, fill)
    rows += bench_gae(gae_number, repeats)
    rows += bench_running_mean_std(number, repeats)
    rows += bench_atari_throughput(100 if args.quick else 1_000, repeats)
    for name, t_sb3, t_ours, goal in rows:
        print(f"| {name} | {fmt_time(t_sb3)} | {fmt_time(t_ours)} | {t_ours / t_sb3:.2f} | {goal} |")
    print()
    capacity = 5_000 if args.quick else 50_000
    print(
        f"Memory of {capacity:,} transitions of (4, 84, 84) uint8 frame stacks, {NUM_ENVS} envs (arrays' nbytes):"
    )
    print()
    print("| buffer | GiB | / SB3 plain |")
    print("|---|---:|---:|")
    for name, nbytes, ratio in atari_memory(capacity):
        print(f"| {name} | {nbytes / GiB:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
