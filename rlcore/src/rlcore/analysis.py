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

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rlcore._rundir import read_record
from rlcore.logging import (
    CONFIG_FILENAME,
    EPISODIC_RETURN_KEY,
    EVAL_RETURN_KEY,
    PROGRESS_FILENAME,
    STEP_KEY,
    TIME_KEY,
    read_csv_log,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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

#: The keys ``rlcore summarize`` and ``rlcore plot`` use when none is given, first found first:
#: the evaluation return, else the training episodic return.
DEFAULT_RETURN_KEYS = (EVAL_RETURN_KEY, EPISODIC_RETURN_KEY)

#: The ``config.json`` key of the run's seed: never compared by :func:`group_runs`.
SEED_KEY = "seed"

#: The ``config.json`` key under which rlcore 0.2's :class:`rlcore.runs.Run` lists the run
#: settings of the run's config: fields that do not define the experiment.
RUN_SETTINGS_KEY = "run_settings"

#: The record keys that say how a run was made (versions, git commit, seeding, the config file
#: it was started from, the list of run settings); :func:`group_runs` never compares them.
RUN_METADATA_KEYS = (
    "rlcore_version",
    "torch_version",
    "gymnasium_version",
    "python_version",
    "git_commit",
    "seeding",
    "config_file",
    RUN_SETTINGS_KEY,
)

#: The run settings of a record without a ``"run_settings"`` list (written by an rlcore 0.1
#: project): fields that change how a run is carried out or recorded, not what it learns.
DEFAULT_RUN_SETTINGS = (
    "run_dir",
    "progress",
    "logger",
    "device",
    "torch_threads",
    "vector_mode",
    "validate_distributions",
    "checkpoint_every",
    "wandb_project",
)

Statistic = Callable[[np.ndarray, int], np.ndarray]
# Bootstrap resamples are evaluated in chunks of about this many numbers, so that memory stays
# bounded (about 32 MiB) whatever the number of runs, points and resamples.
_CHUNK_ELEMENTS = 1 << 22


# ---------------------------------------------------------------------------------- runs
@dataclass(frozen=True, eq=False)
class Run:
    """One run: its directory, its run log as columns, and its configuration.

    Attributes:
        path: the run directory.
        log: ``{column: values}``, float64 arrays of shape ``(num_rows,)``, NaN where a write
            did not include the key (see :func:`rlcore.logging.read_csv_log`).
        config: the parsed ``config.json``, or ``None`` if the run has none.
    """

    path: Path
    log: Mapping[str, np.ndarray]
    config: Mapping[str, Any] | None = field(default=None)

    @property
    def seed(self) -> Any:
        """``config["seed"]``, or ``None``."""
        return None if self.config is None else self.config.get("seed")

    def keys(self) -> list[str]:
        """The logged metrics (columns other than ``step`` and ``time`` with at least one value)."""
        return [k for k, v in self.log.items() if k not in (STEP_KEY, TIME_KEY) and not np.isnan(v).all()]

    def has(self, key: str) -> bool:
        """Whether ``key`` was logged at least once."""
        return key in self.log and not np.isnan(self.log[key]).all()

    def curve(self, key: str, x: Literal["step", "time"] = "step") -> tuple[np.ndarray, np.ndarray]:
        """The rows that logged ``key``: ``(x_values, values)``, two float64 arrays of shape ``(n,)``.

        Args:
            key: the metric.
            x: ``"step"`` (environment steps) or ``"time"`` (seconds since the run started).

        Raises:
            KeyError: if the run never logged ``key`` (the message lists the keys it has).
            ValueError: if ``x`` is neither ``"step"`` nor ``"time"``.
        """
        if x not in (STEP_KEY, TIME_KEY):
            raise ValueError(f"Run.curve: x must be 'step' or 'time', got {x!r}")
        if not self.has(key):
            raise KeyError(f"run {str(self.path)!r} never logged {key!r}; its keys are {self.keys()}")
        values = self.log[key]
        kept = ~np.isnan(values) & ~np.isnan(self.log[x])
        return self.log[x][kept], values[kept]

    def final(self, key: str) -> float:
        """The last value logged under ``key`` (in file order, i.e. the latest write)."""
        return float(self.curve(key)[1][-1])


def find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The run directories at or below ``paths``: each directory holding a ``progress.csv``.

    A path that is itself a run directory is taken as it is; any other directory is searched
    recursively. The result is sorted within each path, and a run found twice is listed once.

    Raises:
        FileNotFoundError: if a path does not exist or holds no run.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"find_runs: {str(path)!r} does not exist")
        if (path / PROGRESS_FILENAME).is_file():
            runs = [path]
        else:
            runs = sorted(log.parent for log in path.rglob(PROGRESS_FILENAME))
        if not runs:
            raise FileNotFoundError(
                f"find_runs: no run under {str(path)!r} (a run is a directory holding {PROGRESS_FILENAME})"
            )
        found.update((run.resolve(), None) for run in runs)
    return list(found)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read one run directory: its ``progress.csv`` and, if present, its ``config.json``.

    Raises:
        FileNotFoundError: if the directory has no ``progress.csv``.
        ValueError: if ``config.json`` is not a JSON object, or the run log is malformed.
    """
    path = Path(path)
    log = read_csv_log(path / PROGRESS_FILENAME)
    config = None
    if (path / CONFIG_FILENAME).is_file():
        try:
            config = read_record(path)
        except ValueError as error:
            raise ValueError(f"load_run: {error}") from None
    return Run(path=path, log=log, config=config)


def load_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Run]:
    """:func:`load_run` of every run :func:`find_runs` finds at or below ``paths``.

    Every run is kept, even one that logged nothing; :func:`select_runs` skips and reports those.
    """
    return [load_run(path) for path in find_runs(paths)]


@dataclass(frozen=True, eq=False)
class RunSelection:
    """The runs :func:`select_runs` kept for one metric, and the runs it skipped.

    Attributes:
        runs: the runs that logged ``key``, in :func:`find_runs` order.
        key: the metric: the one asked for, or the default return key.
        no_data: the run directories skipped because they logged nothing (a ``progress.csv``
            with no complete line, only a header, or rows without a metric): runs that failed
            before their first log write.
        missing_key: the run directories skipped because they logged other metrics but never
            ``key``.
    """

    runs: list[Run]
    key: str
    no_data: list[Path] = field(default_factory=list)
    missing_key: list[Path] = field(default_factory=list)

    @property
    def skipped(self) -> list[Path]:
        """Every skipped run directory: ``no_data`` then ``missing_key``."""
        return [*self.no_data, *self.missing_key]

    def skip_report(self) -> list[str]:
        """One line per reason a run was skipped, naming the runs, e.g.
        ``"skipped 1 run with no logged data: runs/x/seed3"``; empty when nothing was skipped."""
        lines = []
        if self.no_data:
            lines.append(f"skipped {_runs_count(self.no_data)} with no logged data: {_names(self.no_data)}")
        if self.missing_key:
            lines.append(
                f"skipped {_runs_count(self.missing_key)} that never logged {self.key!r}: "
                f"{_names(self.missing_key)}"
            )
        return lines


def select_runs(paths: Iterable[str | os.PathLike[str]], key: str | None = None) -> RunSelection:
    """The runs at or below ``paths`` that logged ``key``, skipping (and listing) the others.

    This is the loader of ``rlcore summarize``, ``rlcore plot`` and sweep summaries. A run that
    failed before it logged anything (its ``progress.csv`` holds no complete line, only a header,
    or rows without a metric) is skipped into ``no_data``; a run that logged other metrics but
    never ``key`` is skipped into ``missing_key``. Only when no run is left is it an error.

    Without ``key`` the metric is the one of :data:`DEFAULT_RETURN_KEYS` that the most runs
    logged, the evaluation return on a tie: when every run logged both, the evaluation return,
    and when one run never evaluated, the training return of all of them (as
    :func:`default_return_key`), so a table never mixes the two.

    Args:
        paths: run directories or directories searched for them (:func:`find_runs`).
        key: the metric, or ``None`` for the default return key.

    Returns:
        A :class:`RunSelection`.

    Raises:
        FileNotFoundError: if a path does not exist or holds no run.
        ValueError: if no run logged anything, no run logged a default return key, or a run log
            or ``config.json`` is malformed.
        KeyError: if no run logged ``key``; the message names the runs and the keys they logged.
    """
    loaded: list[Run] = []
    no_data: list[Path] = []
    for path in find_runs(paths):
        if not _has_complete_line(path / PROGRESS_FILENAME):
            no_data.append(path)
            continue
        run = load_run(path)
        if run.keys():
            loaded.append(run)
        else:
            no_data.append(path)
    if not loaded:
        raise ValueError(
            f"no run has logged data: {_runs_count(no_data)} with an empty {PROGRESS_FILENAME} "
            f"(failed before their first log write): {_names(no_data)}"
        )
    if key is None:
        counts = [sum(run.has(k) for run in loaded) for k in DEFAULT_RETURN_KEYS]
        if max(counts) == 0:
            raise ValueError(
                f"no run logged a return key: expected one of {list(DEFAULT_RETURN_KEYS)}; keys the runs "
                f"logged: {_logged_keys(loaded)} (choose one explicitly)"
            )
        key = DEFAULT_RETURN_KEYS[counts.index(max(counts))]
    kept = [run for run in loaded if run.has(key)]
    missing = [run.path for run in loaded if not run.has(key)]
    if not kept:
        also = f"; skipped {_runs_count(no_data)} with no logged data: {_names(no_data)}" if no_data else ""
        raise KeyError(
            f"no run logged {key!r}: {_names(missing)}; keys they logged: {_logged_keys(loaded)}{also}"
        )
    return RunSelection(runs=kept, key=key, no_data=no_data, missing_key=missing)


def _has_complete_line(path: Path) -> bool:
    with path.open("rb") as file:
        return file.readline().endswith(b"\n")


def _logged_keys(runs: Sequence[Run]) -> list[str]:
    return sorted(set().union(*(run.keys() for run in runs)))


_MAX_NAMES = 20


def _names(paths: Sequence[Path]) -> str:
    """Paths relative to the working directory when under it, at most ``_MAX_NAMES`` of them."""
    here = Path.cwd().resolve()
    shown = []
    for path in paths[:_MAX_NAMES]:
        resolved = path.resolve()
        shown.append(resolved.relative_to(here).as_posix() if resolved.is_relative_to(here) else str(path))
    more = f" and {len(paths) - _MAX_NAMES} more" if len(paths) > _MAX_NAMES else ""
    return ", ".join(shown) + more


def _runs_count(items: Sized) -> str:
    return f"{len(items)} run" + ("" if len(items) == 1 else "s")


@dataclass(frozen=True, eq=False)
class Grouping:
    """Runs grouped into configurations, and why (:func:`group_runs_explained`).

    Attributes:
        groups: ``{label: runs}``, as :func:`group_runs` returns it.
        by: how the runs were grouped: ``"config"`` or ``"parent"``.
        differing: the ``config.json`` keys (nested ones as ``"a.b"``) whose values differ between
            the configurations; empty for one configuration or ``by="parent"``.
        ignored_differing: the keys that were not compared (run settings, record metadata such as
            ``git_commit``, the keys of ``ignore``; never ``seed``) whose values differ between the
            runs of one configuration: what the grouping looked past. Empty for ``by="parent"``.
    """

    groups: dict[str, list[Run]]
    by: Literal["config", "parent"]
    differing: tuple[str, ...] = ()
    ignored_differing: tuple[str, ...] = ()


def group_runs(
    runs: Sequence[Run],
    by: Literal["auto", "config", "parent"] = "auto",
    ignore: Sequence[str] = ("seed",),
    *,
    hyperparameters_only: bool = True,
) -> dict[str, list[Run]]:
    """Group runs into configurations, the seeds of each together.

    * ``by="config"``: runs whose ``config.json`` have equal hyperparameters (nested objects are
      compared key by key, as ``"a.b"``). Not compared: ``seed``, the keys in ``ignore``, the
      run settings (the keys listed in any run's ``"run_settings"``, or
      :data:`DEFAULT_RUN_SETTINGS` for runs whose record has no such list, as rlcore 0.1
      projects wrote) and the record's metadata (:data:`RUN_METADATA_KEYS`: versions, git
      commit, seeding text). So a seed run with ``progress=false``, on another device or after
      another commit stays in its experiment. A group's label lists the keys whose values differ
      between groups, e.g. ``"lr=0.001, env_id=CartPole-v1"``.
    * ``by="parent"``: runs in the same parent directory (``runs/<configuration>/<seed>/``),
      labelled by the parent's path relative to the parents' common directory.
    * ``by="auto"``: ``"config"`` if every run has a ``config.json``, else ``"parent"``.

    A single group is labelled by the name of the directory that holds all its runs' parents
    (the parent itself when they share one). :func:`group_runs_explained` also returns which keys
    told the configurations apart and which ignored ones differed.

    Args:
        runs: the runs, e.g. from :func:`load_runs` or :func:`select_runs`.
        by: ``"auto"``, ``"config"`` or ``"parent"``.
        ignore: further ``config.json`` keys not to compare (a key also covers its nested
            ``"key.sub"`` keys).
        hyperparameters_only: ``False`` compares every key but those in ``ignore``, as rlcore 0.1
            did (then ``ignore`` should hold ``"seed"``).

    Returns:
        ``{label: runs}``, groups in the order of their first run, runs in the given order.

    Raises:
        ValueError: if ``runs`` is empty, ``by`` is unknown, ``by="config"`` and a run has no
            ``config.json``, or a record's ``"run_settings"`` is not a list of key names.
    """
    return group_runs_explained(runs, by, ignore, hyperparameters_only=hyperparameters_only).groups


def group_runs_explained(
    runs: Sequence[Run],
    by: Literal["auto", "config", "parent"] = "auto",
    ignore: Sequence[str] = ("seed",),
    *,
    hyperparameters_only: bool = True,
) -> Grouping:
    """:func:`group_runs`, with the keys that split the configurations and those it looked past.

    Returns:
        A :class:`Grouping`.

    Example:
        >>> runs = [Run(Path(f"runs/{i}"), {}, {"lr": lr, "seed": i, "progress": i == 0})
        ...         for i, lr in enumerate([0.1, 0.1, 0.2])]
        >>> grouping = group_runs_explained(runs)
        >>> {label: len(runs) for label, runs in grouping.groups.items()}
        {'lr=0.1': 2, 'lr=0.2': 1}
        >>> grouping.differing, grouping.ignored_differing
        (('lr',), ('progress',))
    """
    if by not in ("auto", "config", "parent"):
        raise ValueError(f"group_runs: by must be 'auto', 'config' or 'parent', got {by!r}")
    if not runs:
        raise ValueError("group_runs: runs is empty, expected at least one run")
    if isinstance(ignore, str):
        raise TypeError(f"group_runs: ignore must be a list of keys, got the string {ignore!r}")
    if by == "auto":
        by = "config" if all(run.config is not None for run in runs) else "parent"
    if by == "parent":
        return _group_by_parent(runs)
    configs: list[Mapping[str, Any]] = []
    for run in runs:
        if run.config is None:
            raise ValueError(f"group_runs: by='config' but run {str(run.path)!r} has no {CONFIG_FILENAME}")
        configs.append(run.config)
    ignored = set(ignore)
    if hyperparameters_only:
        ignored.update((SEED_KEY, *RUN_METADATA_KEYS))
        for run, config in zip(runs, configs, strict=True):
            ignored.update(_run_settings(run.path, config))
    groups: dict[str, list[Run]] = {}
    identities: dict[str, dict[str, str]] = {}
    looked_past: dict[str, list[dict[str, str]]] = {}
    for run, config in zip(runs, configs, strict=True):
        flat = _flatten(config)
        kept = {k: v for k, v in flat.items() if not _is_ignored(k, ignored)}
        identity = json.dumps(kept, sort_keys=True)
        identities.setdefault(identity, kept)
        groups.setdefault(identity, []).append(run)
        past = {k: v for k, v in flat.items() if k != SEED_KEY and _is_ignored(k, ignored)}
        looked_past.setdefault(identity, []).append(past)
    ignored_differing = sorted({key for members in looked_past.values() for key in _differing_keys(members)})
    if len(groups) == 1:
        labels, differing = [_common_parent_name(runs)], []
    else:
        differing = _differing_keys(list(identities.values()))
        labels = _config_labels(list(identities.values()), differing)
    return Grouping(
        groups=dict(zip(labels, groups.values(), strict=True)),
        by="config",
        differing=tuple(differing),
        ignored_differing=tuple(ignored_differing),
    )


def _group_by_parent(runs: Sequence[Run]) -> Grouping:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(str(run.path.resolve().parent), []).append(run)
    if len(groups) == 1:
        return Grouping(groups={_common_parent_name(runs): list(runs)}, by="parent")
    common = Path(os.path.commonpath(list(groups)))
    labels = [Path(identity).relative_to(common).as_posix() for identity in groups]
    return Grouping(groups=dict(zip(labels, groups.values(), strict=True)), by="parent")


def _run_settings(path: Path, config: Mapping[str, Any]) -> tuple[str, ...]:
    """The run settings a record lists under ``"run_settings"``, or :data:`DEFAULT_RUN_SETTINGS`."""
    if RUN_SETTINGS_KEY not in config:
        return DEFAULT_RUN_SETTINGS
    names = config[RUN_SETTINGS_KEY]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(
            f"group_runs: {RUN_SETTINGS_KEY!r} in {str(path / CONFIG_FILENAME)!r} must be a list of key "
            f"names, got {names!r}"
        )
    return tuple(names)


def _is_ignored(flat_key: str, ignored: set[str]) -> bool:
    """Whether ``flat_key`` (``"a.b.c"``) or one of its enclosing keys (``"a"``, ``"a.b"``) is ignored."""
    parts = flat_key.split(".")
    return any(".".join(parts[:i]) in ignored for i in range(1, len(parts) + 1))


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = json.dumps(value, sort_keys=True)
    return flat


def _differing_keys(configs: Sequence[Mapping[str, str]]) -> list[str]:
    """The keys whose (JSON-encoded) values are not the same in every config; absent counts as a value."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c.get(k) for c in configs}) > 1]


