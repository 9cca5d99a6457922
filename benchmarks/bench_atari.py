"""The template's agents on Atari against Stable-Baselines3: training throughput, where the time goes, replay memory.

Bakes two projects from this template (``example_agent=ppo`` and ``dqn``) into a temporary
folder, imports their agents, and measures on this machine, with one torch thread on both sides
(the same process, alternating which side goes first from one run to the next so that drift in
the machine's load hits both alike; each side is warmed up once before anything is timed).
Prints Markdown tables:

1. **Training throughput** (``--only throughput``), PPO and DQN on ``ALE/Pong-v5`` and
   ``ALE/Breakout-v5`` (``--games``), the template's agent against SB3's with the same
   hyperparameters (rl-baselines3-zoo's ``atari``) and the same preprocessing: the game made
   with ``frameskip=1, max_num_frames_per_episode=108000`` (v5 sticky actions kept), Gymnasium's
   ``AtariPreprocessing(noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)``, 4
   frames stacked, a lost life ending the training episode, rewards clipped to their sign. The
   template's side is :func:`rlcore.runs.make_envs` (``FrameStack``, ``TerminalOnLifeLoss``,
   ``TransformReward(np.sign)``); SB3's is ``AtariPreprocessing(grayscale_newaxis=True)`` ->
   ``EpisodicLifeEnv`` -> ``ClipRewardEnv`` -> ``Monitor`` in a ``DummyVecEnv`` with
   ``VecFrameStack(n_stack=4)`` (``CnnPolicy`` adds ``VecTransposeImage``).

   * PPO: 8 envs, 128 steps, 4 epochs, minibatches of 256, learning rate 2.5e-4 and clip range
     0.1 both annealed, entropy 0.01, value 0.5. The window is the whole run after its first
     env step (rollouts and updates), ``--steps`` env steps (default 20,480: 20 rollouts).
   * DQN: buffer 100k, lr 1e-4, batch 32, target update 1,000, train_freq 4, 1 gradient step,
     exploration over 10% of the run down to 0.01, but ``learning_starts=2,000`` instead of
     100k, and the window starts there: ``--steps`` env steps (default 20,000) with one update
     of batch 32 every 4 env steps. The template's DQN runs with ``double_q=False, n_step=1``
     (its Atari defaults are Double DQN with 1-step returns; Double DQN costs one more forward
     pass of the batch per update), so that both sides do the same computation per update.
     SB3's replay buffer is its default plain one (``optimize_memory_usage=False``); the
     template's stores each frame once (``store_frames_once=True``).

   Both sides are timed from the same points: the first env step at or after the window's
   start (the template: a hook on ``rlcore.runs.Run.advance``; SB3: a callback's
   ``_on_step``) to the end of training (the template: entering ``Run.finish``; SB3:
   ``model.learn`` returning). Nothing is evaluated inside the window: the template runs with
   ``eval_every=0`` and ``checkpoint_every=0``, and its final checkpoint and final evaluation,
   which come after the window, are skipped (patched out in this process: they are not
   training); SB3 runs with no callback but the clock. Wall-clock and CPU seconds of this
   process (``time.process_time``): on a machine shared with other work, the load stretches
   wall-clock times at random while CPU times stay put, so the CPU ratio is the steadier
   measure, and the goal (the template at >= 1.3x SB3's env steps per second) is judged on it.

2. **Where the time goes** (``--only breakdown``), PPO and DQN on the first game, both sides:
   shorter runs with every call of these timed (wall and CPU, the outermost call only):
   the vector env's ``step`` (ALE emulation, ``AtariPreprocessing``, frame stacking, the
   vector env and its wrappers), the buffer's add and its sampling (DQN) or minibatches and
   GAE (PPO), the networks' forward passes (global module hooks; a batch of at most
   ``num_envs`` observations counts as acting, a larger one as learning, DQN's target network
   included), ``torch.autograd.backward``, ``torch.nn.utils.clip_grad_norm_`` and the
   optimiser's step (global optimiser hooks); the rest (the Python loop, distributions and
   losses outside modules, schedules, logging) is "other". The hooks cost a few microseconds
   a call. Then the per-op floor: each of those operations alone, each side's own, taking
   turns (the template's networks and SB3's ``CnnPolicy`` on 4x84x84 uint8 batches of 1, 8,
   32 and 256; gradient clipping and one Adam step, the template's foreach and fused, SB3's
   defaults; the env stacks alone, from the bare ALE up), summed into the least CPU time an env
   step of each agent can cost, beside what the instrumented runs took. Its last column, SB3's
   run over the template's floor, is the most the template can gain over SB3 by a leaner loop
   around the same operations. ``--cprofile`` adds the template runs' top functions by own time
   under cProfile.

3. **Replay memory** (``--only memory``): in a fresh subprocess per layout, 100k transitions
   (``--quick``: 10k) of 4x84x84 uint8 frame stacks are added, and then 12.5% more so that
   every ring wraps and every page of every array has been written: synthetic random 84x84
   frames, stacks shifted one frame at a time as ``FrameStack`` does (padded with the reset
   frame), episodes of 20 to 400 steps ending in a termination or, 30% of them, a truncation
   (a timeout), whose ``next_obs`` is the real final stack. Reported: the peak RSS of the
   process minus its RSS after the imports (the peak is the high-water mark VmHWM, reset
   after the imports; ``ru_maxrss`` would be the same but for a parent's peak that Linux
   carries over ``exec``; it is the fallback off Linux), the arrays' bytes at that
   capacity and at 1M transitions (rlcore's buffer built at 1M, lazily; SB3's computed from its
   layout, which would take 56 GB), for rlcore's ``ReplayBuffer(store_frames_once=True)``,
   SB3's plain ``ReplayBuffer`` (``handle_timeout_termination=True``) and SB3's
   ``optimize_memory_usage=True`` (which SB3 only allows with
   ``handle_timeout_termination=False``: SB3#934). Each layout's timeouts are checked: sampled
   transitions rebuilt frame by frame against what was added, timeouts bootstrapped (not
   terminated) from their real final stack.

    python benchmarks/bench_atari.py                     # about 30 minutes on 2 cores
    python benchmarks/bench_atari.py --quick             # a smoke run, about 3 minutes
    python benchmarks/bench_atari.py --only throughput --algos ppo --games Pong --repeats 3
    python benchmarks/bench_atari.py --only breakdown --only memory --cprofile
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import functools
import gc
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import ale_py
import cv2
import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.wrappers import AtariPreprocessing
from stable_baselines3 import DQN, PPO
from stable_baselines3.common import buffers as sb3_buffers
from stable_baselines3.common.atari_wrappers import ClipRewardEnv, EpisodicLifeEnv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticCnnPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecFrameStack, VecTransposeImage
from stable_baselines3.dqn.policies import CnnPolicy as DQNCnnPolicy
from torch.nn import functional as F
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import rlcore.runs
from rlcore import buffers as rl_buffers
from rlcore.evaluation import EvaluationResult
from rlcore.wrappers import FrameStack, atari

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_agents  # the template baking, the report's header, ratios, SB3 schedules

GAMES = ("Pong", "Breakout")
GOAL = 1.3  # the template's env steps per second over SB3's
MEMORY_GOAL = 0.15  # the template's replay memory over SB3's plain buffer
OBS_SPACE = spaces.Box(0, 255, (4, 84, 84), np.uint8)
PPO_ENVS, PPO_ROLLOUT = 8, 8 * 128
PPO_UPDATES_PER_ROLLOUT = 4 * (PPO_ROLLOUT // 256)  # epochs x minibatches
DQN_TRAIN_FREQ = 4


@dataclass(frozen=True)
class Budget:
    """The sizes of one invocation (full or ``--quick``)."""

    ppo_steps: int  # throughput: env steps measured
    dqn_steps: int
    learning_starts: int  # DQN, throughput
    breakdown_ppo_steps: int
    breakdown_dqn_steps: int
    breakdown_learning_starts: int
    floor_reps: int
    env_floor_steps: int
    memory_capacity: int


FULL = Budget(20_480, 20_000, 2_000, 8_192, 8_000, 2_000, 20, 2_000, 100_000)
QUICK = Budget(2_048, 1_000, 500, 1_024, 600, 300, 5, 300, 10_000)


def game_id(game: str) -> str:
    """``Pong`` -> ``ALE/Pong-v5``; an id as it is."""
    return game if "/" in game else f"ALE/{game}-v5"


# ---------------------------------------------------------------------------- the measured window
@dataclass(frozen=True)
class Window:
    """The measured part of a training run: env steps, wall-clock and CPU seconds, the mean load."""

    steps: int
    seconds: float
    cpu_seconds: float
    load: float

    @property
    def per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.steps / self.cpu_seconds


class Clock:
    """Marks where a run's window starts (the first env step at or after ``start_step``) and ends.

    Starting and stopping also switch ``probe`` (the breakdown's timers) on and off.
    """

    def __init__(self, start_step: int, probe: Probe | None = None) -> None:
        self.start_step = start_step
        self.probe = probe
        self.start: tuple[int, float, float] | None = None
        self.end: tuple[int, float, float] | None = None
        self.load = os.getloadavg()[0]

    def step(self, step: int) -> None:
        if self.start is None and step >= self.start_step:
            self.start = (step, time.perf_counter(), time.process_time())
            if self.probe is not None:
                self.probe.active = True

    def stop(self, step: int) -> None:
        if self.end is None:
            self.end = (step, time.perf_counter(), time.process_time())
            if self.probe is not None:
                self.probe.active = False

    def window(self) -> Window:
        if self.start is None or self.end is None:
            raise RuntimeError(f"the run never reached step {self.start_step} or never ended")
        (step0, wall0, cpu0), (step1, wall1, cpu1) = self.start, self.end
        return Window(step1 - step0, wall1 - wall0, cpu1 - cpu0, (self.load + os.getloadavg()[0]) / 2)


@contextlib.contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner.name = value`` for the duration (a class's inherited attribute is removed again)."""
    had_own = isinstance(owner, type) and name in owner.__dict__
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if isinstance(owner, type) and not had_own:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextlib.contextmanager
def template_clock(clock: Clock) -> Iterator[None]:
    """Hook ``rlcore.runs.Run`` for one template run: mark the window; skip the final checkpoint and evaluation."""
    run_class = rlcore.runs.Run
    advance, finish = run_class.advance, run_class.finish

    def advance_and_mark(self: Any, num_steps: int, info: Any) -> None:
        advance(self, num_steps, info)
        clock.step(self.step)

    def mark_and_finish(self: Any, policy: Any) -> Any:
        clock.stop(self.step)
        return finish(self, policy)

    def no_checkpoint(self: Any) -> Path:
        return Path(self.path) / "checkpoint-skipped-by-bench_atari"

    def no_evaluation(self: Any, policy: Any, episodes: int) -> EvaluationResult:
        return EvaluationResult(np.zeros(1), np.ones(1, dtype=np.int64), np.zeros(1, dtype=np.int64))

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(run_class, "advance", advance_and_mark))
        stack.enter_context(patched(run_class, "finish", mark_and_finish))
        stack.enter_context(patched(run_class, "save_checkpoint", no_checkpoint))
        stack.enter_context(patched(run_class, "evaluate", no_evaluation))
        yield


