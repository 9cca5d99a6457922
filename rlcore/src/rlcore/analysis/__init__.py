r"""Aggregation of runs across seeds: load run logs, align curves, IQM and bootstrap CIs, plot.

A *run* is a directory holding the run log ``progress.csv`` written by
:class:`rlcore.logging.CSVLogger` and, optionally, ``config.json`` (written by
:func:`rlcore.logging.make_logger`). Runs whose hyperparameters are equal form a
*configuration*, the seeds of one experiment; :func:`group_runs` finds them by ``config.json``,
comparing neither the seed nor the run settings (``progress``, ``device``, ``logger``, ...) nor
the record's metadata (versions, git commit), or by the run directory's parent
(``runs/<configuration>/<seed>/``). :func:`select_runs` loads the runs that logged a metric and
names those it skips (runs that failed before they logged anything); :func:`summary_rows` and
:func:`format_summary_table` make the table of ``rlcore summarize`` and of sweep summaries.

Statistics follow Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical
Precipice" (NeurIPS 2021, https://arxiv.org/abs/2108.13264): with few seeds, report the
interquartile mean (IQM) next to the mean, each with a percentile-bootstrap 95% confidence
interval (Efron and Tibshirani, "An Introduction to the Bootstrap", 1993), rather than a mean
and a standard deviation alone.

Shapes: ``N`` runs (seeds), ``P`` points of a common step grid. Every array is float64.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from rlcore.logging import make_logger
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for lr, finals in [(0.1, [10.0, 20.0, 30.0, 40.0]), (0.2, [5.0, 5.0])]:
    ...         for seed, final in enumerate(finals):
    ...             run_dir = Path(tmp, f"lr{lr}_seed{seed}")
    ...             with make_logger(run_dir, ("csv",), config={"lr": lr, "seed": seed}) as log:
    ...                 log.write({"eval/mean_return": 0.0}, step=0)
    ...                 log.write({"eval/mean_return": final}, step=1000)
    ...     groups = group_runs(load_runs([tmp]))
    >>> [(label, len(runs)) for label, runs in groups.items()]
    [('lr=0.1', 4), ('lr=0.2', 2)]
    >>> summary = aggregate(final_values(groups["lr=0.1"], "eval/mean_return"))
    >>> summary.num_runs, summary.mean, summary.iqm
    (4, 25.0, 25.0)
"""

from __future__ import annotations

from rlcore.analysis._curves import align_curves
from rlcore.analysis._group import (
    DEFAULT_RUN_SETTINGS,
    RUN_METADATA_KEYS,
    RUN_SETTINGS_KEY,
    SEED_KEY,
    Grouping,
    group_runs,
    group_runs_explained,
)
from rlcore.analysis._load import (
    DEFAULT_RETURN_KEYS,
    Run,
    RunSelection,
    default_return_key,
    final_values,
    find_runs,
    load_run,
    load_runs,
    select_runs,
)
from rlcore.analysis._plot import plot_learning_curves
from rlcore.analysis._stats import Aggregate, aggregate, bootstrap_ci, interquartile_mean
from rlcore.analysis._stats import Statistic as Statistic  # the type of bootstrap_ci's callable statistic
from rlcore.analysis._summary import SummaryRow, format_summary_table, summary_rows

__all__ = [
    "DEFAULT_RETURN_KEYS",
    "DEFAULT_RUN_SETTINGS",
    "RUN_METADATA_KEYS",
    "RUN_SETTINGS_KEY",
    "SEED_KEY",
    "Aggregate",
    "Grouping",
    "Run",
    "RunSelection",
    "SummaryRow",
    "aggregate",
    "align_curves",
    "bootstrap_ci",
    "default_return_key",
    "final_values",
    "find_runs",
    "format_summary_table",
    "group_runs",
    "group_runs_explained",
    "interquartile_mean",
    "load_run",
    "load_runs",
    "plot_learning_curves",
    "select_runs",
    "summary_rows",
]
