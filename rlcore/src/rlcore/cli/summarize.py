"""``rlcore summarize RUN_DIR... [--key KEY]``: a table of final returns per configuration.

For each configuration (the seeds of one experiment, see :func:`rlcore.analysis.group_runs`) it
prints the number of seeds and, over the final value of KEY in each run (the last value the run
logged), the mean, the sample standard deviation, the interquartile mean, and a percentile
bootstrap 95% confidence interval of the mean and of the IQM (Agarwal et al. 2021,
https://arxiv.org/abs/2108.13264). The table is :func:`rlcore.analysis.format_summary_table` of
:func:`rlcore.analysis.summary_rows`, as in a sweep's ``summary.md``.

Configurations are told apart by their hyperparameters only: above the table a line names the
``config.json`` keys whose values differ between the configurations, and another the keys that
were not compared (run settings such as ``progress``, the git commit, versions, ``--ignore``)
although they differ between the seeds of one configuration.

KEY defaults to ``eval/mean_return``, or to ``train/episodic_return`` when more runs logged that
(:func:`rlcore.analysis.select_runs`): one key for the whole table, so that an evaluation return
is never compared with a training return. Runs that logged nothing (they failed before their
first log write) or never logged KEY are skipped and named on stderr; only when no run is left
is it an error.

The helpers :func:`add_run_arguments`, :func:`load_grouped`, :func:`load_selected` and
:func:`fail` are shared with ``rlcore plot``.
"""

from __future__ import annotations

import argparse
import sys

from rlcore.analysis import (
    Grouping,
    Run,
    RunSelection,
    format_summary_table,
    group_runs_explained,
    select_runs,
    summary_rows,
)

__all__ = [
    "add_arguments",
    "add_run_arguments",
    "explain_grouping",
    "fail",
    "load_grouped",
    "load_selected",
    "run",
]

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
        help="configurations by the hyperparameters in config.json (not the seed, run settings, "
        "versions or git commit), or by parent directory (auto: config when every run has one)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="KEY",
        help="a config.json key that does not tell configurations apart, besides the seed, the run "
        "settings and the record's metadata (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")


def load_grouped(args: argparse.Namespace, key: str | None, command: str) -> tuple[RunSelection, Grouping]:
    """Load the runs of ``args`` that logged ``key`` (or the default key) and group them.

    The skipped runs are named on stderr, one line per reason, prefixed by ``rlcore COMMAND:``.
    """
    selection = select_runs(args.run_dirs, key)
    for line in selection.skip_report():
        print(f"rlcore {command}: {line}", file=sys.stderr)
    grouping = group_runs_explained(selection.runs, by=args.group_by, ignore=tuple(args.ignore))
    return selection, grouping


def load_selected(args: argparse.Namespace, key: str | None) -> tuple[dict[str, list[Run]], str]:
    """Load and group the runs of ``args``; return the groups and ``key`` or the default key."""
    selection, grouping = load_grouped(args, key, "summarize")
    return grouping.groups, selection.key


def explain_grouping(grouping: Grouping) -> list[str]:
    """The lines that say why the runs were, or were not, grouped together."""
    lines = []
    if len(grouping.groups) > 1:
        if grouping.by == "config":
            lines.append(f"configurations differ in: {', '.join(grouping.differing)}")
        else:
            lines.append(
                "configurations: one per parent directory (--group-by parent, or a run has no config.json)"
            )
    if grouping.ignored_differing:
        lines.append(
            "not compared (run settings, record metadata, --ignore) though they differ between seeds of a "
            f"configuration: {', '.join(grouping.ignored_differing)}"
        )
    return lines


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
        help="the metric whose final value is summarised (default: eval/mean_return, or "
        "train/episodic_return if more runs logged it)",
    )
    parser.add_argument("--num-resamples", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--precision", type=int, default=2, help="decimals in the table")


def run(args: argparse.Namespace) -> int:
    """Print the table; return 0, or 1 with a message on stderr for a user error."""
    if args.precision < 0:
        return fail("summarize", ValueError(f"--precision must be >= 0, got {args.precision}"))
    try:
        selection, grouping = load_grouped(args, args.key, "summarize")
        rows = summary_rows(grouping.groups, selection.key, num_resamples=args.num_resamples, seed=args.seed)
        table = format_summary_table(rows, args.precision)
    except USER_ERRORS as error:
        return fail("summarize", error)
    print(
        f"final {selection.key} per run (its last logged value); {len(rows)} configuration(s); "
        f"95% CIs: percentile bootstrap, {args.num_resamples} resamples, seed {args.seed}"
    )
    for line in explain_grouping(grouping):
        print(line)
    print(table)
    return 0
