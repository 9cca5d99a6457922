"""The template's example agents against Stable-Baselines3 with the same hyperparameters, in one run.

Bakes two projects from this template (``example_agent=ppo`` and ``dqn``) into a temporary
folder, imports their agents, and trains them side by side with SB3 on this machine with one
torch thread, alternating which goes first from seed to seed so that drift in the machine's load
hits both alike. Prints Markdown tables:

* PPO on CartPole-v1 (12 seeds, 100k steps) and DQN on CartPole-v1 (3 seeds, 100k steps), with
  the rl-baselines3-zoo hyperparameters for both: the env steps and the wall-clock seconds until
  the mean return of a deterministic evaluation over 10 episodes first reaches 475, the
  training throughput (env steps/s), and the final evaluation's return;
* PPO on Pendulum-v1 (10 seeds, 200k steps) against SB3 PPO with the zoo's Pendulum settings
  (which use gSDE; the template's agent has a state-independent Gaussian policy and normalises
  the rewards): the final return and the first step at which the evaluation reaches -250.

Both sides are evaluated the same way, with the same function (``rlcore.evaluation.evaluate``
on a fresh ``gym.make_vec`` of 10 envs, seeded with the run's seed), at the same steps: every
2,560 steps for CartPole (after the update that ends that step), every 10,240 for Pendulum.
Wall-clock seconds EXCLUDE the evaluations on both sides and include everything else (making
the envs and the model, logging). Beside them, the same in CPU seconds of this process
(``time.process_time``, the same exclusions): on a machine shared with other work, the load
stretches wall-clock times at random while CPU times stay put, so their ratios are the steadier
measure. Each side is warmed up once before timing (imports, lazy initialisation), so no run
pays the one-time cost of importing torch's compiler stack. Every cell reads "template / SB3";
the last row is the ratio of the medians.

    python benchmarks/bench_agents.py                 # about 50 minutes on 2 cores
    python benchmarks/bench_agents.py --only dqn      # ppo | dqn | pendulum
    python benchmarks/bench_agents.py --only ppo --seeds 5    # fewer seeds, a rougher median
    python benchmarks/bench_agents.py --only ppo --first-seed 12  # seeds 12-23 instead of 0-11
    python benchmarks/bench_agents.py --quick         # a smoke run of a minute or two
"""

from __future__ import annotations

import argparse
import csv
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import gymnasium as gym
import stable_baselines3
import torch
from gymnasium.vector import AutoresetMode
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import rlcore
from rlcore.evaluation import evaluate

REPO = Path(__file__).resolve().parents[1]
SOLVED = 475.0
PENDULUM_TARGET = -250.0
EVAL_EPISODES = 10


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Evaluation:
    """An evaluation round: the step, the mean return, and the training time so far (both clocks)."""

    step: int
    mean_return: float
    seconds: float
    cpu_seconds: float


@dataclass
class Result:
    """One training run: its evaluations and totals (training time excludes the evaluations)."""

    evaluations: list[Evaluation] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    final_return: float = float("nan")
    load: float = 0.0

    def first(self, threshold: float) -> Evaluation | None:
        """The first evaluation at or above ``threshold``."""
        return next((e for e in self.evaluations if e.mean_return >= threshold), None)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def steps_per_cpu_second(self) -> float:
        return self.steps / self.cpu_seconds


def eval_envs(env_id: str) -> gym.vector.VectorEnv:
    """The evaluation envs of both sides: 10 copies, one episode each."""
    return gym.make_vec(
        env_id,
        num_envs=EVAL_EPISODES,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )


def print_header(title: str, *, quick: bool) -> None:
    """The report's title and what it ran on: versions, CPUs, the load at the start."""
    print(
        f"# {title}\n\nrlcore {rlcore.__version__}, SB3 {stable_baselines3.__version__}, "
        f"torch {torch.__version__} (1 thread), gymnasium {gym.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; load average at the start {os.getloadavg()[0]:.2f}."
        + (" QUICK RUN: budgets too small to mean anything." if quick else "")
        + "\n",
        flush=True,
    )


