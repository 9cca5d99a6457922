"""Does the template's PPO learn Atari as Stable-Baselines3's does? One seed per side, 1M steps, resumable.

The template's example PPO agent (a project baked from this template, ``example_agent=ppo``)
and Stable-Baselines3's PPO train on ``ALE/Pong-v5`` (``--game Breakout``: ``ALE/Breakout-v5``)
for 1,000,000 agent steps each (4M frames), one seed each, with the same hyperparameters and
the same preprocessing (those of ``benchmarks/bench_atari.py``, whose docstring spells them
out): the template's ``ALE/*`` defaults (rl-baselines3-zoo's ``atari`` PPO: 8 envs, 128 steps,
4 epochs, minibatches of 256, learning rate 2.5e-4 and clip range 0.1 both annealed linearly to
0 over the 1M steps, entropy 0.01, value 0.5; 4 frames per step, 84x84 grey, 4 stacked, v5's
sticky actions, a lost life ending the training episode, rewards clipped to their sign), and
``bench_atari.sb3_model("ppo", ...)`` on ``bench_atari.sb3_vec_env``. Both sides get
``total_timesteps=1_000_000`` and one torch thread, and run one after the other in this process.

Every 100,000 steps (at the first rollout boundary at or past each multiple: 100,352, 200,704,
..., and at the end, 1,000,448) each side's policy plays ``--episodes`` (5) whole games,
deterministically (the mode of the policy: ``argmax``), scores unclipped, no life-loss
termination, games capped at 108,000 frames, with one and the same code: the template's own
periodic evaluation (``eval_every=100_000``, ``rlcore.evaluation.evaluate`` on the run's
evaluation envs from ``rlcore.runs.make_envs``, logged to its ``progress.csv``), and for SB3
the same ``evaluate`` on envs from the same ``make_envs`` with the same config and seed,
playing ``model.predict(obs, deterministic=True)`` (SB3's policy takes the template's
``(4, 84, 84)`` stacks, oldest frame first, as its own ``VecTransposeImage`` gives them; the
only difference from its training envs: the first frames of a game pad the stack with the reset
frame, where SB3's ``VecFrameStack`` pads with zeros).
Training seconds (wall and CPU of this process) exclude the evaluations on both sides; the
"all" seconds of a side add everything it cost: evaluations, set-up, and work redone after an
interruption (but for the time after its last save of a process killed outright).

Resumable: each invocation works for at most about ``--minutes`` (default 30) of wall time,
half for each unfinished side (the one behind first), stops at a rollout boundary (each side
predicts whether its next rollout, and the evaluation due after it, still fits), saves, prints
the table so far and exits; the next invocation continues. Ctrl-C (or SIGTERM) asks for the
same clean stop at the next rollout boundary; a second Ctrl-C aborts (the last saved state is
kept: a side then redoes the steps since its last save, at most ``--save-every``, 50,000).

* The template's side is ``train(config, resume=True)`` of rlcore's ``Run``: a checkpoint every
  50,000 steps (``checkpoint_every``; the template's training episodes restart after each, as
  they do after any periodic checkpoint), and at a stop an extra checkpoint saved from a hook on
  ``Run.after_step`` after the update (then the loop is left by an exception). The resume is
  rlcore's exact one: the networks, Adam, the RNG states, the counters and clocks are restored,
  and the training episodes restart, seeded from the step. Only that restart at a stop that
  falls between periodic checkpoints is extra against an uninterrupted run.
* SB3's side saves ``model.save`` (weights, Adam, ``num_timesteps``) at a rollout boundary
  (after the update) every 50,000 steps and at a stop, and resumes with ``PPO.load`` and
  ``model.learn(1_000_000 - num_timesteps, reset_num_timesteps=False)``, which keeps the
  annealing continuous (progress remaining ``1 - num_timesteps / 1M``). NOT restored exactly:
  SB3's envs restart their games at a resume (seeded from the seed and the step), and the RNG
  states (action sampling, minibatch shuffling) are reseeded from the seed and the step, not
  continued; the rollout buffer is empty at every boundary anyway.

Cost on 2 cores (Pong, 2026-12-07/08): 1.14 training CPU hours for the template and 1.32 for
SB3 (about 245 and 210 env steps per CPU second), 2.5 in all (wall time a little more: one
process, one thread, one side at a time), plus the evaluations: about a minute a side for Pong;
a Breakout policy that never presses FIRE may play each evaluation game to the 108,000-frame cap
(27,000 steps). That is six invocations of 30 minutes, more under load. The state lives in
``--workdir`` (default ``benchmarks/.atari-learning/<Game>``, to be ignored by git): the baked
project (baked once, at the first invocation, so a resume trains the same code), the template's
run directory (``template-run/``), SB3's latest zip (``sb3/``) and ``progress.json`` (the
settings, the steps, the clocks, the evaluations of both sides).
``--fresh`` deletes it and starts over.

    python benchmarks/bench_atari_learning.py                    # Pong: 30 minutes of work, then again
    python benchmarks/bench_atari_learning.py --minutes 60       # longer sessions
    python benchmarks/bench_atari_learning.py --game Breakout    # its own state, its own table
    python benchmarks/bench_atari_learning.py --status           # the table so far, no training
    python benchmarks/bench_atari_learning.py --quick            # smoke run: 4,096 steps a side, stopped
                                                                 # and resumed once, a few minutes

``--quick`` (state in ``<Game>-quick``, started over when it is complete): 4,096 steps per
side, an evaluation of one game capped at 300 steps (``max_episode_steps``, and a ``TimeLimit``
on SB3's training envs alike) every 2,048 steps; without ``--minutes`` each side is stopped at
2,048 steps and resumed from its saved state, in the same invocation; with ``--minutes`` the
clock stops it, and the next invocation resumes it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecFrameStack

import rlcore.runs
from rlcore.evaluation import evaluate
from rlcore.logging import EVAL_RETURN_KEY, PROGRESS_FILENAME, STEP_KEY, read_csv_log
from rlcore.runs._log import Stopwatch as Clock  # the training clocks of rlcore's Run, paused for evaluations
from rlcore.wrappers import atari

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_agents  # the template baking, the report's header, SB3's linear schedules
import bench_atari  # SB3's Atari envs and PPO, the game ids, patching a class for a while

HERE = Path(__file__).resolve().parent
TEMPLATE, SB3 = "template", "sb3"
SIDES = (TEMPLATE, SB3)
NUM_ENVS, NUM_STEPS = 8, 128  # the ALE/* defaults on both sides
ROLLOUT = NUM_ENVS * NUM_STEPS
LEARNING_RATE, CLIP_RANGE = 2.5e-4, 0.1
STATE_FILE = "progress.json"
TEMPLATE_RUN, SB3_DIR = "template-run", "sb3"


@dataclass(frozen=True)
class Settings:
    """What one check trains and evaluates; a resume must keep them (``progress.json``)."""

    env_id: str
    seed: int
    total: int
    eval_every: int
    episodes: int
    save_every: int
    max_episode_steps: int  # 0: the games' own limit (108,000 frames)


def settings_for(args: argparse.Namespace) -> Settings:
    if args.quick:
        return Settings(bench_atari.game_id(args.game), args.seed, 4_096, 2_048, 1, 2_048, 300)
    return Settings(
        bench_atari.game_id(args.game), args.seed, 1_000_000, 100_000, args.episodes, args.save_every, 0
    )


# ---------------------------------------------------------------------------- the state on disk
def new_side() -> dict[str, Any]:
    return {
        "steps": 0,
        "done": False,
        "train_seconds": 0.0,  # training, evaluations excluded, as of the last save
        "train_cpu_seconds": 0.0,
        "all_seconds": 0.0,  # everything this side cost, across invocations
        "all_cpu_seconds": 0.0,
        "sessions": 0,
        "rollout_seconds": None,  # the latest rollout + update, for pacing
        "eval_seconds": None,  # the latest evaluation, for pacing
        "evaluations": [],  # {step, mean_return, std_return, mean_length, train_seconds, train_cpu_seconds}
        "checkpoint": None,  # SB3: the zip in sb3/ to resume from
    }


class Ledger:
    """``progress.json``: the settings, and per side its steps, clocks and evaluations (written atomically)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.session: SessionTime | None = None  # the side whose session runs: its time is added at each save

    @classmethod
    def open(cls, path: Path, settings: Settings) -> Ledger:
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("settings") != asdict(settings):
                raise SystemExit(
                    f"{path} holds a check with other settings ({data.get('settings')}), not {asdict(settings)}: "
                    "pass the same options, another --workdir, or --fresh to start over"
                )
            return cls(path, data)
        return cls(path, {"settings": asdict(settings), **{side: new_side() for side in SIDES}})

    def side(self, name: str) -> dict[str, Any]:
        side: dict[str, Any] = self.data[name]
        return side

    @property
    def done(self) -> bool:
        return all(self.side(name)["done"] for name in SIDES)

    def save(self) -> None:
        if self.session is not None:
            self.session.account()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.path)


