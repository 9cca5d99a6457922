"""Config values from files: a TOML config file (``--config``), a run's saved ``config.json``.

Both are flat tables of a config dataclass's fields in JSON or TOML types; arrays become tuples
and integers floats where the field wants one, and the config's own checks (its declared types
and constraints) judge the values when the config is built.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlcore.runs._config import ConfigT
from rlcore.runs._fields import config_fields, conforms, field_specs

__all__ = ["read_config_file", "saved_config"]


def _as_field_value(hint: Any, value: Any) -> Any:
    """A JSON or TOML value as the field's type: arrays become tuples, integers floats where a
    float is expected (also inside ``float | None`` and ``tuple[float, ...]``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            converted = _as_field_value(option, value)
            if conforms(converted, option):
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
    specs = {spec.name: spec for spec in field_specs(config_type)}
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
