"""Seed and hyperparameter sweeps of the example agent on Ray.

The command needs the ``sweep`` extra (``pip install -e ".[sweep]"``, which installs Ray)::

    # 5 seeds x 2 learning rates x 2 batch sizes = 20 trials, one per CPU of this machine
    python -m {{ cookiecutter.package_name }}.sweep --name lr-batch --seeds 0-4 \\
        --set learning_rate=3e-4,1e-3 --set batch_size=64,256 --total-timesteps 50000

    # the same on a running Ray cluster (e.g. started inside a SLURM job, see the README)
    python -m {{ cookiecutter.package_name }}.sweep --address auto --name lr-batch ...

The grid is every combination of the ``--set`` values (each read as its config field's type)
times the ``--seeds``. Every other option is the agent's, as listed by
``python -m {{ cookiecutter.package_name }}.train --help``,
and applies to every trial, over the agent's tuned defaults for ``--env-id`` (for each env,
when ``env_id`` is swept). A trial is one call of the agent's ``train(config)``, the function
behind the single-run command, in a Ray worker holding ``--cpus-per-trial`` CPUs (default 1)
and ``--gpus-per-trial`` GPUs (default 0).

Each trial writes a run directory, as a single run does, at
``<runs-dir>/<name>/<configuration>/seed=<seed>/``; the configuration is named by its ``--set``
values (``base`` without any), e.g. ``runs/lr-batch/learning_rate=0.001,batch_size=64/seed=3``.
A trial is done when its ``eval.json`` exists. Running the same command again skips the done
trials, resumes an interrupted trial from its latest checkpoint and runs the rest (a trial that
failed before its first checkpoint starts over). A trial that fails is reported with its error
(its traceback is saved as ``error.txt`` in its directory) and does not stop the others; the
command then exits with status 1.

At the end :func:`summarize_sweep` prints, per configuration across its seeds, the mean,
standard deviation and interquartile mean (IQM) of the final evaluation return with their
percentile-bootstrap 95% confidence intervals (Agarwal et al., "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", NeurIPS 2021, https://arxiv.org/abs/2108.13264), and
writes that table to ``summary.md`` and the learning curves (one line per configuration, shaded:
the 95% bootstrap CI of the mean over seeds) to ``learning_curves.png`` in the sweep's directory.
Both come from :mod:`rlcore.analysis`: ``rlcore summarize runs/<name>`` and
``rlcore plot runs/<name>`` show the same for the sweep's runs, and work on runs made without Ray.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import itertools
import json
import math
import os
import re
import shutil
import sys
import time
import traceback
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any, Literal, TextIO

from rlcore.analysis import (
    aggregate,
    default_return_key,
    final_values,
    group_runs,
    load_run,
    plot_learning_curves,
)
from rlcore.logging import CONFIG_FILENAME

from {{ cookiecutter.package_name }} import {{ cookiecutter.example_agent }} as agent
from {{ cookiecutter.package_name }}.runs import CHECKPOINT_DIR, EVAL_FILENAME
from {{ cookiecutter.package_name }}.train import parse_args

__all__ = [
    "BASE_CONFIGURATION",
    "ERROR_FILENAME",
    "EXECUTION_FIELDS",
    "PLOT_FILENAME",
    "SUMMARY_FILENAME",
    "SummaryRow",
    "SweepOutcome",
    "SweepSummary",
    "Trial",
    "configuration_name",
    "format_table",
    "import_ray",
    "main",
    "make_trials",
    "parse_seeds",
    "parse_set",
    "parse_value",
    "run_sweep",
    "summarize_sweep",
    "trial_state",
    "use_cluster_token",
]

#: Where a failed trial's traceback is saved, in its run directory.
ERROR_FILENAME = "error.txt"
#: The sweep's summary table and learning curves, in the sweep's directory.
SUMMARY_FILENAME = "summary.md"
PLOT_FILENAME = "learning_curves.png"
#: The directory of the configuration when no field is swept.
BASE_CONFIGURATION = "base"
#: Config fields that say how a trial runs, not what it computes: they may change between two
#: runs of one sweep (e.g. more CPUs per trial) without making the done trials stale.
EXECUTION_FIELDS = ("run_dir", "progress", "torch_threads", "device", "vector_mode", "logger")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9._=,+\-\[\]]")


# ---------------------------------------------------------------------------------- the grid
def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0-4"`` (inclusive), ``"0,3,7"`` or both (``"0-2,10"``), in the order given.

    Raises:
        ValueError: for anything else, a reversed range, or a seed listed twice.
    """
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise ValueError(
                f"--seeds: cannot read {part.strip()!r} in {text!r}; expected seeds >= 0 "
                "as 0-4, 0,3,7 or 0-2,10"
            )
        first = int(match.group(1))
        last = first if match.group(2) is None else int(match.group(2))
        if last < first:
            raise ValueError(f"--seeds: the range {part.strip()!r} is empty; write it low-high")
        seeds.extend(range(first, last + 1))
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"--seeds: {text!r} lists seed(s) {repeated} more than once")
    return seeds


