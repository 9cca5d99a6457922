"""Config fields: the checks declared on a field's annotation, the run-setting mark, their checker.

A field's checks are declared once, in its annotation, with :class:`typing.Annotated` (the
aliases :data:`PositiveInt`, :data:`UnitFloat`, ...); :func:`check_fields` applies them and the
field's type to every field of a config dataclass. A field marked :data:`RunSetting` says how a
run is executed, not what is learned (:func:`run_settings`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

__all__ = [
    "AtLeast",
    "Between",
    "FieldSpec",
    "GreaterThan",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "RunSetting",
    "UnitFloat",
    "check_fields",
    "check_names",
    "config_fields",
    "conforms",
    "field_specs",
    "run_settings",
]


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


# ------------------------------------------------------------------------------ the field specs
@dataclass(frozen=True)
class FieldSpec:
    """A config field as declared: its name, its type, its checks, whether it is a run setting."""

    name: str
    type: Any  # the annotation without Annotated
    constraints: tuple[_Constraint, ...]
    run_setting: bool


_SPECS: dict[type[Any], tuple[FieldSpec, ...]] = {}


def field_specs(config_type: type[Any]) -> tuple[FieldSpec, ...]:
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
                        for spec in field_specs(base)
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
            specs.append(FieldSpec(field.name, hint, constraints, marked))
        _SPECS[config_type] = tuple(specs)
    return _SPECS[config_type]


def config_fields(config_type: type[Any]) -> tuple[str, ...]:
    """The field names of a config dataclass, in declaration order."""
    return tuple(field.name for field in dataclasses.fields(config_type))


def run_settings(config_type: type[Any]) -> tuple[str, ...]:
    """The fields of ``config_type`` marked :data:`RunSetting` (never hyperparameters)."""
    return tuple(spec.name for spec in field_specs(config_type) if spec.run_setting)


# ---------------------------------------------------------------------------------- the checks
def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (the kinds of types a config field uses)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, option) for option in typing.get_args(hint))
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
            return all(conforms(item, args[0]) for item in value)
        return len(args) == len(value) and all(conforms(v, a) for v, a in zip(value, args, strict=True))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a type this checker does not know: trust the annotation


def check_fields(config: Any) -> None:
    """Check every field of ``config`` against its annotation and its declared constraints.

    Raises:
        ValueError: naming the first field whose value has the wrong type or breaks a constraint.
    """
    owner = type(config).__name__
    for spec in field_specs(type(config)):
        value = getattr(config, spec.name)
        if not conforms(value, spec.type):
            raise ValueError(
                f"{owner}.{spec.name} must be of type {_type_name(spec.type)}, "
                f"got {type(value).__name__}: {value!r}"
            )
        for constraint in spec.constraints:
            finite = not isinstance(value, float) or math.isfinite(value)
            if not (finite and constraint.holds(value)):
                kind = "an int" if spec.type is int else "a finite number"
                raise ValueError(f"{owner}.{spec.name} must be {kind} {constraint}, got {value!r}")


def check_names(config_type: type[Any], names: Iterable[str], where: str) -> None:
    """Raise TypeError, naming ``where``, if one of ``names`` is no field of ``config_type``."""
    fields = config_fields(config_type)
    unknown = sorted(set(names) - set(fields))
    if unknown:
        raise TypeError(
            f"{where}: unknown {config_type.__name__} field(s) {unknown}; expected some of {sorted(fields)}"
        )
