"""Running a sweep's trials on Ray: skip the done, resume the interrupted, report the failed.

Why Ray core tasks rather than Ray Tune: a grid of independent runs needs no search algorithm,
scheduler or early stopping, and Tune keeps its own experiment state and result folders beside
ours. Here a trial's state is its run directory's (:func:`rlcore.runs.run_state`), a failed
trial raises its error at ``ray.get`` and ``ray.wait`` paces the progress lines: fewer moving
parts, and the run directories are exactly those of single runs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from rlcore.runs import ERROR_FILENAME, RunLockedError, launch, run_state, started_from
from rlcore.sweep._options import CPUS_PER_TRIAL, GPUS_PER_TRIAL, MAX_CONCURRENT, NUM_CPUS, PROGRESS_EVERY
from rlcore.sweep._ray import capacity, check_resources, ray_session
from rlcore.sweep._summary import SweepSummary, summarize_sweep
from rlcore.sweep._trials import Trial, refuse_stale_trials

__all__ = ["SweepOutcome", "run_sweep"]


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


def _run_trial(
    train: Callable[..., dict[str, Any]], config: Any, resume: bool, config_file: Path | None
) -> dict[str, Any]:
    """A Ray task's body: one training run, as the single-run command makes it."""
    start = time.perf_counter()
    # The run records and copies the config file, where this worker's machine has it.
    with started_from(config_file if config_file is not None and config_file.is_file() else None):
        summary = launch(train, config, resume=resume)  # on config.devices processes
    return {"mean_return": summary.get("mean_return", math.nan), "seconds": time.perf_counter() - start}


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
            f"[{_clock(time.perf_counter() - self.start)}] done {len(self.completed)}/{self.total}, "
            f"running {running}, failed {len(self.failed)}, waiting {waiting}"
        )


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


def _collect(progress: _Progress, trial: Trial, result_of: Callable[[], dict[str, Any]]) -> None:
    """Wait for a trial's result and report it; a trial that raised is recorded as failed."""
    try:
        result = result_of()
    except Exception as error:  # reported; the other trials go on
        progress.failed[trial.name] = _describe(error)
        if not progress.failed[trial.name].startswith(f"{RunLockedError.__name__}:"):
            _save_error(trial.path, error)  # not into a run directory another process writes
        progress.say(f"  FAILED {trial.name}: {progress.failed[trial.name]}")
    else:
        progress.completed.append(trial.name)
        progress.say(
            f"  done {trial.name} in {result['seconds']:.1f} s, final mean return {result['mean_return']:.2f}"
        )


def _run_on_ray(
    ray: Any,
    submit: Callable[[Trial, bool], Any],
    trials: Sequence[Trial],
    states: Mapping[str, str],
    progress: _Progress,
    slots: Callable[[], int],
) -> None:
    """Hand trials to Ray as slots free up, collect them, report; cancel the rest on Ctrl-C."""
    pending = list(reversed(trials))
    in_flight: dict[Any, Trial] = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < slots():
                trial = pending.pop()
                # A trial that failed before its first checkpoint is started over by Run itself.
                resume = states[trial.name] == "resumable"
                (trial.path / ERROR_FILENAME).unlink(missing_ok=True)
                in_flight[submit(trial, resume)] = trial
                progress.say(f"  {'resumed' if resume else 'started'} {trial.name}")
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=progress.every)
            for ref in ready:
                _collect(progress, in_flight.pop(ref), functools.partial(ray.get, ref))
            progress.status(len(in_flight), len(pending))
    except KeyboardInterrupt:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        progress.say(
            f"\ninterrupted with {len(progress.completed)} trial(s) completed: run the same "
            "command again to go on (interrupted trials resume from their latest checkpoint)"
        )
        raise


def _run_in_process(
    train: Callable[..., dict[str, Any]],
    trials: Sequence[Trial],
    states: Mapping[str, str],
    progress: _Progress,
    config_file: Path | None,
) -> None:
    """Run the trials one after another in this process, reporting each as Ray's loop does."""
    for index, trial in enumerate(trials):
        resume = states[trial.name] == "resumable"
        (trial.path / ERROR_FILENAME).unlink(missing_ok=True)
        progress.say(f"  {'resumed' if resume else 'started'} {trial.name}")
        _collect(progress, trial, functools.partial(_run_trial, train, trial.config, resume, config_file))
        progress.status(0, len(trials) - index - 1)


