"""A sweep's summary: per configuration across its seeds, the final return's mean, IQM and CIs.

The table is the one of ``rlcore summarize`` (:func:`rlcore.analysis.summary_rows` and
:func:`rlcore.analysis.format_summary_table`): per configuration, the mean, standard deviation
and interquartile mean (IQM) of each seed's final value of the metric, with percentile-bootstrap
95% confidence intervals (Agarwal et al., "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", NeurIPS 2021, https://arxiv.org/abs/2108.13264). It is written to
``summary.md`` and the learning curves (one line per configuration, shaded: the 95% bootstrap CI
of the mean over seeds) to ``learning_curves.png`` in the sweep's directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from rlcore.analysis import (
    SummaryRow,
    format_summary_table,
    group_runs,
    plot_learning_curves,
    select_runs,
    summary_rows,
)
from rlcore.runs import EVAL_FILENAME, run_state

__all__ = ["PLOT_FILENAME", "SUMMARY_FILENAME", "SweepSummary", "summarize_sweep"]

#: The sweep's summary table and learning curves, in the sweep's directory.
SUMMARY_FILENAME = "summary.md"
PLOT_FILENAME = "learning_curves.png"


@dataclasses.dataclass(frozen=True)
class SweepSummary:
    """A sweep's summary.

    Attributes:
        key: the metric summarised.
        rows: one :class:`rlcore.analysis.SummaryRow` per configuration (its ``label`` is the
            configuration's directory).
        table: the text of ``summary.md`` (without its final newline).
        summary_path: ``summary.md``.
        plot_path: ``learning_curves.png``, or None when not plotted.
        skipped: done trials left out because they never logged ``key``.
    """

    key: str
    rows: list[SummaryRow]
    table: str
    summary_path: Path
    plot_path: Path | None
    skipped: list[Path] = dataclasses.field(default_factory=list)


def summarize_sweep(
    sweep_dir: str | Path,
    *,
    trial_dirs: Iterable[str | Path] | None = None,
    key: str | None = None,
    num_resamples: int = 10_000,
    seed: int = 0,
    plot: bool = True,
) -> SweepSummary:
    """Summarise a sweep's done trials per configuration; write ``summary.md`` and the plot.

    The trials are grouped by their configuration, the directory that holds their seeds
    (``by="parent"`` of :func:`rlcore.analysis.group_runs`: the sweep's own grid, even when it
    sweeps a run setting such as ``vector_mode``), and summarised as ``rlcore summarize``
    summarises them: the same runs in the same order, the same ``num_resamples`` and ``seed``,
    the same numbers.

    Args:
        sweep_dir: the sweep's directory.
        trial_dirs: the trials to include (default: every done run below ``sweep_dir``,
            :func:`rlcore.runs.run_state`).
        key: the metric (default: ``eval/mean_return``, else ``train/episodic_return``:
            :func:`rlcore.analysis.select_runs`).
        num_resamples, seed: the bootstrap's number of resamples and seed.
        plot: also write ``learning_curves.png`` (skipped without matplotlib, ``rlcore[plot]``).

    Raises:
        FileNotFoundError: if there is no done trial, or one has no ``progress.csv``.
        KeyError: if no trial logged ``key``.
        ValueError: if no trial logged anything, or a run log is malformed.
    """
    sweep_dir = Path(sweep_dir)
    if trial_dirs is None:
        found = (path.parent for path in sweep_dir.rglob(EVAL_FILENAME))
        trial_dirs = [path for path in found if run_state(path) == "done"]
    # Sorted resolved paths: the order in which `rlcore summarize` finds them, so that the
    # bootstrap resamples the same runs.
    paths = sorted({Path(path).resolve() for path in trial_dirs})
    if not paths:
        raise FileNotFoundError(f"summarize_sweep: no done trial under {sweep_dir}")
    selection = select_runs(paths, key)
    groups = group_runs(selection.runs, by="parent")
    rows = summary_rows(groups, selection.key, num_resamples=num_resamples, seed=seed)
    lines = [
        f"Final {selection.key} of each seed (its last logged value): mean, std (ddof=1), "
        f"interquartile mean; 95% CIs: percentile bootstrap over seeds, {num_resamples} "
        f"resamples, seed {seed}.",
        "",
        format_summary_table(rows, style="markdown"),
    ]
    if selection.skipped:
        lines += ["", *selection.skip_report()]
    table = "\n".join(lines)
    summary_path = sweep_dir / SUMMARY_FILENAME
    summary_path.write_text(table + "\n", encoding="utf-8")
    plot_path = None
    if plot and _has_matplotlib():
        plot_path = sweep_dir / PLOT_FILENAME
        figure = plot_learning_curves(
            groups, selection.key, seed=seed, title=f"{sweep_dir.name}: {selection.key}"
        )
        figure.savefig(plot_path, format="png")
    return SweepSummary(selection.key, rows, table, summary_path, plot_path, selection.skipped)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
