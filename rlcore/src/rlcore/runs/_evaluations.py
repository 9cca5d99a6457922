"""A run's evaluations as it logs, reports, records and draws them.

Every evaluation, periodic or final, is a ``progress.csv`` row (:func:`evaluation_data`) with
the training seconds so far; the final one, and the evaluate command's, are reported by
:func:`evaluation_report`; :func:`record_videos` records episodes to ``videos/``; ``eval.json``
lists every evaluation (:func:`logged_evaluations`) and ``learning_curve.png`` draws the run's
returns (:func:`plot_learning_curve`, with matplotlib).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlcore._rundir import CURVE_FILENAME, EVAL_FILENAME
from rlcore._video import check_video_support
from rlcore.analysis import interquartile_mean
from rlcore.evaluation import EvaluationResult, evaluate
from rlcore.logging import EVAL_RETURN_KEY, PROGRESS_FILENAME, STEP_KEY, LogData, Logger, read_csv_log
from rlcore.runs._log import write_atomically

__all__ = [
    "TRAIN_CPU_SECONDS_KEY",
    "TRAIN_SECONDS_KEY",
    "VIDEO_DIR",
    "VIDEO_KEY",
    "Policy",
    "evaluation_data",
    "evaluation_report",
    "logged_evaluations",
    "plot_learning_curve",
    "record_videos",
    "write_final_summary",
]

Policy = Callable[[np.ndarray], np.ndarray]
"""An evaluation policy: a batch of observations ``(n, *obs_shape)`` to actions ``(n, ...)``."""

#: Wall-clock seconds of training so far, evaluations excluded (logged with every evaluation).
TRAIN_SECONDS_KEY = "time/train_seconds"
#: The same in CPU seconds of this process, which other processes on the machine do not inflate.
TRAIN_CPU_SECONDS_KEY = "time/train_cpu_seconds"
#: The run directory's folder of recorded episodes, ``step_<step>-episode-<k>.mp4``.
VIDEO_DIR = "videos"
#: The key a recorded episode is logged under (TensorBoard, W&B); ``eval/video_<k>`` for ``k >= 1``.
VIDEO_KEY = "eval/video"


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


def evaluation_report(result: EvaluationResult) -> dict[str, Any]:
    """What ``eval.json`` and the evaluate command report of an evaluation's episodes.

    ``num_episodes``, ``mean_return``, ``std_return`` (population, ``ddof=0``), ``iqm_return``
    (the interquartile mean, :func:`rlcore.analysis.interquartile_mean`), ``mean_length``,
    ``episode_returns`` and ``episode_lengths`` (in the order the episodes finished).
    """
    return {
        "num_episodes": len(result.episode_returns),
        "mean_return": result.mean_return,
        "std_return": result.std_return,
        "iqm_return": float(interquartile_mean(result.episode_returns)),
        "mean_length": result.mean_length,
        "episode_returns": result.episode_returns.tolist(),
        "episode_lengths": result.episode_lengths.tolist(),
    }


def record_videos(
    policy: Policy,
    env: gym.Env[Any, Any],
    run_dir: Path,
    step: int,
    *,
    episodes: int,
    seed: int,
    logger: Logger | None = None,
    prefix: str | None = None,
) -> list[Path]:
    """Record ``episodes`` episodes of ``policy`` in ``env`` (an ``rgb_array`` env); their paths.

    The files are ``run_dir/videos/<prefix>-episode-<k>.mp4``, ``prefix`` by default
    ``step_<step>`` (zero-padded to 9 digits; an episode of ``L`` steps is
    ``L + 1`` frames; a ``videos`` that is a link or a file is refused); the episodes are seeded as the evaluation envs' first sub-env is
    (the ``"eval"`` stream of ``seed``), so the first video shows an evaluated episode. With a
    ``logger``, each file is logged at ``step`` under :data:`VIDEO_KEY` (``eval/video_<k>``
    for the later ones): TensorBoard and W&B show it.
    """
    check_video_support(env.render_mode, "capture_video")
    folder = run_dir / VIDEO_DIR
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        # A run directory is untrusted input: nothing is written through a link out of it.
        raise ValueError(
            f"capture_video: {str(folder)!r} must be a folder of the run directory, not a link or a file"
        )
    prefix = f"step_{step:09d}" if prefix is None else prefix

    def act(obs: np.ndarray) -> Any:
        return policy(np.asarray(obs)[None])[0]

    evaluate(act, env, episodes, seed=seed, video_folder=folder, video_name_prefix=prefix)
    paths = [folder / f"{prefix}-episode-{k}.mp4" for k in range(episodes)]
    if logger is not None:
        for k, path in enumerate(paths):
            logger.write_video(VIDEO_KEY if k == 0 else f"{VIDEO_KEY}_{k}", path, step)
    return paths


def write_final_summary(
    run_dir: Path,
    ids: dict[str, Any],
    result: EvaluationResult,
    clocks: dict[str, float],
    videos: list[Path],
) -> dict[str, Any]:
    """Write ``eval.json`` (the ids, the final evaluation, the clocks, the videos, every evaluation)
    and the learning curve; return what ``eval.json`` holds plus ``learning_curve``."""
    summary: dict[str, Any] = {
        **ids,
        **evaluation_report(result),
        **clocks,
        "run_dir": str(run_dir),
        "videos": [str(path) for path in videos],
        "evaluations": logged_evaluations(run_dir),
    }
    write_atomically(run_dir / EVAL_FILENAME, json.dumps(summary, indent=2) + "\n")
    title = f"{ids['algo'].upper()} on {ids['env_id']}, seed {ids['seed']}"
    summary["learning_curve"] = plot_learning_curve(run_dir, title)
    return summary
