"""Where the time goes: the template's DQN and PPO on CartPole-v1 against Stable-Baselines3's, by category.

Bakes two projects from this template (``example_agent=dqn`` and ``ppo``) into a temporary
folder, imports their agents, and trains them and SB3's in this process with one torch thread
(``torch.set_num_threads(1)``) and rl-baselines3-zoo's CartPole-v1 settings on both sides (the
template's ``ENV_DEFAULTS``; SB3's models from ``bench_agents``). Each side is warmed up once
before anything is timed, and the order of the sides changes from one round of runs to the next
so that drift in the machine's load hits them alike. The measure is CPU seconds of this process
(``time.process_time``): on a machine shared with other work the load stretches wall-clock times
at random while CPU times stay put (wall-clock totals are printed beside them). Prints Markdown:

1. **CPU microseconds per env step by category**, each side's instrumented run:
   ``bench_atari.Probe`` times every call of the vector env's ``step`` (CartPole and the
   wrappers: the template's ``RecordEpisodeStatistics`` over a same-step autoreset vector env,
   SB3's ``Monitor`` in a ``DummyVecEnv``), the buffer's add and its sampling (DQN) or
   minibatches and GAE (PPO), the networks' forward passes (global module hooks; a batch of at
   most ``num_envs`` observations counts as acting, a larger one as learning, the target network
   included), ``torch.autograd.backward``, ``torch.nn.utils.clip_grad_norm_`` and the
   optimiser's step; the rest (the Python loop, tensor conversions, distributions and losses
   outside modules, the target network's copies, schedules, logging) is "other". Only the
   outermost timed call counts; the timers cost a few microseconds a call, which on CartPole's
   microsecond-sized operations is visible: each side also trains once uninstrumented, and the
   tables print that run's total beside the instrumented one.

   * DQN (zoo: one env, buffer 100k, ``learning_starts=1000``, ``train_freq=256``,
     ``gradient_steps=128``, batch 64, 256x256 ReLU MLP, target copied every 10 steps, lr
     2.3e-3, exploration over 16% of the run down to 0.04): the window starts at the first env
     step after the first round of updates (step 1,025) and holds ``--steps`` env steps
     (default 20,480: 80 rounds of 128 updates). The template's DQN runs twice: with its
     defaults (Double DQN and 3-step returns, one more forward pass of each minibatch through
     the online network than SB3's DQN) and with ``double_q=False, n_step=1``, the same
     computation per update as SB3's. Its round samples ``64 * 128`` transitions at once and
     computes their target values in one forward pass; SB3 samples and runs the target network
     per update.
   * PPO (zoo: 8 envs x 32 steps, 20 epochs of one minibatch of 256, GAE lambda 0.8, gamma
     0.98, lr 1e-3 and clip range 0.2 both annealed, 64x64 tanh MLPs): the window is the whole
     run after its first env step, ``--steps`` env steps (default 40,960: 160 rollouts).

   torch.distributions' argument checks: the template's PPO turns them off process-wide when it
   starts (its ``validate_distributions=False``), SB3 leaves torch's default (on, unless Python
   runs with ``-O``); each SB3 run and each SB3 operation of the floor below runs with torch's
   default restored, as SB3 runs in a fresh process (the floor prints the price of the checks).

2. **The per-op floor**: each of those operations alone, each side's own, taking turns in a
   loop (``bench_atari.cpu_ms``: the median CPU time of a call): the vector envs with pre-drawn
   random actions (so episodes are shorter, and resets more frequent, than in training), the
   buffers' add and sampling on random CartPole-like transitions, the acting forward pass from
   a NumPy observation to a NumPy action, the target network, the loss's forward and backward,
   ``clip_grad_norm_`` and one Adam step (the template's foreach and fused, SB3's defaults).
   Summed with each operation's count per env step into the least CPU time an env step of each
   side can cost (DQN's acting pass weighted by the share of greedy steps its instrumented run
   took), beside that side's uninstrumented run: run / floor is what each side's loop adds to
   its own operations, and SB3's run over the template's floor is the most the template could
   gain over SB3 by a leaner loop around the operations it has now.

3. **A verdict per agent** in one line.

``--cprofile`` adds a further uninstrumented run of each template agent (DQN with its defaults)
under cProfile: its top functions by own time (``bench_atari.cprofile_table``).

    python benchmarks/bench_breakdown.py                 # DQN and PPO, about 3 minutes on 2 cores
    python benchmarks/bench_breakdown.py --quick         # a smoke run, under a minute
    python benchmarks/bench_breakdown.py --only dqn --steps 40960 --cprofile
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import gc
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv
from torch.distributions import Distribution
from torch.nn import functional as F

import rlcore.runs
from rlcore import buffers as rl_buffers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_agents  # the template baking, the report's header, ratios, SB3's zoo models
from bench_atari import (
    ACT,
    CATEGORIES,
    OTHER,
    Clock,
    Probe,
    Window,
    cprofile_table,
    cpu_ms,
    sb3_learn_window,
    template_clock,
)

ENV_ID = "CartPole-v1"
OBS_SPACE = spaces.Box(-np.inf, np.inf, (4,), np.float32)
ACTION_SPACE = spaces.Discrete(2)
# DQN, rl-baselines3-zoo (the template's ENV_DEFAULTS and bench_agents.sb3_dqn_cartpole).
DQN_LEARNING_STARTS = 1_000
DQN_TRAIN_FREQ = 256
DQN_GRADIENT_STEPS = 128
DQN_BATCH = 64
DQN_FIRST_ROUND = -(-(DQN_LEARNING_STARTS + 1) // DQN_TRAIN_FREQ) * DQN_TRAIN_FREQ  # 1,024
# PPO, rl-baselines3-zoo (the template's ENV_DEFAULTS and bench_agents.sb3_ppo_cartpole).
PPO_ENVS, PPO_STEPS, PPO_EPOCHS, PPO_BATCH = 8, 32, 20, 256
PPO_ROLLOUT = PPO_ENVS * PPO_STEPS
PPO_UPDATES_PER_ROLLOUT = PPO_EPOCHS * (PPO_ROLLOUT // PPO_BATCH)
SB3_VALIDATE = __debug__  # torch.distributions' default, what SB3 runs with in a fresh process
PLAIN = {"double_q": False, "n_step": 1}  # the template's DQN doing SB3's computation per update


@dataclass(frozen=True)
class Budget:
    """The sizes of one invocation (full or ``--quick``)."""

    dqn_steps: int  # env steps in a DQN window (whole rounds of DQN_TRAIN_FREQ)
    ppo_steps: int  # env steps in a PPO run (whole rollouts of PPO_ROLLOUT)
    floor_reps: int
    env_floor_steps: int


FULL = Budget(20_480, 40_960, 300, 10_000)
QUICK = Budget(1_024, 2_048, 20, 500)


# ---------------------------------------------------------------------------- the runs
@contextlib.contextmanager
def validate_distributions(flag: bool) -> Iterator[None]:
    """torch.distributions' argument checks set to ``flag`` for the duration."""
    before = Distribution._validate_args
    Distribution.set_default_validate_args(flag)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(before)