def parse_value(field: str, text: str, annotation: Any) -> Any:
    """``text`` read as a value of the config field ``field``, whose type is ``annotation``.

    Reads ``bool`` (true/false, yes/no, on/off, 1/0), ``int`` (also ``1e5`` and ``100_000``),
    finite ``float``, ``str``, paths, ``Literal`` choices, ``X | None`` (``none``) and tuples
    or lists as JSON (``[64,64]``).

    Raises:
        ValueError: if ``text`` is not such a value (the message names the field).
        TypeError: if the field's type is none of these.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        options = [arg for arg in args if arg is not type(None)]
        for option in options:
            try:
                return parse_value(field, text, option)
            except ValueError:
                continue
        expected = " or ".join(
            [_type_name(option) for option in options] + ["none"][: len(args) - len(options)]
        )
        raise ValueError(f"--set {field}: {text!r} is not a {expected}")
    if origin is Literal:
        for choice in args:
            if text == str(choice):
                return choice
        raise ValueError(
            f"--set {field}: {text!r} is not one of {[str(choice) for choice in args]}"
        )
    if origin in (tuple, list):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            raise ValueError(f"--set {field}: {text!r} is not a JSON list such as [64,64]")
        element = args[0] if args else str
        values = [
            parse_value(field, item if isinstance(item, str) else json.dumps(item), element)
            for item in items
        ]
        return tuple(values) if origin is tuple else values
    if annotation is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(
            f"--set {field}: {text!r} is not a bool; expected one of {list(_TRUE + _FALSE)}"
        )
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            pass
        with_exponent = float(text) if re.fullmatch(r"[+-]?[\d_.]+[eE]\+?\d+", text) else math.nan
        if with_exponent.is_integer():
            return int(with_exponent)
        raise ValueError(f"--set {field}: {text!r} is not an int")
    if annotation is float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"--set {field}: {text!r} is not a finite float")
        return number
    if annotation is str:
        return text
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return annotation(text)
    raise TypeError(f"--set {field}: cannot read values of its type {_type_name(annotation)}")


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _split_values(text: str) -> list[str]:
    """Split at the commas outside brackets: ``"[64,64],[32]"`` is two values."""
    values, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(text[start:i])
            start = i + 1
    values.append(text[start:])
    return [value.strip() for value in values]


def parse_set(assignments: Sequence[str], config_type: type[Any]) -> dict[str, list[Any]]:
    """The grid of ``--set FIELD=V1,V2`` options: ``{field: [values]}``, in the order given.

    Fields are checked against ``dataclasses.fields(config_type)``; each value, separated from
    the next by a comma outside brackets, is read as the field's type (:func:`parse_value`).

    Raises:
        ValueError: for a malformed option, an unknown field (the message suggests close
            names), a field the sweep sets itself (``seed``: use ``--seeds``; ``run_dir``), a
            field set twice, an empty or repeated value, or a value of the wrong type.
    """
    hints = typing.get_type_hints(config_type)
    fields = [field.name for field in dataclasses.fields(config_type)]
    grid: dict[str, list[Any]] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set: expected FIELD=VALUE[,VALUE...], got {assignment!r}")
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(
                f"--set: {config_type.__name__} has no field {name!r}; {hint}its fields: {fields}"
            )
        if name == "seed":
            raise ValueError("--set seed: give the seeds with --seeds, e.g. --seeds 0-4")
        if name == "run_dir":
            raise ValueError(
                "--set run_dir: the sweep sets each trial's run_dir (see --runs-dir, --name)"
            )
        if name in grid:
            raise ValueError(
                f"--set {name} is given twice; list its values in one option: {name}=A,B"
            )
        texts = _split_values(text)
        if "" in texts:
            raise ValueError(f"--set {name}: empty value in {text!r}")
        values = [parse_value(name, value, hints[name]) for value in texts]
        repeated = [value for i, value in enumerate(values) if value in values[:i]]
        if repeated:
            raise ValueError(f"--set {name}: value(s) {repeated} listed more than once in {text!r}")
        grid[name] = values
    return grid


@dataclasses.dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        name: its directory relative to the sweep's, ``<configuration>/seed=<seed>``.
        configuration: its configuration's directory, e.g. ``learning_rate=0.001``.
        seed: its seed.
        overrides: its swept values, ``{field: value}``.
        config: the agent's config, whose ``run_dir`` is the trial's directory.
    """

    name: str
    configuration: str
    seed: int
    overrides: Mapping[str, Any]
    config: Any


