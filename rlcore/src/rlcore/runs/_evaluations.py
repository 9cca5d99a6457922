"""A run's evaluations as it logs, reports and draws them.

Every evaluation, periodic or final, is a ``progress.csv`` row (:func:`evaluation_data`) with
the training seconds so far; ``eval.json`` lists them all (:func:`logged_evaluations`) and
``learning_curve.png`` draws the run's returns (:func:`plot_learning_curve`, with matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlcore._rundir import CURVE_FILENAME
from rlcore.evaluation import EvaluationResult
from rlcore.logging import EVAL_RETURN_KEY, PROGRESS_FILENAME, STEP_KEY, LogData, read_csv_log

__all__ = [
    "TRAIN_CPU_SECONDS_KEY",
    "TRAIN_SECONDS_KEY",
    "evaluation_data",
    "logged_evaluations",
    "plot_learning_curve",
]

#: Wall-clock seconds of training so far, evaluations excluded (logged with every evaluation).
TRAIN_SECONDS_KEY = "time/train_seconds"
#: The same in CPU seconds of this process, which other processes on the machine do not inflate.
TRAIN_CPU_SECONDS_KEY = "time/train_cpu_seconds"


def evaluation_data(result: EvaluationResult, train_seconds: float, train_cpu_seconds: float) -> LogData:
    """The row an evaluation logs: ``eval/mean_return`` and co, with the training seconds so far."""
    return {
        EVAL_RETURN_KEY: result.mean_return,
        "eval/std_return": result.std_return,
        "eval/mean_length": result.mean_length,
        TRAIN_SECONDS_KEY: train_seconds,
        TRAIN_CPU_SECONDS_KEY: train_cpu_seconds,
    }


def logged_evaluations(run_dir: Path) -> list[dict[str, float]]:
    """Every evaluation row of ``progress.csv`` (before a resume too), in file order."""
    log = read_csv_log(run_dir / PROGRESS_FILENAME)
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


def plot_learning_curve(run_dir: Path, title: str) -> str | None:
    """Draw the run's learning curve into ``learning_curve.png``; its path, or None without matplotlib.

    ``rlcore.analysis`` and matplotlib are imported here, only when a run finishes.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from rlcore.analysis import default_return_key, load_run, plot_learning_curves

    run = load_run(run_dir)
    key = default_return_key([run])
    figure = plot_learning_curves({run_dir.name: [run]}, key, title=title)
    figure.savefig(run_dir / CURVE_FILENAME, format="png")
    return str(run_dir / CURVE_FILENAME)