def schedule(algo: str, steps: int) -> tuple[int, int]:
    """``(total, start_step)``: PPO whole rollouts from the first env step; DQN whole rounds after the first."""
    if algo == "ppo":
        return -(-steps // PPO_ROLLOUT) * PPO_ROLLOUT, 0
    return DQN_FIRST_ROUND + -(-steps // DQN_TRAIN_FREQ) * DQN_TRAIN_FREQ, DQN_FIRST_ROUND + 1


_run_dirs = itertools.count()


def run_template(
    module: ModuleType,
    workdir: Path,
    total: int,
    start_step: int,
    probe: Probe | None = None,
    seed: int = 0,
    **overrides: Any,
) -> Window:
    """Train the baked agent on CartPole-v1 (its zoo settings) for ``total`` env steps; the window from ``start_step``."""
    config = module.AGENT.config_for_env(
        ENV_ID,
        seed=seed,
        run_dir=str(workdir / f"run-{next(_run_dirs)}"),
        total_timesteps=total,
        eval_every=0,
        eval_episodes=1,
        final_eval_episodes=1,
        checkpoint_every=0,
        progress=False,
        logger="csv",
        torch_threads=1,
        **overrides,
    )
    clock = Clock(start_step, probe)
    with contextlib.ExitStack() as stack:
        stack.enter_context(template_clock(clock))
        if probe is not None:
            stack.enter_context(probe.installed("template"))
        module.train(config)
    gc.collect()
    return clock.window()


def sb3_model(algo: str, seed: int) -> Any:
    """SB3's model with the zoo's CartPole-v1 settings (``bench_agents``), on its own vector env."""
    if algo == "ppo":
        return bench_agents.sb3_ppo_cartpole(seed)(make_vec_env(ENV_ID, n_envs=PPO_ENVS, seed=seed))
    return bench_agents.sb3_dqn_cartpole(seed)(make_vec_env(ENV_ID, n_envs=1, seed=seed))


def run_sb3(algo: str, total: int, start_step: int, probe: Probe | None = None, seed: int = 0) -> Window:
    """Train SB3's agent for ``total`` env steps (``model.learn`` only); the window from ``start_step``."""
    with validate_distributions(SB3_VALIDATE):
        return sb3_learn_window(sb3_model(algo, seed), total, start_step, probe)


@dataclass
class Side:
    """One trained agent of the comparison, its instrumented and its uninstrumented run."""

    key: str  # "template", "template-plain", "sb3"
    label: str
    train: Callable[[int, int, Probe | None], Window]  # (total, start_step, probe) -> window
    probe: Probe = field(default_factory=lambda: Probe(1))
    instrumented: Window | None = None
    clean: Window | None = None

    @property
    def is_sb3(self) -> bool:
        return self.key == "sb3"

    def us(self, category: str) -> float:
        """CPU µs per env step of ``category`` in the instrumented run (``other``: the rest)."""
        assert self.instrumented is not None
        seconds = self.probe.cpu[category] if category != OTHER else self.other_seconds
        return 1e6 * seconds / self.instrumented.steps

    @property
    def other_seconds(self) -> float:
        assert self.instrumented is not None
        return self.instrumented.cpu_seconds - sum(self.probe.cpu.values())

    @property
    def run_us(self) -> float:
        """CPU µs per env step of the uninstrumented run."""
        assert self.clean is not None
        return 1e6 * self.clean.cpu_seconds / self.clean.steps

    @property
    def acting_share(self) -> float:
        """Acting forward passes per env step per env (DQN: the share of greedy steps)."""
        assert self.instrumented is not None
        return self.probe.calls[ACT] / self.instrumented.steps


def sides_of(algo: str, module: ModuleType, workdir: Path) -> list[Side]:
    acting = PPO_ENVS if algo == "ppo" else 1

    def template(**overrides: Any) -> Callable[[int, int, Probe | None], Window]:
        return lambda total, start, probe: run_template(module, workdir, total, start, probe, **overrides)

    def sb3(total: int, start: int, probe: Probe | None) -> Window:
        return run_sb3(algo, total, start, probe)

    sides = [Side("template", "template", template(), Probe(acting))]
    if algo == "dqn":
        sides.append(Side("template-plain", "template plain", template(**PLAIN), Probe(acting)))
    return [*sides, Side("sb3", "SB3", sb3, Probe(acting))]


def measure(algo: str, sides: list[Side], steps: int) -> None:
    """Warm every side up, then one instrumented and one uninstrumented run each, in turns."""
    total, start = schedule(algo, steps)
    warm_total, warm_start = schedule(algo, 1)
    for side in sides:
        side.train(warm_total, warm_start, None)
    for side in sides:
        side.instrumented = side.train(total, start, side.probe)
        print(f"  {algo} {side.label}: instrumented run done", file=sys.stderr, flush=True)
    for side in reversed(sides):
        side.clean = side.train(total, start, None)
        print(f"  {algo} {side.label}: uninstrumented run done", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- 1. breakdown table
def instrumented_window(side: Side) -> Window:
    assert side.instrumented is not None
    return side.instrumented


def breakdown_table(algo: str, sides: list[Side], setting: str) -> str:
    """CPU µs per env step by category, each side, with shares and the template sides over SB3."""
    sb3 = sides[-1]
    templates = sides[:-1]
    header = "| category | " + " | ".join(f"{side.label} µs/step | %" for side in sides)
    header += " | " + " | ".join(f"{side.label} / SB3" for side in templates) + " |"
    lines = [
        f"### {algo.upper()} on {ENV_ID}: CPU time per env step",
        "",
        header,
        "| :--- |" + " ---: | ---: |" * len(sides) + " ---: |" * len(templates),
    ]
    for category in (*CATEGORIES, OTHER):
        cells = []
        for side in sides:
            assert side.instrumented is not None
            seconds = side.probe.cpu[category] if category != OTHER else side.other_seconds
            cells.append(f"{side.us(category):,.1f} | {100 * seconds / side.instrumented.cpu_seconds:.1f}")
        ratios = [bench_agents.ratio(side.us(category), sb3.us(category)) for side in templates]
        lines.append(f"| {category} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")

    def total_row(name: str, value: Callable[[Side], float], bold: bool = False) -> str:
        mark = "**" if bold else ""
        cells = [f"{mark}{value(side):,.1f}{mark} | {'100' if bold else ''}" for side in sides]
        ratios = [bench_agents.ratio(value(side), value(sb3)) for side in templates]
        return f"| {mark}{name}{mark} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |"

    lines += [
        total_row("total (CPU)", lambda s: 1e6 / instrumented_window(s).per_cpu_second, bold=True),
        total_row("total (wall)", lambda s: 1e6 / instrumented_window(s).per_second),
        total_row("uninstrumented run (CPU)", lambda s: s.run_us),
        "",
    ]
    calls = "; ".join(
        f"{side.label}: "
        + ", ".join(
            f"{category} {1e3 * side.probe.calls[category] / instrumented_window(side).steps:,.0f}"
            for category in CATEGORIES
            if side.probe.calls[category]
        )
        for side in sides
    )
    load = statistics.mean(w.load for side in sides for w in (side.instrumented, side.clean) if w is not None)
    lines += [
        f"{setting} Window: {instrumented_window(sb3).steps:,} env steps on each side; µs per env step of the "
        "instrumented runs (the timers' overhead is in the categories and in 'other'; the last row is "
        "the same run without timers). Outermost calls per 1,000 env steps: "
        f"{calls}. Mean load average {load:.2f} on {os.cpu_count()} CPUs.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- 2. the per-op floor
def env_us(env: Any, steps: int, seed: int = 0) -> float:
    """CPU µs per step of one (sub-)env of ``env`` with pre-drawn random actions; closes ``env``."""
    vec_env = isinstance(env, VecEnv)
    num = env.num_envs if vec_env or hasattr(env, "num_envs") else 1
    actions = np.random.default_rng(seed).integers(0, 2, size=(steps + 20, num))
    if vec_env:
        env.seed(seed)
        env.reset()
        step: Callable[[Any], Any] = env.step
    elif hasattr(env, "num_envs"):
        env.reset(seed=seed)
        step = env.step
    else:
        env.reset(seed=seed)
        single = [int(a) for a in actions[:, 0]]
        actions = np.arange(len(single))[:, None]

        def step(index: Any) -> None:
            result = env.step(single[int(index[0])])
            if result[2] or result[3]:
                env.reset()

    for action in actions[:20]:
        step(action)
    timed = list(actions[20:])
    began = time.process_time()
    for action in timed:
        step(action)
    seconds = time.process_time() - began
    env.close()
    return 1e6 * seconds / (steps * num)


def cpu_us(functions: Sequence[Callable[[], Any]], reps: int) -> list[float]:
    """``bench_atari.cpu_ms`` in µs: the median CPU time of a call of each, taking turns."""
    return [1e3 * ms for ms in cpu_ms(functions, reps)]


def checks(flag: bool, function: Callable[[], Any]) -> Callable[[], Any]:
    """``function`` run with torch.distributions' argument checks ``flag`` (the template: off; SB3: torch's default)."""

    def run() -> Any:
        with validate_distributions(flag):
            return function()

    return run


def fill_replay(buffer: Any, count: int, sb3: bool, rng: np.random.Generator) -> Callable[[], None]:
    """Add ``count`` random CartPole-like transitions (episodes of about 50 steps); return one add."""
    obs = rng.normal(size=(count + 1, 1, 4)).astype(np.float32)
    actions = rng.integers(0, 2, size=(count + 1, 1))
    ends = rng.random(count + 1) < 0.02
    rewards = np.ones(1)  # float64, as a vector env gives them
    false = np.zeros(1, dtype=bool)
    infos: list[dict[str, Any]] = [{}]

    def add(i: int) -> None:
        terminated = ends[i : i + 1]
        if sb3:
            buffer.add(obs[i], obs[i + 1], actions[i], rewards, terminated, infos)
        else:
            buffer.add(obs[i], obs[i + 1], actions[i], rewards, terminated, false)

    for i in range(count):
        add(i)
    position = itertools.cycle(range(count))
    return lambda: add(next(position))


def dqn_operations(module: ModuleType, reps: int, ms: dict[tuple[str, str], float]) -> list[tuple[str, str]]:
    """DQN's operations alone, both sides, into ``ms`` (µs per call); their labels."""
    config = module.AGENT.config_for_env(ENV_ID)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    round_size = DQN_BATCH * DQN_GRADIENT_STEPS

    q_network = module.QNetwork(OBS_SPACE, ACTION_SPACE, config.hidden_sizes)
    target = copy.deepcopy(q_network)
    adam = torch.optim.Adam(q_network.parameters(), lr=config.learning_rate, fused=True)

    def replay(n_step: int) -> Any:
        return rl_buffers.ReplayBuffer(
            config.buffer_size,
            OBS_SPACE,
            ACTION_SPACE,
            n_step=n_step,
            gamma=config.gamma,
            num_envs=1,
            autoreset_mode=AutoresetMode.SAME_STEP,
            seed=0,
        )

    buffers = {n: replay(n) for n in (1, config.n_step)}
    adds = {n: fill_replay(buffer, 20_000, False, rng) for n, buffer in buffers.items()}

    model = sb3_model("dqn", 0)
    sb3_policy, sb3_buffer = model.policy, model.replay_buffer
    sb3_add = fill_replay(sb3_buffer, 20_000, True, rng)
    sb3_parameters = list(sb3_policy.parameters())

    obs1 = rng.normal(size=(1, 4)).astype(np.float32)
    batch = buffers[1].sample(DQN_BATCH)
    round_obs = buffers[1].sample(round_size).next_observations
    sb3_batch = sb3_buffer.sample(DQN_BATCH)
    targets = torch.randn(DQN_BATCH)

    def template_act() -> None:
        with torch.inference_mode():
            q_network(torch.as_tensor(obs1)).argmax(dim=1).cpu().numpy()

    def sb3_act() -> None:
        with torch.no_grad():
            sb3_policy.q_net(torch.as_tensor(obs1)).argmax(dim=1).cpu().numpy()

    def template_sample(n_step: int) -> Callable[[], Any]:
        return lambda: buffers[n_step].sample(round_size).split(DQN_BATCH)

    def template_target() -> None:
        with torch.no_grad():
            target(round_obs).split(DQN_BATCH)

    def template_double() -> None:
        with torch.no_grad():
            q_network(batch.next_observations).argmax(dim=1, keepdim=True)

    def sb3_target() -> None:
        with torch.no_grad():
            sb3_policy.q_net_target(sb3_batch.next_observations).max(dim=1)

    def template_loss() -> None:
        q = q_network(batch.observations).gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, targets)
        adam.zero_grad(set_to_none=True)
        loss.backward()

    def sb3_loss() -> None:
        q = torch.gather(sb3_policy.q_net(sb3_batch.observations), dim=1, index=sb3_batch.actions.long())
        loss = F.smooth_l1_loss(q, targets.reshape(-1, 1))
        sb3_policy.optimizer.zero_grad()
        loss.backward()

    template_loss()
    sb3_loss()
    q_parameters = list(q_network.parameters())
    operations: dict[str, tuple[str, Callable[[], Any], Callable[[], Any] | None, int]] = {
        # key: (label, the template's, SB3's, reps)
        "dqn act": ("DQN acting: NumPy obs -> Q-network, batch 1 -> NumPy action", template_act, sb3_act, 5),
        "dqn add": ("DQN buffer add, 1 transition", adds[1], sb3_add, 5),
        "dqn add n": (
            f"DQN buffer add, 1 transition, template n_step={config.n_step}",
            adds[config.n_step],
            None,
            5,
        ),
        "dqn sample": (
            f"DQN sample: template {DQN_GRADIENT_STEPS} x {DQN_BATCH} once a round (split), SB3 {DQN_BATCH}",
            template_sample(1),
            lambda: sb3_buffer.sample(DQN_BATCH),
            1,
        ),
        "dqn sample n": (
            f"DQN sample, template n_step={config.n_step}",
            template_sample(config.n_step),
            None,
            1,
        ),
        "dqn target": (
            f"DQN target network: template batch {round_size:,} once a round, SB3 batch {DQN_BATCH}",
            template_target,
            sb3_target,
            1,
        ),
        "dqn double": (
            f"DQN Double DQN's online forward, batch {DQN_BATCH} (template defaults)",
            template_double,
            None,
            2,
        ),
        "dqn loss": (f"DQN loss: forward + backward, batch {DQN_BATCH}", template_loss, sb3_loss, 2),
        "dqn clip": (
            "DQN clip_grad_norm_ (template foreach, SB3 default)",
            lambda: torch.nn.utils.clip_grad_norm_(q_parameters, 10.0, foreach=True),
            lambda: torch.nn.utils.clip_grad_norm_(sb3_parameters, 10.0),
            2,
        ),
        "dqn adam": ("DQN Adam step (template fused, SB3 default)", adam.step, sb3_policy.optimizer.step, 2),
    }
    for key, (_, ours, theirs, factor) in operations.items():
        if theirs is None:
            (ms[key, "template"],) = cpu_us([ours], factor * reps)
        else:
            ms[key, "template"], ms[key, "sb3"] = cpu_us([ours, theirs], factor * reps)
    return [(key, label) for key, (label, *_) in operations.items()]


def ppo_operations(module: ModuleType, reps: int, ms: dict[tuple[str, str], float]) -> list[tuple[str, str]]:
    """PPO's operations alone, both sides, into ``ms`` (µs per call); their labels."""
    config = module.AGENT.config_for_env(ENV_ID)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    agent = module.ActorCritic(OBS_SPACE, ACTION_SPACE, config.hidden_sizes)
    adam = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
    buffer = rl_buffers.RolloutBuffer(
        PPO_STEPS,
        OBS_SPACE,
        ACTION_SPACE,
        num_envs=PPO_ENVS,
        autoreset_mode=AutoresetMode.SAME_STEP,
        gamma=config.gamma,
        lam=config.gae_lambda,
        seed=0,
    )
    model = sb3_model("ppo", 0)
    policy, sb3_buffer = model.policy, model.rollout_buffer
    sb3_parameters = list(policy.parameters())

    obs = rng.normal(size=(PPO_STEPS + 1, PPO_ENVS, 4)).astype(np.float32)
    actions = rng.integers(0, 2, size=(PPO_STEPS, PPO_ENVS))
    log_probs = torch.full((PPO_STEPS, PPO_ENVS), -0.69)
    values = torch.randn(PPO_STEPS + 1, PPO_ENVS)
    rewards = np.ones(PPO_ENVS)  # float64, as a vector env gives them
    ends = rng.random((PPO_STEPS, PPO_ENVS)) < 0.02
    false = np.zeros(PPO_ENVS, dtype=bool)

    def template_fill() -> None:
        buffer.reset()
        for t in range(PPO_STEPS):
            buffer.add(obs[t], actions[t], log_probs[t], rewards, values[t], ends[t], false)

    def template_buffer() -> None:
        template_fill()
        buffer.compute_returns_and_advantages(values[-1])
        for _ in range(PPO_EPOCHS):
            for _ in buffer.minibatches(PPO_BATCH, normalize_advantages=True):
                pass

    def sb3_fill() -> None:
        sb3_buffer.reset()
        for t in range(PPO_STEPS):
            episode_start = ends[t - 1] if t else false
            sb3_buffer.add(
                obs[t],
                actions[t].reshape(-1, 1),
                rewards,
                episode_start,
                values[t].reshape(-1, 1),
                log_probs[t],
            )

    def sb3_buffer_all() -> None:
        sb3_fill()
        sb3_buffer.compute_returns_and_advantage(values[-1].reshape(-1, 1), ends[-1])
        for _ in range(PPO_EPOCHS):
            for _ in sb3_buffer.get(PPO_BATCH):
                pass

    obs8 = obs[0]
    template_fill()
    buffer.compute_returns_and_advantages(values[-1])
    batch = next(iter(buffer.minibatches(PPO_BATCH, normalize_advantages=True)))
    sb3_buffer_all()
    sb3_batch = next(iter(sb3_buffer.get(PPO_BATCH)))
    clip = config.clip_coef

    def template_act() -> None:
        with torch.inference_mode():
            distribution, _ = agent.policy_and_value(torch.as_tensor(obs8))
            sampled = distribution.sample()
            distribution.log_prob(sampled)
            sampled.cpu().numpy()

    def sb3_act() -> None:
        with torch.no_grad():
            sampled, _, _ = policy(torch.as_tensor(obs8))
        sampled.cpu().numpy()

    def template_value() -> None:
        with torch.inference_mode():
            agent.value(torch.as_tensor(obs8))

    def sb3_value() -> None:
        with torch.no_grad():
            policy.predict_values(torch.as_tensor(obs8))

    def template_loss() -> None:
        distribution, new_values = agent.policy_and_value(batch.observations)
        log_ratio = distribution.log_prob(batch.actions) - batch.log_probs
        ratio = log_ratio.exp()
        surrogate = torch.min(ratio * batch.advantages, ratio.clamp(1 - clip, 1 + clip) * batch.advantages)
        loss = -surrogate.mean() + config.vf_coef * F.mse_loss(new_values, batch.returns)
        adam.zero_grad(set_to_none=True)
        loss.backward()

    def sb3_loss() -> None:  # PPO.train's, from evaluate_actions to backward
        new_values, log_prob, entropy = policy.evaluate_actions(
            sb3_batch.observations, sb3_batch.actions.long().flatten()
        )
        advantages = sb3_batch.advantages
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        ratio = torch.exp(log_prob - sb3_batch.old_log_prob)
        policy_loss = -torch.min(
            advantages * ratio, advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
        ).mean()
        value_loss = F.mse_loss(sb3_batch.returns, new_values.flatten())
        loss = policy_loss + 0.0 * -torch.mean(entropy) + 0.5 * value_loss
        policy.optimizer.zero_grad()
        loss.backward()

    template_loss()
    sb3_loss()
    parameters = list(agent.parameters())
    operations: dict[str, tuple[str, Callable[[], Any], Callable[[], Any], int]] = {
        "ppo act": (
            f"PPO acting: NumPy obs -> forward + sample + log_prob, batch {PPO_ENVS} -> NumPy",
            checks(False, template_act),
            checks(SB3_VALIDATE, sb3_act),
            5,
        ),
        "ppo fill": (f"PPO buffer: reset + {PPO_STEPS} adds of {PPO_ENVS} envs", template_fill, sb3_fill, 1),
        "ppo buffer": (
            f"PPO buffer: reset + {PPO_STEPS} adds + GAE + {PPO_EPOCHS} epochs of minibatches",
            template_buffer,
            sb3_buffer_all,
            1,
        ),
        "ppo value": (f"PPO last values: critic forward, batch {PPO_ENVS}", template_value, sb3_value, 2),
        "ppo loss": (
            f"PPO loss: forward + backward, batch {PPO_BATCH}",
            checks(False, template_loss),
            checks(SB3_VALIDATE, sb3_loss),
            2,
        ),
        "ppo clip": (
            "PPO clip_grad_norm_ (template foreach, SB3 default)",
            lambda: torch.nn.utils.clip_grad_norm_(parameters, 0.5, foreach=True),
            lambda: torch.nn.utils.clip_grad_norm_(sb3_parameters, 0.5),
            2,
        ),
        "ppo adam": ("PPO Adam step (template fused, SB3 default)", adam.step, policy.optimizer.step, 2),
    }
    for key, (_, ours, theirs, factor) in operations.items():
        ms[key, "template"], ms[key, "sb3"] = cpu_us([ours, theirs], factor * reps)
    # SB3's acting and loss with torch.distributions' argument checks the other way round.
    ms["ppo act", "sb3-switched"], ms["ppo loss", "sb3-switched"] = cpu_us(
        [checks(not SB3_VALIDATE, sb3_act), checks(not SB3_VALIDATE, sb3_loss)], 2 * reps
    )
    return [(key, label) for key, (label, *_) in operations.items()]


def floor_section(
    agents: dict[str, ModuleType], budget: Budget, measured: dict[str, list[Side]]
) -> tuple[str, dict[str, float]]:
    """Each operation alone, each side's own; the table, and the floor in CPU µs per env step of each side."""
    reps, steps = budget.floor_reps, budget.env_floor_steps
    ms: dict[tuple[str, str], float] = {}
    rows: list[tuple[str, float | None, float | None]] = [
        ("env: CartPoleEnv alone (unwrapped), either side", env_us(gym.make(ENV_ID).unwrapped, steps), None),
        (
            "env: gym.make(CartPole-v1) (+ TimeLimit, checkers), either side",
            env_us(gym.make(ENV_ID), steps),
            None,
        ),
    ]
    labels: list[tuple[str, str]] = []
    if "dqn" in measured:
        config = agents["dqn"].AGENT.config_for_env(ENV_ID)
        ms["env1", "template"] = env_us(rlcore.runs.make_envs(config, 1), steps)
        ms["env1", "sb3"] = env_us(make_vec_env(ENV_ID, n_envs=1), steps)
        labels.append(("env1", "env: the vector env, 1 env (DQN)"))
        labels += dqn_operations(agents["dqn"], reps, ms)
    if "ppo" in measured:
        config = agents["ppo"].AGENT.config_for_env(ENV_ID)
        ms["env8", "template"] = env_us(rlcore.runs.make_envs(config, PPO_ENVS), steps // PPO_ENVS)
        ms["env8", "sb3"] = env_us(make_vec_env(ENV_ID, n_envs=PPO_ENVS), steps // PPO_ENVS)
        labels.append(("env8", f"env: the vector env, {PPO_ENVS} envs (PPO), per env"))
        labels += ppo_operations(agents["ppo"], reps, ms)
    rows += [(label, ms[key, "template"], ms.get((key, "sb3"))) for key, label in labels]
    if "ppo" in measured:
        switched = "off" if SB3_VALIDATE else "on"
        rows += [
            (f"PPO acting, torch.distributions' checks {switched}", None, ms["ppo act", "sb3-switched"]),
            (f"PPO loss, torch.distributions' checks {switched}", None, ms["ppo loss", "sb3-switched"]),
        ]

    floors: dict[str, float] = {}
    per_round = DQN_GRADIENT_STEPS / DQN_TRAIN_FREQ  # updates per env step
    for algo, sides in measured.items():
        for side in sides:
            if algo == "dqn" and side.is_sb3:
                floors[f"dqn/{side.key}"] = (
                    ms["env1", "sb3"]
                    + side.acting_share * ms["dqn act", "sb3"]
                    + ms["dqn add", "sb3"]
                    + per_round
                    * sum(
                        ms[key, "sb3"]
                        for key in ("dqn sample", "dqn target", "dqn loss", "dqn clip", "dqn adam")
                    )
                )
            elif algo == "dqn":
                n = "" if side.key == "template-plain" else " n"
                double = 0.0 if side.key == "template-plain" else ms["dqn double", "template"]
                floors[f"dqn/{side.key}"] = (
                    ms["env1", "template"]
                    + side.acting_share * ms["dqn act", "template"]
                    + ms["dqn add" + n, "template"]
                    + (ms["dqn sample" + n, "template"] + ms["dqn target", "template"]) / DQN_TRAIN_FREQ
                    + per_round
                    * (double + sum(ms[key, "template"] for key in ("dqn loss", "dqn clip", "dqn adam")))
                )
            else:
                who = "sb3" if side.is_sb3 else "template"
                floors[f"ppo/{side.key}"] = (
                    ms["env8", who]
                    + (ms["ppo act", who] + ms["ppo fill", who] / PPO_STEPS) / PPO_ENVS
                    + (
                        ms["ppo buffer", who]
                        - ms["ppo fill", who]
                        + ms["ppo value", who]
                        + PPO_UPDATES_PER_ROLLOUT
                        * sum(ms[key, who] for key in ("ppo loss", "ppo clip", "ppo adam"))
                    )
                    / PPO_ROLLOUT
                )
    lines = [
        f"### The per-op floor on {ENV_ID}: each operation alone, CPU µs per call (median)",
        "",
        "| operation | template | SB3 | template / SB3 |",
        "| :--- | ---: | ---: | ---: |",
    ]
    for name, ours, theirs in rows:
        cells = ["" if value is None else f"{value:,.1f}" for value in (ours, theirs)]
        both = ours is not None and theirs is not None
        lines.append(
            f"| {name} | {cells[0]} | {cells[1]} | {bench_agents.ratio(ours, theirs) if both else ''} |"
        )
    lines += [
        "",
        "An env step's floor: the vector env's step (per env) + the acting forward pass (DQN: times the "
        "share of greedy steps of the side's instrumented run; PPO: per env) + the buffer's add + its "
        f"share of the updates. DQN: {DQN_GRADIENT_STEPS} updates (loss, clipping, Adam; Double DQN's "
        f"online forward with the template's defaults) per {DQN_TRAIN_FREQ} env steps, the template "
        "sampling and running the target network once a round, SB3 once an update. PPO: per "
        f"{PPO_ROLLOUT} env steps, the rollout buffer (adds, GAE, minibatches), the last values and "
        f"{PPO_UPDATES_PER_ROLLOUT} updates. The template's operations run with torch.distributions' "
        f"argument checks off (its default), SB3's with torch's default ({'on' if SB3_VALIDATE else 'off'}); "
        "the last two rows: SB3's the other way round. Operations alone in a loop find their code and "
        "data in the caches; in the training loop, between the others, each costs more (the env step "
        "most, being Python through and through): part of each run's distance to its floor.",
        "",
    ]
    return "\n".join(lines), floors


def floor_summary(measured: dict[str, list[Side]], floors: dict[str, float]) -> str:
    """Each template side's and SB3's uninstrumented run against its own floor."""
    lines = [
        "### The runs against the floor (CPU µs per env step; the uninstrumented runs)",
        "",
        "| agent | template floor | template run | run / floor | SB3 floor | SB3 run | run / floor "
        "| SB3 run / template floor |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for algo, sides in measured.items():
        sb3 = sides[-1]
        sb3_floor = floors[f"{algo}/sb3"]
        for side in sides[:-1]:
            floor = floors[f"{algo}/{side.key}"]
            lines.append(
                f"| {algo.upper()} ({side.label}) | {floor:,.1f} | {side.run_us:,.1f} | {side.run_us / floor:.2f}x "
                f"| {sb3_floor:,.1f} | {sb3.run_us:,.1f} | {sb3.run_us / sb3_floor:.2f}x | {sb3.run_us / floor:.2f}x |"
            )
    lines += [
        "",
        "Run / floor: what each side's loop costs beyond its operations alone (the Python around them, "
        "tensor conversions, logging, the envs' longer episodes in training). The last column: SB3's "
        "run over the template's floor, the most the template could run faster than SB3 without making "
        "the operations themselves cheaper.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- 3. verdicts
def verdict(algo: str, sides: list[Side], floors: dict[str, float]) -> str:
    sb3 = sides[-1]
    parts = []
    for side in sides[:-1]:
        diffs = sorted(
            ((sb3.us(category) - side.us(category), category) for category in (*CATEGORIES, OTHER)),
            reverse=True,
        )
        # Differences under 1% of SB3's time per env step are noise at this budget.
        least = 0.01 * 1e6 / instrumented_window(sb3).per_cpu_second
        gains = ", ".join(f"{category} {saved:,.0f}" for saved, category in diffs[:2] if saved > least)
        losses = ", ".join(
            f"{category} {-saved:,.0f}" for saved, category in diffs[::-1][:1] if saved < -least
        )
        floor = floors[f"{algo}/{side.key}"]
        parts.append(
            f"the template ({side.label.removeprefix('template').strip(', ') or 'its defaults'}) runs "
            f"{sb3.run_us / side.run_us:.2f}x as fast as SB3 per CPU second ({side.run_us:,.0f} against "
            f"{sb3.run_us:,.0f} µs/step; µs/step saved: {gains or 'none'}"
            + (f"; more: {losses}" if losses else "")
            + f"), at {side.run_us / floor:.2f}x its own floor (a leaner loop could gain at most "
            f"{side.run_us / floor:.2f}x more; SB3's run is {sb3.run_us / floor:.2f}x the template's floor)"
        )
    sb3_floor = floors[f"{algo}/sb3"]
    return (
        f"{algo.upper()}: "
        + "; ".join(parts)
        + f". SB3 runs at {sb3.run_us / sb3_floor:.2f}x its own floor of {sb3_floor:,.0f} µs/step."
    )


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("dqn", "ppo"), help="one agent (default both)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, under a minute")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="env steps per measured run (default 20,480 for DQN after its first round, 40,960 for PPO)",
    )
    parser.add_argument(
        "--cprofile", action="store_true", help="also a template run of each agent under cProfile"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    budget = QUICK if args.quick else FULL
    algos = [args.only] if args.only else ["dqn", "ppo"]
    began = time.perf_counter()
    bench_agents.print_header(
        f"Where the time goes on {ENV_ID}: the template's agents vs Stable-Baselines3", quick=args.quick
    )
    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
        workdir = Path(tmp)
        agents = {algo: bench_agents.bake(algo, workdir / "bake") for algo in algos}
        measured: dict[str, list[Side]] = {}
        for algo in algos:
            sides = sides_of(algo, agents[algo], workdir)
            steps = args.steps or (budget.dqn_steps if algo == "dqn" else budget.ppo_steps)
            measure(algo, sides, steps)
            measured[algo] = sides
            setting = (
                f"Zoo settings: 1 env, train_freq {DQN_TRAIN_FREQ}, gradient_steps {DQN_GRADIENT_STEPS}, "
                f"batch {DQN_BATCH}, 256x256 MLP; the window starts after the first round of updates. template: its "
                "defaults (Double DQN, 3-step returns); template plain: double_q=False, n_step=1 (SB3's "
                "computation per update)."
                if algo == "dqn"
                else f"Zoo settings: {PPO_ENVS} envs x {PPO_STEPS} steps, {PPO_EPOCHS} epochs, batch "
                f"{PPO_BATCH}, 64x64 MLPs."
            )
            print(breakdown_table(algo, sides, setting), flush=True)
            if args.cprofile:
                total, start = schedule(algo, steps)
                train = functools.partial(sides[0].train, total, start, None)
                print(cprofile_table(f"template {algo.upper()}, {total:,} env steps", train), flush=True)
        floor_table, floors = floor_section(agents, budget, measured)
        print(floor_table, flush=True)
        print(floor_summary(measured, floors), flush=True)
    print("## Verdicts\n\n" + "\n".join(f"* {verdict(a, s, floors)}" for a, s in measured.items()) + "\n")
    print(f"Total time: {(time.perf_counter() - began) / 60:.1f} minutes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