def _format_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ",".join(_format_value(item) for item in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def configuration_name(overrides: Mapping[str, Any]) -> str:
    """A configuration's directory: its ``field=value`` pairs joined by commas (``base`` if none).

    Characters other than letters, digits and ``._=,+-[]`` become ``_`` (``ALE/Pong-v5``:
    ``ALE_Pong-v5``); floats are written as ``repr`` writes them (``0.001``, ``1e-05``).
    """
    if not overrides:
        return BASE_CONFIGURATION
    text = ",".join(f"{name}={_format_value(value)}" for name, value in overrides.items())
    return _UNSAFE_IN_NAMES.sub("_", text)


def make_trials(
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int],
    sweep_dir: str | Path,
    base_config: Callable[[Mapping[str, Any]], Any],
) -> list[Trial]:
    """Every combination of the ``grid`` values (the first field varies slowest) times every seed.

    Args:
        grid: ``{field: values}`` (:func:`parse_set`).
        seeds: the seeds (they vary fastest).
        sweep_dir: the sweep's directory; a trial ``t`` runs in ``sweep_dir / t.name``.
        base_config: ``f(overrides) -> config``, the config the overrides apply to (the
            agent's defaults, which may depend on a swept ``env_id``).

    Raises:
        ValueError: if ``seeds`` is empty, two configurations get one directory name, or the
            agent's config rejects a combination (with its own message).
    """
    if not seeds:
        raise ValueError("make_trials: no seeds, expected at least one")
    sweep_dir = Path(sweep_dir)
    trials: list[Trial] = []
    seen: dict[str, Mapping[str, Any]] = {}
    for values in itertools.product(*grid.values()):
        overrides = dict(zip(grid, values, strict=True))
        configuration = configuration_name(overrides)
        if configuration in seen:
            raise ValueError(
                f"make_trials: {seen[configuration]} and {overrides} get the same directory "
                f"{configuration!r} (characters outside [A-Za-z0-9._=,+-] become _)"
            )
        seen[configuration] = overrides
        base = base_config(overrides)
        for seed in seeds:
            name = f"{configuration}/seed={seed}"
            config = dataclasses.replace(
                base, **overrides, seed=seed, run_dir=str(sweep_dir / name)
            )
            trials.append(Trial(name, configuration, seed, overrides, config))
    return trials


