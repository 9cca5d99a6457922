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
files: every registered object, the RNG states, the counters; the newest ``keep_last`` are
kept), ``checkpoints/step_<step>.buffers.pt`` (the replay buffers, with the newest checkpoint
only), ``eval.json`` (the final evaluation) and ``learning_curve.png``; with ``capture_video``,
``videos/step_<step>-episode-<k>.mp4`` (the recorded evaluation episodes); with W&B,
``wandb-id.txt`` (the W&B run a resume continues); ``run.lock`` while a process writes it (one
writer per run directory).

A resume checks before it changes anything: it starts from the newest checkpoint that is whole
and undamaged, loads it into the objects (all or nothing: a config whose shapes do not match
is refused there), and only then trims ``progress.csv`` and writes ``config.json``.

Gymnasium environments have no ``state_dict``, so a resumed run starts fresh episodes; to make
it continue *exactly* as the uninterrupted run would have, the training envs also start fresh
episodes right after each periodic checkpoint, seeded by :func:`episode_seed` (a truncation
that the agents bootstrap, so it does not bias the returns).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from rlcore._rundir import CHECKPOINT_DIR
from rlcore._video import check_video_support
from rlcore.distributed import StatisticsSync
from rlcore.evaluation import EvaluationResult, evaluate
from rlcore.logging import EPISODIC_RETURN_KEY, LogData, Logger
from rlcore.runs._checkpoints import save_run_checkpoint
from rlcore.runs._config import RunConfig
from rlcore.runs._envs import check_env_id, stateful_wrappers, video_env
from rlcore.runs._evaluations import (
    Policy,
    evaluation_data,
    record_videos,
    write_final_summary,
)
from rlcore.runs._lock import RunDirLock
from rlcore.runs._log import Stopwatch, copy_config_file, frames_count, open_run_logger
from rlcore.runs._ranks import (
    UpdateOnRanks,
    decided_by_rank_zero,
    gather_rank_states,
    load_on_every_rank,
    processes_of,
    statistics_sync,
)
from rlcore.runs._record import CONFIG_FILE, config_record
from rlcore.runs._resume import clear_failed_run, episode_seed, log_rows_to_keep, open_run_dir
from rlcore.seeding import rank_seed, seed_env, seed_everything

__all__ = ["EPISODIC_LENGTH_KEY", "Policy", "Run"]

EPISODIC_LENGTH_KEY = "train/episodic_length"