def run_sweep(
    trials: Sequence[Trial],
    sweep_dir: str | Path,
    *,
    train: Callable[..., dict[str, Any]],
    config_file: str | Path | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int | None = None,
    progress_every: float = 10.0,
    log_to_driver: bool = False,
    key: str | None = None,
    stream: TextIO | None = None,
    in_process: bool = False,
) -> SweepOutcome:
    """Run the trials that are not done on Ray, reporting progress; then summarise the sweep.

    A trial's state is its directory's (:func:`rlcore.runs.run_state`): ``done`` trials are
    skipped, ``resumable`` ones resume from their latest checkpoint, ``failed`` ones (a run
    that stopped before its first checkpoint) and ``new`` ones start from scratch. A trial that
    raises is reported with its error, its traceback saved as ``error.txt`` in its directory,
    and the others go on.

    Ray is started in this process (with ``num_cpus``, default all) unless it runs already
    (the caller's ``ray.init``) or ``address`` names a cluster (``"auto"``, ``"HOST:PORT"``); a
    Ray started here is shut down at the end. Trials are handed to Ray as slots free up, so
    "running" counts the trials that hold their resources (on a cluster shared with other jobs,
    some may still wait for a worker). The trials' own output goes to Ray's worker logs
    (``/tmp/ray/session_latest/logs``) unless ``log_to_driver``. Ray does not retry a trial
    whose worker died (e.g. out of memory): running the sweep again resumes or restarts it.

    Args:
        trials: from :func:`rlcore.sweep.make_trials`.
        sweep_dir: the sweep's directory (for the summary and the messages).
        train: the agent's ``train(config, *, resume=False) -> summary``
            (:attr:`rlcore.runs.Agent.train`); it must be importable by Ray's workers.
        config_file: the TOML file the trials' configs were read from: each trial records it
            in its ``config.json`` and copies it into its directory (``config.toml``).
        address, num_cpus: where Ray runs, as above.
        cpus_per_trial, gpus_per_trial: the Ray resources of each trial (fractions allowed):
            from 0.0001 (Ray's step) to 10000, ``gpus_per_trial`` also 0. A trial whose config
            has ``devices=N`` starts N processes (:func:`rlcore.runs.launch`): give it N CPUs,
            or N GPUs with ``device="cuda"``.
        max_concurrent: at most this many trials at once, 1 to 100000 (default: as many as fit).
        progress_every: seconds between progress lines while no trial ends, 0.1 to 86400.
        log_to_driver: show the trials' own output here.
        key: the metric summarised (default: the evaluation return).
        stream: where the progress goes (default: ``sys.stdout``).
        in_process: run the trials one after another in this process, without Ray (to debug
            a trial, or to test a project's sweep where Ray's start-up would dominate); the
            resources and ``address`` are then ignored.

    Raises:
        ValueError: for a number out of its bounds (NaN, infinity, a bool, ``cpus_per_trial``
            <= 0, ``progress_every`` over a day, ...: the message names the parameter, the
            value and the bounds), ``num_cpus`` with an ``address``, or a done or resumable
            trial whose saved config differs from its configuration in a hyperparameter (e.g.
            another ``total_timesteps``).
        ImportError: if Ray is not installed (and ``in_process`` is False).
    """
    sweep_dir = Path(sweep_dir)
    config_path = None if config_file is None else Path(config_file).resolve()
    for bounds, value in (
        (CPUS_PER_TRIAL, cpus_per_trial),
        (GPUS_PER_TRIAL, gpus_per_trial),
        (NUM_CPUS, num_cpus),
        (MAX_CONCURRENT, max_concurrent),
        (PROGRESS_EVERY, progress_every),
    ):
        if value is not None:
            bounds.check(value)
    if address is not None and num_cpus is not None:
        raise ValueError(f"num_cpus sizes a Ray started here; the cluster at {address!r} has its own")
    if len({trial.name for trial in trials}) != len(trials):
        raise ValueError("run_sweep: two trials share a name; make them with make_trials")
    states = {trial.name: run_state(trial.path) for trial in trials}
    refuse_stale_trials(trials, states, sweep_dir)
    skipped = [trial.name for trial in trials if states[trial.name] == "done"]
    to_run = [trial for trial in trials if states[trial.name] != "done"]
    progress = _Progress(len(to_run), sys.stdout if stream is None else stream, progress_every)
    progress.say(f"sweep {sweep_dir}: {len(trials)} trial(s), {len(skipped)} done before")

    if to_run and in_process:
        _run_in_process(train, to_run, states, progress, config_path)
    elif to_run:
        with ray_session(address, num_cpus, log_to_driver=log_to_driver) as ray:
            check_resources(ray, cpus_per_trial, gpus_per_trial)
            # No retry by Ray when a worker dies: the retry would find the dead trial's run
            # directory; running the sweep again resumes or restarts it instead.
            remote = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0)(_run_trial)

            def submit(trial: Trial, resume: bool) -> Any:
                return remote.options(name=f"trial {trial.name}").remote(
                    train, trial.config, resume, config_path
                )

            _run_on_ray(
                ray,
                submit,
                to_run,
                states,
                progress,
                lambda: capacity(ray, cpus_per_trial, gpus_per_trial, max_concurrent),
            )

    done = [trial.path for trial in trials if run_state(trial.path) == "done"]
    summary = summarize_sweep(sweep_dir, trial_dirs=done, key=key) if done else None
    seconds = time.perf_counter() - progress.start
    progress.say(
        f"sweep {sweep_dir}: {len(progress.completed)} completed, {len(skipped)} done before, "
        f"{len(progress.failed)} failed, in {_clock(seconds)}"
    )
    for name, error in progress.failed.items():
        progress.say(f"  FAILED {name}: {error}\n    traceback: {sweep_dir / name / ERROR_FILENAME}")
    if summary is not None:
        progress.say(f"\n{summary.table}\n\nsummary:         {summary.summary_path}")
        if summary.plot_path is not None:
            progress.say(f"learning curves: {summary.plot_path}")
    return SweepOutcome(progress.completed, skipped, progress.failed, seconds, summary)
