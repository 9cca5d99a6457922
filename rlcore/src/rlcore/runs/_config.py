"""Agent configs: the settings every run has, field checks declared on the fields, agents.

An agent's configuration is a frozen dataclass that subclasses :class:`RunConfig` and adds its
hyperparameters. A field's checks are declared once, in its annotation, with
:class:`typing.Annotated` (the aliases :data:`PositiveInt`, :data:`UnitFloat`, ...), and
:meth:`RunConfig.__post_init__` applies them to every field of the subclass; a field marked
:data:`RunSetting` says how a run is executed, not what is learned, so it never splits the seeds
of one experiment into several configurations (``rlcore summarize``, sweeps).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

__all__ = [
    "Agent",
    "AtLeast",
    "Between",
    "GreaterThan",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "Registry",
    "RunConfig",
    "RunSetting",
    "UnitFloat",
    "check_fields",
    "config_fields",
    "config_for_env",
    "read_config_file",
    "run_settings",
    "saved_config",
]

ConfigT = TypeVar("ConfigT", bound="RunConfig")


# --------------------------------------------------------------------------- field constraints
@dataclass(frozen=True)
class AtLeast:
    """The field's value is ``>= low`` (and, for a float field, finite)."""

    low: float

    def holds(self, value: float) -> bool:
        return value >= self.low

    def __str__(self) -> str:
        return f">= {self.low:g}"


@dataclass(frozen=True)
class GreaterThan:
    """The field's value is ``> low`` (and, for a float field, finite)."""

    low: float

    def holds(self, value: float) -> bool:
        return value > self.low

    def __str__(self) -> str:
        return f"> {self.low:g}"


@dataclass(frozen=True)
class Between:
    """The field's value lies in the closed interval ``[low, high]``."""

    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"in [{self.low:g}, {self.high:g}]"


class _RunSettingMarker:
    """Marks a field that says how a run executes (device, logging, ...), not what it learns."""

    def __repr__(self) -> str:
        return "RunSetting"


RunSetting = _RunSettingMarker()
"""``Annotated[bool, RunSetting]``: a run setting, ignored when runs are grouped by config."""

PositiveInt = Annotated[int, AtLeast(1)]
NonNegativeInt = Annotated[int, AtLeast(0)]
PositiveFloat = Annotated[float, GreaterThan(0.0)]
NonNegativeFloat = Annotated[float, AtLeast(0.0)]
UnitFloat = Annotated[float, Between(0.0, 1.0)]

_Constraint = AtLeast | GreaterThan | Between


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    type: Any  # the annotation without Annotated
    constraints: tuple[_Constraint, ...]
    run_setting: bool


_SPECS: dict[type[Any], tuple[_FieldSpec, ...]] = {}


def _field_specs(config_type: type[Any]) -> tuple[_FieldSpec, ...]:
    """The fields of a config dataclass with their declared type, checks and run-setting mark."""
    if config_type not in _SPECS:
        hints = typing.get_type_hints(config_type, include_extras=True)
        specs = []
        for field in dataclasses.fields(config_type):
            hint = hints.get(field.name, Any)
            metadata: tuple[Any, ...] = ()
            while typing.get_origin(hint) is Annotated:
                metadata += hint.__metadata__
                hint = hint.__origin__
            constraints = tuple(m for m in metadata if isinstance(m, AtLeast | GreaterThan | Between))
            if not constraints:
                # A subclass that redeclares a field (to change its default) keeps its checks.
                constraints = next(
                    (
                        spec.constraints
                        for base in config_type.__mro__[1:]
                        if dataclasses.is_dataclass(base)
                        for spec in _field_specs(base)
                        if spec.name == field.name and spec.constraints
                    ),
                    (),
                )
            # A subclass that redeclares a run setting (to change its default) keeps it one.
            marked = any(m is RunSetting for m in metadata) or any(
                field.name in run_settings(base)
                for base in config_type.__mro__[1:]
                if dataclasses.is_dataclass(base)
            )
            specs.append(_FieldSpec(field.name, hint, constraints, marked))
        _SPECS[config_type] = tuple(specs)
    return _SPECS[config_type]


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (the kinds of types a config field uses)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in value)
        return len(args) == len(value) and all(_conforms(v, a) for v, a in zip(value, args, strict=True))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a type this checker does not know: trust the annotation


def check_fields(config: Any) -> None:
    """Check every field of ``config`` against its annotation and its declared constraints.

    Raises:
        ValueError: naming the first field whose value has the wrong type or breaks a constraint.
    """
    owner = type(config).__name__
    for spec in _field_specs(type(config)):
        value = getattr(config, spec.name)
        if not _conforms(value, spec.type):
            raise ValueError(
                f"{owner}.{spec.name} must be of type {_type_name(spec.type)}, "
                f"got {type(value).__name__}: {value!r}"
            )
        for constraint in spec.constraints:
            finite = not isinstance(value, float) or math.isfinite(value)
            if not (finite and constraint.holds(value)):
                kind = "an int" if spec.type is int else "a finite number"
                raise ValueError(f"{owner}.{spec.name} must be {kind} {constraint}, got {value!r}")


