"""Starting or resuming in a run directory, and the seeds that make a resume exact.

:func:`plan_run_dir` decides, without changing anything, whether a run directory is resumed
(and from which checkpoint), started (over) or refused. A resume starts from the newest
checkpoint that is whole and undamaged (:func:`rlcore.checkpoint.verify`) and says which newer
ones it passed over and why. Only once the checkpoint has loaded into the run's objects does
:meth:`rlcore.runs.Run.start` change the directory: :func:`log_rows_to_keep` drops the rows
the interrupted process logged after the checkpoint (they are logged again), and
:func:`clear_failed_run` what a run that stopped before its first checkpoint left behind.

Gymnasium environments have no ``state_dict``, so a resumed run starts fresh episodes; to make
it continue *exactly* as the uninterrupted run would have, the training envs also start fresh
episodes right after each periodic checkpoint, seeded by :func:`episode_seed`.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlcore import checkpoint
from rlcore._rundir import (
    CHECKPOINT_DIR,
    CONFIG_FILE_COPY,
    CURVE_FILENAME,
    ERROR_FILENAME,
    EVAL_FILENAME,
    checkpoint_step,
    checkpoints,
    read_record,
    run_state,
)
from rlcore.logging import CONFIG_FILENAME, EVAL_RETURN_KEY, PROGRESS_FILENAME, STEP_KEY
from rlcore.runs._config import RunConfig
from rlcore.runs._lock import RunDirLock

__all__ = [
    "clear_failed_run",
    "default_run_dir",
    "episode_seed",
    "log_rows_to_keep",
    "newest_usable",
    "open_run_dir",
    "plan_run_dir",
]

_COUNTERS = ("step", "next_eval", "next_checkpoint")
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
_CLOCKS = ("train_seconds", "train_cpu_seconds")


def episode_seed(seed: int, step: int) -> int:
    """Base seed of the fresh episodes started after the checkpoint at ``step`` of run ``seed``."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, np.uint64)[0])


def default_run_dir(algo: str, env_id: str, seed: int) -> Path:
    """``runs/<algo>-<env_id>/seed<seed>-<YYYYmmdd-HHMMSS>``: one setting's seeds side by side.

    The env id is spelled with ASCII letters, digits, ``.``, ``-`` and ``_`` alone, every other
    character (the ``/`` of a namespace, the ``:`` of ``module:Name``) replaced by ``_``:
    PPO on ``my_project/PointMass-v0`` runs in ``runs/ppo-my_project_PointMass-v0/``, a name that
    no shell or file system treats specially.
    """
    name = _UNSAFE_IN_NAME.sub("_", env_id)
    return Path("runs") / f"{algo}-{name}" / f"seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def open_run_dir(
    config: RunConfig, algo: str, *, resume: bool, config_file: Path | None
) -> tuple[RunDirLock, Path, Path | None, dict[str, Any], str | Path | None]:
    """The run directory of ``config``, made and locked, and :func:`plan_run_dir`'s plan for it.

    Returns ``(lock, path, checkpoint to resume, its metadata, config file to record)``; the
    lock is released again if the plan raises.
    """
    path = (
        Path(config.run_dir)
        if config.run_dir is not None
        else default_run_dir(algo, config.env_id, config.seed)
    )
    if not resume:
        path.mkdir(parents=True, exist_ok=True)
    lock = RunDirLock(path)
    if path.is_dir():
        lock.acquire()
    try:
        return lock, path, *plan_run_dir(path, resume=resume, config_file=config_file)
    except BaseException:
        lock.release()
        raise


