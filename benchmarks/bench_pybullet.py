"""The generated project's PyBullet cart-pole: how fast it steps, and how fast PPO learns it.

Bakes a project with ``custom_env=pybullet`` and ``example_agent=ppo`` into a temporary folder,
imports it (which registers ``bench_ppo/CartPoleBullet-v0``, CartPole-v1's task on PyBullet
with a 500-step limit) and prints Markdown tables:

* the env's speed: steps per second of one env (unwrapped, random actions, no rendering),
  the cost of a reset and of a rendered frame (ours 320 x 240, CartPole-v1's 600 x 400), with
  CartPole-v1's beside it;
* the mean return of the uniformly random policy over 100 episodes;
* the template's PPO against Stable-Baselines3's PPO with the same hyperparameters (the
  project's ``ENV_DEFAULTS`` for the env, or CartPole-v1's until it has its own; printed),
  ``--seeds`` seeds (default 10), 100k steps each: the env steps and the wall-clock seconds
  until the mean return of a deterministic evaluation over 10 episodes on separate envs first
  reaches 475 (every 2,560 steps), the final return, the median and interquartile range over
  the seeds, and the ratios. The measurement is ``bench_agents.py``'s (imported from it): the
  same evaluation function and seeds, the evaluations off the clock, one torch thread, the
  side that goes first alternating from seed to seed;
* short runs, the budgets a unit test can afford (``--short-steps``, default 20,480 and
  30,720 steps, the learning rate and clip range annealed over that budget): the final
  evaluation's return (10 episodes) over the seeds, and each whole call's seconds, to set a
  test threshold with a margin.

    python benchmarks/bench_pybullet.py             # about 15 minutes on 2 cores
    python benchmarks/bench_pybullet.py --seeds 3   # fewer seeds
    python benchmarks/bench_pybullet.py --quick     # a smoke run of under a minute

The template (``custom_env=pybullet``) needs pybullet, which the ``pybullet`` extra of a
generated project installs; this script needs it and stable-baselines3 in the venv it runs in.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

from rlcore.evaluation import evaluate

# bench_agents.py's measurement (runs, evaluations, tables), so that both benchmarks measure alike.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agents import (
    SOLVED,
    Result,
    eval_envs,
    linear,
    median,
    print_header,
    ratio,
    run_sb3,
    run_template,
    solved_table,
)
from bench_agents import (
    bake as bake_project,
)

ENV_ID = "bench_ppo/CartPoleBullet-v0"
STEPS = 100_000
EVAL_EVERY = 2_560


# ---------------------------------------------------------------------------- the project
def bake(output: Path) -> ModuleType:
    """Generate a project with the PyBullet env and the PPO agent; import its PPO module.

    Importing the package registers the env's id, as in the project's own processes.
    """
    module = bake_project("ppo", output, custom_env="pybullet")
    assert ENV_ID in gym.registry, f"the baked project registers no {ENV_ID}"
    return module


def tuned_hyperparameters(module: ModuleType) -> dict[str, Any]:
    """The project's PPO settings for the env (``ENV_DEFAULTS``: the zoo's CartPole-v1 ones), but the run's budget."""
    tuned = module.ENV_DEFAULTS[ENV_ID]
    return {key: value for key, value in tuned.items() if key not in ("total_timesteps", "eval_every")}


def sb3_ppo(config: Any, seed: int) -> Callable[[Any], Any]:
    """SB3's PPO with the settings of the template's ``config`` (a ``PPOConfig``).

    SB3's ``MlpPolicy`` has separate tanh MLPs for the actor and the critic, as the template's.
    """
    if config.normalize_observation or config.normalize_reward or config.env_wrappers():
        # SB3 would need VecNormalize or its own wrappers: the two sides would differ.
        raise ValueError(f"sb3_ppo: no SB3 equivalent here for the env wrappers of {config}")
    learning_rate, clip = config.learning_rate, config.clip_coef
    return lambda env: PPO(
        "MlpPolicy",
        env,
        n_steps=config.num_steps,
        batch_size=config.batch_size,
        gae_lambda=config.gae_lambda,
        gamma=config.gamma,
        n_epochs=config.update_epochs,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        learning_rate=linear(learning_rate) if config.anneal_lr else learning_rate,
        clip_range=linear(clip) if config.anneal_clip else clip,
        policy_kwargs={"net_arch": list(config.hidden_sizes)},
        seed=seed,
        device="cpu",
    )