# ------------------------------------------------------------------------------- the base config
@dataclass(frozen=True)
class RunConfig:
    """The settings every agent's run has; an agent's config dataclass subclasses it.

    Subclasses add their hyperparameters (with defaults) and may redeclare a field here to
    change its default. A subclass that checks more in ``__post_init__`` (a field against
    another) calls ``super().__post_init__()`` first.
    """

    env_id: str = "CartPole-v1"
    """Gymnasium id of the task (``module:Name-v0`` imports ``module`` first)."""
    seed: NonNegativeInt = 0
    """Base seed of the network, the action sampling, the environments and the buffers."""
    total_timesteps: PositiveInt = 100_000
    """Environment steps to train for (summed over the sub-environments)."""
    num_envs: PositiveInt = 1
    """Parallel sub-environments of the training vector env."""
    eval_every: NonNegativeInt = 10_000
    """Evaluate every this many environment steps (deterministic policy); 0 turns it off."""
    eval_episodes: PositiveInt = 10
    """Episodes of each periodic evaluation."""
    final_eval_episodes: PositiveInt = 100
    """Episodes of the final evaluation (eval.json)."""
    checkpoint_every: Annotated[int, AtLeast(0), RunSetting] = 50_000
    """Save a checkpoint every this many environment steps (and at the end); 0: only at the end."""
    vector_mode: Annotated[Literal["sync", "async"], RunSetting] = "sync"
    """sync: sub-envs stepped in this process; async: one subprocess each (slow envs)."""
    run_dir: Annotated[str | None, RunSetting] = None
    """The run's directory; None: runs/<algo>-<env_id>/seed<seed>-<date>-<time>."""
    logger: Annotated[Literal["csv", "tensorboard", "wandb"], RunSetting] = "csv"
    """Where metrics go besides progress.csv."""
    wandb_project: Annotated[str | None, RunSetting] = None
    """The Weights & Biases project, with logger wandb (None: W&B's default)."""
    progress: Annotated[bool, RunSetting] = True
    """Show rlcore's console progress (steps, steps/s, latest return)."""
    torch_threads: Annotated[int, AtLeast(1), RunSetting] = 1
    """torch.set_num_threads: small networks run fastest on one thread."""
    device: Annotated[str, RunSetting] = "cpu"
    """Torch device of the networks and the minibatches (cpu, cuda, cuda:1, mps)."""

    def __post_init__(self) -> None:
        check_fields(self)


def config_fields(config_type: type[Any]) -> tuple[str, ...]:
    """The field names of a config dataclass, in declaration order."""
    return tuple(field.name for field in dataclasses.fields(config_type))


def run_settings(config_type: type[Any]) -> tuple[str, ...]:
    """The fields of ``config_type`` marked :data:`RunSetting` (never hyperparameters)."""
    return tuple(spec.name for spec in _field_specs(config_type) if spec.run_setting)


def _check_names(config_type: type[Any], names: typing.Iterable[str], where: str) -> None:
    fields = config_fields(config_type)
    unknown = sorted(set(names) - set(fields))
    if unknown:
        raise TypeError(
            f"{where}: unknown {config_type.__name__} field(s) {unknown}; expected some of {sorted(fields)}"
        )


def config_for_env(
    config_type: type[ConfigT],
    env_defaults: Mapping[str, Mapping[str, Any]],
    env_id: str,
    **overrides: Any,
) -> ConfigT:
    """The config for ``env_id``: the defaults, then ``env_defaults[env_id]``, then ``overrides``.

    Raises:
        TypeError: if an override names no field of ``config_type``.
        ValueError: if a value breaks a field's declared check.
    """
    _check_names(config_type, overrides, "config_for_env")
    return config_type(**{"env_id": env_id, **env_defaults.get(env_id, {}), **overrides})


# ------------------------------------------------------------------------------------- agents
@dataclass(frozen=True)
class Agent(Generic[ConfigT]):
    """An agent as the entry points see it: a name, its config type, its training function.

    Attributes:
        name: the short name on the command line (``ppo``) and in ``config.json``'s ``algo``.
        config_type: its config dataclass, a subclass of :class:`RunConfig`.
        train: ``train(config, *, resume=False) -> summary``, the summary of
            :meth:`rlcore.runs.Run.finish`.
        env_defaults: tuned hyperparameters per env id, applied over the config's defaults.
    """

    name: str
    config_type: type[ConfigT]
    train: Callable[..., dict[str, Any]]
    env_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Agent.name must be a Python identifier, got {self.name!r}")
        if not (isinstance(self.config_type, type) and issubclass(self.config_type, RunConfig)):
            raise TypeError(
                f"Agent {self.name!r}: config_type must be a subclass of rlcore.runs.RunConfig, "
                f"got {self.config_type!r}"
            )
        for env_id, values in self.env_defaults.items():
            _check_names(self.config_type, values, f"Agent {self.name!r}: env_defaults[{env_id!r}]")

    def config_for_env(self, env_id: str, **overrides: Any) -> ConfigT:
        """:func:`config_for_env` of this agent: a ``config_type`` (mypy knows which)."""
        return config_for_env(self.config_type, self.env_defaults, env_id, **overrides)


