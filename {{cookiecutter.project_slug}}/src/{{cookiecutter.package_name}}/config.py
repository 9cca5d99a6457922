"""The experiment configuration: a TOML file of ``configs/`` read into frozen dataclasses.

A file holds up to two tables, ``[env]`` (:class:`EnvConfig`) and ``[logging]``
(:class:`LoggingConfig`); a key left out keeps its default, and an unknown key, a value of the
wrong type or out of range is an error that names the key. ``configs/default.toml`` spells out
every default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LOGGERS", "EnvConfig", "ExperimentConfig", "LoggingConfig", "load_config"]

LOGGERS = ("csv", "tensorboard", "wandb")
"""The logger backends of ``rlcore.logging`` (tensorboard and wandb need rlcore's extras)."""


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """How :func:`{{ cookiecutter.package_name }}.envs.make_env` builds the environment."""

    env_id: str = "CartPole-v1"
    """A registered Gymnasium id with a ``Box`` observation space."""
    seed: int = 0
    """Seeds the first ``reset`` and the action space."""
    normalize_observation: bool = True
    """Wrap in ``rlcore.wrappers.NormalizeObservation`` (float32, running mean/std)."""
    normalize_reward: bool = True
    """Wrap in ``rlcore.wrappers.NormalizeReward`` (scaled by the std of the discounted return)."""
    gamma: float = 0.99
    """Discount of the return whose std scales the rewards, in ``[0, 1]``."""
    frame_stack: int = 1
    """Number of stacked observations (``rlcore.wrappers.FrameStack``); 1 stacks nothing."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"env.gamma must be in [0, 1], got {self.gamma!r}")
        if self.frame_stack < 1:
            raise ValueError(f"env.frame_stack must be an integer >= 1, got {self.frame_stack!r}")


@dataclasses.dataclass(frozen=True)
class LoggingConfig:
    """Where and how a run records its metrics."""

    logger: str = "{{ cookiecutter.logger }}"
    """One of :data:`LOGGERS`."""
    run_dir: str = "runs"
    """Folder (relative to the working directory) that holds one sub-folder per run."""

    def __post_init__(self) -> None:
        if self.logger not in LOGGERS:
            raise ValueError(f"logging.logger must be one of {LOGGERS}, got {self.logger!r}")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment configuration."""

    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)


_TYPES: dict[type[Any], tuple[type[Any], ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (int, float),
}


def _section_values(table: str, values: Any, defaults: EnvConfig | LoggingConfig) -> dict[str, Any]:
    # The validated keyword arguments of a section from the TOML table `table`.
    if not isinstance(values, Mapping):
        raise TypeError(f"[{table}] must be a table, got {type(values).__name__}: {values!r}")
    known = {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(defaults)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise KeyError(f"unknown key(s) {unknown} in [{table}]; expected some of {sorted(known)}")
    for key, value in values.items():
        expected = known[key]
        # bool is a subclass of int: `seed = true` must not pass as an int.
        wrong_bool = isinstance(value, bool) and expected is not bool
        if wrong_bool or not isinstance(value, _TYPES[expected]):
            got = f"{type(value).__name__}: {value!r}"
            raise TypeError(f"{table}.{key} must be of type {expected.__name__}, got {got}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{table}.{key} must be finite, got {value!r}")
    return {key: float(v) if known[key] is float else v for key, v in values.items()}


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an experiment configuration from the TOML file ``path``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        tomllib.TOMLDecodeError: if the file is not valid TOML.
        KeyError: for an unknown table or key.
        TypeError: for a value of the wrong type.
        ValueError: for a value out of range.
    """
    with Path(path).open("rb") as file:
        data = tomllib.load(file)
    unknown = sorted(set(data) - {"env", "logging"})
    if unknown:
        raise KeyError(f"unknown table(s) {unknown} in {path}; expected some of ['env', 'logging']")
    env = _section_values("env", data.get("env", {}), EnvConfig())
    logging = _section_values("logging", data.get("logging", {}), LoggingConfig())
    return ExperimentConfig(env=EnvConfig(**env), logging=LoggingConfig(**logging))