# ---------------------------------------------------------------------------- template side
def bake(agent: str, output: Path, **answers: str) -> ModuleType:
    """Generate a project with ``example_agent=agent`` (and ``answers``); import its agent module."""
    package = f"bench_{agent}"
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--output-dir",
        str(output),
        str(REPO),
        f"project_name=bench {agent}",
        f"example_agent={agent}",
        "logger=csv",
        "init_git=no",
        *(f"{key}={value}" for key, value in answers.items()),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    sys.path.insert(0, str(output / f"bench-{agent}" / "src"))
    return importlib.import_module(f"{package}.{agent}")


def run_template(module: ModuleType, env_id: str, seed: int, run_dir: Path, **overrides: Any) -> Result:
    """Train the baked agent; its evaluations come from its run log."""
    config = module.AGENT.config_for_env(
        env_id,
        seed=seed,
        run_dir=str(run_dir),
        eval_episodes=EVAL_EPISODES,
        final_eval_episodes=EVAL_EPISODES,
        checkpoint_every=0,
        progress=False,
        logger="csv",
        torch_threads=1,
        **overrides,
    )
    load = os.getloadavg()[0]
    summary = module.train(config)
    with (run_dir / "progress.csv").open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["eval/mean_return"]]
    # The last row is the final evaluation, at the last step.
    evaluations = [
        Evaluation(
            int(row["step"]),
            float(row["eval/mean_return"]),
            float(row["time/train_seconds"]),
            float(row["time/train_cpu_seconds"]),
        )
        for row in rows
    ]
    return Result(
        evaluations=evaluations[:-1],
        steps=summary["step"],
        seconds=summary["train_seconds"],
        cpu_seconds=summary["train_cpu_seconds"],
        final_return=summary["mean_return"],
        load=(load + os.getloadavg()[0]) / 2,
    )


# ---------------------------------------------------------------------------- SB3 side
class EvaluateEvery(BaseCallback):  # type: ignore[misc]
    """Evaluate after each update that crosses a multiple of ``every`` steps, off the clock."""

    def __init__(self, every: int, env_id: str, seed: int, start: float, cpu_start: float) -> None:
        super().__init__()
        self.every, self.seed, self.start, self.cpu_start = every, seed, start, cpu_start
        self.envs = eval_envs(env_id)
        self.next_eval = every
        self.untimed = self.cpu_untimed = 0.0
        self.evaluations: list[Evaluation] = []

    def evaluate(self) -> float:
        began, cpu_began = time.perf_counter(), time.process_time()
        result = evaluate(
            lambda obs: self.model.predict(obs, deterministic=True)[0],
            self.envs,
            EVAL_EPISODES,
            seed=self.seed,
        )
        self.untimed += time.perf_counter() - began
        self.cpu_untimed += time.process_time() - cpu_began
        return result.mean_return

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.untimed

    def train_cpu_seconds(self) -> float:
        return time.process_time() - self.cpu_start - self.cpu_untimed

    def _on_rollout_start(self) -> None:
        # A rollout starts after the previous update (PPO's epochs, DQN's gradient steps).
        if self.num_timesteps >= self.next_eval:
            mean = self.evaluate()
            seconds, cpu_seconds = self.train_seconds(), self.train_cpu_seconds()
            self.evaluations.append(Evaluation(self.num_timesteps, mean, seconds, cpu_seconds))
            while self.next_eval <= self.num_timesteps:
                self.next_eval += self.every

    def _on_step(self) -> bool:
        return True


def run_sb3(
    make_model: Callable[[Any], Any], env_id: str, num_envs: int, seed: int, steps: int, every: int
) -> Result:
    load = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    model = make_model(make_vec_env(env_id, n_envs=num_envs, seed=seed))
    callback = EvaluateEvery(every, env_id, seed, start, cpu_start)
    model.learn(steps, callback=callback)
    seconds, cpu_seconds = callback.train_seconds(), callback.train_cpu_seconds()
    # Its own final evaluation, as the template's agent does, at the last step.
    final = callback.evaluate()
    return Result(
        evaluations=[e for e in callback.evaluations if e.step < model.num_timesteps],
        steps=model.num_timesteps,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        final_return=final,
        load=(load + os.getloadavg()[0]) / 2,
    )