# ---------------------------------------------------------------------------- the env alone
def env_speed(steps: int) -> str:
    """Markdown: steps/s of one env (no wrappers, random actions), reset and render costs."""
    lines = ["### The env alone", "", "| env | steps / s | reset (us) | render (ms) |"]
    lines.append("| --- | ---: | ---: | ---: |")
    for env_id in (ENV_ID, "CartPole-v1"):
        env = gym.make(env_id, render_mode="rgb_array").unwrapped
        actions = np.random.default_rng(0).integers(0, 2, size=steps, dtype=np.int64)
        env.reset(seed=0)
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, _, _ = env.step(action)
            if terminated:
                env.reset()
        steps_per_second = steps / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(1_000):
            env.reset()
        reset_us = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        for _ in range(50):
            env.render()
        render_ms = (time.perf_counter() - start) / 50 * 1e3
        env.close()
        row = f"| {env_id} | {steps_per_second:,.0f} | {reset_us:.1f} | {render_ms:.2f} |"
        lines.append(row)
    return "\n".join([*lines, ""])


def random_policy_return(episodes: int) -> str:
    envs = eval_envs(ENV_ID)
    envs.action_space.seed(0)
    result = evaluate(lambda obs: envs.action_space.sample(), envs, episodes, seed=0)
    envs.close()
    returns = result.episode_returns
    return (
        f"Random policy over {episodes} episodes: mean return {result.mean_return:.1f} "
        f"(std {result.std_return:.1f}, min {returns.min():.0f}, max {returns.max():.0f}).\n"
    )


# ---------------------------------------------------------------------------- learning
def quantile(values: Sequence[float | None], q: float) -> float | None:
    """The ``q`` quantile (linear), a run that never got there counting as slower than all."""
    ordered = sorted(values, key=lambda v: (v is None, v))
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    if low is None or high is None:
        return None
    return low + (high - low) * (position - math.floor(position))


def spread_lines(runs: list[tuple[int, Result, Result]]) -> str:
    """Markdown: median and interquartile range over the seeds, each side, and the ratios."""
    measures: list[tuple[str, Callable[[Result], float | None], int]] = [
        ("env steps to 475", lambda r: _first(r, "step"), 0),
        ("wall s to 475", lambda r: _first(r, "seconds"), 1),
        ("CPU s to 475", lambda r: _first(r, "cpu_seconds"), 1),
        ("final return", lambda r: r.final_return, 1),
    ]
    lines = [
        "| measure | template median [IQR] | SB3 median [IQR] | ratio of medians |",
        "| --- | ---: | ---: | ---: |",
    ]
    sides = ([ours for _, ours, _ in runs], [theirs for _, _, theirs in runs])
    for name, get, digits in measures:
        cells = []
        for results in sides:
            values = [get(result) for result in results]
            q1, q2, q3 = (quantile(values, q) for q in (0.25, 0.5, 0.75))
            cells.append(f"{_number(q2, digits)} [{_number(q1, digits)}, {_number(q3, digits)}]")
        medians = [median([get(result) for result in results]) for results in sides]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {ratio(*medians)} |")
    return "\n".join([*lines, ""])


def _first(result: Result, attribute: str) -> float | None:
    evaluation = result.first(SOLVED)
    return None if evaluation is None else float(getattr(evaluation, attribute))


def _number(value: float | None, digits: int) -> str:
    return "never" if value is None else f"{value:,.{digits}f}"


