"""The summary table: per configuration, the final value's mean, std, IQM and bootstrap CIs.

Private: :mod:`rlcore.analysis` re-exports its public names. :func:`summary_rows` aggregates the
final value of a metric over the seeds of each configuration and :func:`format_summary_table`
writes the rows as text (``rlcore summarize``) or Markdown (a sweep's ``summary.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rlcore.analysis._load import Run, final_values
from rlcore.analysis._stats import Aggregate, aggregate

__all__ = ["SummaryRow", "format_summary_table", "summary_rows"]


@dataclass(frozen=True, eq=False)
class SummaryRow:
    """One configuration's row of a summary table (:func:`summary_rows`).

    Attributes:
        label: the configuration, as :func:`group_runs` labels it.
        runs: its runs (seeds), in the given order.
        values: the final value of the key in each run: float64 array of shape ``(N,)``.
        stats: :func:`aggregate` of ``values`` (floats; intervals of shape ``(2,)``).
    """

    label: str
    runs: tuple[Run, ...]
    values: np.ndarray
    stats: Aggregate


def summary_rows(
    groups: Mapping[str, Sequence[Run]],
    key: str,
    *,
    confidence: float = 0.95,
    num_resamples: int = 10_000,
    seed: int = 0,
) -> list[SummaryRow]:
    """Aggregate the final value of ``key`` over the seeds of each configuration.

    Each row is :func:`aggregate` of :func:`final_values` (mean, sample std, IQM, and
    percentile-bootstrap CIs of the mean and the IQM), every configuration bootstrapped with the
    same ``seed``: the numbers of ``rlcore summarize`` and of a sweep's ``summary.md``. Format the
    rows with :func:`format_summary_table`.

    Args:
        groups: ``{label: runs}``, as from :func:`group_runs`.
        key: the metric whose final (last logged) value is summarised.
        confidence, num_resamples, seed: the bootstrap's settings (:func:`bootstrap_ci`).

    Returns:
        One :class:`SummaryRow` per configuration, in the order of ``groups``.

    Raises:
        KeyError: if a run never logged ``key``.
        ValueError: if a configuration has no run, or a bootstrap setting is invalid.
    """
    rows = []
    for label, runs in groups.items():
        if not runs:
            raise ValueError(f"summary_rows: configuration {label!r} has no run, expected at least one")
        values = final_values(runs, key)
        stats = aggregate(values, confidence=confidence, num_resamples=num_resamples, seed=seed)
        rows.append(SummaryRow(label=label, runs=tuple(runs), values=values, stats=stats))
    return rows


def format_summary_table(
    rows: Sequence[SummaryRow],
    precision: int = 2,
    *,
    style: Literal["text", "markdown"] = "text",
) -> str:
    """The rows as a table: configuration, seeds, mean, std, CI, IQM, IQM CI.

    ``style="text"`` aligns the columns with spaces (what ``rlcore summarize`` prints);
    ``"markdown"`` writes a Markdown table (a sweep's ``summary.md``). Numbers have
    ``precision`` decimals; a NaN (the std of one seed) is ``n/a``. The CI columns are named
    by the rows' confidence, e.g. ``95% CI``. No trailing newline.

    Args:
        rows: from :func:`summary_rows`.
        precision: decimals, ``>= 0``.
        style: ``"text"`` or ``"markdown"``.

    Raises:
        ValueError: on a negative precision, an unknown style, or rows of different confidences.

    Example:
        >>> row = SummaryRow("lr=0.1", (), np.array([1.0]), aggregate(np.array([1.0])))
        >>> print(format_summary_table([row], 1))
        configuration  seeds  mean  std  95% CI      IQM  IQM 95% CI
        lr=0.1             1   1.0  n/a  [1.0, 1.0]  1.0  [1.0, 1.0]
    """
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
        raise ValueError(f"format_summary_table: precision must be an int >= 0, got {precision!r}")
    if style not in ("text", "markdown"):
        raise ValueError(f"format_summary_table: style must be 'text' or 'markdown', got {style!r}")
    confidences = sorted({row.stats.confidence for row in rows})
    if len(confidences) > 1:
        raise ValueError(
            f"format_summary_table: the rows have different confidences {confidences}, expected one"
        )
    level = f"{(confidences[0] if confidences else 0.95) * 100:g}%"

    def number(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.{precision}f}"

    def interval(bounds: np.ndarray) -> str:
        return f"[{number(float(bounds[0]))}, {number(float(bounds[1]))}]"

    header = ("configuration", "seeds", "mean", "std", f"{level} CI", "IQM", f"IQM {level} CI")
    table = [
        (
            row.label,
            str(row.stats.num_runs),
            number(row.stats.mean),
            number(row.stats.std),
            interval(row.stats.mean_ci),
            number(row.stats.iqm),
            interval(row.stats.iqm_ci),
        )
        for row in rows
    ]
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join([cells[0].replace("|", "\\|"), *cells[1:]]) + " |" for cells in table]
        return "\n".join(lines)
    widths = [max(len(cells[i]) for cells in [header, *table]) for i in range(len(header))]
    lines = [
        "  ".join(
            [cells[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        ).rstrip()
        for cells in [header, *table]
    ]
    return "\n".join(lines)
