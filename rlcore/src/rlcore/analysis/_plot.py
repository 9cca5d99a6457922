"""Plotting learning curves: the mean over seeds of each configuration, with a shaded spread.

Private: :mod:`rlcore.analysis` re-exports :func:`plot_learning_curves`. matplotlib is an
optional dependency (``pip install "rlcore[plot]"``): it is imported inside the function, never
when this module is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from rlcore.analysis._curves import align_curves
from rlcore.analysis._load import Run
from rlcore.analysis._stats import aggregate
from rlcore.logging import STEP_KEY, TIME_KEY

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curves"]


def plot_learning_curves(
    groups: Mapping[str, Sequence[Run]],
    key: str,
    *,
    x: Literal["step", "time"] = "step",
    spread: Literal["ci", "std", "none"] = "ci",
    num_points: int = 200,
    confidence: float = 0.95,
    num_resamples: int = 1000,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Learning curves, one line per configuration: the mean over seeds and a shaded spread.

    Each configuration's runs are aligned on a grid of ``num_points`` over the x range they all
    cover (:func:`align_curves`). The shaded band is the bootstrap confidence interval of the mean
    (``spread="ci"``), mean ± one standard deviation (``"std"``), or nothing (``"none"``); a
    configuration with one seed gets no band.

    The legend says what is drawn: each line's label ends with its number of runs (``"(n=5)"``,
    or ``"(1 run)"`` for a single run, which is the run itself, not a mean); its title names the
    mean and the band, unless no configuration has more than one run: then it reads ``"one run"``
    (one configuration) or ``"one run per configuration"``.

    matplotlib is imported here, and the figure is drawn on an Agg canvas without touching
    pyplot's global state; save it with ``figure.savefig("curves.png")``.

    Args:
        groups: ``{label: runs}`` as from :func:`group_runs`.
        key: the metric on the y axis.
        x: ``"step"`` or ``"time"`` (wall-clock seconds).
        spread: the band: ``"ci"``, ``"std"`` or ``"none"``.
        num_points, confidence, num_resamples, seed: the grid size and the bootstrap's settings.
        title: the plot title (default: none).

    Returns:
        A ``matplotlib.figure.Figure``.

    Raises:
        ImportError: if matplotlib is missing; the message says to ``pip install "rlcore[plot]"``.
        KeyError: if a run never logged ``key``.
        ValueError: on an empty ``groups`` or an unknown ``x`` or ``spread``.
    """
    if x not in (STEP_KEY, TIME_KEY):
        raise ValueError(f"plot_learning_curves: x must be 'step' or 'time', got {x!r}")
    if spread not in ("ci", "std", "none"):
        raise ValueError(f"plot_learning_curves: spread must be 'ci', 'std' or 'none', got {spread!r}")
    if not groups:
        raise ValueError("plot_learning_curves: groups is empty, expected at least one configuration")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            'plot_learning_curves needs matplotlib, which is not installed: pip install "rlcore[plot]"'
        ) from error
    figure = Figure(figsize=(7.0, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    most_runs = 0
    for label, runs in groups.items():
        grid, values = align_curves([run.curve(key, x) for run in runs], num_points=num_points)
        stats = aggregate(values, confidence=confidence, num_resamples=num_resamples, seed=seed)
        most_runs = max(most_runs, stats.num_runs)
        count = "1 run" if stats.num_runs == 1 else f"n={stats.num_runs}"
        (line,) = ax.plot(grid, stats.mean, label=f"{label} ({count})")
        if stats.num_runs > 1 and spread != "none":
            low, high = stats.mean_ci if spread == "ci" else (stats.mean - stats.std, stats.mean + stats.std)
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel("environment steps" if x == STEP_KEY else "wall-clock time (s)")
    ax.set_ylabel(key)
    ax.grid(True, alpha=0.3)
    band = {
        "ci": f"; shaded: {confidence:.0%} bootstrap CI of the mean",
        "std": "; shaded: ±1 std",
        "none": "",
    }
    if most_runs > 1:
        legend_title = f"mean over seeds{band[spread]}"
    else:  # no mean and no band anywhere: say so rather than promise them
        legend_title = "one run" if len(groups) == 1 else "one run per configuration"
    ax.legend(title=legend_title, fontsize="small", title_fontsize="small", alignment="left")
    if title:
        ax.set_title(title)
    return figure