# ---------------------------------------------------------------------------- stopping cleanly
class StopRequest:
    """Set by the first Ctrl-C or SIGTERM: stop at the next rollout boundary; a second Ctrl-C aborts."""

    requested = False

    @classmethod
    def handler(cls, signum: int, frame: FrameType | None) -> None:
        if cls.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cls.requested = True
        print(
            f"\n[{signal.Signals(signum).name}: stopping at the next rollout boundary, after saving; "
            "Ctrl-C again aborts and loses the steps since the last save]",
            flush=True,
        )


class SessionStopped(Exception):
    """Leaves the template's training loop once its checkpoint is saved."""


def evaluation_due(step: int, settings: Settings) -> bool:
    """Whether a periodic evaluation comes at the rollout boundary ``step`` (the first at or past a multiple)."""
    every = settings.eval_every
    return step < settings.total and step // every > (step - ROLLOUT) // every


class Pacer:
    """Decides at each rollout boundary whether a side stops: asked to, told to at a step, or out of time.

    It stops when the next rollout (as long as the last one took) and, if one is due after it,
    the evaluation (as long as the last one took) would end past the deadline.
    """

    def __init__(
        self, settings: Settings, side: dict[str, Any], deadline: float | None, stop_after: int | None
    ) -> None:
        self.settings = settings
        self.side = side
        self.deadline = deadline
        self.stop_after = stop_after
        self._mark = time.perf_counter()

    def mark(self) -> None:
        """The rollout starts now (the evaluation and the saving at the boundary are over)."""
        self._mark = time.perf_counter()

    def boundary(self) -> None:
        """A rollout and its update ended now."""
        self.side["rollout_seconds"] = time.perf_counter() - self._mark

    def evaluated(self, seconds: float) -> None:
        self.side["eval_seconds"] = seconds

    def should_stop(self, step: int) -> bool:
        if StopRequest.requested or (self.stop_after is not None and step >= self.stop_after):
            return True
        if self.deadline is None:
            return False
        ahead = self.side["rollout_seconds"] or 0.0
        following = step + ROLLOUT
        if following >= self.settings.total or evaluation_due(following, self.settings):
            ahead += self.side["eval_seconds"] or 0.0
        return time.perf_counter() + ahead > self.deadline