def linear(start: float) -> Callable[[float], float]:
    """The zoo's ``lin_<start>``: SB3 passes the remaining progress, 1 -> 0."""
    return lambda progress_remaining: progress_remaining * start


def sb3_ppo_cartpole(seed: int) -> Callable[[Any], Any]:
    return lambda env: PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
    )


def sb3_dqn_cartpole(seed: int) -> Callable[[Any], Any]:
    return lambda env: DQN(
        "MlpPolicy",
        env,
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1_000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs={"net_arch": [256, 256]},
        seed=seed,
        device="cpu",
    )


def sb3_ppo_pendulum(seed: int) -> Callable[[Any], Any]:
    return lambda env: PPO(
        "MlpPolicy",
        env,
        n_steps=1024,
        gae_lambda=0.95,
        gamma=0.9,
        n_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        clip_range=0.2,
        use_sde=True,
        sde_sample_freq=4,
        seed=seed,
        device="cpu",
    )


# ---------------------------------------------------------------------------- tables
def median(values: Sequence[float | None]) -> float | None:
    """The median, counting a run that never got there as slower than every run that did."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: (v is None, v))
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    if any(v is None for v in middle):
        return None
    return float(statistics.mean(v for v in middle if v is not None))


def pair(ours: float | None, theirs: float | None, digits: int = 0) -> str:
    """``ours / theirs``, "never" for a threshold not reached."""

    def one(value: float | None) -> str:
        return "never" if value is None else f"{value:,.{digits}f}"

    return f"{one(ours)} / {one(theirs)}"


def ratio(ours: float | None, theirs: float | None) -> str:
    return "n/a" if ours is None or theirs is None or theirs == 0 else f"{ours / theirs:.2f}x"


def solved_table(title: str, runs: list[tuple[int, Result, Result]], threshold: float) -> str:
    """Markdown: per seed and the median, each cell "template / SB3"."""
    columns: list[tuple[str, Callable[[Result], float | None], int]] = [
        (f"env steps to {threshold:g}", lambda r: _first(r, threshold, "step"), 0),
        (f"wall s to {threshold:g}", lambda r: _first(r, threshold, "seconds"), 1),
        (f"CPU s to {threshold:g}", lambda r: _first(r, threshold, "cpu_seconds"), 1),
        ("env steps / wall s", lambda r: r.steps_per_second, 0),
        ("env steps / CPU s", lambda r: r.steps_per_cpu_second, 0),
        ("final return", lambda r: r.final_return, 1),
    ]
    lines = [
        f"### {title}: template / SB3",
        "",
        "| seed | " + " | ".join(name for name, _, _ in columns) + " |",
        "| ---: |" + " ---: |" * len(columns),
    ]
    for seed, ours, theirs in runs:
        cells = [pair(get(ours), get(theirs), digits) for _, get, digits in columns]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    medians = [
        (median([get(r) for _, r, _ in runs]), median([get(r) for _, _, r in runs])) for _, get, _ in columns
    ]
    cells = [pair(*m, digits) for m, (_, _, digits) in zip(medians, columns, strict=True)]
    lines.append("| **median** | " + " | ".join(cells) + " |")
    lines.append("| **ratio of medians** | " + " | ".join(ratio(*m) for m in medians) + " |")
    reached = [
        sum(r.first(threshold) is not None for r in side) for side in zip(*[(a, b) for _, a, b in runs])
    ]
    kept = [sum(r.final_return >= threshold for r in side) for side in zip(*[(a, b) for _, a, b in runs])]
    load = statistics.mean(r.load for _, a, b in runs for r in (a, b))
    lines += [
        "",
        f"Reached {threshold:g}: template {reached[0]}/{len(runs)}, SB3 {reached[1]}/{len(runs)}; final return "
        f">= {threshold:g}: template {kept[0]}/{len(runs)}, SB3 {kept[1]}/{len(runs)}. Mean load average "
        f"during the runs: {load:.2f} on {os.cpu_count()} CPUs.",
        "",
    ]
    return "\n".join(lines)


def _first(result: Result, threshold: float, attribute: str) -> float | None:
    evaluation = result.first(threshold)
    return None if evaluation is None else float(getattr(evaluation, attribute))


# ---------------------------------------------------------------------------- the three races
def run_race(race: Race, module: ModuleType, seeds: Sequence[int], steps: int, workdir: Path) -> str:
    """Train both sides on every seed, alternating which goes first; return the Markdown table."""
    runs = []
    for seed in seeds:

        def ours(seed: int = seed) -> Result:
            run_dir = workdir / f"{race.agent}-{race.env_id}-{seed}"
            return run_template(
                module, race.env_id, seed, run_dir, total_timesteps=steps, eval_every=race.every
            )

        def theirs(seed: int = seed) -> Result:
            return run_sb3(race.make_sb3(seed), race.env_id, race.sb3_envs, seed, steps, race.every)

        if seed % 2 == 0:
            result_ours, result_sb3 = ours(), theirs()
        else:
            result_sb3, result_ours = theirs(), ours()
        print(
            f"  {race.title} seed {seed}: template {result_ours.first(race.threshold)} final "
            f"{result_ours.final_return:.1f} ({result_ours.steps_per_cpu_second:,.0f} steps/CPU s) | SB3 "
            f"{result_sb3.first(race.threshold)} final {result_sb3.final_return:.1f} "
            f"({result_sb3.steps_per_cpu_second:,.0f} steps/CPU s)",
            file=sys.stderr,
            flush=True,
        )
        runs.append((seed, result_ours, result_sb3))
    return solved_table(race.title, runs, race.threshold)


def warm_up(ppo: ModuleType | None, dqn: ModuleType | None, workdir: Path) -> None:
    """Pay the one-time costs (imports, lazy initialisation) before anything is timed."""
    if ppo is not None:
        run_template(ppo, "CartPole-v1", 0, workdir / "warm-ppo", total_timesteps=512, eval_every=256)
        run_sb3(sb3_ppo_cartpole(0), "CartPole-v1", 8, 0, 512, 256)
    if dqn is not None:
        run_template(dqn, "CartPole-v1", 0, workdir / "warm-dqn", total_timesteps=1_300, eval_every=1_280)
        run_sb3(sb3_dqn_cartpole(0), "CartPole-v1", 1, 0, 1_300, 1_280)


@dataclass(frozen=True)
class Race:
    """One comparison: the template's agent and SB3's on ``env_id`` with the same settings."""

    title: str
    agent: str
    make_sb3: Callable[[int], Callable[[Any], Any]]
    env_id: str
    sb3_envs: int
    seeds: int
    steps: int
    every: int
    threshold: float
    quick_steps: int


RACES = {
    "ppo": Race(
        "PPO on CartPole-v1", "ppo", sb3_ppo_cartpole, "CartPole-v1", 8, 12, 100_000, 2_560, SOLVED, 10_240
    ),
    "dqn": Race(
        "DQN on CartPole-v1", "dqn", sb3_dqn_cartpole, "CartPole-v1", 1, 3, 100_000, 2_560, SOLVED, 10_240
    ),
    "pendulum": Race(
        "PPO on Pendulum-v1",
        "ppo",
        sb3_ppo_pendulum,
        "Pendulum-v1",
        4,
        10,
        200_000,
        10_240,
        PENDULUM_TARGET,
        20_480,
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed and short budgets: a smoke run")
    parser.add_argument("--only", choices=sorted(RACES), default=None, help="run one race")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per race (default: 12 for PPO on CartPole, 3 for DQN, 10 for Pendulum)",
    )
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed of each race (default 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    races = [RACES[args.only]] if args.only else list(RACES.values())
    print_header("Example agents vs Stable-Baselines3", quick=args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        workdir = Path(tmp)
        agents = {name: bake(name, workdir / "bake") for name in sorted({race.agent for race in races})}
        warm_up(agents.get("ppo"), agents.get("dqn"), workdir)
        for race in races:
            count = 1 if args.quick else args.seeds or race.seeds
            seeds = list(range(args.first_seed, args.first_seed + count))
            steps = race.quick_steps if args.quick else race.steps
            table = run_race(race, agents[race.agent], seeds, steps, workdir)
            print(table, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
