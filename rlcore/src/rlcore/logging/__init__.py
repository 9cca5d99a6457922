"""Logging of scalar metrics and videos: one two-method :class:`Logger` and its backends (Acme's design).

* :class:`Logger`: ``write(data, step)`` and ``close()``; a context manager. A third method,
  ``write_video(key, path, step)``, takes an MP4 file (an evaluation episode that Gymnasium's
  ``RecordVideo`` wrote); its default checks the arguments and ignores the video.
* :class:`CSVLogger`: the run log ``progress.csv``, always on; :func:`read_csv_log` reads it.
* :class:`ConsoleLogger`: a progress bar on a terminal, a status line every N seconds in CI.
* :class:`TensorBoardLogger` (``pip install "rlcore[tensorboard]"``) and :class:`WandbLogger`
  (``pip install "rlcore[wandb]"``): imported lazily, when constructed. Both show videos
  (TensorBoard as an animated GIF, which needs ``pip install "rlcore[video]"``); TensorBoard
  shows the run's hyperparameters in its HParams tab (``write_hparams``) and hides what a
  crashed process logged after its checkpoint (``purge_step``); W&B keeps the run's W&B id in
  :data:`WANDB_ID_FILENAME` so that a resumed run continues the same W&B run.
* :class:`MultiLogger` (fan-out), :class:`KeyFilter` (keep / drop keys by pattern) and
  :class:`InMemoryLogger` (a fake for tests; it keeps videos' paths in ``videos``).
* :func:`make_logger`: the run's logger from a list of backend names.

The key names below are the convention that ``rlcore summarize`` and ``rlcore plot`` read by
default: log each finished training episode's return under :data:`EPISODIC_RETURN_KEY` and each
evaluation round's mean return under :data:`EVAL_RETURN_KEY`.

Importing this package loads neither TensorBoard, W&B, matplotlib, tqdm, rich, moviepy,
imageio nor Pillow.

Example:
    >>> import tempfile
    >>> from rlcore.analysis import load_run
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     with make_logger(run_dir, backends=("csv",)) as logger:
    ...         for step in (100, 200):
    ...             logger.write({EPISODIC_RETURN_KEY: step / 10}, step=step)
    ...     load_run(run_dir).curve(EPISODIC_RETURN_KEY)
    (array([100., 200.]), array([10., 20.]))
"""

from __future__ import annotations

from rlcore.logging._base import EPISODIC_RETURN_KEY, EVAL_RETURN_KEY, STEP_KEY, TIME_KEY, LogData, Logger
from rlcore.logging._console import ConsoleLogger
from rlcore.logging._csv import PROGRESS_FILENAME, CSVLogger, read_csv_log
from rlcore.logging._factory import BACKENDS, CONFIG_FILENAME, make_logger
from rlcore.logging._memory import InMemoryLogger
from rlcore.logging._tensorboard import TensorBoardLogger
from rlcore.logging._wandb import WANDB_ID_FILENAME, WandbLogger
from rlcore.logging._wrappers import KeyFilter, MultiLogger

__all__ = [
    "BACKENDS",
    "CONFIG_FILENAME",
    "EPISODIC_RETURN_KEY",
    "EVAL_RETURN_KEY",
    "PROGRESS_FILENAME",
    "STEP_KEY",
    "TIME_KEY",
    "WANDB_ID_FILENAME",
    "CSVLogger",
    "ConsoleLogger",
    "InMemoryLogger",
    "KeyFilter",
    "LogData",
    "Logger",
    "MultiLogger",
    "TensorBoardLogger",
    "WandbLogger",
    "make_logger",
    "read_csv_log",
]
