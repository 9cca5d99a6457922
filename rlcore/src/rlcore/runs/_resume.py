"""Starting or resuming in a run directory, and the seeds that make a resume exact.

:func:`prepare_run_dir` decides, before anything is written, whether a run directory is
resumed from its latest checkpoint, started (over) or refused, and tidies it accordingly: a
resumed run's ``progress.csv`` loses the rows the interrupted process logged after the
checkpoint (they are logged again); a run started over loses what a run that stopped before its
first checkpoint left behind.

Gymnasium environments have no ``state_dict``, so a resumed run starts fresh episodes; to make
it continue *exactly* as the uninterrupted run would have, the training envs also start fresh
episodes right after each periodic checkpoint, seeded by :func:`episode_seed`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

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
from rlcore.logging import CONFIG_FILENAME, EVAL_RETURN_KEY, PROGRESS_FILENAME
from rlcore.runs._config import RunConfig

__all__ = ["episode_seed", "prepare_run_dir"]


def episode_seed(seed: int, step: int) -> int:
    """Base seed of the fresh episodes started after the checkpoint at ``step`` of run ``seed``."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, np.uint64)[0])


def prepare_run_dir(
    path: Path, config: RunConfig, *, resume: bool, config_file: Path | None
) -> tuple[Path | None, str | Path | None]:
    """Make ``path`` ready for :class:`rlcore.runs.Run`: ``(checkpoint to resume, config file)``.

    The checkpoint is None when the run starts (over): with ``resume`` too, if the directory
    holds a run but no checkpoint. The config file is what ``config.json`` records: a resumed
    run given none keeps the one its ``config.json`` names.

    Raises:
        FileExistsError: if the directory holds a run with a checkpoint and ``resume`` is False.
        FileNotFoundError: if ``resume`` is True and the directory holds no run.
    """
    state = run_state(path)
    checkpoint_to_resume: Path | None = None
    if resume:
        if state == "new":
            raise FileNotFoundError(
                f"Run: cannot resume {str(path)!r}: it holds no run "
                f"({CONFIG_FILENAME}, {PROGRESS_FILENAME} or {CHECKPOINT_DIR}/step_*.pt)"
            )
        checkpoint_to_resume = latest_checkpoint(path)
    elif state in ("done", "resumable"):
        raise FileExistsError(
            f"Run: {str(path)!r} already holds a run; resume it (--resume {path}) or choose another run_dir"
        )
    recorded_file: str | Path | None = config_file
    if checkpoint_to_resume is not None:
        if recorded_file is None:  # resumed without --config: keep the record of the first
            recorded_file = _recorded_config_file(path)
        # Rows logged after the checkpoint (by the interrupted process) are logged again;
        # so is the final evaluation, when nothing is left to train (finish redoes it).
        step = checkpoint_step(checkpoint_to_resume)
        _drop_rows_after(path / PROGRESS_FILENAME, step, evaluations_too=step >= config.total_timesteps)
    else:
        # A run that stopped before its first checkpoint left nothing worth keeping.
        for stale in (ERROR_FILENAME, EVAL_FILENAME, CURVE_FILENAME, CONFIG_FILE_COPY):
            (path / stale).unlink(missing_ok=True)
    return checkpoint_to_resume, recorded_file


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
