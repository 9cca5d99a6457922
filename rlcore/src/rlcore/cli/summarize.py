"""``rlcore summarize RUN_DIR... [--key KEY]``: a table of final returns per configuration.

For each configuration (the seeds of one setting, see :func:`rlcore.analysis.group_runs`) it
prints the number of seeds and, over the final value of KEY in each run (the last value the run
logged), the mean, the sample standard deviation, the interquartile mean, and a percentile
bootstrap 95% confidence interval of the mean and of the IQM (Agarwal et al. 2021,
https://arxiv.org/abs/2108.13264).

KEY defaults to ``eval/mean_return`` when every run logged it, else ``train/episodic_return``
(:func:`rlcore.analysis.default_return_key`): one key for the whole table, so that an
evaluation return is never compared with a training return.

The helpers :func:`add_run_arguments`, :func:`load_selected` and :func:`fail` are shared with
``rlcore plot``.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from rlcore.analysis import Run, aggregate, default_return_key, final_values, group_runs, load_runs

__all__ = ["add_arguments", "add_run_arguments", "fail", "load_selected", "run"]

# The errors a user causes (a wrong path, a key no run logged, a malformed log, a missing
# extra); anything else is a bug and keeps its traceback.
USER_ERRORS = (FileNotFoundError, KeyError, ValueError, ImportError)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``summarize`` and ``plot`` share: the runs, their grouping, the bootstrap seed."""
    parser.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        help="run directories (holding progress.csv), or directories searched for them",
    )
    parser.add_argument(
        "--group-by",
        choices=("auto", "config", "parent"),
        default="auto",
        help="configurations by config.json minus the seed, or by parent directory "
        "(auto: config when every run has one)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="KEY",
        help="a config.json key that does not tell configurations apart, besides 'seed' (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")


def load_selected(args: argparse.Namespace, key: str | None) -> tuple[dict[str, list[Run]], str]:
    """Load and group the runs of ``args``; return the groups and ``key`` or the default key."""
    runs = load_runs(args.run_dirs)
    groups = group_runs(runs, by=args.group_by, ignore=("seed", *args.ignore))
    return groups, key if key is not None else default_return_key(runs)


def fail(command: str, error: BaseException) -> int:
    """Print ``rlcore COMMAND: error: ...`` to stderr and return the exit status 1."""
    # str(KeyError) quotes its message; the message is what the user needs.
    message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    print(f"rlcore {command}: error: {message}", file=sys.stderr)
    return 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``rlcore summarize``'s arguments to ``parser``."""
    add_run_arguments(parser)
    parser.add_argument(
        "--key",
        default=None,
        help="the metric whose final value is summarised (default: eval/mean_return if every run "
        "logged it, else train/episodic_return)",
    )
    parser.add_argument("--num-resamples", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--precision", type=int, default=2, help="decimals in the table")


def run(args: argparse.Namespace) -> int:
    """Print the table; return 0, or 1 with a message on stderr for a user error."""
    if args.precision < 0:
        return fail("summarize", ValueError(f"--precision must be >= 0, got {args.precision}"))
    try:
        groups, key = load_selected(args, args.key)
        rows = []
        for label, runs in groups.items():
            stats = aggregate(final_values(runs, key), num_resamples=args.num_resamples, seed=args.seed)
            rows.append((label, stats))
    except USER_ERRORS as error:
        return fail("summarize", error)
    print(
        f"final {key} per run (its last logged value); {len(rows)} configuration(s); "
        f"95% CIs: percentile bootstrap, {args.num_resamples} resamples, seed {args.seed}"
    )
    number = f"{{:.{args.precision}f}}"

    def interval(bounds: np.ndarray) -> str:
        return f"[{number.format(bounds[0])}, {number.format(bounds[1])}]"

    table = [("configuration", "seeds", "mean", "std", "95% CI", "IQM", "IQM 95% CI")]
    for label, stats in rows:
        std = "n/a" if math.isnan(stats.std) else number.format(stats.std)
        table.append(
            (
                label,
                str(stats.num_runs),
                number.format(stats.mean),
                std,
                interval(stats.mean_ci),
                number.format(stats.iqm),
                interval(stats.iqm_ci),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells).rstrip())
    return 0
