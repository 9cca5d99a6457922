"""Environment steps per second: Gymnasium's ``SyncVectorEnv`` against ``AsyncVectorEnv``.

``AsyncVectorEnv`` runs each sub-env in its own worker process (1 and 2 workers below), so a
step costs a round trip through a pipe and shared memory; ``SyncVectorEnv`` steps the sub-envs
one after another in the main process. Which wins depends on how long one env step takes, so
three envs are timed:

* ``CartPole-v1``: a few microseconds per step, far below the cost of the round trip;
* ``Acrobot-v1``: an ODE integration per step, some tens of microseconds;
* ``CartPole-v1`` + 1 ms CPU: each step also burns 1 ms of the process's CPU time (a busy
  loop on ``time.process_time``), standing in for a simulator or a renderer.

Each configuration is also timed with rlcore's vector ``NormalizeObservation`` and
``NormalizeReward`` around the vector env: the wrappers and their statistics stay in the main
process whatever the vectorisation, and the column shows what they cost.

Env steps/s counts every sub-env's step (``num_envs`` per call of ``step``); actions are drawn
beforehand, so the policy costs nothing. Every number is the median over ``--repeats`` timed
windows of ``--seconds`` each, after a warm-up; sync and async are timed in alternating
windows so that drift in the machine's load hits both alike. Prints Markdown tables; asserts
nothing about time.

    python benchmarks/bench_vector.py            # about a minute and a half
    python benchmarks/bench_vector.py --quick    # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv, VectorEnv

import rlcore
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward


class BurnCPU(gym.Wrapper[Any, Any, Any, Any]):
    """Spend ``milliseconds`` of this process's CPU time on every step (a slow simulator).

    Busy-waiting on ``time.process_time`` rather than sleeping: a sleeping process leaves its
    core free, so sync would overlap nothing and async would look better than a real CPU-bound
    env allows; CPU time also excludes the time the process waits for a core on a busy machine.
    """

    def __init__(self, env: gym.Env[Any, Any], milliseconds: float) -> None:
        super().__init__(env)
        self.seconds = milliseconds / 1000.0

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        deadline = time.process_time() + self.seconds
        while time.process_time() < deadline:
            pass
        return self.env.step(action)


@dataclass(frozen=True)
class EnvSpec:
    label: str
    env_id: str
    burn_ms: float = 0.0

    def make(self) -> gym.Env[Any, Any]:
        env = gym.make(self.env_id)
        return BurnCPU(env, self.burn_ms) if self.burn_ms > 0 else env


SPECS = (
    EnvSpec("CartPole-v1", "CartPole-v1"),
    EnvSpec("Acrobot-v1", "Acrobot-v1"),
    EnvSpec("CartPole-v1 + 1 ms CPU", "CartPole-v1", burn_ms=1.0),
)


def make_vector(spec: EnvSpec, num_envs: int, mode: str, normalize: bool) -> VectorEnv:
    fns: list[Callable[[], gym.Env[Any, Any]]] = [spec.make] * num_envs
    envs: VectorEnv = SyncVectorEnv(fns) if mode == "sync" else AsyncVectorEnv(fns)
    if normalize:
        envs = NormalizeReward(NormalizeObservation(envs))
    return envs


def steps_per_second(envs: VectorEnv, actions: np.ndarray, seconds: float) -> float:
    """Env steps per second over a window of about ``seconds`` (counted in whole ``step`` calls)."""
    calls = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        # Check the clock every 16 calls: cheap next to a step, fine-grained enough.
        for _ in range(16):
            envs.step(actions[calls % len(actions)])
            calls += 1
        elapsed = time.perf_counter() - start
    return calls * envs.num_envs / elapsed


def bench(spec: EnvSpec, num_envs: int, normalize: bool, seconds: float, repeats: int) -> dict[str, float]:
    """Median env steps/s of sync and async for one env, number of sub-envs and wrapping."""
    vectors = {mode: make_vector(spec, num_envs, mode, normalize) for mode in ("sync", "async")}
    samples: dict[str, list[float]] = {mode: [] for mode in vectors}
    try:
        space = vectors["sync"].action_space
        space.seed(0)
        actions = np.stack([space.sample() for _ in range(1024)])
        for envs in vectors.values():
            envs.reset(seed=0)
            steps_per_second(envs, actions, min(0.2, seconds))  # warm-up: caches, lazy imports
        for _ in range(repeats):
            for mode, envs in vectors.items():
                samples[mode].append(steps_per_second(envs, actions, seconds))
    finally:
        for envs in vectors.values():
            envs.close()
    return {mode: statistics.median(values) for mode, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short windows, one repeat: a smoke run")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per configuration (median)")
    parser.add_argument(
        "--num-envs", type=int, nargs="+", default=[1, 2], help="sub-envs = async worker processes"
    )
    args = parser.parse_args()
    seconds, repeats = (0.2, 1) if args.quick else (args.seconds, args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"rlcore {rlcore.__version__}, gymnasium {gym.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start" + (" (--quick)" if args.quick else "")
    )
    print(f"median of {repeats} window(s) of {seconds:g} s; env steps/s summed over the sub-envs")
    for normalize in (False, True):
        print()
        print(
            "With rlcore's NormalizeObservation + NormalizeReward (main process):"
            if normalize
            else "Bare vector envs:"
        )
        print()
        print("| env | sub-envs (async workers) | sync steps/s | async steps/s | async / sync |")
        print("|---|---:|---:|---:|---:|")
        for spec in SPECS:
            for num_envs in args.num_envs:
                result = bench(spec, num_envs, normalize, seconds, repeats)
                print(
                    f"| {spec.label} | {num_envs} | {result['sync']:,.0f} | {result['async']:,.0f} | "
                    f"{result['async'] / result['sync']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
