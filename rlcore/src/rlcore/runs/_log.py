"""A run's logger and clocks: ``progress.csv`` with the configured backend, training seconds.

:func:`open_run_logger` opens the log of a run as its config says (W&B's entity, project,
group, tags and name; a resumed run continues its W&B run and hides, in TensorBoard, what the
interrupted process logged after the checkpoint); :class:`Stopwatch` counts the training
seconds without the evaluations.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rlcore._rundir import CONFIG_FILE_COPY
from rlcore.logging import EVAL_RETURN_KEY, Logger, make_logger
from rlcore.runs._config import RunConfig
from rlcore.wrappers.atari import FRAME_SKIP, is_atari

__all__ = [
    "FRAMES_KEY",
    "HPARAM_METRICS",
    "Stopwatch",
    "copy_config_file",
    "frames_count",
    "open_run_logger",
    "write_atomically",
]

#: Emulator frames so far, logged beside the agent steps where a step is several frames (Atari).
FRAMES_KEY = "time/frames"

#: The metrics TensorBoard's HParams tab shows beside a run's hyperparameters (their last values).
HPARAM_METRICS = (EVAL_RETURN_KEY, "eval/std_return", "eval/mean_length")


def copy_config_file(config_file: Path | None, run_dir: Path) -> None:
    """Copy the TOML file the config was read from into ``run_dir`` (unless it is that copy)."""
    copy = run_dir / CONFIG_FILE_COPY
    if config_file is not None and Path(config_file).resolve() != copy.resolve():
        shutil.copyfile(config_file, copy)


def frames_count(config: RunConfig, step: int, key: str = FRAMES_KEY) -> dict[str, int]:
    """``{key: emulator frames in step agent steps}`` for an Atari game (4 frames a step), else ``{}``."""
    return {key: step * FRAME_SKIP} if is_atari(config.env_id) else {}


def open_run_logger(
    config: RunConfig,
    run_dir: Path,
    record: Mapping[str, Any],
    step: int,
    keep_rows: Callable[[Mapping[str, float]], bool] | None,
) -> Logger:
    """The run's logger: ``progress.csv``, ``config.json`` (``record``) and ``config.logger``'s backend.

    With ``keep_rows`` the run resumes at ``step``: its log is continued (the rows ``keep_rows``
    refuses are dropped), W&B continues the run whose id ``wandb-id.txt`` keeps, and TensorBoard
    hides the events after ``step`` that the interrupted process wrote (``purge_step``).
    """
    backends = ["csv", config.logger] + (["console"] if config.progress else [])
    resumed = keep_rows is not None
    wandb = config.logger == "wandb"
    tensorboard = config.logger == "tensorboard"
    return make_logger(
        run_dir,
        backends=backends,
        config=record,
        total_steps=config.total_timesteps,
        append=resumed,
        keep_rows=keep_rows,
        wandb_project=config.wandb_project if wandb else None,
        wandb_kwargs={
            "entity": config.wandb_entity,
            "group": config.wandb_group,
            "tags": list(config.wandb_tags) or None,
            "name": config.wandb_name or run_dir.name,
        }
        if wandb
        else None,
        tensorboard_kwargs={"purge_step": step + 1 if resumed else None} if tensorboard else None,
        hparam_metrics=HPARAM_METRICS,
    )


class Stopwatch:
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


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
