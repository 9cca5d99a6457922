"""``make_logger``: the one call an agent makes to log a run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlcore.logging._base import EVAL_RETURN_KEY, Logger
from rlcore.logging._console import ConsoleLogger
from rlcore.logging._csv import CSVLogger
from rlcore.logging._wrappers import MultiLogger

__all__ = ["BACKENDS", "CONFIG_FILENAME", "make_logger"]

#: The backends ``make_logger`` knows; ``"tensorboard"`` and ``"wandb"`` need their extras.
BACKENDS = ("csv", "console", "tensorboard", "wandb")
#: Name of the run's configuration inside a run directory; :mod:`rlcore.analysis` groups seeds by it.
CONFIG_FILENAME = "config.json"


def make_logger(
    run_dir: str | os.PathLike[str],
    backends: Sequence[str] = ("csv", "console"),
    *,
    config: Mapping[str, Any] | None = None,
    total_steps: int | None = None,
    append: bool = False,
    keep_rows: Callable[[Mapping[str, float]], bool] | None = None,
    wandb_project: str | None = None,
    wandb_kwargs: Mapping[str, Any] | None = None,
    tensorboard_kwargs: Mapping[str, Any] | None = None,
    hparam_metrics: Sequence[str] = (EVAL_RETURN_KEY,),
) -> Logger:
    """Build the logger of one run: ``progress.csv`` plus the chosen backends, behind one ``write``.

    The CSV run log (:class:`CSVLogger`, ``run_dir/progress.csv``) is always written, listed or
    not, because ``rlcore plot`` and ``rlcore summarize`` read it. With ``config`` the run's
    configuration is also saved as ``run_dir/config.json`` (values JSON cannot hold, such as
    paths, are saved as their ``str``); :func:`rlcore.analysis.group_runs` groups the seeds of
    one configuration by it, ignoring its ``"seed"`` key. With ``"tensorboard"`` the config also
    goes to TensorBoard's HParams tab (:meth:`TensorBoardLogger.write_hparams`), and with
    ``"wandb"`` to the W&B run's config.

    A resumed run (``append=True``) continues what its first process started: the run log, the
    same W&B run (``WandbLogger(resume=True)``, through ``run_dir/wandb-id.txt``) and the
    TensorBoard event files (pass ``tensorboard_kwargs={"purge_step": checkpoint_step}`` to hide
    what the crashed process logged after its checkpoint); the hyperparameters are not written
    to TensorBoard again.

    Args:
        run_dir: the run directory, e.g. ``runs/ppo_cartpole/seed_0`` (created if missing).
        backends: any of ``"csv"``, ``"console"``, ``"tensorboard"``, ``"wandb"``; a name listed
            twice counts once, so ``("csv", "console", config.logger)`` is fine when the
            configured logger is ``"csv"``.
        config: the run's hyperparameters (``vars(args)``, ``dataclasses.asdict(args)``).
        total_steps: the run's step budget, for the console's progress bar and ETA.
        append: continue an existing run log (a resumed run) instead of replacing it; its
            malformed rows (torn by a crash) are dropped, with a warning. Also continues the W&B
            run and writes no TensorBoard hyperparameters (see above).
        keep_rows: with ``append``, which of the run log's rows to keep, e.g.
            ``lambda row: row["step"] <= checkpoint_step`` to drop what a resumed run logged
            after its checkpoint: passed to :class:`CSVLogger` as ``keep`` (see there; the file
            is rewritten once, atomically, with the malformed rows dropped in the same pass).
        wandb_project: the W&B project, with ``"wandb"``.
        wandb_kwargs: more arguments for ``wandb.init``, with ``"wandb"``.
        tensorboard_kwargs: more arguments for :class:`TensorBoardLogger` (``purge_step``,
            ``flush_secs``), with ``"tensorboard"``.
        hparam_metrics: the scalar tags TensorBoard's HParams tab shows as metric columns
            beside the hyperparameters, with ``"tensorboard"`` and ``config``.

    Returns:
        A :class:`MultiLogger` over the backends, CSV first; close it (or use ``with``) at the end.

    Raises:
        ValueError: if ``backends`` names an unknown backend, ``wandb_kwargs`` or
            ``tensorboard_kwargs`` is given without its backend, or with ``append`` if the
            existing run log's header is not a run log's (or the W&B id file is corrupt).
        ImportError: if ``"tensorboard"`` or ``"wandb"`` is asked for without its extra.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     run_dir = Path(tmp, "ppo", "seed_0")
        ...     with make_logger(run_dir, backends=("csv",), config={"lr": 3e-4, "seed": 0}) as logger:
        ...         logger.write({"train/episodic_return": 21.0}, step=128)
        ...     print(sorted(p.name for p in run_dir.iterdir()))
        ['config.json', 'progress.csv']
    """
    if isinstance(backends, str) or not isinstance(backends, Sequence):
        raise TypeError(
            f"make_logger: backends must be a sequence of names from {BACKENDS}, got {backends!r}"
        )
    for name in backends:
        if name not in BACKENDS:
            raise ValueError(f"make_logger: unknown backend {name!r}, expected one of {BACKENDS}")
    if wandb_kwargs is not None and "wandb" not in backends:
        raise ValueError('make_logger: wandb_kwargs was given but backends does not include "wandb"')
    if tensorboard_kwargs is not None and "tensorboard" not in backends:
        raise ValueError(
            'make_logger: tensorboard_kwargs was given but backends does not include "tensorboard"'
        )
    if isinstance(hparam_metrics, str) or not isinstance(hparam_metrics, Sequence):
        raise TypeError(
            f"make_logger: hparam_metrics must be a sequence of scalar tags such as "
            f"[{EVAL_RETURN_KEY!r}], got {hparam_metrics!r}"
        )
    run_dir = Path(run_dir)
    loggers: list[Logger] = []
    try:
        # The optional backends come first: if one cannot be built (a missing extra), no run
        # log has been replaced yet.
        if "tensorboard" in backends:
            from rlcore.logging._tensorboard import TensorBoardLogger

            tensorboard_logger = TensorBoardLogger(run_dir, **dict(tensorboard_kwargs or {}))
            loggers.append(tensorboard_logger)
            if config is not None and not append:
                tensorboard_logger.write_hparams(config, hparam_metrics)
        if "wandb" in backends:
            from rlcore.logging._wandb import WandbLogger

            loggers.append(
                WandbLogger(
                    run_dir,
                    project=wandb_project,
                    config=config,
                    resume=append,
                    **dict(wandb_kwargs or {}),
                )
            )
        loggers.insert(0, CSVLogger(run_dir, append=append, keep=keep_rows))
        if config is not None:
            text = json.dumps(dict(config), indent=2, sort_keys=True, default=str)
            (run_dir / CONFIG_FILENAME).write_text(text + "\n", encoding="utf-8")
        if "console" in backends:
            loggers.append(ConsoleLogger(total_steps=total_steps))
    except BaseException:
        for logger in loggers:
            logger.close()
        raise
    return MultiLogger(loggers)
