"""A run in progress: its directory, log, clocks, checkpoints, evaluations and exact resume.

An agent's ``train(config)`` does its algorithm; :class:`Run` does the bookkeeping around it::

    run = Run(config, "ppo", resume=resume)       # seeds, threads, the run directory
    envs = make_envs(config, config.num_envs)
    eval_envs = make_envs(config, min(config.eval_episodes, 10), evaluation_of=envs)
    ...                                           # networks, optimiser, buffer
    obs = run.start(envs, eval_envs, agent=agent, optimizer=optimizer, buffer=buffer)
    while not run.done:
        ...                                       # act, envs.step
        run.advance(config.num_envs, info)        # count the steps, log finished episodes
        ...                                       # learn
        obs = run.after_step(policy, obs)         # evaluate / checkpoint when due
    return run.finish(policy)                     # final checkpoint, eval.json, learning curve

A run directory (``runs/<algo>-<env_id>/seed<seed>-<date>-<time>/`` unless the config's
``run_dir`` names one) holds ``config.json`` (the config but ``run_dir``, the algorithm, the
versions of rlcore, torch, gymnasium and Python, the project's git commit, which fields are run
settings, how every seed derives from ``seed``), ``progress.csv`` (:mod:`rlcore.logging`, plus
TensorBoard or W&B files), ``checkpoints/step_<step>.pt`` (weights-only :mod:`rlcore.checkpoint`
files: every registered object, the RNG states, the counters), ``eval.json`` (the final
evaluation) and ``learning_curve.png``.

Gymnasium environments have no ``state_dict``, so a resumed run starts fresh episodes; to make
it continue *exactly* as the uninterrupted run would have, the training envs also start fresh
episodes right after each periodic checkpoint, seeded by :func:`episode_seed` (a truncation
that the agents bootstrap, so it does not bias the returns).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import dataclasses
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from rlcore import checkpoint
from rlcore._rundir import (
    CHECKPOINT_DIR,
    CONFIG_FILE_COPY,
    CURVE_FILENAME,
    ERROR_FILENAME,
    EVAL_FILENAME,
    checkpoint_step,
    latest_checkpoint,
    read_record,
    run_state,
)
from rlcore._version import __version__
from rlcore.evaluation import EvaluationResult, evaluate
from rlcore.logging import (
    CONFIG_FILENAME,
    EPISODIC_RETURN_KEY,
    EVAL_RETURN_KEY,
    PROGRESS_FILENAME,
    STEP_KEY,
    LogData,
    Logger,
    make_logger,
    read_csv_log,
)
from rlcore.runs._config import RunConfig, run_settings
from rlcore.seeding import seed_env, seed_everything
from rlcore.wrappers.vector.normalize import NormalizeObservation, NormalizeReward

__all__ = [
    "EPISODIC_LENGTH_KEY",
    "SEEDING",
    "TRAIN_CPU_SECONDS_KEY",
    "TRAIN_SECONDS_KEY",
    "Policy",
    "Run",
    "check_device",
    "check_env_id",
    "config_record",
    "default_run_dir",
    "episode_seed",
    "git_commit",
    "make_envs",
    "started_from",
    "stateful_wrappers",
]

#: Wall-clock seconds of training so far, evaluations excluded (logged with every evaluation).
TRAIN_SECONDS_KEY = "time/train_seconds"
#: The same in CPU seconds of this process, which other processes on the machine do not inflate.
TRAIN_CPU_SECONDS_KEY = "time/train_cpu_seconds"
EPISODIC_LENGTH_KEY = "train/episodic_length"
#: How every seed of a run derives from the config's ``seed`` (written to ``config.json``).
SEEDING = (
    "rlcore.seeding.seed_everything(seed) for Python, NumPy and torch (network initialisation, "
    "action sampling); training envs reset with rlcore.seeding.env_seeds(seed, num_envs, 'train'), "
    "and after the checkpoint at step s with env_seeds(episode_seed(seed, s), num_envs, 'train'); "
    "evaluations with env_seeds(seed, num_eval_envs, 'eval'); the buffer's sampling generator "
    "with seed"
)

#: The config file the entry point read the config from; :class:`rlcore.runs.Run` copies it.
CONFIG_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("rlcore_config_file", default=None)


@contextlib.contextmanager
def started_from(config_file: Path | None) -> Iterator[None]:
    """Tell the :class:`rlcore.runs.Run` created inside which config file the config came from."""
    token = CONFIG_FILE.set(config_file)
    try:
        yield
    finally:
        CONFIG_FILE.reset(token)


Policy = Callable[[np.ndarray], np.ndarray]
"""An evaluation policy: a batch of observations ``(n, *obs_shape)`` to actions ``(n, ...)``."""


def default_run_dir(algo: str, env_id: str, seed: int) -> Path:
    """``runs/<algo>-<env_id>/seed<seed>-<YYYYmmdd-HHMMSS>``: one setting's seeds side by side."""
    name = env_id.replace("/", "_").replace(":", "_")
    return Path("runs") / f"{algo}-{name}" / f"seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def git_commit(path: str | Path) -> str | None:
    """The commit checked out in the git repository holding ``path``, or None.

    A ``+dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(path)
    where = where if where.is_dir() else where.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # git is not installed
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def _source_of(config: Any) -> Path:
    """The file that defines the config's class: its git repository is the project's."""
    module = sys.modules.get(type(config).__module__)
    source = getattr(module, "__file__", None)
    return Path(source).resolve() if source else Path.cwd()


def config_record(config: RunConfig, algo: str, config_file: str | Path | None = None) -> dict[str, Any]:
    """What ``config.json`` holds: every field but ``run_dir``, and how the run was made.

    ``run_dir`` is left out because it differs between the seeds of one setting; the fields
    listed under ``run_settings`` (and the versions, the commit) are ignored when ``rlcore
    summarize`` and the sweeps group runs into configurations.
    """
    record = {k: v for k, v in dataclasses.asdict(config).items() if k != "run_dir"}
    record.update(
        algo=algo,
        run_settings=[name for name in run_settings(type(config)) if name != "run_dir"],
        rlcore_version=__version__,
        torch_version=torch.__version__,
        gymnasium_version=gym.__version__,
        python_version=platform.python_version(),
        git_commit=git_commit(_source_of(config)),
        seeding=SEEDING,
        config_file=None if config_file is None else str(config_file),
    )
    return record


def episode_seed(seed: int, step: int) -> int:
    """Base seed of the fresh episodes started after the checkpoint at ``step`` of run ``seed``."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, np.uint64)[0])