def _config_labels(configs: list[dict[str, str]], differing: list[str]) -> list[str]:
    labels = [", ".join(f"{k}={_label_value(c.get(k))}" for k in differing) for c in configs]
    if len(set(labels)) < len(labels):  # e.g. "1" and 1: fall back to the JSON spelling
        labels = [", ".join(f"{k}={c.get(k, '(unset)')}" for k in differing) for c in configs]
    return labels


def _label_value(encoded: str | None) -> str:
    if encoded is None:
        return "(unset)"
    value = json.loads(encoded)
    return value if isinstance(value, str) else encoded


def _common_parent_name(runs: Sequence[Run]) -> str:
    return Path(os.path.commonpath([run.path.resolve().parent for run in runs])).name


# ---------------------------------------------------------------------------------- curves
def align_curves(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    num_points: int = 100,
    grid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample learning curves onto one x grid by linear interpolation.

    Each curve ``(x, y)`` is sorted by ``x`` and values logged at the same ``x`` are averaged
    (several episodes can end at one step of a vector env). Outside a curve's own x range its
    values are NaN: curves are never extrapolated.

    Args:
        curves: ``N`` pairs ``(x, y)`` of float arrays of shape ``(n_i,)``.
        num_points: ``P``, the number of grid points when ``grid`` is not given: the grid is then
            ``linspace`` over the range every curve covers, from the largest first x to the
            smallest last x.
        grid: explicit x grid, shape ``(P,)``.

    Returns:
        ``(grid, values)``: float64 arrays of shapes ``(P,)`` and ``(N, P)``.

    Raises:
        ValueError: if ``curves`` is empty, a curve is empty or its arrays differ in shape, or the
            curves share no x range.

    Example:
        >>> grid, values = align_curves([(np.array([0, 10]), np.array([0.0, 1.0])),
        ...                              (np.array([0, 5, 20]), np.array([2.0, 2.0, 4.0]))], num_points=3)
        >>> grid
        array([ 0.,  5., 10.])
        >>> values
        array([[0.  , 0.5 , 1.  ],
               [2.  , 2.  , 2.66666667]])
    """
    if not curves:
        raise ValueError("align_curves: curves is empty, expected at least one (x, y) pair")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 1:
        raise ValueError(f"align_curves: num_points must be an int >= 1, got {num_points!r}")
    cleaned = [
        _collapse(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), i)
        for i, (x, y) in enumerate(curves)
    ]
    if grid is None:
        low = max(x[0] for x, _ in cleaned)
        high = min(x[-1] for x, _ in cleaned)
        if low > high:
            raise ValueError(
                f"align_curves: the curves share no x range (the latest start is {low}, the earliest end "
                f"{high}); pass an explicit grid"
            )
        grid = np.linspace(low, high, num_points) if high > low else np.array([low])
    else:
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim != 1 or grid.size == 0 or np.isnan(grid).any():
            raise ValueError(
                f"align_curves: grid must be a non-empty 1-D array without NaN, got shape {grid.shape}"
            )
    values = np.stack([np.interp(grid, x, y, left=np.nan, right=np.nan) for x, y in cleaned])
    return grid, values


def _collapse(x: np.ndarray, y: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(
            f"align_curves: curve {index} must be two non-empty 1-D arrays of one shape, got x {x.shape} and y {y.shape}"
        )
    unique, inverse = np.unique(x, return_inverse=True)
    if unique.size == x.size:
        order = np.argsort(x, kind="stable")
        return x[order], y[order]
    sums = np.bincount(inverse, weights=y, minlength=unique.size)
    counts = np.bincount(inverse, minlength=unique.size)
    return unique, sums / counts


# ---------------------------------------------------------------------------------- statistics
def interquartile_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    r"""Interquartile mean: the mean of the middle 50% of ``x`` along ``axis``.

    With ``n`` values sorted, :math:`\lfloor n/4 \rfloor` are dropped at each end and the rest
    averaged, exactly as ``scipy.stats.trim_mean(x, 0.25)``, which ``rliable`` (the library of
    Agarwal et al. 2021) uses. For ``n < 4`` nothing is dropped and the IQM is the mean. NaN
    anywhere along ``axis`` gives NaN.

    Args:
        x: float array; ``axis`` has length ``n >= 1``.
        axis: the axis of the runs.

    Returns:
        float64 array of ``x``'s shape without ``axis`` (a 0-d array for 1-D input).

    Example:
        >>> float(interquartile_mean(np.arange(1.0, 9.0)))  # mean of 3, 4, 5, 6
        4.5
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ValueError(
            f"interquartile_mean: expected at least one value along axis {axis}, got shape {x.shape}"
        )
    n = x.shape[axis]
    cut = n // 4
    middle = np.take(np.sort(x, axis=axis), np.arange(cut, n - cut), axis=axis)
    return np.where(np.isnan(x).any(axis=axis), np.nan, middle.mean(axis=axis))


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.asarray(np.mean(x, axis=axis))


_STATISTICS: dict[str, Statistic] = {"mean": _mean, "iqm": interquartile_mean}


def bootstrap_ci(
    x: np.ndarray,
    statistic: Literal["mean", "iqm"] | Statistic = "mean",
    *,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    r"""Percentile-bootstrap confidence interval of a statistic of the runs (axis 0 of ``x``).

    ``num_resamples`` times, ``N`` runs are drawn with replacement (the same draw for every
    point of a curve) and the statistic computed; the interval is the
    :math:`(1 - c)/2` and :math:`(1 + c)/2` percentiles of those values (``np.percentile``'s
    linear interpolation), for confidence :math:`c` (Efron and Tibshirani 1993, ch. 13).

    The resample indices are one draw ``rng.integers(0, N, size=(num_resamples, N))`` from
    ``np.random.default_rng(seed)``, so a seed gives the same interval on every machine.
    With one run the interval is that run's value, of width 0: no interval can be had.

    Args:
        x: float array of shape ``(N, ...)``, e.g. ``(N,)`` final returns or ``(N, P)`` curves.
        statistic: ``"mean"``, ``"iqm"`` (:func:`interquartile_mean`) or ``f(samples, axis)``.
        confidence: the interval's coverage, in ``(0, 1)``.
        num_resamples: the number of bootstrap resamples (Agarwal et al. use 2000 and more).
        seed: an int seed or a ``numpy.random.Generator``.

    Returns:
        float64 array of shape ``(2, ...)``: the lower and upper bounds.

    Example:
        >>> low, high = bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0]), "mean", seed=0)
        >>> bool(1.0 <= low < 2.5 < high <= 4.0)
        True
    """
    x, statistics, rng = _check_bootstrap_args(
        x, [statistic], confidence, num_resamples, seed, "bootstrap_ci"
    )
    return _bootstrap(x, statistics, confidence, num_resamples, rng)[0]


def _check_bootstrap_args(
    x: Any,
    statistics: Sequence[str | Statistic],
    confidence: Any,
    num_resamples: Any,
    seed: Any,
    where: str,
) -> tuple[np.ndarray, list[Statistic], np.random.Generator]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(
            f"{where}: expected an array of shape (N, ...) with N >= 1 runs, got shape {x.shape}"
        )
    if not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise ValueError(f"{where}: confidence must be in (0, 1), got {confidence!r}")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"{where}: num_resamples must be an int >= 1, got {num_resamples!r}")
    functions = []
    for statistic in statistics:
        if isinstance(statistic, str):
            if statistic not in _STATISTICS:
                raise ValueError(f"{where}: statistic must be 'mean', 'iqm' or a callable, got {statistic!r}")
            functions.append(_STATISTICS[statistic])
        elif callable(statistic):
            functions.append(statistic)
        else:
            raise TypeError(f"{where}: statistic must be 'mean', 'iqm' or a callable, got {statistic!r}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif isinstance(seed, int) and not isinstance(seed, bool):
        rng = np.random.default_rng(seed)
    else:
        raise TypeError(f"{where}: seed must be an int or a numpy.random.Generator, got {seed!r}")
    return x, functions, rng


def _bootstrap(
    x: np.ndarray,
    statistics: Sequence[Statistic],
    confidence: float,
    num_resamples: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    n = x.shape[0]
    indices = rng.integers(0, n, size=(num_resamples, n))
    per_resample = max(1, x.size)
    chunk = max(1, _CHUNK_ELEMENTS // per_resample)
    values: list[list[np.ndarray]] = [[] for _ in statistics]
    for start in range(0, num_resamples, chunk):
        samples = x[indices[start : start + chunk]]  # (chunk, N, ...)
        for out, statistic in zip(values, statistics, strict=True):
            out.append(np.asarray(statistic(samples, 1), dtype=np.float64))
    tail = 100.0 * (1.0 - confidence) / 2.0
    return [np.percentile(np.concatenate(v), [tail, 100.0 - tail], axis=0) for v in values]


@dataclass(frozen=True, eq=False)
class Aggregate:
    """Statistics of ``N`` runs: floats for one value per run, float64 arrays of shape ``S`` for
    more (``(P,)`` for curves); intervals of shape ``(2, *S)``, lower bound first.

    Attributes:
        num_runs: ``N``.
        mean: the mean over runs.
        std: the sample standard deviation over runs (``ddof=1``; NaN for one run).
        mean_ci: the bootstrap confidence interval of the mean.
        iqm: the interquartile mean (:func:`interquartile_mean`).
        iqm_ci: the bootstrap confidence interval of the IQM.
        confidence: the intervals' coverage, e.g. 0.95.
    """

    num_runs: int
    mean: Any
    std: Any
    mean_ci: np.ndarray
    iqm: Any
    iqm_ci: np.ndarray
    confidence: float


def aggregate(
    values: np.ndarray,
    *,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
) -> Aggregate:
    """Mean, std, IQM and their bootstrap CIs over the runs (axis 0) of ``values``.

    Both intervals come from the same resamples (:func:`bootstrap_ci`), so they are
    reproducible from ``seed`` and consistent with each other.

    Args:
        values: float array of shape ``(N, *S)``, e.g. ``(N,)`` final returns or ``(N, P)``
            aligned curves (:func:`align_curves`).
        confidence, num_resamples, seed: as in :func:`bootstrap_ci`.

    Returns:
        An :class:`Aggregate`; for ``(N,)`` input its statistics are Python floats.

    Example:
        >>> result = aggregate(np.arange(1.0, 9.0))
        >>> result.num_runs, result.mean, result.iqm, round(result.std, 4)
        (8, 4.5, 4.5, 2.4495)
    """
    x, statistics, rng = _check_bootstrap_args(
        values, ["mean", "iqm"], confidence, num_resamples, seed, "aggregate"
    )
    mean_ci, iqm_ci = _bootstrap(x, statistics, confidence, num_resamples, rng)
    n = x.shape[0]
    std = np.std(x, axis=0, ddof=1) if n > 1 else np.full(x.shape[1:], np.nan)
    return Aggregate(
        num_runs=n,
        mean=_plain(np.mean(x, axis=0)),
        std=_plain(std),
        mean_ci=mean_ci,
        iqm=_plain(interquartile_mean(x, axis=0)),
        iqm_ci=iqm_ci,
        confidence=float(confidence),
    )


def _plain(value: Any) -> Any:
    """A Python float for a 0-d result, the float64 array otherwise."""
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array


def final_values(runs: Sequence[Run], key: str) -> np.ndarray:
    """The last value each run logged under ``key``: float64 array of shape ``(N,)``.

    Raises:
        KeyError: if a run never logged ``key`` (the message names the run and its keys).
    """
    return np.array([run.final(key) for run in runs], dtype=np.float64)


def default_return_key(runs: Sequence[Run]) -> str:
    """The first of :data:`DEFAULT_RETURN_KEYS` that every run logged.

    That is the evaluation return (``eval/mean_return``) when every run evaluated, else the
    training episodic return (``train/episodic_return``). One key for all runs, so that a table
    or a plot never compares an evaluation return with a training return.

    Raises:
        ValueError: if no such key was logged by every run (the message lists the keys they share).
    """
    for key in DEFAULT_RETURN_KEYS:
        if runs and all(run.has(key) for run in runs):
            return key
    shared = sorted(set.intersection(*(set(run.keys()) for run in runs))) if runs else []
    raise ValueError(
        f"no return key logged by every run: expected one of {list(DEFAULT_RETURN_KEYS)}; keys every run has: "
        f"{shared} (choose one explicitly)"
    )


# ---------------------------------------------------------------------------------- summary table
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


# ---------------------------------------------------------------------------------- plots
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