class Run(UpdateOnRanks):
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
        RunLockedError: if another live process writes the run directory (holds ``run.lock``).
        rlcore.checkpoint.CheckpointError: if ``resume`` is True and none of the run's
            checkpoints can be used (each one's reason is given).

    Warns:
        UserWarning: when a resume passes over damaged newer checkpoints (naming them), or
            starts with empty replay buffers because its checkpoint's buffers file is gone.
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
        if config.capture_video:
            check_video_support("rgb_array", "capture_video")
        self.distributed = processes_of(config)
        self.device = self.distributed.device
        #: This process's base seed (``rlcore.seeding.rank_seed``): ``config.seed`` on rank 0.
        self.seed = rank_seed(config.seed, self.distributed.rank)
        self.config = config
        self.algo = algo
        config_file = CONFIG_FILE.get() if config_file is None else Path(config_file)
        self._config_file = config_file
        self._lock: RunDirLock | None = None

        def plan() -> tuple[Path, Path | None, dict[str, Any], str | Path | None]:
            self._lock, *decided = open_run_dir(config, algo, resume=resume, config_file=config_file)
            return tuple(decided)  # type: ignore[return-value]

        self.path, self.checkpoint_to_resume, self._resume_metadata, self._recorded_file = (
            decided_by_rank_zero(self.distributed, plan)
        )
        torch.set_num_threads(config.torch_threads)
        seed_everything(self.seed)
        self._logger: Logger | None = None
        self.step = 0
        if self.checkpoint_to_resume is None and self.distributed.is_main:
            clear_failed_run(self.path)  # a run that stopped before its first checkpoint starts over
            self._open_log()
        self._next_eval = config.eval_every
        self._next_checkpoint = config.checkpoint_every
        self._wall = Stopwatch(time.perf_counter)
        self._cpu = Stopwatch(time.process_time)
        self._stateful: dict[str, Any] = {}
        self._envs: VectorEnv | None = None
        self._eval_envs: VectorEnv | None = None
        self._video_env: Any = None
        self._statistics: StatisticsSync | None = None
        self._updated = False  # a backward pass since the statistics were last merged

    @property
    def logger(self) -> Logger:
        """The run's logger (``progress.csv`` and the config's backends); a resumed run's opens in :meth:`start`."""
        if not self.distributed.is_main:
            raise RuntimeError(f"Run: rank {self.distributed.rank} writes no log; rank 0 does")
        if self._logger is None:
            raise RuntimeError(
                "Run: a resumed run opens its log in Run.start(...), once its checkpoint has loaded"
            )
        return self._logger

    def _open_log(self, keep_rows: Callable[[Mapping[str, float]], bool] | None = None) -> None:
        """Copy the config file, write ``config.json`` and open the log (continued, with ``keep_rows``)."""
        copy_config_file(self._config_file, self.path)
        record = config_record(self.config, self.algo, self._recorded_file)
        self._logger = open_run_logger(self.config, self.path, record, self.step, keep_rows)

    # ------------------------------------------------------------------ the loop
    def start(self, envs: VectorEnv, eval_envs: VectorEnv, **stateful: Any) -> np.ndarray:
        """Register the training and evaluation envs and the objects a checkpoint saves.

        ``stateful`` are the objects with ``state_dict()`` / ``load_state_dict()`` (networks,
        optimisers, buffers); the stateful wrappers of ``envs`` (normalisation statistics) are
        added. rlcore :class:`~rlcore.buffers.ReplayBuffer` s are saved apart, with the newest
        checkpoint only. When resuming, the objects, the RNG states, the counters and the clocks
        are restored from the checkpoint (all or nothing: a checkpoint that does not fit the
        objects, e.g. other network sizes, raises :class:`rlcore.checkpoint.CheckpointError`
        and leaves the run directory as it was); then the log is trimmed and continued.
        Returns the first observations of the training envs, reset with the run's seeds
        (``(num_envs, *obs_shape)``).
        """
        self._envs, self._eval_envs = envs, eval_envs
        wrappers = stateful_wrappers(envs)
        self._stateful = {**stateful, **wrappers}
        if self.config.capture_video and self.distributed.is_main:
            self._video_env = video_env(self.config, envs)
        base_seed = self.seed
        if self.checkpoint_to_resume is not None:
            try:
                metadata = load_on_every_rank(
                    self.distributed, self.checkpoint_to_resume, self._stateful, self._resume_metadata
                )
            except BaseException:
                self._release_lock()
                raise
            self.step = int(metadata["step"])
            self._next_eval = int(metadata["next_eval"])
            self._next_checkpoint = int(metadata["next_checkpoint"])
            self._wall = Stopwatch(time.perf_counter, float(metadata["train_seconds"]))
            self._cpu = Stopwatch(time.process_time, float(metadata["train_cpu_seconds"]))
            base_seed = episode_seed(self.seed, self.step)
            done = self.step >= self.config.total_timesteps
            if self.distributed.is_main:
                self._open_log(log_rows_to_keep(self.step, evaluations_too=done))
        self._statistics = statistics_sync(self.distributed, wrappers)
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
        finished episode's return and length are logged at the new step. On several processes
        the step counts all of them (``num_steps`` each), and rank 0 logs its own episodes.
        """
        self.step += num_steps * self.distributed.world_size
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
        evaluation_due = bool(every) and self.step >= self._next_eval
        self._merge_statistics(due=evaluation_due or self.checkpoint_due)
        if evaluation_due:
            if self.distributed.is_main:
                self.log_evaluation(self.evaluate(policy, self.config.eval_episodes))
                self.record_videos(policy)
            while self._next_eval <= self.step:
                self._next_eval += every
        if self.checkpoint_due:
            while self._next_checkpoint <= self.step:
                self._next_checkpoint += self.config.checkpoint_every
            self.save_checkpoint()
            obs = seed_env(self._training_envs, episode_seed(self.seed, self.step)).obs
        return obs

    def finish(self, policy: Policy) -> dict[str, Any]:
        """Save the last checkpoint, evaluate, write ``eval.json`` and the curve, close everything.

        Returns:
            What ``eval.json`` holds (``mean_return``, ``std_return``, ``iqm_return``,
            ``episode_returns``, ``episode_lengths``, ``step``, ``train_seconds``, ``run_dir``,
            the run's ids, ``videos``: the final evaluation's recorded episodes, and
            ``evaluations``: every evaluation of the run, periodic and final, as ``step``,
            ``mean_return``, ``std_return``, ``mean_length``, ``train_seconds``), plus
            ``learning_curve``: the figure's path, or None without matplotlib (``rlcore[plot]``).
        """
        self._merge_statistics(due=True)
        self.save_checkpoint()
        if not self.distributed.is_main:  # rank 0 evaluates and writes; the others get its summary
            self._close_envs()
            summary: dict[str, Any] = self.distributed.broadcast(None)
            return summary
        result = self.evaluate(policy, self.config.final_eval_episodes)
        self.log_evaluation(result)
        videos = self.record_videos(policy)
        self._close_envs()
        self.logger.close()
        self._release_lock()
        ids = {"algo": self.algo, "env_id": self.config.env_id, "seed": self.config.seed, "step": self.step}
        ids.update(frames_count(self.config, self.step, "frames"))
        clocks = {"train_seconds": self.train_seconds, "train_cpu_seconds": self.train_cpu_seconds}
        summary = write_final_summary(self.path, ids, result, clocks, videos)
        self.distributed.broadcast(summary)
        return summary

    def _close_envs(self) -> None:
        for env in (self._training_envs, self._eval_envs, self._video_env):
            if env is not None:
                env.close()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

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
        """Write ``data`` at environment step ``step`` (default: now) on rank 0; Atari: with ``time/frames``."""
        if not self.distributed.is_main:
            return
        step = self.step if step is None else step
        self.logger.write({**data, **frames_count(self.config, step)}, step=step)

    def evaluate(self, policy: Policy, episodes: int) -> EvaluationResult:
        """``episodes`` episodes of ``policy`` on the evaluation envs (untimed, seeded by ``seed``)."""
        if self._eval_envs is None:
            raise RuntimeError("Run.evaluate: call Run.start(envs, eval_envs, ...) first")
        with self.untimed():
            return evaluate(policy, self._eval_envs, episodes, seed=self.config.seed)

    def log_evaluation(self, result: EvaluationResult, step: int | None = None) -> None:
        """Log an evaluation under ``eval/mean_return`` with the training seconds so far."""
        self.log(evaluation_data(result, self.train_seconds, self.train_cpu_seconds), step)

    def record_videos(self, policy: Policy) -> list[Path]:
        """With ``capture_video``, record ``video_episodes`` episodes of ``policy`` at this step (untimed).

        They go to ``videos/step_<step>-episode-<k>.mp4`` and to the loggers (TensorBoard, W&B);
        returns their paths (none without ``capture_video``).
        """
        if self._video_env is None:
            return []
        with self.untimed():
            return record_videos(
                policy,
                self._video_env,
                self.path,
                self.step,
                episodes=self.config.video_episodes,
                seed=self.config.seed,
                logger=self.logger,
            )

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Save the registered objects, the RNG states, the counters and clocks at this step.

        Replay buffers go to ``step_<step>.buffers.pt`` beside the checkpoint, and the older
        buffer files are deleted; of the checkpoints, the newest ``config.keep_last`` are kept
        (all with 0). Returns the checkpoint's path.
        """
        holders = gather_rank_states(self.distributed, self._stateful)
        path = self.path / CHECKPOINT_DIR / f"step_{self.step:09d}.pt"
        if not self.distributed.is_main:
            return path
        metadata = {
            "step": self.step,
            "world_size": self.distributed.world_size,
            # The evaluate command evaluates on as many sub-envs: the same episodes as this run.
            "num_eval_envs": None if self._eval_envs is None else self._eval_envs.num_envs,
            "next_eval": self._next_eval,
            "next_checkpoint": self._next_checkpoint,
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
        }
        return save_run_checkpoint(
            path, {**self._stateful, **holders}, metadata, keep_last=self.config.keep_last
        )

    @property
    def _training_envs(self) -> VectorEnv:
        if self._envs is None:
            raise RuntimeError("Run: call Run.start(envs, eval_envs, ...) first")
        return self._envs