def stateful_wrappers(envs: VectorEnv) -> dict[str, Any]:
    """The wrappers of ``envs`` with a ``state_dict`` (normalisation statistics), by class name."""
    found: dict[str, Any] = {}
    env: Any = envs
    while isinstance(env, VectorWrapper):
        if callable(getattr(env, "state_dict", None)):
            found[type(env).__name__] = env
        env = env.env
    return found


def check_env_id(env_id: str) -> None:
    """Raise ValueError, before anything is written, if ``env_id`` names no registered env.

    ``module:Name-v0`` imports ``module`` first (as ``gymnasium.make`` does).
    """
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"env_id: cannot import {module!r} for {env_id!r}: {error}") from None
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        raise ValueError(f"env_id {env_id!r} is not a registered Gymnasium id: {error}") from None


def check_device(device: str) -> torch.device:
    """``torch.device(device)``, or ValueError if this machine cannot use it (CUDA, MPS)."""
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is not a torch device: {error}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: this torch build ({torch.__version__}) sees no CUDA GPU; "
            "use --device cpu, or install the CUDA build of torch"
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available on this machine")
    return parsed


def make_envs(
    config: RunConfig,
    num_envs: int,
    *,
    normalize_observation: bool = False,
    normalize_reward: bool = False,
    gamma: float = 0.99,
    evaluation_of: VectorEnv | None = None,
) -> VectorEnv:
    """``num_envs`` copies of ``config.env_id``, autoreset in the same step, wrapped inside out.

    1. ``RecordEpisodeStatistics``: ``info["episode"]`` with each finished episode's raw return
       (what :meth:`Run.advance` logs).
    2. ``NormalizeObservation`` (``rlcore.wrappers.vector``) if ``normalize_observation``.
    3. ``NormalizeReward`` (rewards scaled by the std of the ``gamma``-discounted return) if
       ``normalize_reward``.

    With ``evaluation_of`` (the training envs), the envs are for evaluation: stepped in this
    process (``sync``), normalising observations with the training envs' statistics (shared,
    frozen) if the training envs normalise them, and giving the env's own rewards; the
    ``normalize_*`` arguments are then ignored. Otherwise ``config.vector_mode`` picks sync or
    async sub-envs.
    """
    envs: VectorEnv = gym.make_vec(
        config.env_id,
        num_envs=num_envs,
        vectorization_mode="sync" if evaluation_of is not None else config.vector_mode,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    envs = RecordEpisodeStatistics(envs)
    if evaluation_of is not None:
        training = stateful_wrappers(evaluation_of).get("NormalizeObservation")
        if training is not None:
            envs = NormalizeObservation(envs, obs_rms=training.obs_rms)
            envs.freeze()
        return envs
    if normalize_observation:
        envs = NormalizeObservation(envs)
    if normalize_reward:
        envs = NormalizeReward(envs, gamma=gamma)
    return envs


class Run:
    """A run in progress: its directory, logger, clocks, counters, checkpoints and final outputs.

    Creating one sets the process-wide state the run depends on: ``torch.set_num_threads``
    (``config.torch_threads``) and every RNG (:func:`rlcore.seeding.seed_everything` with
    ``config.seed``). The env id and the device are checked before anything is written.

    Args:
        config: the agent's config (a :class:`rlcore.runs.RunConfig`).
        algo: the algorithm's short name (``"ppo"``), recorded as ``config.json``'s ``algo``.
        resume: continue the run in ``config.run_dir`` from its latest checkpoint. A run
            directory that holds no checkpoint (the run stopped before its first one) is
            started over, resumed or not.
        config_file: the TOML file the config was read from, copied into the run directory
            (default: the file of the entry point that made the config, see :func:`started_from`).

    Raises:
        FileExistsError: if the directory holds a run with a checkpoint and ``resume`` is False.
        FileNotFoundError: if ``resume`` is True and the directory holds no run.
        ValueError: if ``resume`` is True without ``config.run_dir``, or the env id or the
            device is unusable.
    """

    def __init__(
        self,
        config: RunConfig,
        algo: str,
        *,
        resume: bool = False,
        config_file: str | Path | None = None,
    ) -> None:
        if not isinstance(config, RunConfig):
            raise TypeError(f"Run: config must be an rlcore.runs.RunConfig, got {config!r}")
        if resume and config.run_dir is None:
            raise ValueError("Run: resume=True needs config.run_dir, the run to continue; got None")
        check_env_id(config.env_id)
        self.device = check_device(config.device)
        self.config = config
        self.algo = algo
        self.path = (
            Path(config.run_dir)
            if config.run_dir is not None
            else default_run_dir(algo, config.env_id, config.seed)
        )
        state = run_state(self.path)
        self.checkpoint_to_resume: Path | None = None
        config_file = CONFIG_FILE.get() if config_file is None else Path(config_file)
        if resume:
            if state == "new":
                raise FileNotFoundError(
                    f"Run: cannot resume {str(self.path)!r}: it holds no run "
                    f"({CONFIG_FILENAME}, {PROGRESS_FILENAME} or {CHECKPOINT_DIR}/step_*.pt)"
                )
            self.checkpoint_to_resume = latest_checkpoint(self.path)
        elif state in ("done", "resumable"):
            raise FileExistsError(
                f"Run: {str(self.path)!r} already holds a run; resume it (--resume {self.path}) "
                "or choose another run_dir"
            )
        resuming = self.checkpoint_to_resume is not None
        recorded_file: str | Path | None = config_file
        if resuming:
            if recorded_file is None:  # resumed without --config: keep the record of the first
                recorded_file = _recorded_config_file(self.path)
            # Rows logged after the checkpoint (by the interrupted process) are logged again;
            # so is the final evaluation, when nothing is left to train (finish redoes it).
            step = checkpoint_step(self.checkpoint_to_resume)  # type: ignore[arg-type]
            _drop_rows_after(
                self.path / PROGRESS_FILENAME, step, evaluations_too=step >= config.total_timesteps
            )
        else:
            # A run that stopped before its first checkpoint left nothing worth keeping.
            for stale in (ERROR_FILENAME, EVAL_FILENAME, CURVE_FILENAME, CONFIG_FILE_COPY):
                (self.path / stale).unlink(missing_ok=True)
        torch.set_num_threads(config.torch_threads)
        seed_everything(config.seed)
        self.path.mkdir(parents=True, exist_ok=True)
        if (
            config_file is not None
            and Path(config_file).resolve() != (self.path / CONFIG_FILE_COPY).resolve()
        ):
            shutil.copyfile(config_file, self.path / CONFIG_FILE_COPY)
        backends = ["csv", config.logger] + (["console"] if config.progress else [])
        self.logger: Logger = make_logger(
            self.path,
            backends=backends,
            config=config_record(config, algo, recorded_file),
            total_steps=config.total_timesteps,
            append=resuming,
            wandb_project=config.wandb_project if config.logger == "wandb" else None,
        )
        self.step = 0
        self._next_eval = config.eval_every
        self._next_checkpoint = config.checkpoint_every
        self._wall = _Stopwatch(time.perf_counter)
        self._cpu = _Stopwatch(time.process_time)
        self._stateful: dict[str, Any] = {}
        self._envs: VectorEnv | None = None
        self._eval_envs: VectorEnv | None = None

    # ------------------------------------------------------------------ the loop
    def start(self, envs: VectorEnv, eval_envs: VectorEnv, **stateful: Any) -> np.ndarray:
        """Register the training and evaluation envs and the objects a checkpoint saves.

        ``stateful`` are the objects with ``state_dict()`` / ``load_state_dict()`` (networks,
        optimisers, buffers); the stateful wrappers of ``envs`` (normalisation statistics) are
        added. When resuming, they, the RNG states, the counters and the clocks are restored
        from the checkpoint. Returns the first observations of the training envs, reset with
        the run's seeds (``(num_envs, *obs_shape)``).
        """
        self._envs, self._eval_envs = envs, eval_envs
        self._stateful = {**stateful, **stateful_wrappers(envs)}
        base_seed = self.config.seed
        if self.checkpoint_to_resume is not None:
            metadata = checkpoint.load(self.checkpoint_to_resume, **self._stateful)
            self.step = int(metadata["step"])
            self._next_eval = int(metadata["next_eval"])
            self._next_checkpoint = int(metadata["next_checkpoint"])
            self._wall = _Stopwatch(time.perf_counter, float(metadata["train_seconds"]))
            self._cpu = _Stopwatch(time.process_time, float(metadata["train_cpu_seconds"]))
            base_seed = episode_seed(self.config.seed, self.step)
        obs: np.ndarray = seed_env(envs, base_seed).obs
        return obs

    @property
    def done(self) -> bool:
        """Whether the run has taken ``config.total_timesteps`` environment steps."""
        return self.step >= self.config.total_timesteps

    @property
    def checkpoint_due(self) -> bool:
        """Whether :meth:`after_step` will save a periodic checkpoint at the current step.

        The training episodes restart after it: an off-policy agent stores the transition of
        this step as a truncation, so that no n-step return runs across the restart.
        """
        every = self.config.checkpoint_every
        return every > 0 and self.step >= self._next_checkpoint and not self.done

    def advance(self, num_steps: int, info: Mapping[str, Any]) -> None:
        """Count ``num_steps`` environment steps; log the episodes that ended in ``info``.

        ``info`` is the step's info of envs wrapped in ``RecordEpisodeStatistics``: every
        finished episode's return and length are logged at the new step.
        """
        self.step += num_steps
        if "episode" in info:
            episodes = info["episode"]
            for i in np.flatnonzero(info["_episode"]):
                self.log({EPISODIC_RETURN_KEY: episodes["r"][i], EPISODIC_LENGTH_KEY: episodes["l"][i]})

    def after_step(self, policy: Policy, obs: np.ndarray) -> np.ndarray:
        """Evaluate ``policy`` and save a checkpoint if they are due; return the observations.

        After a periodic checkpoint the training envs restart with fresh episodes seeded by
        :func:`episode_seed`, as a run resumed from it does, and their first observations are
        returned; otherwise ``obs`` is returned as it is. Nothing happens once the run is done
        (:meth:`finish` evaluates and saves the end).
        """
        if self.done:
            return obs
        every = self.config.eval_every
        if every and self.step >= self._next_eval:
            self.log_evaluation(self.evaluate(policy, self.config.eval_episodes))
            while self._next_eval <= self.step:
                self._next_eval += every
        if self.checkpoint_due:
            while self._next_checkpoint <= self.step:
                self._next_checkpoint += self.config.checkpoint_every
            self.save_checkpoint()
            obs = seed_env(self._training_envs, episode_seed(self.config.seed, self.step)).obs
        return obs

    def finish(self, policy: Policy) -> dict[str, Any]:
        """Save the last checkpoint, evaluate, write ``eval.json`` and the curve, close everything.

        Returns:
            What ``eval.json`` holds (``mean_return``, ``std_return``, ``episode_returns``,
            ``episode_lengths``, ``step``, ``train_seconds``, ``run_dir``, the run's ids, and
            ``evaluations``: every evaluation of the run, periodic and final, as ``step``,
            ``mean_return``, ``std_return``, ``mean_length``, ``train_seconds``), plus
            ``learning_curve``: the figure's path, or None without matplotlib (``rlcore[plot]``).
        """
        self.save_checkpoint()
        result = self.evaluate(policy, self.config.final_eval_episodes)
        self._training_envs.close()
        if self._eval_envs is not None:
            self._eval_envs.close()
        self.log_evaluation(result)
        self.logger.close()
        summary: dict[str, Any] = {
            "algo": self.algo,
            "env_id": self.config.env_id,
            "seed": self.config.seed,
            "step": self.step,
            "num_episodes": len(result.episode_returns),
            "mean_return": result.mean_return,
            "std_return": result.std_return,
            "mean_length": result.mean_length,
            "episode_returns": result.episode_returns.tolist(),
            "episode_lengths": result.episode_lengths.tolist(),
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
            "run_dir": str(self.path),
            "evaluations": self._evaluations(),
        }
        _write_atomically(self.path / EVAL_FILENAME, json.dumps(summary, indent=2) + "\n")
        summary["learning_curve"] = self._plot_curve()
        return summary

    # ------------------------------------------------------------------ clock, log, evaluation
    @property
    def train_seconds(self) -> float:
        """Wall-clock seconds of training so far (before a resume too), evaluations excluded."""
        return self._wall.seconds

    @property
    def train_cpu_seconds(self) -> float:
        """CPU seconds of this process spent training so far, evaluations excluded."""
        return self._cpu.seconds

    @contextlib.contextmanager
    def untimed(self) -> Iterator[None]:
        """Leave the time spent inside out of the training seconds (evaluations)."""
        with self._wall.paused(), self._cpu.paused():
            yield

    def log(self, data: LogData, step: int | None = None) -> None:
        """Write ``data`` at environment step ``step`` (default: the current step)."""
        self.logger.write(data, step=self.step if step is None else step)

    def evaluate(self, policy: Policy, episodes: int) -> EvaluationResult:
        """``episodes`` episodes of ``policy`` on the evaluation envs (untimed, seeded by ``seed``)."""
        if self._eval_envs is None:
            raise RuntimeError("Run.evaluate: call Run.start(envs, eval_envs, ...) first")
        with self.untimed():
            return evaluate(policy, self._eval_envs, episodes, seed=self.config.seed)

    def log_evaluation(self, result: EvaluationResult, step: int | None = None) -> None:
        """Log an evaluation under ``eval/mean_return`` with the training seconds so far."""
        self.log(
            {
                EVAL_RETURN_KEY: result.mean_return,
                "eval/std_return": result.std_return,
                "eval/mean_length": result.mean_length,
                TRAIN_SECONDS_KEY: self.train_seconds,
                TRAIN_CPU_SECONDS_KEY: self.train_cpu_seconds,
            },
            step,
        )

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Save the registered objects, the RNG states, the counters and clocks at this step."""
        metadata = {
            "step": self.step,
            "next_eval": self._next_eval,
            "next_checkpoint": self._next_checkpoint,
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
        }
        path = self.path / CHECKPOINT_DIR / f"step_{self.step:09d}.pt"
        return checkpoint.save(path, metadata=metadata, **self._stateful)

    def _evaluations(self) -> list[dict[str, float]]:
        """Every evaluation row of ``progress.csv`` (before a resume too), in file order."""
        log = read_csv_log(self.path / PROGRESS_FILENAME)
        if EVAL_RETURN_KEY not in log:
            return []
        keys = {
            "mean_return": EVAL_RETURN_KEY,
            "std_return": "eval/std_return",
            "mean_length": "eval/mean_length",
            "train_seconds": TRAIN_SECONDS_KEY,
        }
        evaluations: list[dict[str, float]] = []
        for row in np.flatnonzero(~np.isnan(log[EVAL_RETURN_KEY])):
            values = {name: float(log[key][row]) for name, key in keys.items() if key in log}
            evaluations.append({"step": int(log[STEP_KEY][row]), **values})
        return evaluations

    @property
    def _training_envs(self) -> VectorEnv:
        if self._envs is None:
            raise RuntimeError("Run: call Run.start(envs, eval_envs, ...) first")
        return self._envs

    def _plot_curve(self) -> str | None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return None
        from rlcore.analysis import default_return_key, load_run, plot_learning_curves

        run = load_run(self.path)
        key = default_return_key([run])
        title = f"{self.algo.upper()} on {self.config.env_id}, seed {self.config.seed}"
        figure = plot_learning_curves({self.path.name: [run]}, key, title=title)
        figure.savefig(self.path / CURVE_FILENAME, format="png")
        return str(self.path / CURVE_FILENAME)


class _Stopwatch:
    """Seconds of ``clock`` since it was made, plus ``before``, minus the spans spent paused."""

    def __init__(self, clock: Callable[[], float], before: float = 0.0) -> None:
        self._clock = clock
        self._origin = clock() - before

    @property
    def seconds(self) -> float:
        return self._clock() - self._origin

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        start = self._clock()
        try:
            yield
        finally:
            self._origin += self._clock() - start


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _recorded_config_file(run_dir: Path) -> str | None:
    """The ``config_file`` the run's ``config.json`` records, or None."""
    try:
        recorded = read_record(run_dir).get("config_file")
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, str) else None


def _drop_rows_after(log: Path, step: int, *, evaluations_too: bool = False) -> None:
    """Keep the header and the rows of ``log`` up to ``step`` (atomically, via a temporary file).

    With ``evaluations_too``, the evaluation rows at ``step`` itself go too.
    """
    if not log.is_file():
        return
    with log.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    header = rows[0] if rows else []
    column = header.index(EVAL_RETURN_KEY) if EVAL_RETURN_KEY in header else None

    def evaluation_at_step(row: list[str]) -> bool:
        return (
            evaluations_too
            and column is not None
            and float(row[0]) == step
            and len(row) > column
            and row[column] != ""
        )

    kept = rows[:1] + [
        row for row in rows[1:] if row and float(row[0]) <= step and not evaluation_at_step(row)
    ]
    tmp = log.with_name(log.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows(kept)
    tmp.replace(log)
