"""Reading run directories: the one place that knows what a run directory holds.

Private: :mod:`rlcore.runs` re-exports its names; :mod:`rlcore.analysis` (``rlcore summarize``,
``rlcore plot``) reads ``config.json`` through it too, without importing torch.

A run directory (written by :class:`rlcore.runs.Run`) holds ``config.json`` and
``progress.csv`` (:mod:`rlcore.logging`), ``checkpoints/step_<step>.pt`` (the newest of them
with ``step_<step>.buffers.pt``, its replay buffers), ``run.lock`` while a process writes it,
and once the run is finished ``eval.json``. :func:`run_state` tells the sweeps and the entry points what can be done
with one; :func:`latest_checkpoint` finds where a resume starts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from rlcore.logging import CONFIG_FILENAME, PROGRESS_FILENAME

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE_COPY",
    "CURVE_FILENAME",
    "ERROR_FILENAME",
    "EVAL_FILENAME",
    "LOCK_FILENAME",
    "RunState",
    "buffers_file",
    "checkpoint_step",
    "checkpoints",
    "latest_checkpoint",
    "read_record",
    "run_state",
]

CHECKPOINT_DIR = "checkpoints"
EVAL_FILENAME = "eval.json"
CURVE_FILENAME = "learning_curve.png"
#: Where a failed run's traceback is saved (by the sweeps), in its run directory.
ERROR_FILENAME = "error.txt"
#: The copy of the TOML config file a run was started from (``--config``).
CONFIG_FILE_COPY = "config.toml"
#: Held (``flock``) by the process writing the run directory; says which process that is.
LOCK_FILENAME = "run.lock"
_CHECKPOINT_NAME = re.compile(r"^step_(\d+)\.pt$")
_BUFFERS_NAME = re.compile(r"^step_(\d+)\.buffers\.pt$")

RunState = Literal["done", "resumable", "failed", "new"]


def checkpoint_step(path: str | Path) -> int:
    """The step of the checkpoint file ``path`` (``step_<step>.pt``)."""
    match = _CHECKPOINT_NAME.match(Path(path).name)
    if match is None:
        raise ValueError(f"not a checkpoint name: {Path(path).name!r}, expected step_<step>.pt")
    return int(match.group(1))


def checkpoints(run_dir: str | Path, *, buffers: bool = False) -> list[Path]:
    """The checkpoints in ``run_dir/checkpoints/``, newest (highest step) first.

    Only regular files named ``step_<digits>.pt`` count (not links, not folders); with
    ``buffers``, the ``step_<digits>.buffers.pt`` files instead.
    """
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    pattern = _BUFFERS_NAME if buffers else _CHECKPOINT_NAME
    found = [
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if (match := pattern.match(path.name)) and path.is_file() and not path.is_symlink()
    ]
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint of the highest step in ``run_dir/checkpoints/``, or None (see :func:`checkpoints`)."""
    found = checkpoints(run_dir)
    return found[0] if found else None


def buffers_file(checkpoint: str | Path) -> Path:
    """Where the replay buffers of the checkpoint ``step_<step>.pt`` are kept: ``step_<step>.buffers.pt``."""
    checkpoint_step(checkpoint)  # a checkpoint's name, or ValueError
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(".pt") + ".buffers.pt")


def run_state(run_dir: str | Path) -> RunState:
    """What ``run_dir`` holds.

    * ``"done"``: the run finished (``eval.json`` and a checkpoint);
    * ``"resumable"``: a checkpoint, no final evaluation: ``--resume`` continues it;
    * ``"failed"``: a started run (``config.json`` or ``progress.csv``) without a checkpoint: it
      stopped before its first one, and running it again starts it over;
    * ``"new"``: none of these (a missing or unrelated directory).
    """
    path = Path(run_dir)
    checkpoint = latest_checkpoint(path)
    if checkpoint is not None:
        return "done" if (path / EVAL_FILENAME).is_file() else "resumable"
    if (path / CONFIG_FILENAME).is_file() or (path / PROGRESS_FILENAME).is_file():
        return "failed"
    return "new"


def read_record(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``config.json``: its config and how it was made (:func:`rlcore.runs.config_record`).

    Raises:
        FileNotFoundError: if ``run_dir`` holds no ``config.json``.
        ValueError: if the file is not valid UTF-8 JSON or holds no JSON object.
    """
    path = Path(run_dir) / CONFIG_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} holds no {CONFIG_FILENAME}; is it a run directory?")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(record, dict):
        raise ValueError(f"{str(path)!r} holds a {type(record).__name__}, expected a JSON object")
    return record
