"""``rlcore plot RUN_DIR... [--out FILE] [--x step|time] [--y KEY]``: learning curves as a PNG.

One line per configuration (the seeds of one setting, see :func:`rlcore.analysis.group_runs`):
the mean over seeds on a common grid, with a shaded band, by default the percentile-bootstrap
95% confidence interval of the mean (:func:`rlcore.analysis.plot_learning_curves`). KEY
defaults as in ``rlcore summarize``: ``eval/mean_return``, or ``train/episodic_return`` when
more runs logged that. Runs that logged nothing, or never logged KEY, are skipped and named on
stderr, as in ``rlcore summarize``. Prints the path of the PNG.

matplotlib (the ``plot`` extra) is imported only by this command and draws on the Agg canvas.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlcore.analysis import plot_learning_curves
from rlcore.cli.summarize import USER_ERRORS, add_run_arguments, fail, load_grouped

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``rlcore plot``'s arguments to ``parser``."""
    add_run_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("learning_curves.png"),
        help="the PNG to write (default: %(default)s)",
    )
    parser.add_argument(
        "--x",
        choices=("step", "time"),
        default="step",
        help="x axis: environment steps or wall-clock seconds",
    )
    parser.add_argument(
        "--y",
        default=None,
        metavar="KEY",
        help="the metric (default: eval/mean_return, or train/episodic_return if more runs logged it)",
    )
    parser.add_argument(
        "--spread",
        choices=("ci", "std", "none"),
        default="ci",
        help="the band: 95%% bootstrap CI of the mean, ±1 std, or none (default: %(default)s)",
    )
    parser.add_argument("--num-points", type=int, default=200, help="points of the common x grid")
    parser.add_argument("--title", default=None, help="the plot's title")


def run(args: argparse.Namespace) -> int:
    """Write the PNG and print its path; return 0, or 1 with a message on stderr for a user error."""
    out: Path = args.out
    if out.suffix.lower() != ".png":
        return fail("plot", ValueError(f"--out must name a .png file, got {str(out)!r}"))
    try:
        selection, grouping = load_grouped(args, args.y, "plot")
        figure = plot_learning_curves(
            grouping.groups,
            selection.key,
            x=args.x,
            spread=args.spread,
            num_points=args.num_points,
            seed=args.seed,
            title=args.title,
        )
    except USER_ERRORS as error:
        return fail("plot", error)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    print(out.resolve())
    return 0