# ---------------------------------------------------------------------------------- running
def trial_state(trial_dir: str | Path) -> Literal["done", "resumable", "partial", "new"]:
    """``done`` (has ``eval.json``), ``resumable`` (a checkpoint), ``partial`` (else) or ``new``."""
    trial_dir = Path(trial_dir)
    if (trial_dir / EVAL_FILENAME).is_file():
        return "done"
    if any((trial_dir / CHECKPOINT_DIR).glob("step_*.pt")):
        return "resumable"
    return "partial" if trial_dir.exists() else "new"


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError saying how to install it.

    Imported when a sweep runs, not with this module: Ray is an optional extra, and the grid,
    the summary, their tests and mypy work without it.
    """
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise ImportError(
            'sweeps need Ray, which is not installed: pip install -e ".[sweep]"'
        ) from error


def use_cluster_token(address: str | None) -> None:
    """Authenticate to the cluster at ``address`` with a token if one exists, as ``ray start`` does.

    ``ray start`` turns Ray's token authentication on when ``RAY_AUTH_MODE`` is unset and a
    token exists (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``), but a
    driver joining with ``ray.init(address=...)`` does not (Ray 2.60), and then retries forever
    with "Authentication token is missing". So do the same here; a driver that sends a token
    still joins a cluster without authentication. A Ray started here sets itself up. Ray reads
    the setting when it is imported: call this first.
    """
    if address is None or "RAY_AUTH_MODE" in os.environ:
        return
    token_file = Path.home() / ".ray" / "auth_token"
    if token_file.is_file() or any(os.environ.get(f"RAY_AUTH_TOKEN{end}") for end in ("", "_PATH")):
        os.environ["RAY_AUTH_MODE"] = "token"


def _run_trial(train: Callable[..., dict[str, Any]], config: Any, resume: bool) -> dict[str, Any]:
    """A Ray task's body: one training run, as the single-run command makes it."""
    start = time.perf_counter()
    summary = train(config, resume=resume)
    return {"mean_return": summary["mean_return"], "seconds": time.perf_counter() - start}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:{secs:02d}"


@dataclasses.dataclass
class _Progress:
    """The sweep's counters and its progress lines."""

    total: int
    out: TextIO
    every: float
    start: float = dataclasses.field(default_factory=time.perf_counter)
    completed: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def status(self, running: int, waiting: int) -> None:
        self.say(
            f"[{_clock(time.perf_counter() - self.start)}] "
            f"done {len(self.completed)}/{self.total}, "
            f"running {running}, failed {len(self.failed)}, waiting {waiting}"
        )


def _refuse_stale(trials: Sequence[Trial], states: Mapping[str, str], sweep_dir: Path) -> None:
    """Refuse to skip or resume trials whose ``config.json`` says they were made differently."""
    stale = {}
    for trial in trials:
        path = Path(trial.config.run_dir) / CONFIG_FILENAME
        if states[trial.name] not in ("done", "resumable") or not path.is_file():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        wanted = json.loads(json.dumps(dataclasses.asdict(trial.config), default=str))
        differing = {
            name: (record[name], value)
            for name, value in wanted.items()
            if name not in EXECUTION_FIELDS and name in record and record[name] != value
        }
        if differing:
            stale[trial.name] = differing
    if stale:
        name, fields = next(iter(stale.items()))
        described = ", ".join(
            f"{field}: {old!r} there, {new!r} now" for field, (old, new) in fields.items()
        )
        raise ValueError(
            f"{len(stale)} trial(s) in {sweep_dir} were made with another configuration, e.g. "
            f"{name} ({described}); choose another --name, or delete them to run them again"
        )