class Registry(Mapping[str, "Agent[Any]"]):
    """A project's agents by name, and its project-wide defaults (logger, W&B project).

    Args:
        agents: the agents; a name may appear once.
        defaults: field values for every agent that has the field, applied under the agent's
            ``env_defaults`` (e.g. ``{"logger": "tensorboard", "wandb_project": "my-project"}``).
    """

    def __init__(self, *agents: Agent[Any], defaults: Mapping[str, Any] | None = None) -> None:
        self._agents: dict[str, Agent[Any]] = {}
        self.defaults: dict[str, Any] = dict(defaults or {})
        _check_names(RunConfig, self.defaults, "Registry defaults")
        for agent in agents:
            self.register(agent)

    def register(self, agent: Agent[Any]) -> None:
        """Add ``agent``. Raises ValueError if an agent of that name is registered."""
        if not isinstance(agent, Agent):
            raise TypeError(f"Registry.register: expected an rlcore.runs.Agent, got {agent!r}")
        if agent.name in self._agents:
            raise ValueError(f"Registry.register: an agent named {agent.name!r} is registered")
        self._agents[agent.name] = agent

    def unregister(self, name: str) -> None:
        """Remove the agent ``name`` (tests that register a temporary agent)."""
        self[name]  # raises the KeyError that lists the agents
        del self._agents[name]

    def __getitem__(self, name: str) -> Agent[Any]:
        if name not in self._agents:
            known = ", ".join(self._agents) or "none registered"
            raise KeyError(f"no agent named {name!r}; the agents are: {known}")
        return self._agents[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self._agents)})"

    def config(self, name: str, env_id: str, **overrides: Any) -> RunConfig:
        """Agent ``name``'s config for ``env_id``: defaults < project defaults < env < overrides."""
        agent = self[name]
        fields = set(config_fields(agent.config_type))
        project = {k: v for k, v in self.defaults.items() if k in fields}
        tuned = {**project, **agent.env_defaults.get(env_id, {})}
        config: RunConfig = config_for_env(agent.config_type, {env_id: tuned}, env_id, **overrides)
        return config


# -------------------------------------------------------------------------------- config files
def _as_field_value(hint: Any, value: Any) -> Any:
    """A JSON or TOML value as the field's type: arrays become tuples, integers floats where a
    float is expected (also inside ``float | None`` and ``tuple[float, ...]``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            converted = _as_field_value(option, value)
            if _conforms(converted, option):
                return converted
        return value
    if isinstance(value, list):
        value = tuple(value)
    if origin is tuple and isinstance(value, tuple):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_as_field_value(args[0], item) for item in value)
        if len(args) == len(value):
            return tuple(_as_field_value(a, item) for a, item in zip(args, value, strict=True))
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _typed_values(config_type: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    specs = {spec.name: spec for spec in _field_specs(config_type)}
    return {key: _as_field_value(specs[key].type, value) for key, value in values.items()}


def read_config_file(path: str | Path, config_type: type[Any]) -> dict[str, Any]:
    """The field values of the TOML config file ``path``: a flat table of ``config_type``'s fields.

    An optional ``algo`` key names the agent the file is for; it is returned too. Arrays become
    tuples and integers become floats where the field wants one; the values are checked when
    the config is built (the field's declared type and checks).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not valid TOML, or a key is no field of ``config_type``
            (the message names the file and the key and lists the fields).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {error}") from None
    algo = data.pop("algo", None)
    nested = sorted(key for key, value in data.items() if isinstance(value, dict))
    fields = config_fields(config_type)
    unknown = sorted(set(data) - set(fields))
    if nested or unknown:
        raise ValueError(
            f"config file {str(path)!r}: unknown key(s) {nested or unknown} (a flat table of "
            f"{config_type.__name__} fields is expected); the fields are: {', '.join(fields)}"
        )
    values = _typed_values(config_type, data)
    if algo is not None:
        values["algo"] = algo
    return values


def saved_config(run_dir: str | Path, config_type: type[ConfigT]) -> ConfigT:
    """The config a run was started with, read from its ``config.json``, with ``run_dir`` set.

    Raises:
        FileNotFoundError: if ``run_dir`` holds no ``config.json``.
        ValueError: if the file is not a JSON object or a value breaks a field's check.
    """
    from rlcore._rundir import read_record

    record = read_record(run_dir)
    fields = config_fields(config_type)
    values = _typed_values(config_type, {k: v for k, v in record.items() if k in fields})
    values["run_dir"] = str(run_dir)
    return config_type(**values)