def race(
    module: ModuleType, hyperparameters: dict[str, Any], seeds: Sequence[int], steps: int, workdir: Path
) -> str:
    """Both PPOs on every seed, alternating which goes first; the Markdown tables."""
    config = module.AGENT.config_for_env(ENV_ID, **hyperparameters)
    runs = []
    for seed in seeds:

        def ours(seed: int = seed) -> Result:
            run_dir = workdir / f"race-{seed}"
            return run_template(
                module, ENV_ID, seed, run_dir, total_timesteps=steps, eval_every=EVAL_EVERY, **hyperparameters
            )

        def theirs(seed: int = seed) -> Result:
            return run_sb3(sb3_ppo(config, seed), ENV_ID, config.num_envs, seed, steps, EVAL_EVERY)

        if seed % 2 == 0:
            result_ours, result_sb3 = ours(), theirs()
        else:
            result_sb3, result_ours = theirs(), ours()
        print(
            f"  seed {seed}: template {result_ours.first(SOLVED)} final {result_ours.final_return:.1f} | "
            f"SB3 {result_sb3.first(SOLVED)} final {result_sb3.final_return:.1f}",
            file=sys.stderr,
            flush=True,
        )
        runs.append((seed, result_ours, result_sb3))
    title = f"PPO on {ENV_ID}, {steps:,} steps"
    return solved_table(title, runs, SOLVED) + "\n" + spread_lines(runs)


def short_runs(
    module: ModuleType,
    hyperparameters: dict[str, Any],
    seeds: Sequence[int],
    budgets: Sequence[int],
    workdir: Path,
) -> str:
    """Markdown: what the template's PPO reaches in a unit test's budget, over the seeds."""
    lines = [
        f"### Short runs of the template's PPO ({len(seeds)} seeds): the final evaluation's mean return",
        "",
        "| steps | min | median | max | seeds >= 475 | seconds per run (median, max) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for budget in budgets:
        returns, seconds = [], []
        for seed in seeds:
            start = time.perf_counter()
            result = run_template(
                module,
                ENV_ID,
                seed,
                workdir / f"short-{budget}-{seed}",
                total_timesteps=budget,
                eval_every=0,
                **hyperparameters,
            )
            seconds.append(time.perf_counter() - start)
            returns.append(result.final_return)
        print(f"  {budget} steps: returns {sorted(returns)}", file=sys.stderr, flush=True)
        lines.append(
            f"| {budget:,} | {min(returns):.1f} | {statistics.median(returns):.1f} | {max(returns):.1f} "
            f"| {sum(r >= SOLVED for r in returns)}/{len(returns)} "
            f"| {statistics.median(seconds):.1f}, {max(seconds):.1f} |"
        )
    return "\n".join([*lines, ""])


def warm_up(module: ModuleType, hyperparameters: dict[str, Any], workdir: Path) -> None:
    """Pay the one-time costs (imports, lazy initialisation) before anything is timed."""
    config = module.AGENT.config_for_env(ENV_ID, **hyperparameters)
    run_template(module, ENV_ID, 0, workdir / "warm", total_timesteps=512, eval_every=256, **hyperparameters)
    run_sb3(sb3_ppo(config, 0), ENV_ID, config.num_envs, 0, 512, 256)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed and short budgets: a smoke run")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of each comparison (default 10)")
    parser.add_argument(
        "--short-steps",
        type=int,
        nargs="*",
        default=[20_480, 30_720],
        help="budgets of the short runs (default: 20480 30720); none: skip them",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [0] if args.quick else list(range(args.seeds))
    print_header("PyBullet cart-pole: the template's env and PPO", quick=args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-pybullet-") as tmp:
        workdir = Path(tmp)
        module = bake(workdir / "bake")
        hyperparameters = tuned_hyperparameters(module)
        source = "its own" if ENV_ID in module.ENV_DEFAULTS else "CartPole-v1's"
        print(env_speed(2_000 if args.quick else 50_000), flush=True)
        print(random_policy_return(10 if args.quick else 100), flush=True)
        print(f"PPO's hyperparameters ({source} ENV_DEFAULTS): {hyperparameters}\n", flush=True)
        warm_up(module, hyperparameters, workdir)
        steps = 5_120 if args.quick else STEPS
        print(race(module, hyperparameters, seeds, steps, workdir), flush=True)
        budgets = [2_048] if args.quick else args.short_steps
        if budgets:
            print(short_runs(module, hyperparameters, seeds, budgets, workdir), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
