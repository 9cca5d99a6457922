"""Weights & Biases backend (the ``wandb`` extra), imported only when constructed.

A run directory keeps its W&B run id in :data:`WANDB_ID_FILENAME`, so that a resumed run
(``resume=True``) continues the same W&B run instead of starting a second one.
"""

from __future__ import annotations

import os
import re
import secrets
import string
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlcore.logging._base import LogData, Logger, check_log_data, check_video
from rlcore.logging._csv_rows import replace_file

__all__ = ["WANDB_ID_FILENAME", "WandbLogger"]

#: Name of the file in a run directory that holds the run's W&B id (one line).
WANDB_ID_FILENAME = "wandb-id.txt"
# What the id file may hold: W&B's own ids are 8 characters of [a-z0-9]. The file is read back
# into wandb.init and the run's URL, so anything else (a path, spaces, a huge file) is refused.
_ID_MAX_LENGTH = 64
_ID_PATTERN = re.compile(rf"[a-z0-9]{{1,{_ID_MAX_LENGTH}}}")
_ID_LENGTH = 8
_ID_CHARS = string.ascii_lowercase + string.digits


class WandbLogger(Logger):
    """Send every write to a W&B run, ``run.log(data, step=step)``.

    ``wandb`` is imported here rather than at module import, so ``import rlcore.logging`` does
    not need it. W&B requires the step of successive writes to be non-decreasing: it drops
    (with a warning) a write whose step is lower than the previous one. Set ``WANDB_MODE=offline``
    to record without an account or network (``wandb sync`` uploads later).

    The W&B run id is kept in ``run_dir/wandb-id.txt`` (:data:`WANDB_ID_FILENAME`). A fresh
    start makes a new id (8 random characters of ``a-z0-9``, like W&B's own), writes the file
    atomically, then starts the W&B run with it. With ``resume=True`` the id is read back and
    the W&B run continued (``wandb.init(id=..., resume="allow")``), so a run resumed from its
    checkpoint is one W&B run; its first write after a step logged before the crash is dropped
    by W&B as above.

    Args:
        run_dir: the run directory; W&B keeps its files in ``run_dir/wandb`` and the run's name
            defaults to the directory's name.
        project: the W&B project (``None``: W&B's default, e.g. from ``WANDB_PROJECT``).
        config: the run's hyperparameters, shown and searchable in W&B.
        resume: continue the W&B run whose id is in ``run_dir/wandb-id.txt``. If the file is
            missing, a ``UserWarning`` says so and a new W&B run starts (its id is written there).
        **init_kwargs: passed on to ``wandb.init`` (``entity``, ``group``, ``tags``, ``mode``,
            ``name``, ...). An ``id`` given here is used instead of the file's, and recorded in
            it; it must be 1 to 64 characters of ``a-z0-9`` like the file's.

    Raises:
        ImportError: if wandb is not installed; the message says to ``pip install "rlcore[wandb]"``.
        ValueError: with ``resume=True``, if ``wandb-id.txt`` holds anything but 1 to 64
            characters of ``a-z0-9`` (and a newline); or if ``init_kwargs["id"]`` is not such an id.

    Change logs:
        * v0.1.0 - Initially added.
        * Unreleased - :meth:`write_video`, the id file and ``resume``.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        project: str | None = None,
        config: Mapping[str, Any] | None = None,
        resume: bool = False,
        **init_kwargs: Any,
    ) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ImportError(
                'WandbLogger needs Weights & Biases, which is not installed: pip install "rlcore[wandb]"'
            ) from error
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        init_kwargs.setdefault("name", self.run_dir.name)
        id_file = self.run_dir / WANDB_ID_FILENAME
        run_id: str | None = None
        if "id" in init_kwargs:
            run_id = _check_id(init_kwargs.pop("id"), 'WandbLogger: init_kwargs["id"]')
        elif resume:
            run_id = _read_id(id_file)
            if run_id is None:
                warnings.warn(
                    f"WandbLogger: resume=True but {str(id_file)!r} does not exist, so the W&B run to "
                    "continue is unknown; starting a new W&B run",
                    UserWarning,
                    stacklevel=2,
                )
        if run_id is None:
            run_id = "".join(secrets.choice(_ID_CHARS) for _ in range(_ID_LENGTH))
        elif resume:
            init_kwargs["resume"] = "allow"
        # Written before wandb.init: a crash during it leaves the id that a resume continues.
        replace_file(id_file, [run_id.encode("ascii") + b"\n"])
        self._run: Any = wandb.init(
            id=run_id,
            project=project,
            dir=str(self.run_dir),
            config=dict(config) if config is not None else None,
            **init_kwargs,
        )
        self._closed = False

    def write(self, data: LogData, step: int) -> None:
        """Log ``data`` at ``step`` in the W&B run."""
        values, step = check_log_data(data, step, "WandbLogger.write")
        self._check_open("WandbLogger.write")
        self._run.log(values, step=step)

    def write_video(self, key: str, path: str | os.PathLike[str], step: int) -> None:
        """Log the video file as ``wandb.Video`` under ``key`` at ``step`` (W&B copies the file).

        This is what W&B's ``monitor_gym`` would do for Gymnasium's ``RecordVideo``, which it
        does not support on Gymnasium 1.x (wandb#10339, wandb#11193).
        """
        key, video, step = check_video(key, path, step, "WandbLogger.write_video")
        self._check_open("WandbLogger.write_video")
        import wandb

        self._run.log({key: wandb.Video(str(video), format="mp4")}, step=step)

    def close(self) -> None:
        """Finish the W&B run (uploads what is left, or closes the offline files)."""
        if not self._closed:
            self._run.finish()
            self._closed = True

    def _check_open(self, where: str) -> None:
        if self._closed:
            raise RuntimeError(f"{where}: the logger of {str(self.run_dir)!r} is closed")


def _read_id(path: Path) -> str | None:
    """The W&B run id in the file ``path``, or ``None`` if there is no such file.

    The file is untrusted input (anyone may have edited it): it must hold 1 to 64 characters of
    ``a-z0-9``, optionally followed by a newline; anything else is a ``ValueError`` naming the
    file and what it holds.
    """
    try:
        with open(path, "rb") as file:
            # One byte more than the longest valid content (an id, "\r\n"): enough to refuse a
            # longer file without reading all of it.
            raw = file.read(_ID_MAX_LENGTH + 3)
    except FileNotFoundError:
        return None
    text = raw.decode("ascii", errors="replace").removesuffix("\n").removesuffix("\r")
    return _check_id(text, f"WandbLogger: the W&B id file {str(path)!r}", " (and a newline)")


def _check_id(run_id: object, what: str, tail: str = "") -> str:
    if not isinstance(run_id, str) or not _ID_PATTERN.fullmatch(run_id):
        shown = run_id[:80] + "..." if isinstance(run_id, str) and len(run_id) > 80 else run_id
        raise ValueError(
            f"{what} holds {shown!r}, expected a W&B run id of 1 to {_ID_MAX_LENGTH} characters a-z "
            f"and 0-9{tail}"
        )
    return run_id