def plan_run_dir(
    path: Path, *, resume: bool, config_file: Path | None
) -> tuple[Path | None, dict[str, Any], str | Path | None]:
    """``(checkpoint to resume, its metadata, config file to record)`` for a run in ``path``; changes nothing.

    The checkpoint is None (and the metadata empty) when the run starts (over): with ``resume``
    too, if the directory holds a run but no checkpoint. The config file is what ``config.json`` records: a resumed
    run given none keeps the one its ``config.json`` names.

    Raises:
        FileExistsError: if the directory holds a run with a checkpoint and ``resume`` is False.
        FileNotFoundError: if ``resume`` is True and the directory holds no run.
        rlcore.checkpoint.CheckpointError: if ``resume`` is True and none of the run's
            checkpoints can be used (each one's reason is given).
    """
    state = run_state(path)
    if not resume:
        if state in ("done", "resumable"):
            raise FileExistsError(
                f"Run: {str(path)!r} already holds a run; resume it (--resume {path}) or choose another run_dir"
            )
        return None, {}, config_file
    if state == "new":
        raise FileNotFoundError(
            f"Run: cannot resume {str(path)!r}: it holds no run "
            f"({CONFIG_FILENAME}, {PROGRESS_FILENAME} or {CHECKPOINT_DIR}/step_*.pt)"
        )
    found = checkpoints(path)
    if not found:
        return None, {}, config_file
    chosen, metadata = newest_usable(path, found)
    # Resumed without --config: keep the record of the first.
    return chosen, metadata, (config_file if config_file is not None else _recorded_config_file(path))


def newest_usable(
    run_dir: Path, found: list[Path], *, owner: str = "Run", verb: str = "resume"
) -> tuple[Path, dict[str, Any]]:
    """The newest of ``found`` that verifies and holds a run's counters; warn which were passed over.

    ``owner`` and ``verb`` word the messages (``"Run"``, ``"resume"``; ``"evaluate"``, ``"evaluate"``).

    Raises:
        rlcore.checkpoint.CheckpointError: if none can be used (each one's reason is given).
    """
    rejected: list[str] = []
    for candidate in found:
        metadata: dict[str, Any] = {}
        try:
            metadata = checkpoint.verify(candidate)
            reason = _counters_problem(candidate, metadata)
        except checkpoint.CheckpointError as error:
            reason = str(error).removeprefix(f"checkpoint.verify: {candidate} ")
        if reason is None:
            if rejected:
                warnings.warn(
                    f"{owner}: {verb.removesuffix('e')}ing {str(run_dir)!r} from {candidate.name}, the newest "
                    f"checkpoint that can be used; passed over: {'; '.join(rejected)}",
                    stacklevel=4,
                )
            return candidate, metadata
        rejected.append(f"{candidate.name} ({reason})")
    advice = " Start the run over in a new run_dir" if verb == "resume" else ""
    raise checkpoint.CheckpointError(
        f"{owner}: cannot {verb} {str(run_dir)!r}: none of its checkpoints can be used: {'; '.join(rejected)}."
        + advice
    )


def _counters_problem(path: Path, metadata: Mapping[str, Any]) -> str | None:
    """Why ``metadata`` is not the counters of a run checkpointed at ``path``'s step, or None."""
    for key in _COUNTERS:
        value = metadata.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"its metadata has {key}={value!r}, expected an int >= 0"
    if metadata["step"] != checkpoint_step(path):
        return f"its metadata says step {metadata['step']}, its name step {checkpoint_step(path)}"
    for key in _CLOCKS:
        value = metadata.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            return f"its metadata has {key}={value!r}, expected seconds >= 0"
    return None


def log_rows_to_keep(step: int, *, evaluations_too: bool) -> Callable[[Mapping[str, float]], bool]:
    """Which ``progress.csv`` rows a run resumed from the checkpoint at ``step`` keeps.

    The rows up to ``step``: those after it are logged again. With ``evaluations_too`` (nothing
    is left to train, and :meth:`rlcore.runs.Run.finish` evaluates again), not the evaluation
    rows at ``step`` itself either.
    """

    def keep(row: Mapping[str, float]) -> bool:
        at = row[STEP_KEY]
        if not at <= step:  # NaN too
            return False
        evaluation = row.get(EVAL_RETURN_KEY, math.nan)
        return not (evaluations_too and at == step and not math.isnan(evaluation))

    return keep


def clear_failed_run(path: Path) -> None:
    """Delete what a run that stopped before its first checkpoint left behind (it starts over)."""
    for stale in (ERROR_FILENAME, EVAL_FILENAME, CURVE_FILENAME, CONFIG_FILE_COPY):
        (path / stale).unlink(missing_ok=True)


def _recorded_config_file(run_dir: Path) -> str | None:
    """The ``config_file`` the run's ``config.json`` records, or None."""
    try:
        recorded = read_record(run_dir).get("config_file")
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, str) else None
