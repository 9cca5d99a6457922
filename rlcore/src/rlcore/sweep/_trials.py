"""The trials of a sweep: one run per configuration of the grid and seed, each in its directory.

A trial runs at ``<sweep_dir>/<configuration>/seed=<seed>/``, where the configuration is named
by its swept values (``learning_rate=0.001,batch_size=64``; ``base`` when nothing is swept). Its
run directory is a single run's (:class:`rlcore.runs.Run`), so that its state is read by
:func:`rlcore.runs.run_state` and the sweep is summarised by :mod:`rlcore.analysis` as any runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlcore.runs import run_settings, saved_config
from rlcore.sweep._options import CPUS_PER_TRIAL, GPUS_PER_TRIAL

__all__ = [
    "BASE_CONFIGURATION",
    "Trial",
    "configuration_name",
    "make_trials",
    "refuse_stale_trials",
    "trial_run_settings",
]

#: The directory of the configuration when no field is swept.
BASE_CONFIGURATION = "base"
_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9._=,+\-\[\]]")


@dataclasses.dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        name: its directory relative to the sweep's, ``<configuration>/seed=<seed>``.
        configuration: its configuration's directory, e.g. ``learning_rate=0.001``.
        seed: its seed.
        overrides: its swept values, ``{field: value}``.
        config: the agent's config (a :class:`rlcore.runs.RunConfig`), whose ``run_dir`` is
            the trial's directory.
    """

    name: str
    configuration: str
    seed: int
    overrides: Mapping[str, Any]
    config: Any

    @property
    def path(self) -> Path:
        """The trial's run directory."""
        return Path(self.config.run_dir)


def _format_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ",".join(_format_value(item) for item in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def safe_name(text: str) -> str:
    """``text`` with characters other than letters, digits and ``._=,+-[]`` replaced by ``_``."""
    return _UNSAFE_IN_NAMES.sub("_", text)


def configuration_name(overrides: Mapping[str, Any]) -> str:
    """A configuration's directory: its ``field=value`` pairs joined by commas (``base`` if none).

    Characters other than letters, digits and ``._=,+-[]`` become ``_`` (``ALE/Pong-v5``:
    ``ALE_Pong-v5``); floats are written as ``repr`` writes them (``0.001``, ``1e-05``), tuples
    as ``[64,64]``.

    >>> configuration_name({"learning_rate": 1e-3, "hidden_sizes": (64, 64)})
    'learning_rate=0.001,hidden_sizes=[64,64]'
    """
    if not overrides:
        return BASE_CONFIGURATION
    return safe_name(",".join(f"{name}={_format_value(value)}" for name, value in overrides.items()))


def make_trials(
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int],
    sweep_dir: str | Path,
    base_config: Callable[[Mapping[str, Any]], Any],
) -> list[Trial]:
    """Every combination of the ``grid`` values (the first field varies slowest) times every seed.

    Args:
        grid: ``{field: values}`` (:func:`rlcore.sweep.parse_set`).
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
                f"{configuration!r} (characters outside [A-Za-z0-9._=,+-[]] become _)"
            )
        seen[configuration] = overrides
        base = base_config(overrides)
        for seed in seeds:
            name = f"{configuration}/seed={seed}"
            config = dataclasses.replace(base, **overrides, seed=seed, run_dir=str(sweep_dir / name))
            trials.append(Trial(name, configuration, seed, overrides, config))
    return trials


def trial_run_settings(
    config_type: type[Any],
    given: Collection[str],
    *,
    cpus_per_trial: float,
    gpus_per_trial: float,
) -> dict[str, Any]:
    """The run settings a sweep gives every trial where the user did not (``given``).

    ``progress`` off (the sweep reports progress; the trials' bars would interleave),
    ``torch_threads`` = the trial's whole CPUs (at least 1), and ``device="cuda"`` when trials
    hold GPUs (Ray points ``CUDA_VISIBLE_DEVICES`` at the trial's GPUs).

    Args:
        config_type: the agent's config dataclass.
        given: the fields the user set (agent options, the config file, ``--set``).
        cpus_per_trial, gpus_per_trial: each trial's Ray resources.

    Raises:
        ValueError: if a resource is out of its bounds (NaN, infinity, a bool, ``cpus_per_trial``
            <= 0, ...), naming it, its value and the bounds.

    >>> from rlcore.runs import RunConfig
    >>> trial_run_settings(RunConfig, {"progress"}, cpus_per_trial=2, gpus_per_trial=0.5)
    {'torch_threads': 2, 'device': 'cuda'}
    """
    CPUS_PER_TRIAL.check(cpus_per_trial)
    GPUS_PER_TRIAL.check(gpus_per_trial)
    names = {field.name for field in dataclasses.fields(config_type)}

    def free(field: str) -> bool:
        return field in names and field not in given

    settings: dict[str, Any] = {}
    if free("progress"):
        settings["progress"] = False
    if free("torch_threads"):
        settings["torch_threads"] = max(1, int(cpus_per_trial))
    if free("device") and gpus_per_trial > 0:
        settings["device"] = "cuda"
    return settings


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists), to compare saved and wanted values."""
    return json.loads(json.dumps(value, default=str))


def refuse_stale_trials(trials: Sequence[Trial], states: Mapping[str, str], sweep_dir: str | Path) -> None:
    """Refuse to skip or resume trials whose saved config differs from their configuration.

    A done or resumable trial was started with the config in its ``config.json``
    (:func:`rlcore.runs.saved_config`); if a hyperparameter differs from the trial's config
    (e.g. another ``--total-timesteps``), its results would be mixed with another experiment's.
    Run settings (:func:`rlcore.runs.run_settings`: device, threads, logger, ...) may differ.

    Args:
        trials: the sweep's trials.
        states: ``{trial.name: state}`` (:func:`rlcore.runs.run_state`).
        sweep_dir: the sweep's directory, for the message.

    Raises:
        ValueError: naming how many trials are stale and, for the first, the fields that differ.
    """
    stale: dict[str, dict[str, tuple[Any, Any]]] = {}
    for trial in trials:
        if states[trial.name] not in ("done", "resumable"):
            continue
        try:
            saved = saved_config(trial.path, type(trial.config))
        except FileNotFoundError:
            continue
        settings = run_settings(type(trial.config))
        differing = {
            field.name: (getattr(saved, field.name), getattr(trial.config, field.name))
            for field in dataclasses.fields(trial.config)
            if field.name not in settings
            and _plain(getattr(saved, field.name)) != _plain(getattr(trial.config, field.name))
        }
        if differing:
            stale[trial.name] = differing
    if stale:
        name, fields = next(iter(stale.items()))
        described = ", ".join(f"{field}: {old!r} there, {new!r} now" for field, (old, new) in fields.items())
        raise ValueError(
            f"{len(stale)} trial(s) in {sweep_dir} were made with another configuration, e.g. "
            f"{name} ({described}); choose another --name, or delete them to run them again"
        )