def _capacity(ray: Any, cpus: float, gpus: float, max_concurrent: int | None) -> int:
    """How many trials fit in the cluster at once (asked again each time: clusters can grow)."""
    resources = ray.cluster_resources()
    slots = [int(resources.get("CPU", 0.0) // cpus)]
    if gpus > 0:
        slots.append(int(resources.get("GPU", 0.0) // gpus))
    capacity = max(1, min(slots))
    return capacity if max_concurrent is None else min(capacity, max_concurrent)


def _run_on_ray(
    ray: Any,
    submit: Callable[[Trial, bool], Any],
    trials: Sequence[Trial],
    states: Mapping[str, str],
    progress: _Progress,
    capacity: Callable[[], int],
) -> None:
    """Hand trials to Ray as slots free up, collect them, report; cancel the rest on Ctrl-C."""
    pending = list(reversed(trials))
    in_flight: dict[Any, Trial] = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < capacity():
                trial = pending.pop()
                resume = states[trial.name] == "resumable"
                if states[trial.name] == "partial":
                    # What a run that failed before its first checkpoint left: start it over.
                    shutil.rmtree(trial.config.run_dir)
                (Path(trial.config.run_dir) / ERROR_FILENAME).unlink(missing_ok=True)
                in_flight[submit(trial, resume)] = trial
                progress.say(f"  {'resumed' if resume else 'started'} {trial.name}")
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=progress.every)
            for ref in ready:
                trial = in_flight.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # reported; the other trials go on
                    progress.failed[trial.name] = _describe(error)
                    _save_error(Path(trial.config.run_dir), error)
                    progress.say(f"  FAILED {trial.name}: {progress.failed[trial.name]}")
                else:
                    progress.completed.append(trial.name)
                    progress.say(
                        f"  done {trial.name} in {result['seconds']:.1f} s, "
                        f"final mean return {result['mean_return']:.2f}"
                    )
            progress.status(len(in_flight), len(pending))
    except KeyboardInterrupt:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        progress.say(
            f"\ninterrupted with {len(progress.completed)} trial(s) completed: run the same "
            "command again to go on (interrupted trials resume from their latest checkpoint)"
        )
        raise


def _describe(error: BaseException) -> str:
    """``"ErrorType: first line of the message"`` of the trial's own exception (Ray wraps it)."""
    cause = getattr(error, "cause", None)
    original = cause if isinstance(cause, BaseException) else error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__


def _save_error(trial_dir: Path, error: BaseException) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    # Ray's traceback text carries terminal colour codes.
    text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(traceback.format_exception(error)))
    (trial_dir / ERROR_FILENAME).write_text(text, encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes:
        completed: the trials that ran to their end in this call.
        skipped: the trials done before.
        failed: ``{trial: "ErrorType: message"}`` of the trials that raised.
        seconds: the wall-clock seconds of the call, Ray's start included.
        summary: the summary of the done trials (None if none is done).
    """

    completed: list[str]
    skipped: list[str]
    failed: dict[str, str]
    seconds: float
    summary: SweepSummary | None


def run_sweep(
    trials: Sequence[Trial],
    sweep_dir: str | Path,
    *,
    train: Callable[..., dict[str, Any]] = agent.train,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int | None = None,
    progress_every: float = 10.0,
    log_to_driver: bool = False,
    key: str | None = None,
    stream: TextIO | None = None,
) -> SweepOutcome:
    """Run the trials that are not done on Ray, reporting progress; then summarise the sweep.

    Why Ray core tasks rather than Ray Tune: a grid of independent runs needs no search
    algorithm, scheduler or early stopping, and Tune keeps its own experiment state and result
    folders beside ours. Here skipping the done trials is a look for ``eval.json``, a failed
    trial raises its error at ``ray.get`` and ``ray.wait`` paces the progress: fewer moving
    parts, and the run directories are exactly those of single runs.

    Ray is started in this process (with ``num_cpus``, default all) unless it runs already
    (the caller's ``ray.init``) or ``address`` names a cluster (``"auto"``, ``"HOST:PORT"``); a
    Ray started here is shut down at the end. Trials are handed to Ray as slots free up, so
    "running" counts the trials that hold their resources (on a cluster shared with other jobs,
    some may still wait for a worker). The trials' own output goes to Ray's worker logs
    (``/tmp/ray/session_latest/logs``) unless ``log_to_driver``.

    Args:
        trials: from :func:`make_trials`.
        sweep_dir: the sweep's directory (for the summary and the messages).
        train: ``train(config, resume=bool) -> dict`` with ``"mean_return"``: the agent's.
        address, num_cpus: where Ray runs, as above.
        cpus_per_trial, gpus_per_trial: the Ray resources of each trial (fractions allowed).
        max_concurrent: at most this many trials at once (default: as many as fit).
        progress_every: seconds between progress lines while no trial ends.
        log_to_driver: show the trials' own output here.
        key: the metric summarised (default: the evaluation return).
        stream: where the progress goes (default: ``sys.stdout``).

    Raises:
        ValueError: for bad resources, or a done or interrupted trial whose ``config.json``
            differs from its configuration (e.g. another ``--total-timesteps``).
        ImportError: if Ray is not installed.
    """
    sweep_dir = Path(sweep_dir)
    if isinstance(cpus_per_trial, bool) or not cpus_per_trial > 0:
        raise ValueError(f"cpus_per_trial must be a number > 0, got {cpus_per_trial!r}")
    if isinstance(gpus_per_trial, bool) or not gpus_per_trial >= 0:
        raise ValueError(f"gpus_per_trial must be a number >= 0, got {gpus_per_trial!r}")
    if max_concurrent is not None and max_concurrent < 1:
        raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
    if address is not None and num_cpus is not None:
        raise ValueError(
            f"num_cpus sizes a Ray started here; the cluster at {address!r} has its own"
        )
    if len({trial.name for trial in trials}) != len(trials):
        raise ValueError("run_sweep: two trials share a name; make them with make_trials")
    states = {trial.name: trial_state(trial.config.run_dir) for trial in trials}
    _refuse_stale(trials, states, sweep_dir)
    skipped = [trial.name for trial in trials if states[trial.name] == "done"]
    to_run = [trial for trial in trials if states[trial.name] != "done"]
    progress = _Progress(len(to_run), sys.stdout if stream is None else stream, progress_every)
    progress.say(f"sweep {sweep_dir}: {len(trials)} trial(s), {len(skipped)} done before")

    if to_run:
        use_cluster_token(address)
        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=address,
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=log_to_driver,
            )
        try:
            resources = ray.cluster_resources()
            for amount, kind in ((cpus_per_trial, "CPU"), (gpus_per_trial, "GPU")):
                if amount > resources.get(kind, 0.0):
                    raise ValueError(
                        f"each trial asks for {amount:g} {kind}(s) but the Ray cluster has "
                        f"{resources.get(kind, 0.0):g}: lower --{kind.lower()}s-per-trial"
                    )
            # No retry by Ray when a worker dies (e.g. out of memory): the retry would find the
            # dead trial's run directory; rerunning the sweep resumes or restarts it instead.
            remote = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0)(
                _run_trial
            )

            def submit(trial: Trial, resume: bool) -> Any:
                return remote.options(name=f"trial {trial.name}").remote(
                    train, trial.config, resume
                )

            _run_on_ray(
                ray,
                submit,
                to_run,
                states,
                progress,
                lambda: _capacity(ray, cpus_per_trial, gpus_per_trial, max_concurrent),
            )
        finally:
            if started_here:
                ray.shutdown()

    done = [trial.config.run_dir for trial in trials if trial_state(trial.config.run_dir) == "done"]
    summary = summarize_sweep(sweep_dir, trial_dirs=done, key=key) if done else None
    seconds = time.perf_counter() - progress.start
    progress.say(
        f"sweep {sweep_dir}: {len(progress.completed)} completed, {len(skipped)} done before, "
        f"{len(progress.failed)} failed, in {_clock(seconds)}"
    )
    for name, error in progress.failed.items():
        progress.say(
            f"  FAILED {name}: {error}\n    traceback: {sweep_dir / name / ERROR_FILENAME}"
        )
    if summary is not None:
        progress.say(f"\n{summary.table}\n\nsummary:         {summary.summary_path}")
        if summary.plot_path is not None:
            progress.say(f"learning curves: {summary.plot_path}")
    return SweepOutcome(progress.completed, skipped, progress.failed, seconds, summary)


# ---------------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class SummaryRow:
    """One configuration's final returns across its seeds (:func:`rlcore.analysis.aggregate`)."""

    configuration: str
    num_seeds: int
    mean: float
    std: float
    mean_ci: tuple[float, float]
    iqm: float
    iqm_ci: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class SweepSummary:
    """A sweep's summary: the metric, one row per configuration, the table, the files written."""

    key: str
    rows: list[SummaryRow]
    table: str
    summary_path: Path
    plot_path: Path | None


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

    The runs are grouped by their parent directory, the configuration
    (:func:`rlcore.analysis.group_runs`); a row is :func:`rlcore.analysis.aggregate` of the
    final value of ``key`` in each seed's ``progress.csv`` (the last one logged: the final
    evaluation), computed as ``rlcore summarize`` computes it (same runs in the same order,
    same ``num_resamples`` and ``seed``: same numbers).

    Args:
        sweep_dir: the sweep's directory.
        trial_dirs: the trials to include (default: every run below ``sweep_dir`` that has an
            ``eval.json``).
        key: the metric (default: ``eval/mean_return`` if every run logged it, else
            ``train/episodic_return``).
        num_resamples, seed: the bootstrap's number of resamples and seed.
        plot: also write ``learning_curves.png`` (matplotlib).

    Raises:
        FileNotFoundError: if there is no done trial, or one has no ``progress.csv``.
        KeyError: if a run never logged ``key``.
    """
    sweep_dir = Path(sweep_dir)
    if trial_dirs is None:
        trial_dirs = [path.parent for path in sweep_dir.rglob(EVAL_FILENAME)]
    # Sorted resolved paths: the order in which `rlcore summarize` (find_runs) lists them, so
    # that the bootstrap resamples the same runs.
    paths = sorted({Path(path).resolve() for path in trial_dirs})
    if not paths:
        raise FileNotFoundError(
            f"summarize_sweep: no done trial (with {EVAL_FILENAME}) under {sweep_dir}"
        )
    runs = [load_run(path) for path in paths]
    groups = group_runs(runs, by="parent")
    key = default_return_key(runs) if key is None else key
    rows = []
    for label, members in groups.items():
        stats = aggregate(final_values(members, key), num_resamples=num_resamples, seed=seed)
        rows.append(
            SummaryRow(
                configuration=label,
                num_seeds=stats.num_runs,
                mean=stats.mean,
                std=stats.std,
                mean_ci=(float(stats.mean_ci[0]), float(stats.mean_ci[1])),
                iqm=stats.iqm,
                iqm_ci=(float(stats.iqm_ci[0]), float(stats.iqm_ci[1])),
            )
        )
    table = format_table(rows, key, num_resamples, seed)
    summary_path = sweep_dir / SUMMARY_FILENAME
    summary_path.write_text(table + "\n", encoding="utf-8")
    plot_path = None
    if plot:
        plot_path = sweep_dir / PLOT_FILENAME
        figure = plot_learning_curves(groups, key, seed=seed, title=f"{sweep_dir.name}: {key}")
        figure.savefig(plot_path, format="png")
    return SweepSummary(key, rows, table, summary_path, plot_path)


def format_table(rows: Sequence[SummaryRow], key: str, num_resamples: int, seed: int) -> str:
    """The rows as a Markdown table, under a line saying what the numbers are."""

    def number(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.2f}"

    def interval(bounds: tuple[float, float]) -> str:
        return f"[{number(bounds[0])}, {number(bounds[1])}]"

    lines = [
        f"Final {key} of each seed (its last logged value): mean, std (ddof=1), interquartile "
        f"mean; 95% CIs: percentile bootstrap over seeds, {num_resamples} resamples, seed {seed}.",
        "",
        "| configuration | seeds | mean | std | 95% CI | IQM | IQM 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.configuration} | {row.num_seeds} | {number(row.mean)} | {number(row.std)} | "
        f"{interval(row.mean_ci)} | {number(row.iqm)} | {interval(row.iqm_ci)} |"
        for row in rows
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- command line
def _flag_given(argv: Sequence[str], field: str) -> bool:
    """Whether the agent's options ``argv`` set ``field`` (``--a-b``, ``--a_b``, ``--no-a-b``)."""
    dashed = field.replace("_", "-")
    flags = {f"--{field}", f"--{dashed}", f"--no-{dashed}", f"--no_{field}"}
    return any(arg.split("=", 1)[0] in flags for arg in argv)


def _execution_settings(
    config_type: type[Any],
    grid: Mapping[str, Any],
    agent_argv: Sequence[str],
    cpus: float,
    gpus: float,
) -> dict[str, Any]:
    """What the sweep sets in every trial's config, where neither ``--set`` nor an option does."""
    names = {field.name for field in dataclasses.fields(config_type)}

    def free(field: str) -> bool:
        return field in names and field not in grid and not _flag_given(agent_argv, field)

    settings: dict[str, Any] = {}
    if free("progress"):
        settings["progress"] = (
            False  # the sweep reports progress; the trials' bars would interleave
        )
    if free("torch_threads"):
        settings["torch_threads"] = max(1, int(cpus))
    if free("device") and gpus > 0:
        settings["device"] = "cuda"  # Ray points CUDA_VISIBLE_DEVICES at the trial's GPU(s)
    return settings


def build_parser() -> argparse.ArgumentParser:
    """The sweep's own options; the rest of the command line is the agent's."""
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.sweep",
        description="Train the {{ cookiecutter.example_agent | upper }} agent on a grid of seeds x configurations on Ray, one trial "
        "per CPU by default, then summarise across seeds. Any option not listed here is the "
        "agent's and applies to every trial: see "
        "python -m {{ cookiecutter.package_name }}.train --help",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--name", help="the sweep's directory in --runs-dir (default: sweep-<algo>-<env_id>)")
    add("--runs-dir", type=Path, default=Path("runs"), help="the sweeps' folder (default: runs)")
    add("--seeds", default="0-4", help="the seeds: 0-4, 0,3,7 or 0-2,10 (default: 0-4)")
    add(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="a config field and its values in the grid (repeatable; lists as JSON: "
        "hidden_sizes=[64,64],[32])",
    )
    add(
        "--address",
        help="a running Ray cluster to use: auto or HOST:PORT (default: start Ray here)",
    )
    add("--num-cpus", type=int, help="CPUs of the Ray started here (default: all)")
    add(
        "--cpus-per-trial",
        type=float,
        default=1.0,
        help="CPUs held by each trial (default: 1); also its torch threads unless set",
    )
    add(
        "--gpus-per-trial",
        type=float,
        default=0.0,
        help="GPUs held by each trial, e.g. 0.25 (default: 0); with GPUs, device defaults to cuda",
    )
    add("--max-concurrent", type=int, help="at most this many trials at once")
    add("--progress-every", type=float, default=10.0, help="seconds between progress lines")
    add("--verbose", action="store_true", help="show the trials' own output")
    add("--key", help="the metric summarised (default: eval/mean_return)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep the command line asks for.

    Returns:
        The exit status: 0 if every trial is done, 1 if one failed, 2 for a bad option.
    """
    parser = build_parser()
    args, agent_argv = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    for field, use in (
        ("seed", "--seeds"),
        ("run_dir", "--runs-dir and --name"),
        ("resume", "the same command"),
    ):
        if _flag_given(agent_argv, field):
            parser.error(f"the sweep sets each trial's {field}; use {use}")
    try:
        seeds = parse_seeds(args.seeds)
        default, _ = parse_args(agent_argv)
        grid = parse_set(args.assignments, type(default))
        both = [field for field in grid if _flag_given(agent_argv, field)]
        if both:
            raise ValueError(
                f"{both} both swept (--set) and fixed (an agent option); give each once"
            )
        settings = _execution_settings(
            type(default), grid, agent_argv, args.cpus_per_trial, args.gpus_per_trial
        )

        def base_config(overrides: Mapping[str, Any]) -> Any:
            config = default
            if "env_id" in overrides:
                # That env's tuned defaults, under the options given.
                config, _ = parse_args([*agent_argv, "--env-id", str(overrides["env_id"])])
            return dataclasses.replace(config, **settings)

        algo = agent.__name__.rsplit(".", 1)[-1]
        name = args.name or f"sweep-{algo}" + ("" if "env_id" in grid else f"-{default.env_id}")
        sweep_dir = (args.runs_dir / _UNSAFE_IN_NAMES.sub("_", name)).resolve()
        trials = make_trials(grid, seeds, sweep_dir, base_config)
        outcome = run_sweep(
            trials,
            sweep_dir,
            address=args.address,
            num_cpus=args.num_cpus,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_concurrent=args.max_concurrent,
            progress_every=args.progress_every,
            log_to_driver=args.verbose,
            key=args.key,
        )
    except (ValueError, TypeError, ImportError, FileNotFoundError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"sweep: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