class SB3Clock(BaseCallback):  # type: ignore[misc]
    """Marks the start of the window at the first env step at or after the clock's start step."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def _on_step(self) -> bool:
        self.clock.step(self.num_timesteps)
        return True


# ---------------------------------------------------------------------------- the breakdown's timers
ENV = "env step"
ADD = "buffer add"
SAMPLE = "buffer sample / minibatches / GAE"
ACT = "forward, acting"
LEARN = "forward, learning"
BACKWARD = "backward"
CLIP = "gradient clipping"
OPTIM = "optimiser step"
OTHER = "other"
CATEGORIES = (ENV, ADD, SAMPLE, ACT, LEARN, BACKWARD, CLIP, OPTIM)


class Probe:
    """Wall and CPU seconds and calls per category while ``active``; only the outermost timed call counts."""

    def __init__(self, acting_batch: int) -> None:
        self.acting_batch = acting_batch
        self.active = False
        self.depth = 0
        self.wall = dict.fromkeys(CATEGORIES, 0.0)
        self.cpu = dict.fromkeys(CATEGORIES, 0.0)
        self.calls = dict.fromkeys(CATEGORIES, 0)
        self._tokens: list[tuple[str, float, float] | None] = []

    def enter(self, category: str) -> tuple[str, float, float] | None:
        self.depth += 1
        if self.depth == 1 and self.active:
            return category, time.perf_counter(), time.process_time()
        return None

    def exit(self, token: tuple[str, float, float] | None) -> None:
        self.depth -= 1
        if token is not None:
            category, wall, cpu = token
            self.cpu[category] += time.process_time() - cpu
            self.wall[category] += time.perf_counter() - wall
            self.calls[category] += 1

    def wrap(self, category: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            token = self.enter(category)
            try:
                return function(*args, **kwargs)
            finally:
                self.exit(token)

        return timed

    def wrap_generator(self, category: str, function: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
        """Times each ``next`` of the generator ``function`` returns (not the caller's work between them)."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            iterator = function(*args, **kwargs)
            while True:
                token = self.enter(category)
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self.exit(token)
                yield item

        return timed

    def _push(self, category: str) -> None:
        self._tokens.append(self.enter(category))

    def _pop(self) -> None:
        self.exit(self._tokens.pop())

    def _module_pre(self, module: Any, args: Any) -> None:
        first = args[0] if args else None
        batch = first.shape[0] if isinstance(first, torch.Tensor) and first.dim() else 0
        self._push(ACT if batch <= self.acting_batch else LEARN)

    @contextlib.contextmanager
    def installed(self, side: str) -> Iterator[None]:
        """The global module and optimiser hooks, and ``side``'s (``template`` | ``sb3``) functions wrapped."""
        handles = [
            register_module_forward_pre_hook(self._module_pre),
            register_module_forward_hook(lambda *_: self._pop(), always_call=True),
            register_optimizer_step_pre_hook(lambda *_: self._push(OPTIM)),
            register_optimizer_step_post_hook(lambda *_: self._pop()),
        ]
        functions: list[tuple[Any, str, str]] = [
            (torch.autograd, "backward", BACKWARD),
            (torch.nn.utils, "clip_grad_norm_", CLIP),
        ]
        generators: list[tuple[Any, str, str]] = []
        if side == "template":
            functions += [
                (rl_buffers.ReplayBuffer, "add", ADD),
                (rl_buffers.ReplayBuffer, "sample", SAMPLE),
                (rl_buffers.RolloutBuffer, "add", ADD),
                (rl_buffers.RolloutBuffer, "compute_returns_and_advantages", SAMPLE),
            ]
            generators.append((rl_buffers.RolloutBuffer, "minibatches", SAMPLE))
        else:
            functions += [
                (sb3_buffers.ReplayBuffer, "add", ADD),
                (sb3_buffers.ReplayBuffer, "sample", SAMPLE),
                (sb3_buffers.RolloutBuffer, "add", ADD),
                (sb3_buffers.RolloutBuffer, "compute_returns_and_advantage", SAMPLE),
            ]
            generators.append((sb3_buffers.RolloutBuffer, "get", SAMPLE))
        make_envs = rlcore.runs.make_envs

        def make_timed_envs(config: Any, num_envs: int, **kwargs: Any) -> Any:
            envs = make_envs(config, num_envs, **kwargs)
            if kwargs.get("evaluation_of") is None:  # the training envs
                envs.step = self.wrap(ENV, envs.step)
            return envs

        try:
            with contextlib.ExitStack() as stack:
                for owner, name, category in functions:
                    stack.enter_context(patched(owner, name, self.wrap(category, getattr(owner, name))))
                for owner, name, category in generators:
                    stack.enter_context(
                        patched(owner, name, self.wrap_generator(category, getattr(owner, name)))
                    )
                if side == "template":
                    stack.enter_context(patched(rlcore.runs, "make_envs", make_timed_envs))
                yield
        finally:
            for handle in handles:
                handle.remove()


# ---------------------------------------------------------------------------- template side
def run_template(
    module: ModuleType,
    algo: str,
    env_id: str,
    run_dir: Path,
    total: int,
    start_step: int,
    probe: Probe | None = None,
    seed: int = 0,
) -> Window:
    """Train the baked agent for ``total`` env steps; the window starts at ``start_step``."""
    overrides: dict[str, Any] = {
        "total_timesteps": total,
        "eval_every": 0,
        "eval_episodes": 1,
        "final_eval_episodes": 1,
        "checkpoint_every": 0,
        "progress": False,
        "logger": "csv",
        "torch_threads": 1,
    }
    if algo == "dqn":
        overrides.update(learning_starts=start_step, double_q=False, n_step=1)
    config = module.AGENT.config_for_env(env_id, seed=seed, run_dir=str(run_dir), **overrides)
    clock = Clock(start_step, probe)
    with contextlib.ExitStack() as stack:
        stack.enter_context(template_clock(clock))
        if probe is not None:
            stack.enter_context(probe.installed("template"))
        module.train(config)
    gc.collect()
    return clock.window()


# ---------------------------------------------------------------------------- SB3 side
def sb3_atari_env(env_id: str) -> Callable[[], gym.Env[Any, Any]]:
    """SB3's side of the preprocessing: the template's, with SB3's life-loss and reward wrappers."""

    def make() -> gym.Env[Any, Any]:
        env = gym.make(env_id, **atari.ENV_KWARGS)
        env = AtariPreprocessing(
            env,
            noop_max=30,
            frame_skip=atari.FRAME_SKIP,
            screen_size=84,
            terminal_on_life_loss=False,
            grayscale_obs=True,
            grayscale_newaxis=True,
            scale_obs=False,
        )
        env = EpisodicLifeEnv(env)
        env = ClipRewardEnv(env)
        return Monitor(env)

    return make


def sb3_vec_env(env_id: str, num_envs: int) -> VecEnv:
    return VecFrameStack(DummyVecEnv([sb3_atari_env(env_id)] * num_envs), n_stack=4)


def sb3_model(algo: str, env: VecEnv, learning_starts: int, seed: int) -> Any:
    """rl-baselines3-zoo's ``atari`` settings (DQN: ``learning_starts`` given)."""
    if algo == "ppo":
        return PPO(
            "CnnPolicy",
            env,
            n_steps=128,
            n_epochs=4,
            batch_size=256,
            learning_rate=bench_agents.linear(2.5e-4),
            clip_range=bench_agents.linear(0.1),
            ent_coef=0.01,
            vf_coef=0.5,
            seed=seed,
            device="cpu",
        )
    return DQN(
        "CnnPolicy",
        env,
        buffer_size=100_000,
        learning_rate=1e-4,
        batch_size=32,
        learning_starts=learning_starts,
        target_update_interval=1_000,
        train_freq=DQN_TRAIN_FREQ,
        gradient_steps=1,
        exploration_fraction=0.1,
        exploration_final_eps=0.01,
        optimize_memory_usage=False,
        seed=seed,
        device="cpu",
    )


def run_sb3(
    algo: str, env_id: str, total: int, start_step: int, probe: Probe | None = None, seed: int = 0
) -> Window:
    """Train SB3's agent for ``total`` env steps (``model.learn`` only); the window starts at ``start_step``."""
    env = sb3_vec_env(env_id, PPO_ENVS if algo == "ppo" else 1)
    return sb3_learn_window(sb3_model(algo, env, start_step, seed), total, start_step, probe)


def sb3_learn_window(model: Any, total: int, start_step: int, probe: Probe | None) -> Window:
    """``model.learn(total)`` timed from ``start_step`` on (``probe``: by category); closes its env."""
    clock = Clock(start_step, probe)
    with contextlib.ExitStack() as stack:
        if probe is not None:
            stack.enter_context(probe.installed("sb3"))
            model.env.step = probe.wrap(ENV, model.env.step)
        model.learn(total, callback=SB3Clock(clock))
        clock.stop(model.num_timesteps)
    model.env.close()
    del model
    gc.collect()
    return clock.window()


# ---------------------------------------------------------------------------- 1. throughput
def schedule(algo: str, budget: Budget, steps: int | None) -> tuple[int, int]:
    """``(total, start_step)`` of a throughput run: PPO a whole number of rollouts, DQN after learning_starts."""
    if algo == "ppo":
        measured = steps or budget.ppo_steps
        return -(-measured // PPO_ROLLOUT) * PPO_ROLLOUT, 0
    return budget.learning_starts + (steps or budget.dqn_steps), budget.learning_starts


def warm_up(algo: str, module: ModuleType, env_id: str, workdir: Path) -> None:
    """Pay the one-time costs (imports, lazy initialisation, the first convolutions) on both sides."""
    total, start = (PPO_ROLLOUT, 0) if algo == "ppo" else (192, 64)
    run_template(module, algo, env_id, workdir / f"warm-{algo}", total, start)
    run_sb3(algo, env_id, total, start)


def throughput_section(
    agents: dict[str, ModuleType],
    algos: Sequence[str],
    games: Sequence[str],
    budget: Budget,
    steps: int | None,
    repeats: int,
    workdir: Path,
) -> tuple[str, list[str]]:
    """The tables, and one line per (algorithm, game) on the goal."""
    lines = ["## 1. Training throughput: template / SB3", ""]
    verdicts = []
    order = 0
    for algo in algos:
        module = agents[algo]
        total, start = schedule(algo, budget, steps)
        warm_up(algo, module, game_id(games[0]), workdir)
        rows = []
        for game in games:
            env_id = game_id(game)
            ours_runs, sb3_runs = [], []
            for repeat in range(repeats):
                run_dir = workdir / f"throughput-{algo}-{env_id.replace('/', '-')}-{repeat}"
                ours = functools.partial(
                    run_template, module, algo, env_id, run_dir, total, start, seed=repeat
                )
                theirs = functools.partial(run_sb3, algo, env_id, total, start, seed=repeat)
                if order % 2 == 0:
                    template, sb3 = ours(), theirs()
                else:
                    sb3, template = theirs(), ours()
                order += 1
                print(
                    f"  {algo} {env_id} seed {repeat}: template {template.per_second:,.0f} steps/s, "
                    f"{template.per_cpu_second:,.0f} steps/CPU s | SB3 {sb3.per_second:,.0f} steps/s, "
                    f"{sb3.per_cpu_second:,.0f} steps/CPU s",
                    file=sys.stderr,
                    flush=True,
                )
                ours_runs.append(template)
                sb3_runs.append(sb3)
            rows.append(Row(env_id, ours_runs, sb3_runs))
        lines += throughput_table(algo, rows, total, start)
        for row in rows:
            cpu_ratio = row.template.per_cpu_second / row.sb3.per_cpu_second
            verdicts.append(
                f"{algo.upper()} on {row.env_id}: {cpu_ratio:.2f}x SB3 in env steps per CPU second "
                f"({row.template.per_second / row.sb3.per_second:.2f}x wall-clock): "
                + ("goal met" if cpu_ratio >= GOAL else "goal NOT met")
            )
    return "\n".join(lines), verdicts


@dataclass(frozen=True)
class Row:
    """One game's throughput runs of both sides; ``template`` and ``sb3``: their medians."""

    env_id: str
    template_runs: list[Window]
    sb3_runs: list[Window]

    @staticmethod
    def _median(runs: list[Window]) -> Window:
        return Window(
            runs[0].steps,
            runs[0].steps / statistics.median(w.per_second for w in runs),
            runs[0].steps / statistics.median(w.per_cpu_second for w in runs),
            statistics.mean(w.load for w in runs),
        )

    @property
    def template(self) -> Window:
        return self._median(self.template_runs)

    @property
    def sb3(self) -> Window:
        return self._median(self.sb3_runs)


def throughput_table(algo: str, rows: list[Row], total: int, start: int) -> list[str]:
    steps = rows[0].template.steps
    if algo == "ppo":
        title = "PPO, 8 envs (zoo atari settings)"
        window = f"{steps:,} env steps (the whole run of {total:,} after its first step)"
    else:
        title = "DQN, 1 env (zoo atari settings; template double_q=False, n_step=1; SB3 plain replay buffer)"
        window = (
            f"{steps:,} env steps after learning_starts={start:,} "
            f"({(total - start) // DQN_TRAIN_FREQ:,} updates of batch 32)"
        )
    repeats = len(rows[0].template_runs)
    lines = [
        f"### {title}",
        "",
        "| game | template steps/s | SB3 steps/s | ratio | template steps/CPU s | SB3 steps/CPU s "
        f"| ratio | >= {GOAL}x SB3 |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in rows:
        template, sb3 = row.template, row.sb3
        cpu_ratio = template.per_cpu_second / sb3.per_cpu_second
        lines.append(
            f"| {row.env_id} | {template.per_second:,.0f} | {sb3.per_second:,.0f} "
            f"| {bench_agents.ratio(template.per_second, sb3.per_second)} | {template.per_cpu_second:,.0f} "
            f"| {sb3.per_cpu_second:,.0f} | {bench_agents.ratio(template.per_cpu_second, sb3.per_cpu_second)} "
            f"| {'yes' if cpu_ratio >= GOAL else 'no'} |"
        )
    load = statistics.mean(w.load for row in rows for w in (*row.template_runs, *row.sb3_runs))
    lines += [
        "",
        f"Window: {window}"
        + (
            f"; the median of {repeats} runs per side (seeds 0 to {repeats - 1})"
            if repeats > 1
            else "; seed 0"
        )
        + f"; mean load average {load:.2f} on {os.cpu_count()} CPUs.",
        "",
    ]
    return lines


# ---------------------------------------------------------------------------- 2. breakdown
def breakdown_runs(
    algo: str, module: ModuleType, env_id: str, budget: Budget, workdir: Path, template_first: bool
) -> tuple[tuple[Probe, Window], tuple[Probe, Window]]:
    """The instrumented runs of both sides: (probe, window) for the template, then for SB3."""
    if algo == "ppo":
        total, start, acting = budget.breakdown_ppo_steps, 0, PPO_ENVS
    else:
        start = budget.breakdown_learning_starts
        total, acting = start + budget.breakdown_dqn_steps, 1
    probes = Probe(acting), Probe(acting)

    def ours() -> Window:
        return run_template(module, algo, env_id, workdir / f"breakdown-{algo}", total, start, probes[0])

    def theirs() -> Window:
        return run_sb3(algo, env_id, total, start, probes[1])

    if template_first:
        template, sb3 = ours(), theirs()
    else:
        sb3, template = theirs(), ours()
    return (probes[0], template), (probes[1], sb3)


def breakdown_table(algo: str, env_id: str, template: tuple[Probe, Window], sb3: tuple[Probe, Window]) -> str:
    """CPU microseconds per env step by category, both sides."""

    def column(probe: Probe, window: Window) -> dict[str, tuple[float, float, float]]:
        """category -> (µs per env step, % of the window, µs per call)."""
        total = window.cpu_seconds
        cells = {}
        for category in CATEGORIES:
            seconds, calls = probe.cpu[category], probe.calls[category]
            cells[category] = (
                1e6 * seconds / window.steps,
                100 * seconds / total,
                1e6 * seconds / calls if calls else float("nan"),
            )
        other = total - sum(probe.cpu.values())
        cells[OTHER] = (1e6 * other / window.steps, 100 * other / total, float("nan"))
        return cells

    ours, theirs = column(*template), column(*sb3)
    lines = [
        f"### {algo.upper()} on {env_id}: CPU time per env step",
        "",
        "| category | template µs/step | % | µs/call | SB3 µs/step | % | µs/call | template / SB3 |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def per_call(value: float) -> str:
        return "" if value != value else f"{value:,.0f}"

    for category in (*CATEGORIES, OTHER):
        a, b = ours[category], theirs[category]
        lines.append(
            f"| {category} | {a[0]:,.0f} | {a[1]:.1f} | {per_call(a[2])} | {b[0]:,.0f} | {b[1]:.1f} "
            f"| {per_call(b[2])} | {bench_agents.ratio(a[0], b[0])} |"
        )
    (_, w_ours), (_, w_theirs) = template, sb3
    lines += [
        f"| **total (CPU)** | **{1e6 / w_ours.per_cpu_second:,.0f}** | 100 | | "
        f"**{1e6 / w_theirs.per_cpu_second:,.0f}** | 100 | | "
        f"{bench_agents.ratio(1 / w_ours.per_cpu_second, 1 / w_theirs.per_cpu_second)} |",
        f"| total (wall) | {1e6 / w_ours.per_second:,.0f} | | | {1e6 / w_theirs.per_second:,.0f} | | | "
        f"{bench_agents.ratio(1 / w_ours.per_second, 1 / w_theirs.per_second)} |",
        "",
        f"Instrumented window: {w_ours.steps:,} env steps on each side"
        + (" after learning_starts" if algo == "dqn" else "")
        + f"; template {w_ours.per_cpu_second:,.0f} env steps per CPU s, SB3 {w_theirs.per_cpu_second:,.0f} "
        "(the timers' overhead included). Calls: template "
        + ", ".join(f"{c} {template[0].calls[c]:,}" for c in CATEGORIES if template[0].calls[c])
        + "; SB3 "
        + ", ".join(f"{c} {sb3[0].calls[c]:,}" for c in CATEGORIES if sb3[0].calls[c])
        + ". A forward call is an outermost module call: the template's PPO calls its encoder, actor head and "
        "critic one by one, SB3's PPO its policy module once when acting (with the sampling inside) and its "
        "parts one by one when learning (the uint8 -> float scaling outside, in 'other').",
        "",
    ]
    return "\n".join(lines)


def cpu_ms(functions: Sequence[Callable[[], Any]], reps: int) -> list[float]:
    """Median CPU milliseconds of each function over ``reps`` calls, taking turns, after two untimed calls each."""
    for function in functions:
        function()
        function()
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(reps):
        for function, times in zip(functions, samples):
            began = time.process_time()
            function()
            times.append(time.process_time() - began)
    return [1e3 * statistics.median(times) for times in samples]


def floor_section(
    agents: dict[str, ModuleType], env_id: str, budget: Budget
) -> tuple[str, dict[tuple[str, str], float]]:
    """Each operation alone, each side's own; the table, and the floor in CPU µs per env step of (agent, side)."""
    reps, steps = budget.floor_reps, budget.env_floor_steps
    num_actions = int(gym.make(env_id, **atari.ENV_KWARGS).action_space.n)
    discrete = spaces.Discrete(num_actions)
    preprocessing = functools.partial(
        AtariPreprocessing, noop_max=30, frame_skip=atari.FRAME_SKIP, screen_size=84, grayscale_obs=True
    )

    def bare() -> gym.Env[Any, Any]:
        return gym.make(env_id, **atari.ENV_KWARGS)

    ppo_config = agents["ppo"].AGENT.config_for_env(env_id)
    dqn_config = agents["dqn"].AGENT.config_for_env(env_id)
    # (operation, template ms, SB3 ms); one value where both sides share the operation.
    rows: list[tuple[str, float, float | None]] = [
        ("env: ALE alone, 4 emulator frames (RGB observations)", env_ms(FourFrames(bare()), steps), None),
        ("env: + AtariPreprocessing", env_ms(preprocessing(bare()), steps), None),
        ("env: + rlcore FrameStack(4)", env_ms(FrameStack(preprocessing(bare()), 4), steps), None),
    ]
    ms: dict[tuple[str, str], float] = {
        ("env1", "template"): env_ms(rlcore.runs.make_envs(dqn_config, 1), steps),
        ("env1", "sb3"): env_ms(VecTransposeImage(sb3_vec_env(env_id, 1)), steps),
        ("env8", "template"): env_ms(rlcore.runs.make_envs(ppo_config, PPO_ENVS), steps // PPO_ENVS),
        ("env8", "sb3"): env_ms(VecTransposeImage(sb3_vec_env(env_id, PPO_ENVS)), steps // PPO_ENVS),
    }

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    def frames(batch: int) -> torch.Tensor:
        return torch.randint(0, 256, (batch, *OBS_SPACE.shape), dtype=torch.uint8, generator=generator)

    obs1, obs8, obs32, obs256 = frames(1), frames(8), frames(32), frames(256)
    actions32 = torch.randint(0, num_actions, (32,), generator=generator)
    actions256 = torch.randint(0, num_actions, (256,), generator=generator)
    targets32, advantages, returns, old_log_probs = (torch.randn(n) for n in (32, 256, 256, 256))

    def ppo_loss(log_probs: torch.Tensor, values: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
        ratio = (log_probs - old_log_probs).exp()
        surrogate = torch.min(ratio * advantages, ratio.clamp(0.9, 1.1) * advantages)
        return -surrogate.mean() + 0.5 * F.mse_loss(values, returns) - 0.01 * entropy.mean()

    # The template's networks, and SB3's CnnPolicy of each algorithm.
    q_network = agents["dqn"].QNetwork(OBS_SPACE, discrete, (64, 64))
    q_target = copy.deepcopy(q_network)
    actor_critic = agents["ppo"].ActorCritic(OBS_SPACE, discrete, (64, 64))
    sb3_q = DQNCnnPolicy(OBS_SPACE, discrete, lambda _: 1e-4)
    sb3_ac = ActorCriticCnnPolicy(OBS_SPACE, discrete, lambda _: 2.5e-4)

    def template_dqn_act() -> None:
        with torch.inference_mode():
            q_network(obs1).argmax(dim=1)

    def sb3_dqn_act() -> None:
        with torch.no_grad():
            sb3_q.q_net(obs1).argmax(dim=1)

    def template_dqn_target() -> None:
        with torch.no_grad():
            q_target(obs32).max(dim=1)

    def sb3_dqn_target() -> None:
        with torch.no_grad():
            sb3_q.q_net_target(obs32).max(dim=1)

    def template_dqn_loss() -> None:
        q = q_network(obs32).gather(1, actions32.unsqueeze(1)).squeeze(1)
        q_network.zero_grad(set_to_none=True)
        F.smooth_l1_loss(q, targets32).backward()

    def sb3_dqn_loss() -> None:
        q = sb3_q.q_net(obs32).gather(1, actions32.unsqueeze(1)).squeeze(1)
        sb3_q.zero_grad(set_to_none=True)
        F.smooth_l1_loss(q, targets32).backward()

    def template_ppo_act() -> None:
        with torch.inference_mode():
            distribution, _ = actor_critic.policy_and_value(obs8)
            distribution.log_prob(distribution.sample())

    def sb3_ppo_act() -> None:
        with torch.no_grad():
            sb3_ac(obs8)

    def template_ppo_loss() -> None:
        distribution, values = actor_critic.policy_and_value(obs256)
        loss = ppo_loss(distribution.log_prob(actions256), values, distribution.entropy())
        actor_critic.zero_grad(set_to_none=True)
        loss.backward()

    def sb3_ppo_loss() -> None:
        values, log_probs, entropy = sb3_ac.evaluate_actions(obs256, actions256)
        loss = ppo_loss(log_probs, values.flatten(), entropy)
        sb3_ac.zero_grad(set_to_none=True)
        loss.backward()

    template_dqn_loss()
    template_ppo_loss()
    sb3_dqn_loss()
    sb3_ppo_loss()
    q_parameters, ac_parameters = list(q_network.parameters()), list(actor_critic.parameters())
    sb3_q_parameters, sb3_ac_parameters = list(sb3_q.q_net.parameters()), list(sb3_ac.parameters())
    operations: dict[str, tuple[Callable[[], Any], Callable[[], Any], int]] = {
        # name: (the template's, SB3's, reps)
        "dqn act": (template_dqn_act, sb3_dqn_act, 10 * reps),
        "dqn target": (template_dqn_target, sb3_dqn_target, 3 * reps),
        "dqn loss": (template_dqn_loss, sb3_dqn_loss, 3 * reps),
        # The template clips with foreach=True and steps a fused Adam; SB3 leaves both at their
        # defaults, per-tensor loops on CPU.
        "dqn clip": (
            lambda: torch.nn.utils.clip_grad_norm_(q_parameters, 10.0, foreach=True),
            lambda: torch.nn.utils.clip_grad_norm_(sb3_q_parameters, 10.0),
            3 * reps,
        ),
        "dqn adam": (
            torch.optim.Adam(q_parameters, lr=1e-4, fused=True).step,
            torch.optim.Adam(sb3_q_parameters, lr=1e-4).step,
            3 * reps,
        ),
        "ppo act": (template_ppo_act, sb3_ppo_act, 5 * reps),
        "ppo loss": (template_ppo_loss, sb3_ppo_loss, reps),
        "ppo clip": (
            lambda: torch.nn.utils.clip_grad_norm_(ac_parameters, 0.5, foreach=True),
            lambda: torch.nn.utils.clip_grad_norm_(sb3_ac_parameters, 0.5),
            3 * reps,
        ),
        "ppo adam": (
            torch.optim.Adam(ac_parameters, lr=2.5e-4, eps=1e-5, fused=True).step,
            torch.optim.Adam(sb3_ac_parameters, lr=2.5e-4, eps=1e-5).step,
            3 * reps,
        ),
    }
    for name, (ours, theirs, count) in operations.items():
        ms[name, "template"], ms[name, "sb3"] = cpu_ms([ours, theirs], count)
    labels = {
        "env1": "env: the vector env, 1 env (DQN)",
        "env8": "env: the vector env, 8 envs (PPO), per env",
        "dqn act": "DQN acting: Q-network forward, batch 1, no grad",
        "dqn target": "DQN target: target network forward, batch 32, no grad",
        "dqn loss": "DQN loss: Q-network forward + backward, batch 32",
        "dqn clip": "DQN clip_grad_norm_ (template foreach, SB3 default)",
        "dqn adam": "DQN Adam step (template fused, SB3 default for-loop)",
        "ppo act": "PPO acting: forward + sample + log_prob, batch 8, no grad",
        "ppo loss": "PPO loss: forward + backward, batch 256",
        "ppo clip": "PPO clip_grad_norm_ (template foreach, SB3 default)",
        "ppo adam": "PPO Adam step (template fused, SB3 default for-loop)",
    }
    rows += [(label, ms[key, "template"], ms[key, "sb3"]) for key, label in labels.items()]

    per_update = PPO_UPDATES_PER_ROLLOUT / PPO_ROLLOUT
    floors = {}
    for side in ("template", "sb3"):
        floors["ppo", side] = 1e3 * (
            ms["env8", side]
            + ms["ppo act", side] / PPO_ENVS
            + per_update * (ms["ppo loss", side] + ms["ppo clip", side] + ms["ppo adam", side])
        )
        floors["dqn", side] = 1e3 * (
            ms["env1", side]
            + ms["dqn act", side]
            + (ms["dqn target", side] + ms["dqn loss", side] + ms["dqn clip", side] + ms["dqn adam", side])
            / DQN_TRAIN_FREQ
        )
    parameters = sum(p.numel() for p in q_parameters)
    lines = [
        f"### The per-op floor on {env_id}: each operation alone, CPU ms per call (median)",
        "",
        "| operation | template | SB3 | template / SB3 |",
        "| :--- | ---: | ---: | ---: |",
    ]
    for name, ours_ms, theirs_ms in rows:
        if theirs_ms is None:
            lines.append(f"| {name} | {ours_ms:,.3f} | | |")
        else:
            lines.append(
                f"| {name} | {ours_ms:,.3f} | {theirs_ms:,.3f} | {bench_agents.ratio(ours_ms, theirs_ms)} |"
            )
    lines += [
        "",
        f"The template's networks (rlcore NatureCNN + heads; the Q-network has {parameters:,} parameters) "
        "and SB3's CnnPolicy of each algorithm, on random uint8 4x84x84 batches. An env step's floor is "
        f"the vector env's step + the acting forward + its share of the updates (PPO: "
        f"{PPO_UPDATES_PER_ROLLOUT} per {PPO_ROLLOUT:,} env steps; DQN: one per {DQN_TRAIN_FREQ}, with the "
        "target network's forward).",
        "",
    ]
    return "\n".join(lines), floors


def env_ms(env: Any, steps: int) -> float:
    """CPU milliseconds per step of one (sub-)env of ``env`` with random actions; closes ``env``."""
    if isinstance(env, VecEnv):
        env.reset()
        num = env.num_envs

        def act() -> Any:
            return np.array([env.action_space.sample() for _ in range(num)])

        def step() -> None:
            env.step(act())

    else:
        env.reset(seed=0)
        num = getattr(env, "num_envs", 1)
        vector = hasattr(env, "num_envs")

        def step() -> None:
            result = env.step(env.action_space.sample())
            if not vector and (result[2] or result[3]):
                env.reset()

    for _ in range(20):
        step()
    began = time.process_time()
    for _ in range(steps):
        step()
    seconds = time.process_time() - began
    env.close()
    return 1e3 * seconds / (steps * num)


class FourFrames(gym.Wrapper):  # type: ignore[type-arg]
    """The bare game stepped 4 emulator frames per agent step (what AtariPreprocessing asks of the ALE)."""

    def step(self, action: Any) -> Any:
        for _ in range(atari.FRAME_SKIP):
            result = self.env.step(action)
            if result[2] or result[3]:
                break
        return result


def floor_summary(
    floors: dict[tuple[str, str], float], measured: dict[str, tuple[Window, Window]]
) -> tuple[str, list[str]]:
    """The instrumented runs against the floors; and per agent, the most the template could gain over SB3."""
    lines = [
        "### The instrumented runs against the floor (CPU µs per env step)",
        "",
        "| agent | template floor | template run | run / floor | SB3 floor | SB3 run | run / floor "
        "| SB3 run / template floor |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for algo, (template, sb3) in measured.items():
        ours, theirs = 1e6 / template.per_cpu_second, 1e6 / sb3.per_cpu_second
        floor, sb3_floor = floors[algo, "template"], floors[algo, "sb3"]
        lines.append(
            f"| {algo.upper()} | {floor:,.0f} | {ours:,.0f} | {ours / floor:.2f}x | {sb3_floor:,.0f} "
            f"| {theirs:,.0f} | {theirs / sb3_floor:.2f}x | {theirs / floor:.2f}x |"
        )
        verdicts.append(
            f"{algo.upper()} (breakdown): at its per-op floor the template would run {theirs / floor:.2f}x as fast "
            f"as SB3 did here (it ran at {ours / floor:.2f}x its floor's time, SB3 at {theirs / sb3_floor:.2f}x "
            f"its own): the {GOAL}x goal is "
            + ("within reach" if theirs / floor >= GOAL else "beyond what the loop around these ops can win")
        )
    lines += [
        "",
        "The last column is the most the template could gain over SB3 without making the operations "
        "themselves cheaper: SB3's run time over the template's floor.",
        "",
    ]
    return "\n".join(lines), verdicts


def cprofile_table(title: str, run: Callable[[], Any], top: int = 15) -> str:
    """The ``top`` functions by own time of ``run()`` under cProfile."""
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    stats = pstats.Stats(profile)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(value[2] for value in entries.values())
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [
        f"#### {title}: top {top} functions by own time (cProfile; the whole run, making the envs included)",
        "",
    ]
    lines += ["| function | calls | own s | % | cumulative s |", "| :--- | ---: | ---: | ---: | ---: |"]
    for (filename, line, name), (_, calls, own, cumulative, _) in ranked:
        where = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        label = f"{where}:{line} {name}" if where else name
        lines.append(f"| `{label}` | {calls:,} | {own:.2f} | {100 * own / total:.1f} | {cumulative:.2f} |")
    return "\n".join([*lines, ""])


def breakdown_section(
    agents: dict[str, ModuleType],
    algos: Sequence[str],
    env_id: str,
    budget: Budget,
    workdir: Path,
    profile: bool,
) -> tuple[str, list[str]]:
    """The tables, and one line per agent on how far the goal is from the floor."""
    parts = [f"## 2. Where the time goes: {env_id}", ""]
    measured = {}
    for index, algo in enumerate(algos):
        template, sb3 = breakdown_runs(
            algo, agents[algo], env_id, budget, workdir, template_first=index % 2 == 0
        )
        measured[algo] = (template[1], sb3[1])
        parts.append(breakdown_table(algo, env_id, template, sb3))
        print(f"  breakdown {algo} done", file=sys.stderr, flush=True)
    floor, floors = floor_section(agents, env_id, budget)
    summary, verdicts = floor_summary(floors, measured)
    parts += [floor, summary]
    if profile:
        for algo in algos:
            if algo == "ppo":
                total, start = budget.breakdown_ppo_steps, 0
            else:
                start = budget.breakdown_learning_starts
                total = start + budget.breakdown_dqn_steps

            def run(algo: str = algo, total: int = total, start: int = start) -> None:
                run_template(agents[algo], algo, env_id, workdir / f"cprofile-{algo}", total, start)

            parts.append(cprofile_table(f"template {algo.upper()}, {total:,} env steps", run))
    return "\n".join(parts), verdicts


# ---------------------------------------------------------------------------- 3. replay memory
POOL = 499  # distinct random frames; each frame also carries its number in its first 8 bytes
LAYOUTS = {
    "rlcore": "rlcore ReplayBuffer(store_frames_once=True)",
    "sb3": "SB3 ReplayBuffer (plain, handle_timeout_termination=True)",
    "sb3-optimized": "SB3 ReplayBuffer(optimize_memory_usage=True, handle_timeout_termination=False)",
}


def make_frames(pool: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Frames ``ids`` (any shape): a pool frame each, stamped with its number."""
    frames = pool[ids % len(pool)]
    frames[..., 0, :8] = np.ascontiguousarray(ids, dtype="<i8")[..., None].view(np.uint8)
    return frames


def stack_ids(newest: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The frame numbers of stacks whose newest frame is ``newest``, in episodes that began at ``start``."""
    return np.maximum(newest[:, None] - np.arange(3, -1, -1), start[:, None])


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> None:
    """Reset this process's RSS high-water mark (VmHWM) to its RSS now (Linux 4.0+; else nothing)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as file:
        file.write("5")


def peak_rss_bytes() -> int:
    """The peak RSS of this process's own memory: VmHWM, else ``ru_maxrss``.

    On Linux, ``ru_maxrss`` keeps the parent's peak across ``exec`` (a subprocess of a large
    process starts with the parent's peak); VmHWM is the high-water mark of this process's
    memory alone, the same measure without that.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(layout: str, capacity: int) -> int:
    """Fill one layout's buffer in this (fresh) process; print a JSON line of what it took."""
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 256, (POOL, 84, 84), dtype=np.uint8)
    # Per slot: the newest frame of the stored obs, its episode's first frame, 1 terminated / 2 truncated.
    newest = np.full(capacity, -1, dtype=np.int64)
    start = np.full(capacity, -1, dtype=np.int64)
    kind = np.zeros(capacity, dtype=np.int8)
    discrete = spaces.Discrete(6)
    baseline = rss_bytes()
    reset_peak_rss()

    buffer: Any
    if layout == "rlcore":
        buffer = rl_buffers.ReplayBuffer(
            capacity,
            OBS_SPACE,
            discrete,
            num_envs=1,
            autoreset_mode="SameStep",
            store_frames_once=True,
            seed=0,
        )

        def add(
            obs: np.ndarray, next_obs: np.ndarray, action: int, terminated: bool, truncated: bool
        ) -> None:
            buffer.add(
                obs[None],
                next_obs[None],
                np.array([action]),
                np.array([1.0], dtype=np.float32),
                np.array([terminated]),
                np.array([truncated]),
            )

    else:
        optimized = layout == "sb3-optimized"
        buffer = sb3_buffers.ReplayBuffer(
            capacity,
            OBS_SPACE,
            discrete,
            device="cpu",
            optimize_memory_usage=optimized,
            handle_timeout_termination=not optimized,
        )

        def add(
            obs: np.ndarray, next_obs: np.ndarray, action: int, terminated: bool, truncated: bool
        ) -> None:
            buffer.add(
                obs[None],
                next_obs[None],
                np.array([[action]]),
                np.array([1.0], dtype=np.float32),
                np.array([terminated or truncated]),
                [{"TimeLimit.truncated": truncated}],
            )

    added = capacity + capacity // 8  # every ring wraps: every page of every array is written
    count = frame = 0  # transitions added, frames made
    began = time.perf_counter()
    while count < added:
        length, timeout = int(rng.integers(20, 401)), bool(rng.random() < 0.3)
        first = frame
        obs = np.repeat(make_frames(pool, np.array([first])), 4, axis=0)  # padded with the reset frame
        frame += 1
        for t in range(min(length, added - count)):
            next_obs = np.concatenate([obs[1:], make_frames(pool, np.array([frame]))])
            terminated, truncated = t == length - 1 and not timeout, t == length - 1 and timeout
            add(obs, next_obs, count % 6, terminated, truncated)
            slot = count % capacity
            newest[slot], start[slot] = frame - 1, first
            kind[slot] = 1 if terminated else 2 if truncated else 0
            frame += 1
            count += 1
            obs = next_obs
    fill_seconds = time.perf_counter() - began
    peak = peak_rss_bytes()
    records = Records(pool, newest, start, kind)

    if layout == "rlcore":
        check, timeouts_ok = check_rlcore(buffer, records, count, capacity)
        held, nbytes = len(buffer), buffer.nbytes
        nbytes_1m = rl_buffers.ReplayBuffer(
            1_000_000, OBS_SPACE, discrete, num_envs=1, autoreset_mode="SameStep", store_frames_once=True
        ).nbytes
    else:
        check, timeouts_ok = check_sb3(buffer, records, capacity)
        arrays = [getattr(buffer, name, None) for name in SB3_ARRAYS]
        held, nbytes = capacity, sum(a.nbytes for a in arrays if a is not None)
        nbytes_1m = nbytes * 1_000_000 // capacity  # every array is (buffer_size, n_envs, ...)
    result = {
        "layout": layout,
        "added": count,
        "held": held,
        "baseline": baseline,
        "peak": peak,
        "nbytes": nbytes,
        "nbytes_1m": nbytes_1m,
        "fill_seconds": fill_seconds,
        "check": check,
        "timeouts_ok": timeouts_ok,
    }
    print(json.dumps(result))
    return 0


SB3_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


@dataclass(frozen=True)
class Records:
    """What was added to each slot: the stacks' frame numbers, and how the step ended."""

    pool: np.ndarray
    newest: np.ndarray
    start: np.ndarray
    kind: np.ndarray  # 1 terminated, 2 truncated, 0 neither

    def stacks(self, slots: np.ndarray, after: bool) -> np.ndarray:
        """The obs (``after``: the next_obs) added in ``slots``, frame by frame."""
        return make_frames(self.pool, stack_ids(self.newest[slots] + int(after), self.start[slots]))


def check_rlcore(buffer: Any, records: Records, count: int, capacity: int) -> tuple[str, bool]:
    """Sampled transitions against what was added; the timeouts and terminations still held."""
    slots = buffer.sample_indices(512, np.random.default_rng(1))
    batch = buffer.gather(slots)
    sampled = (
        np.array_equal(batch.observations.numpy(), records.stacks(slots, False))
        and np.array_equal(batch.next_observations.numpy(), records.stacks(slots, True))
        and np.array_equal(batch.terminated.numpy(), records.kind[slots] == 1)
        and np.array_equal(batch.truncated.numpy(), records.kind[slots] == 2)
    )
    held = np.arange(count - len(buffer), count) % capacity  # the newest transitions
    ends = {}
    for name, code in (("timeouts", 2), ("terminations", 1)):
        chosen = held[records.kind[held] == code][:256]
        ended = buffer.gather(chosen)
        ends[name] = (
            len(chosen),
            len(chosen) > 0
            and np.array_equal(ended.observations.numpy(), records.stacks(chosen, False))
            and np.array_equal(ended.next_observations.numpy(), records.stacks(chosen, True))
            and bool(ended.terminated.all() if code == 1 else not ended.terminated.any())
            and bool(ended.truncated.all() if code == 2 else not ended.truncated.any()),
        )
    timeouts_ok = ends["timeouts"][1]
    check = (
        f"512 sampled transitions equal to what was added, frame by frame, flags included: {yes(sampled)}; "
        f"{ends['timeouts'][0]} timeouts truncated, not terminated, next_obs the final stack: {yes(timeouts_ok)}; "
        f"{ends['terminations'][0]} terminations terminated, next_obs the final stack: {yes(ends['terminations'][1])}"
    )
    return check, bool(sampled and timeouts_ok and ends["terminations"][1])


def check_sb3(buffer: Any, records: Records, capacity: int) -> tuple[str, bool]:
    """SB3's samples of the timeouts: bootstrapped (done 0) from their real final stack?"""
    # The buffer is full; slot `pos` is the oldest, and SB3 never samples it when it optimises memory.
    usable = np.flatnonzero(np.arange(capacity) != buffer.pos)
    slots = np.random.default_rng(1).choice(usable, 512)
    samples = buffer._get_samples(slots)
    middle = records.kind[slots] == 0
    sampled = np.array_equal(samples.observations.numpy(), records.stacks(slots, False)) and np.array_equal(
        samples.next_observations.numpy()[middle], records.stacks(slots[middle], True)
    )
    timeouts = usable[records.kind[usable] == 2][:256]
    ended = buffer._get_samples(timeouts)
    bootstrapped = int((ended.dones.numpy().ravel() == 0).sum())
    same = (ended.next_observations.numpy() == records.stacks(timeouts, True)).reshape(len(timeouts), -1)
    final = int(same.all(axis=1).sum())
    check = (
        f"512 sampled obs (and next_obs within episodes) equal to what was added: {yes(sampled)}; "
        f"of {len(timeouts)} timeouts, {bootstrapped} bootstrapped (done 0) and {final} with the final stack "
        "as next_obs"
    )
    return check, bool(len(timeouts) and bootstrapped == final == len(timeouts))


def yes(value: bool) -> str:
    return "yes" if value else "NO"


def memory_section(capacity: int) -> tuple[str, str]:
    """The table (each layout filled in its own process), and the line on the goal."""
    results = {}
    for layout in LAYOUTS:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--memory-child",
            layout,
            "--memory-capacity",
            str(capacity),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the memory run of {layout} failed:\n{done.stderr[-4000:]}")
        results[layout] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  memory {layout} done", file=sys.stderr, flush=True)
    used = {layout: r["peak"] - r["baseline"] for layout, r in results.items()}
    plain = used["sb3"]
    lines = [
        f"## 3. Replay memory: {capacity:,} transitions of 4x84x84 uint8 stacks (DQN on Atari)",
        "",
        f"| layout | transitions held | peak RSS - RSS after imports (GB) | arrays at {capacity:,} (GB) "
        "| arrays at 1M (GB) | RSS vs SB3 plain | add µs | timeouts handled |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for layout, r in results.items():
        lines.append(
            f"| {LAYOUTS[layout]} | {r['held']:,} | {used[layout] / 1e9:.3f} | {r['nbytes'] / 1e9:.3f} "
            f"| {r['nbytes_1m'] / 1e9:.2f} | {used[layout] / plain:.3f}x "
            f"| {1e6 * r['fill_seconds'] / r['added']:.0f} | {yes(r['timeouts_ok']).lower()} |"
        )
    lines += [
        "",
        f"GB = 1e9 bytes. Each process added {results['rlcore']['added']:,} transitions (capacity + 1/8, so that "
        "every ring wrapped); 'add µs' includes making the synthetic stacks. Checks:",
        "",
        *(f"* {LAYOUTS[layout]}: {r['check']}." for layout, r in results.items()),
        "",
    ]
    ratio = used["rlcore"] / plain
    met = ratio <= MEMORY_GOAL and results["rlcore"]["timeouts_ok"]
    verdict = (
        f"Replay memory: rlcore's frame-once buffer takes {ratio:.3f}x the RSS of SB3's plain buffer "
        f"(goal <= {MEMORY_GOAL}x with timeouts handled): " + ("goal met" if met else "goal NOT met")
    )
    return "\n".join(lines), verdict


# ---------------------------------------------------------------------------- main
def print_header(quick: bool) -> None:
    bench_agents.print_header("Atari: the template's agents vs Stable-Baselines3", quick=quick)
    print(
        f"ale-py {ale_py.__version__}, OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads, as installed, "
        f"on both sides), {platform.machine()}.\n",
        flush=True,
    )


def parse_only(values: list[str] | None) -> list[str]:
    sections = ["throughput", "breakdown", "memory"]
    if not values:
        return sections
    chosen = [part.strip() for value in values for part in value.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(sections))
    if unknown:
        raise SystemExit(f"--only: unknown section(s) {unknown}; choose from {sections}")
    return [section for section in sections if section in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="SECTION",
        help="throughput, breakdown or memory (repeat it, or a comma list); default: all three",
    )
    parser.add_argument("--quick", action="store_true", help="tiny budgets, one game: a smoke run")
    parser.add_argument(
        "--games",
        nargs="+",
        default=None,
        help="Atari games (Pong or ALE/Pong-v5); default Pong Breakout (--quick: Pong)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="env steps measured per throughput run (default 20,480 for PPO, 20,000 for DQN after learning_starts)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="throughput runs per side and game (seeds 0, 1, ...; the median)",
    )
    parser.add_argument("--algos", default="ppo,dqn", help="ppo, dqn or both (comma list)")
    parser.add_argument(
        "--cprofile", action="store_true", help="breakdown: also the template runs under cProfile"
    )
    parser.add_argument("--memory-child", choices=sorted(LAYOUTS), help=argparse.SUPPRESS)
    parser.add_argument("--memory-capacity", type=int, default=FULL.memory_capacity, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.memory_capacity)

    torch.set_num_threads(1)
    atari.register_atari_envs()
    sections = parse_only(args.only)
    budget = QUICK if args.quick else FULL
    games = args.games or (list(GAMES[:1]) if args.quick else list(GAMES))
    algos = [a for a in ("ppo", "dqn") if a in {part.strip() for part in args.algos.split(",")}]
    began = time.perf_counter()
    print_header(args.quick)
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-atari-") as tmp:
        workdir = Path(tmp)
        agents = {}
        if {"throughput", "breakdown"} & set(sections):
            agents = {name: bench_agents.bake(name, workdir / "bake") for name in ("ppo", "dqn")}
        if "throughput" in sections:
            table, lines = throughput_section(agents, algos, games, budget, args.steps, args.repeats, workdir)
            print(table, flush=True)
            verdicts += lines
        if "breakdown" in sections:
            table, lines = breakdown_section(agents, algos, game_id(games[0]), budget, workdir, args.cprofile)
            print(table, flush=True)
            verdicts += lines
    if "memory" in sections:
        table, line = memory_section(budget.memory_capacity)
        print(table, flush=True)
        verdicts.append(line)
    if verdicts:
        print("## Goals\n\n" + "\n".join(f"* {line}" for line in verdicts) + "\n")
    print(f"Total time: {(time.perf_counter() - began) / 60:.1f} minutes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
