"""Run directories of the example agents: what a training run writes, and how it is resumed.

An agent's ``train(config)`` does its algorithm; :class:`Run` does the bookkeeping around it.
A run directory (``runs/<algo>-<env_id>/seed<seed>-<date>-<time>/`` unless the config's
``run_dir`` names one) holds:

* ``config.json``: the agent's configuration (every field but ``run_dir``), the algorithm, the
  rlcore version, the project's git commit and how every seed derives from ``seed``;
* ``progress.csv``: the run log of :mod:`rlcore.logging` (plus TensorBoard or W&B files when the
  config's ``logger`` asks for them): training episodes, losses, evaluations;
* ``checkpoints/step_<step>.pt``: :mod:`rlcore.checkpoint` files with the model, the optimiser,
  the normalisation statistics, the RNG states and the step counters;
* ``eval.json``: the final evaluation (mean, standard deviation, every episode's return);
* ``learning_curve.png``: the evaluation return against environment steps (``rlcore plot``'s
  figure).

A run resumes from its latest checkpoint. Gymnasium environments have no ``state_dict``, so a
resumed run starts fresh episodes; to make it continue *exactly* as the uninterrupted run would
have, the agents also start fresh episodes right after saving each periodic checkpoint, seeded
by :func:`episode_seed` (a truncation that is bootstrapped, so it does not bias the returns).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rlcore
from gymnasium.vector import VectorEnv, VectorWrapper
from rlcore import checkpoint
from rlcore.analysis import default_return_key, load_run, plot_learning_curves
from rlcore.evaluation import EvaluationResult
from rlcore.logging import EVAL_RETURN_KEY, PROGRESS_FILENAME, LogData, Logger, make_logger

__all__ = [
    "CHECKPOINT_DIR",
    "CURVE_FILENAME",
    "EVAL_FILENAME",
    "SEEDING",
    "TRAIN_CPU_SECONDS_KEY",
    "TRAIN_SECONDS_KEY",
    "Run",
    "config_record",
    "default_run_dir",
    "episode_seed",
    "git_commit",
    "stateful_wrappers",
]

CHECKPOINT_DIR = "checkpoints"
EVAL_FILENAME = "eval.json"
CURVE_FILENAME = "learning_curve.png"
#: Wall-clock seconds of training so far, evaluations excluded (logged with every evaluation).
TRAIN_SECONDS_KEY = "time/train_seconds"
#: The same in CPU seconds of this process, which other processes on the machine do not inflate.
TRAIN_CPU_SECONDS_KEY = "time/train_cpu_seconds"
#: How every seed of a run derives from the config's ``seed`` (written to ``config.json``).
SEEDING = (
    "rlcore.seeding.seed_everything(seed) for Python, NumPy and torch (network initialisation, "
    "action sampling); training envs reset with rlcore.seeding.env_seeds(seed, num_envs, 'train'), "
    "and after the checkpoint at step s with env_seeds(episode_seed(seed, s), num_envs, 'train'); "
    "evaluations with env_seeds(seed, num_eval_envs, 'eval'); the buffer's sampling generator "
    "with seed"
)
_CHECKPOINT_NAME = re.compile(r"^step_(\d+)\.pt$")


def default_run_dir(algo: str, env_id: str, seed: int) -> Path:
    """``runs/<algo>-<env_id>/seed<seed>-<YYYYmmdd-HHMMSS>``: one setting's seeds side by side."""
    return Path("runs") / f"{algo}-{env_id}" / f"seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def git_commit(path: Path | None = None) -> str | None:
    """The commit checked out in the git repository of ``path`` (default: this package), or None.

    A ``+dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(__file__).resolve().parent if path is None else path
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


def config_record(config: Any, algo: str) -> dict[str, Any]:
    """What ``config.json`` holds: the config's fields but ``run_dir``, and how the run was made.

    ``run_dir`` is left out because it differs between the seeds of one setting, which
    ``rlcore plot`` and ``rlcore summarize`` group by ``config.json`` minus ``seed``.
    """
    record = {k: v for k, v in dataclasses.asdict(config).items() if k != "run_dir"}
    record.update(
        algo=algo, rlcore_version=rlcore.__version__, git_commit=git_commit(), seeding=SEEDING
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


class Run:
    """A run in progress: its directory, logger, clock, checkpoints and final outputs.

    Args:
        config: the agent's frozen config dataclass; its ``run_dir`` (``None``: a new
            :func:`default_run_dir`), ``seed``, ``env_id``, ``total_timesteps``, ``logger`` and
            ``progress`` fields are read.
        algo: the algorithm's short name (``"ppo"``, ``"dqn"``).
        resume: continue the run in ``config.run_dir`` from its latest checkpoint.

    Raises:
        FileExistsError: if the directory already holds a run and ``resume`` is False.
        FileNotFoundError: if ``resume`` is True and the directory holds no checkpoint.
    """

    def __init__(self, config: Any, algo: str, *, resume: bool = False) -> None:
        self.config = config
        self.algo = algo
        if resume and config.run_dir is None:
            raise ValueError("Run: resume=True needs config.run_dir, the run to continue; got None")
        self.path = (
            Path(config.run_dir)
            if config.run_dir is not None
            else default_run_dir(algo, config.env_id, config.seed)
        )
        self.checkpoint_to_resume: Path | None = None
        if resume:
            self.checkpoint_to_resume = self.latest_checkpoint()
            if self.checkpoint_to_resume is None:
                raise FileNotFoundError(
                    f"Run: cannot resume {str(self.path)!r}: it holds no "
                    f"{CHECKPOINT_DIR}/step_*.pt checkpoint"
                )
            # Rows logged after the checkpoint (by the interrupted process) are logged again.
            _drop_rows_after(
                self.path / PROGRESS_FILENAME, _checkpoint_step(self.checkpoint_to_resume)
            )
        elif (self.path / PROGRESS_FILENAME).exists():
            raise FileExistsError(
                f"Run: {str(self.path)!r} already holds a run; resume it (--resume {self.path}) "
                "or choose another run_dir"
            )
        backends = ["csv", config.logger] + (["console"] if config.progress else [])
        self.logger: Logger = make_logger(
            self.path,
            backends=backends,
            config=config_record(config, algo),
            total_steps=config.total_timesteps,
            append=resume,
            wandb_project="{{ cookiecutter.project_slug }}" if config.logger == "wandb" else None,
        )
        self._wall = _Stopwatch(time.perf_counter)
        self._cpu = _Stopwatch(time.process_time)

    # ------------------------------------------------------------------ clock and log
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

    def log(self, data: LogData, step: int) -> None:
        """Write ``data`` at environment step ``step`` to every backend."""
        self.logger.write(data, step=step)

    def log_evaluation(self, result: EvaluationResult, step: int) -> None:
        """Log an evaluation round under ``eval/mean_return`` with the training seconds so far."""
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
    def latest_checkpoint(self) -> Path | None:
        """The checkpoint of the highest step in ``checkpoints/``, or None."""
        folder = self.path / CHECKPOINT_DIR
        found = (
            [p for p in folder.glob("step_*.pt") if _CHECKPOINT_NAME.match(p.name)]
            if folder.is_dir()
            else []
        )
        return max(found, key=_checkpoint_step, default=None)

    def save_checkpoint(self, step: int, counters: Mapping[str, Any], **objects: Any) -> Path:
        """Save ``objects`` (anything with ``state_dict``), the RNG states and ``counters``."""
        seconds = {"train_seconds": self.train_seconds, "train_cpu_seconds": self.train_cpu_seconds}
        metadata = {"step": step, **seconds, **counters}
        path = self.path / CHECKPOINT_DIR / f"step_{step:09d}.pt"
        return checkpoint.save(path, metadata=metadata, **objects)

    def restore(self, **objects: Any) -> dict[str, Any]:
        """Load the checkpoint being resumed into ``objects``; return its counters (with ``step``).

        Also restores the RNG states, so that the run draws what the uninterrupted run would have.
        """
        if self.checkpoint_to_resume is None:
            raise RuntimeError("Run.restore: this run was not created with resume=True")
        metadata = checkpoint.load(self.checkpoint_to_resume, **objects)
        self._wall = _Stopwatch(time.perf_counter, float(metadata.pop("train_seconds")))
        self._cpu = _Stopwatch(time.process_time, float(metadata.pop("train_cpu_seconds")))
        return metadata

    # ------------------------------------------------------------------ the end
    def finish(self, result: EvaluationResult, step: int) -> dict[str, Any]:
        """Log the final evaluation, write ``eval.json`` and the learning curve, close the logger.

        Returns:
            The evaluation summary written to ``eval.json``.
        """
        self.log_evaluation(result, step)
        self.logger.close()
        summary: dict[str, Any] = {
            "algo": self.algo,
            "env_id": self.config.env_id,
            "seed": self.config.seed,
            "step": step,
            "num_episodes": len(result.episode_returns),
            "mean_return": result.mean_return,
            "std_return": result.std_return,
            "mean_length": result.mean_length,
            "episode_returns": result.episode_returns.tolist(),
            "episode_lengths": result.episode_lengths.tolist(),
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
            "run_dir": str(self.path),
        }
        (self.path / EVAL_FILENAME).write_text(
            json.dumps(summary, indent=2) + "\n", encoding="utf-8"
        )
        run = load_run(self.path)
        key = default_return_key([run])
        title = f"{self.algo.upper()} on {self.config.env_id}, seed {self.config.seed}"
        figure = plot_learning_curves({self.path.name: [run]}, key, title=title)
        figure.savefig(self.path / CURVE_FILENAME, format="png")
        summary["learning_curve"] = str(self.path / CURVE_FILENAME)
        return summary


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


def _checkpoint_step(path: Path) -> int:
    match = _CHECKPOINT_NAME.match(path.name)
    if match is None:
        raise ValueError(f"not a checkpoint name: {path.name!r}, expected step_<step>.pt")
    return int(match.group(1))


def _drop_rows_after(log: Path, step: int) -> None:
    """Keep the header and the rows of ``log`` up to ``step`` (atomically, via a temporary file)."""
    if not log.is_file():
        return
    with log.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    kept = rows[:1] + [row for row in rows[1:] if row and float(row[0]) <= step]
    tmp = log.with_name(log.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows(kept)
    tmp.replace(log)