# ---------------------------------------------------------------------------- what both sides share
@dataclass
class Context:
    settings: Settings
    workdir: Path
    ledger: Ledger
    module: ModuleType  # the baked template's ppo module

    def template_config(self) -> Any:
        """The template's config: its ALE/* defaults with the check's budget and evaluations."""
        s = self.settings
        return self.module.AGENT.config_for_env(
            s.env_id,
            seed=s.seed,
            run_dir=str(self.workdir / TEMPLATE_RUN),
            total_timesteps=s.total,
            eval_every=s.eval_every,
            eval_episodes=s.episodes,
            final_eval_episodes=s.episodes,
            checkpoint_every=s.save_every,
            max_episode_steps=s.max_episode_steps,
            progress=False,
            logger="csv",
            torch_threads=1,
        )


def load_or_bake(bake_dir: Path) -> ModuleType:
    """The template's PPO module, baked into ``bake_dir`` the first time, imported from there after."""
    src = bake_dir / "bench-ppo" / "src"
    if not src.is_dir():
        shutil.rmtree(bake_dir, ignore_errors=True)
        return bench_agents.bake("ppo", bake_dir)
    sys.path.insert(0, str(src))
    return importlib.import_module("bench_ppo.ppo")


def say(side: str, message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {side}: {message}", flush=True)


class SessionTime:
    """A side's session: its wall and CPU seconds go into the side's "all" seconds at each save of the ledger."""

    def __init__(self, side: dict[str, Any]) -> None:
        self.side = side
        side["sessions"] += 1
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def account(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.side["all_seconds"] += wall - self._wall
        self.side["all_cpu_seconds"] += cpu - self._cpu
        self._wall, self._cpu = wall, cpu


@contextlib.contextmanager
def session_of(ledger: Ledger, side: dict[str, Any]) -> Iterator[None]:
    """Count the time inside as the side's (a process killed outright loses what came after the last save)."""
    ledger.session = SessionTime(side)
    try:
        yield
    finally:
        ledger.save()
        ledger.session = None


# ---------------------------------------------------------------------------- the template's side
def template_evaluations(run_dir: Path) -> list[dict[str, float]]:
    """The evaluation rows of the run's ``progress.csv`` (a resume has dropped the rows it redoes)."""
    path = run_dir / PROGRESS_FILENAME
    if not path.is_file():
        return []
    log = read_csv_log(path)
    if EVAL_RETURN_KEY not in log:
        return []
    keys = {
        "mean_return": EVAL_RETURN_KEY,
        "std_return": "eval/std_return",
        "mean_length": "eval/mean_length",
        "train_seconds": rlcore.runs.TRAIN_SECONDS_KEY,
        "train_cpu_seconds": rlcore.runs.TRAIN_CPU_SECONDS_KEY,
    }
    rows = np.flatnonzero(~np.isnan(log[EVAL_RETURN_KEY]))
    return [
        {
            "step": int(log[STEP_KEY][row]),
            **{name: float(log[key][row]) for name, key in keys.items() if key in log},
        }
        for row in rows
    ]


def template_session(ctx: Context, pacer: Pacer) -> None:
    """Train the template's agent from its latest checkpoint until it is done or the pacer stops it."""
    side = ctx.ledger.side(TEMPLATE)
    run_dir = ctx.workdir / TEMPLATE_RUN
    state = rlcore.runs.run_state(run_dir)
    if state == "done":
        side["done"] = True
        return
    original = rlcore.runs.Run.after_step
    settings = ctx.settings

    def after_step(run: Any, policy: Any, obs: np.ndarray) -> np.ndarray:
        """``Run.after_step`` (evaluate, checkpoint when due), then a checkpoint and a stop if the pacer says so."""
        if run.done:  # the last update: Run.finish saves, evaluates and writes eval.json
            return original(run, policy, obs)  # type: ignore[no-any-return]
        pacer.boundary()
        step = run.step
        checkpoint_due = run.checkpoint_due
        due = evaluation_due(step, settings)
        began = time.perf_counter()
        obs = original(run, policy, obs)
        if due:
            pacer.evaluated(time.perf_counter() - began)
            side["evaluations"] = template_evaluations(run_dir)
            said = side["evaluations"][-1]["mean_return"] if side["evaluations"] else math.nan
            say(TEMPLATE, f"step {step:,}: mean return {said:.1f} ({time.perf_counter() - began:.0f} s)")
        stop = pacer.should_stop(step)
        if stop and not checkpoint_due:
            run.save_checkpoint()
        if stop or checkpoint_due:
            side.update(steps=step, train_seconds=run.train_seconds, train_cpu_seconds=run.train_cpu_seconds)
            side["evaluations"] = template_evaluations(run_dir)
            ctx.ledger.save()
        if stop:
            raise SessionStopped
        pacer.mark()
        return obs

    latest = rlcore.runs.latest_checkpoint(run_dir)
    if latest is not None:
        side["steps"] = rlcore.runs.checkpoint_step(latest)
        say(TEMPLATE, f"resuming at step {side['steps']:,}")
    else:
        say(TEMPLATE, "starting")
    try:
        with session_of(ctx.ledger, side), bench_atari.patched(rlcore.runs.Run, "after_step", after_step):
            summary = ctx.module.train(ctx.template_config(), resume=state != "new")
    except SessionStopped:
        say(TEMPLATE, f"stopped at step {side['steps']:,} (checkpoint saved)")
    else:
        side.update(
            steps=int(summary["step"]),
            done=True,
            train_seconds=float(summary["train_seconds"]),
            train_cpu_seconds=float(summary["train_cpu_seconds"]),
        )
        say(TEMPLATE, f"done at step {side['steps']:,}: final mean return {summary['mean_return']:.1f}")
    finally:
        side["evaluations"] = template_evaluations(run_dir)
        ctx.ledger.save()
        gc.collect()


# ---------------------------------------------------------------------------- SB3's side
def sb3_envs(settings: Settings) -> VecEnv:
    """bench_atari's SB3 training envs; with ``max_episode_steps`` (``--quick``), a ``TimeLimit`` on each."""
    if not settings.max_episode_steps:
        return bench_atari.sb3_vec_env(settings.env_id, NUM_ENVS)
    make = bench_atari.sb3_atari_env(settings.env_id)

    def limited() -> gym.Env[Any, Any]:
        return gym.wrappers.TimeLimit(make(), max_episode_steps=settings.max_episode_steps)

    return VecFrameStack(DummyVecEnv([limited] * NUM_ENVS), n_stack=4)


def evaluation_envs(config: Any, episodes: int) -> VectorEnv:
    """The envs the template's run evaluates on (``rlcore.runs.make_envs``, as ``train`` makes them)."""
    training = rlcore.runs.make_envs(config, 1)  # stands for the training envs: no statistics to share
    envs = rlcore.runs.make_envs(config, min(episodes, 10), evaluation_of=training)
    training.close()
    return envs


def check_same_hyperparameters(config: Any, model: Any) -> None:
    """Refuse to train SB3's model unless it has the template config's hyperparameters."""
    theirs = {
        "num_envs": model.n_envs,
        "num_steps": model.n_steps,
        "update_epochs": model.n_epochs,
        "batch_size": model.batch_size,
        "gamma": model.gamma,
        "gae_lambda": model.gae_lambda,
        "ent_coef": model.ent_coef,
        "vf_coef": model.vf_coef,
        "max_grad_norm": model.max_grad_norm,
        "learning_rate": model.lr_schedule(1.0),
        "clip_coef": model.clip_range(1.0),
        "anneal_lr": model.lr_schedule(0.0) == 0.0,
        "anneal_clip": model.clip_range(0.0) == 0.0,
        "frame_stack": model.observation_space.shape[0],
    }
    differ = {
        key: (getattr(config, key), value) for key, value in theirs.items() if getattr(config, key) != value
    }
    if differ:
        raise SystemExit(f"the template's config and SB3's model differ (template, SB3): {differ}")


def resume_seed(seed: int, step: int) -> int:
    """The seed of SB3's RNGs and envs after a resume at ``step`` (below 2**31, as NumPy and the ALE take)."""
    return rlcore.runs.episode_seed(seed, step) % (2**31 - NUM_ENVS)


class SB3Session(BaseCallback):  # type: ignore[misc]
    """At each rollout boundary (after the update): evaluate when due, save when due, stop when the pacer says so."""

    def __init__(self, ctx: Context, pacer: Pacer, eval_envs: VectorEnv, clocks: tuple[Clock, Clock]) -> None:
        super().__init__()
        self.ctx = ctx
        self.pacer = pacer
        self.eval_envs = eval_envs
        self.wall, self.cpu = clocks
        self.side = ctx.ledger.side(SB3)
        self.start_step = int(self.side["steps"])
        self.stopped = False

    def _on_rollout_start(self) -> None:
        step = int(self.model.num_timesteps)
        if step == self.start_step:  # this session's first rollout
            self.pacer.mark()
            return
        self.pacer.boundary()
        if evaluation_due(step, self.ctx.settings):
            self.evaluate(step)
        stop = self.pacer.should_stop(step)
        if stop or step >= self.side["steps"] + self.ctx.settings.save_every:
            self.save(step)
        if stop:
            self.stopped = True
        self.pacer.mark()

    def _on_step(self) -> bool:
        return not self.stopped  # False: learn() returns before this rollout goes any further

    def evaluate(self, step: int) -> None:
        if any(e["step"] == step for e in self.side["evaluations"]):
            return  # evaluated before an interruption that came before the save
        began = time.perf_counter()
        with self.wall.paused(), self.cpu.paused():
            result = evaluate(
                lambda obs: self.model.predict(obs, deterministic=True)[0],
                self.eval_envs,
                self.ctx.settings.episodes,
                seed=self.ctx.settings.seed,
            )
        self.pacer.evaluated(time.perf_counter() - began)
        self.side["evaluations"].append(
            {
                "step": step,
                "mean_return": float(result.mean_return),
                "std_return": float(result.std_return),
                "mean_length": float(result.mean_length),
                "train_seconds": self.wall.seconds,
                "train_cpu_seconds": self.cpu.seconds,
            }
        )
        self.ctx.ledger.save()
        said = self.side["evaluations"][-1]["mean_return"]
        say(SB3, f"step {step:,}: mean return {said:.1f} ({time.perf_counter() - began:.0f} s)")

    def save(self, step: int) -> None:
        folder = self.ctx.workdir / SB3_DIR
        folder.mkdir(parents=True, exist_ok=True)
        name = f"step_{step:09d}.zip"
        self.model.save(folder / name)
        self.side.update(
            steps=step, checkpoint=name, train_seconds=self.wall.seconds, train_cpu_seconds=self.cpu.seconds
        )
        self.ctx.ledger.save()  # points at the new zip; then the older ones go
        for old in folder.glob("step_*.zip"):
            if old.name != name:
                old.unlink()


def sb3_session(ctx: Context, pacer: Pacer) -> None:
    """Train SB3's PPO from its latest zip until it is done or the pacer stops it."""
    with session_of(ctx.ledger, ctx.ledger.side(SB3)):
        train_sb3(ctx, pacer)


def train_sb3(ctx: Context, pacer: Pacer) -> None:
    side = ctx.ledger.side(SB3)
    settings = ctx.settings
    torch.set_num_threads(1)
    clocks = (
        Clock(time.perf_counter, side["train_seconds"]),
        Clock(time.process_time, side["train_cpu_seconds"]),
    )
    env = sb3_envs(settings)
    if side["checkpoint"]:
        say(SB3, f"resuming at step {side['steps']:,}")
        schedules = {
            "learning_rate": bench_agents.linear(LEARNING_RATE),
            "clip_range": bench_agents.linear(CLIP_RANGE),
        }
        model = PPO.load(
            ctx.workdir / SB3_DIR / side["checkpoint"], env=env, device="cpu", custom_objects=schedules
        )
        if model.num_timesteps != side["steps"]:
            raise SystemExit(
                f"{side['checkpoint']}: num_timesteps {model.num_timesteps}, expected {side['steps']}"
            )
        model._last_obs = None  # saved in the zip: learn() resets the envs instead
        model.set_random_seed(resume_seed(settings.seed, side["steps"]))
    else:
        say(SB3, "starting")
        model = bench_atari.sb3_model("ppo", env, 0, settings.seed)
    check_same_hyperparameters(ctx.template_config(), model)
    eval_envs = evaluation_envs(ctx.template_config(), settings.episodes)
    callback = SB3Session(ctx, pacer, eval_envs, clocks)
    try:
        remaining = settings.total - model.num_timesteps
        if remaining > 0:
            model.learn(remaining, callback=callback, reset_num_timesteps=False)
        else:  # trained, but stopped before the final evaluation or the record of being done
            callback.init_callback(model)
        if callback.stopped:
            say(SB3, f"stopped at step {side['steps']:,} (saved)")
            return
        step = int(model.num_timesteps)
        callback.evaluate(step)
        callback.save(step)
        side["done"] = True
        say(SB3, f"done at step {step:,}: final mean return {side['evaluations'][-1]['mean_return']:.1f}")
    finally:
        eval_envs.close()
        env.close()
        ctx.ledger.save()
        del model
        gc.collect()


# ---------------------------------------------------------------------------- the report
def hours(seconds: float) -> str:
    return f"{seconds / 3600:.3f}"


def report(settings: Settings, ledger: Ledger) -> str:
    by_step: dict[int, dict[str, dict[str, float]]] = {}
    for name in SIDES:
        for evaluation in ledger.side(name)["evaluations"]:
            by_step.setdefault(int(evaluation["step"]), {})[name] = evaluation

    def cell(row: dict[str, dict[str, float]], name: str, key: str, digits: int = 1) -> str:
        value = row.get(name, {}).get(key)
        if value is None or math.isnan(value):
            return ""
        return hours(value) if key == "train_cpu_seconds" else f"{value:.{digits}f}"

    lines = [
        f"## PPO on {settings.env_id}, seed {settings.seed}: the template vs SB3\n",
        f"Mean return of {settings.episodes} whole game(s), deterministic, at each evaluation; "
        "training CPU hours (evaluations excluded) at that step.\n",
        "| step | template mean return | SB3 mean return | template CPU h | SB3 CPU h |",
        "|---:|---:|---:|---:|---:|",
    ]
    for step in sorted(by_step):
        row = by_step[step]
        lines.append(
            f"| {step:,} | {cell(row, TEMPLATE, 'mean_return')} | {cell(row, SB3, 'mean_return')} "
            f"| {cell(row, TEMPLATE, 'train_cpu_seconds')} | {cell(row, SB3, 'train_cpu_seconds')} |"
        )
    if not by_step:
        lines.append("| (no evaluation yet) | | | | |")
    lines += [
        "",
        "| side | steps | done | training CPU h | training wall h | all CPU h | all wall h | sessions "
        "| CPU h still needed (estimate) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SIDES:
        side = ledger.side(name)
        steps = side["steps"]
        if side["done"]:
            left = "0"
        elif steps:
            left = hours(side["all_cpu_seconds"] * (settings.total - steps) / steps)
        else:
            left = "?"
        lines.append(
            f"| {'template' if name == TEMPLATE else 'SB3'} | {steps:,} | {'yes' if side['done'] else 'no'} "
            f"| {hours(side['train_cpu_seconds'])} | {hours(side['train_seconds'])} "
            f"| {hours(side['all_cpu_seconds'])} | {hours(side['all_seconds'])} | {side['sessions']} | {left} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def run_sides(ctx: Context, deadline: float | None, stop_after: int | None) -> None:
    """Sessions of the unfinished sides (the one behind first), sharing the time left equally.

    With a deadline, a side that finishes early leaves its time to the other: the passes go on
    while a side is unfinished, time is left and the last pass made progress.
    """
    while True:
        pending = sorted(
            (name for name in SIDES if not ctx.ledger.side(name)["done"]),
            key=lambda name: ctx.ledger.side(name)["steps"],
        )
        progressed = False
        for index, name in enumerate(pending):
            if StopRequest.requested:
                return
            side = ctx.ledger.side(name)
            side_deadline = None
            if deadline is not None:
                left = deadline - time.perf_counter()
                if left < (side["rollout_seconds"] or 10.0) + 10.0:  # set-up and one rollout do not fit
                    continue
                side_deadline = time.perf_counter() + left / (len(pending) - index)
            before = side["steps"]
            pacer = Pacer(ctx.settings, side, side_deadline, stop_after)
            (template_session if name == TEMPLATE else sb3_session)(ctx, pacer)
            progressed = progressed or side["done"] or side["steps"] > before
        if deadline is None or not pending or not progressed:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Pong", help="Pong (default), Breakout, or an ALE id")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="wall-clock minutes of work in this invocation (default 30; --quick: no limit, a forced stop instead)",
    )
    parser.add_argument(
        "--episodes", type=int, default=5, help="games per evaluation, both sides (default 5)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the seed of both sides (default 0)")
    parser.add_argument(
        "--save-every", type=int, default=50_000, help="steps between saves of each side (default 50,000)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="default benchmarks/.atari-learning/<Game>"
    )
    parser.add_argument("--fresh", action="store_true", help="delete the state in --workdir and start over")
    parser.add_argument("--status", action="store_true", help="print the table so far; train nothing")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 4,096 steps a side, stopped and resumed"
    )
    args = parser.parse_args()
    if args.minutes is not None and args.minutes <= 0:
        raise SystemExit("--minutes must be > 0")
    began = time.perf_counter()
    settings = settings_for(args)
    game = settings.env_id.removeprefix("ALE/").split("-")[0].replace("/", "_")
    workdir = (args.workdir or HERE / ".atari-learning" / (game + ("-quick" if args.quick else ""))).resolve()
    state_file = workdir / STATE_FILE
    if args.quick and state_file.is_file() and not args.status:
        args.fresh = args.fresh or Ledger.open(state_file, settings).done  # a smoke run runs
    if args.fresh and not args.status:
        shutil.rmtree(workdir, ignore_errors=True)
    ledger = Ledger.open(state_file, settings)
    bench_agents.print_header(f"Atari learning: PPO on {settings.env_id}, template vs SB3", quick=args.quick)
    print(f"State: {workdir}\n", flush=True)
    if not args.status and not ledger.done:
        atari.register_atari_envs()
        torch.set_num_threads(1)
        ctx = Context(settings, workdir, ledger, load_or_bake(workdir / "bake"))
        ledger.save()
        minutes = args.minutes if args.minutes is not None else (None if args.quick else 30.0)
        deadline = None if minutes is None else began + minutes * 60
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, StopRequest.handler)
        if minutes is None:  # --quick without --minutes: stop each side halfway, then resume it
            run_sides(ctx, None, settings.total // 2)
            print("\n" + report(settings, ledger), flush=True)
            say("both", "stopped halfway as --quick does; resuming from the saved state")
        run_sides(ctx, deadline, None)
    print("\n" + report(settings, ledger))
    elapsed = (time.perf_counter() - began) / 60
    if ledger.done:
        print(f"Both sides are done. This invocation: {elapsed:.1f} minutes.")
    else:
        again = " ".join(
            ["python benchmarks/bench_atari_learning.py", f"--game {args.game}"]
            + (["--quick"] if args.quick else [])
            + ([f"--workdir {args.workdir}"] if args.workdir else [])
        )
        print(
            f"Not done yet; this invocation: {elapsed:.1f} minutes. Continue with:\n\n    {again} --minutes {args.minutes or 30:g}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
