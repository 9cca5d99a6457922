"""The grid of a sweep: its seeds (``--seeds 0-4``) and its swept values (``--set FIELD=V1,V2``).

Each value of ``--set`` is read as its config field's type by tyro, the parser of the agents'
command-line flags, so a value means in a sweep what it means after ``--field`` in a single run
(``True``/``False`` for a bool, ``None`` for an optional field, a Literal's choices). A
sequence field (``hidden_sizes: tuple[int, ...]``) takes a bracketed list per value, its items
separated by commas: ``hidden_sizes=[64,64],[32]`` is two values, ``(64, 64)`` and ``(32,)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import heapq
import io
import json
import re
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from rlcore.sweep._options import shown

__all__ = ["FIELDS_SET_BY_THE_SWEEP", "parse_seeds", "parse_set", "parse_value", "split_values"]

#: Config fields that a sweep sets in every trial itself, and the option that sets them.
FIELDS_SET_BY_THE_SWEEP = {"seed": "--seeds", "run_dir": "--runs-dir and --name"}
_SEQUENCE_ORIGINS = (tuple, list, set, frozenset, Sequence)
#: The most seeds of one sweep: more is a typo (``0-99999`` for ``0-9``), refused before any work.
MAX_SEEDS = 10_000
#: The largest seed: NumPy's legacy global RNG (:func:`rlcore.seeding.seed_everything`) takes no more.
MAX_SEED = 2**32 - 1
# An item of --seeds: a seed or a range, ASCII digits (``\d`` would read "\u0663" as 3).
_SEED_ITEM = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?", re.ASCII)
_WHITESPACE = " \t\n\r\f\v"
_EXPECTED_SEEDS = "expected seeds >= 0 as whole numbers: 0-4, 0,3,7 or 0-2,10"
_SHOWN_SEEDS = 10  # the repeated seeds a message lists


def _seed_range(part: str, text: str) -> tuple[int, int]:
    """The first and last seed of ``part``, one item of ``--seeds text`` (``"3"``, ``"0-4"``)."""
    if not part.strip(_WHITESPACE):
        raise ValueError(
            f"--seeds: {shown(text)} has an empty item (two commas in a row, or one at an end); "
            f"{_EXPECTED_SEEDS}"
        )
    match = _SEED_ITEM.fullmatch(part)
    if match is None:
        raise ValueError(
            f"--seeds: cannot read {shown(part.strip(_WHITESPACE))} in {shown(text)}; {_EXPECTED_SEEDS}"
        )
    ends: list[int] = []
    for digits in match.groups(default=match.group(1)):
        # Measured before int() reads it: int() refuses more than 4300 digits.
        significant = digits.lstrip("0") or "0"
        if len(significant) > len(str(MAX_SEED)) or int(significant) > MAX_SEED:
            seed = digits if len(digits) <= 24 else f"{digits[:20]}...{digits[-5:]} ({len(digits)} digits)"
            raise ValueError(
                f"--seeds: seed {seed} in {shown(text)} is above {MAX_SEED} (2**32 - 1), the largest "
                "seed NumPy's seeding takes"
            )
        ends.append(int(significant))
    first, last = ends
    if last < first:
        raise ValueError(f"--seeds: the range {shown(part.strip(_WHITESPACE))} is empty; write it low-high")
    return first, last


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0-4"`` (inclusive), ``"0,3,7"`` or both (``"0-2,10"``), in the order given.

    Seeds are whole numbers from 0 to ``2**32 - 1`` (NumPy's legacy seeding takes no more); a
    sweep takes at most 10000 of them. The count is added up from the ranges before they are
    expanded, so a typo such as ``0-99999`` (for ``0-9``) is refused at once, and the repeated
    seeds are found in one pass: the time is linear in the text and the seeds.

    Raises:
        ValueError: naming the text and what is expected, for no seeds, an empty item, anything
            but digits and ranges (negative, fractional or non-ASCII seeds), a seed above
            ``2**32 - 1``, a reversed range, more than 10000 seeds, or a seed listed twice.
    """
    if not text.strip(_WHITESPACE):
        raise ValueError(f"--seeds: no seeds in {shown(text)}; {_EXPECTED_SEEDS}")
    ranges = [_seed_range(part, text) for part in text.split(",")]
    count = sum(last - first + 1 for first, last in ranges)
    if count > MAX_SEEDS:
        raise ValueError(f"--seeds {shown(text)} asks for {count} seeds; a sweep takes at most {MAX_SEEDS}")
    seeds = [seed for first, last in ranges for seed in range(first, last + 1)]
    seen: set[int] = set()
    repeated: set[int] = set()
    for seed in seeds:
        (repeated if seed in seen else seen).add(seed)
    if repeated:
        listed = str(heapq.nsmallest(_SHOWN_SEEDS, repeated))  # the smallest, in one pass
        if len(repeated) > _SHOWN_SEEDS:
            listed = f"{listed[:-1]}, ...] ({len(repeated)} in all)"
        raise ValueError(f"--seeds: {shown(text)} lists seed(s) {listed} more than once")
    return seeds


def split_values(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, each part stripped.

    >>> split_values("3e-4, 1e-3")
    ['3e-4', '1e-3']
    >>> split_values("[64,64],[32]")
    ['[64,64]', '[32]']
    """
    values, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(text[start:i])
            start = i + 1
    values.append(text[start:])
    return [value.strip() for value in values]


def _strip_annotated(hint: Any) -> Any:
    while typing.get_origin(hint) is Annotated:
        hint = hint.__origin__
    return hint


def _options(hint: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``), or ``(hint,)``."""
    hint = _strip_annotated(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(_strip_annotated(option) for option in typing.get_args(hint))
    return (hint,)


def _is_sequence(hint: Any) -> bool:
    return typing.get_origin(hint) in _SEQUENCE_ORIGINS or hint in (tuple, list)


def _describe(hint: Any) -> str:
    """The type ``hint`` in words, for error messages: ``an int``, ``one of 'sync', 'async'``."""
    hint = _strip_annotated(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in args)
    if hint is type(None):
        return "None"
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if _is_sequence(hint):
        items = [arg for arg in args if arg is not Ellipsis]
        inner = ", ".join(_describe(item) for item in items) if items else "values"
        return f"a bracketed list ({inner}) such as [64,64]"
    if hint is bool:
        return "a bool (True or False)"
    if hint is int:
        return "an int"
    if hint is float:
        return "a float"
    if hint is str:
        return "a string"
    return f"a {getattr(hint, '__name__', str(hint))}"


def _tyro_args(name: str, text: str, hint: Any) -> list[str] | None:
    """The command-line arguments that give the field ``name`` the value ``text``, or None.

    A bracketed value of a sequence field becomes one argument per item (JSON strings
    unquoted); any other value is one ``--name=text`` argument (so that it may start with
    ``-``). None: a sequence field's value without brackets (other than ``None``).
    """
    sequence = any(_is_sequence(option) for option in _options(hint))
    if sequence and text.startswith("[") and text.endswith("]"):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = [item for item in split_values(text[1:-1]) if item]
        if not isinstance(items, list):
            return None
        words = [item if isinstance(item, str) else _json_word(item) for item in items]
        return [f"--{name}", *words]
    if sequence and text != "None":
        return None
    return [f"--{name}={text}"]


def _json_word(item: Any) -> str:
    """A JSON item as a command-line word: ``true`` -> ``True``, ``1.5`` -> ``1.5``."""
    if isinstance(item, bool) or item is None:
        return str(item)
    return json.dumps(item)


def parse_value(config_type: type[Any], name: str, text: str) -> Any:
    """``text`` read by tyro as a value of the field ``name`` of ``config_type``.

    Raises:
        ValueError: naming the field, the value and the type expected, if tyro cannot read it.
    """
    import tyro

    hint = typing.get_type_hints(config_type, include_extras=True)[name]
    expected = f"{config_type.__name__}.{name} is {_describe(hint)}"
    args = _tyro_args(name, text, hint)
    if args is None:
        raise ValueError(f"--set {name}: cannot read {text!r}; {expected}")
    # A dataclass of this one field: tyro reads the value and nothing else (the config's own
    # checks apply when the trials' configs are made).
    value_type = dataclasses.make_dataclass(f"{config_type.__name__}_{name}", [(name, hint)])
    # tyro prints its errors as a box; the message below says the same in one line.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            parsed: Any = tyro.cli(
                value_type,
                args=args,
                prog=f"--set {name}",
                config=(tyro.conf.FlagConversionOff,),
                console_outputs=False,
            )
        except SystemExit:
            raise ValueError(f"--set {name}: cannot read {text!r}; {expected}") from None
    return getattr(parsed, name)


def parse_set(assignments: Sequence[str], config_type: type[Any]) -> dict[str, list[Any]]:
    """The grid of ``--set FIELD=V1,V2`` options: ``{field: [values]}``, in the order given.

    The values of one option are separated by commas outside brackets (:func:`split_values`);
    each is read by tyro as its field's type, as the agent's ``--field`` flag reads it.

    Args:
        assignments: the ``FIELD=V1,V2`` texts.
        config_type: the agent's config dataclass.

    Raises:
        ValueError: for a malformed option, an unknown field (the message suggests close
            names), a field the sweep sets itself (``seed``: use ``--seeds``; ``run_dir``), a
            field set twice, an empty or repeated value, or a value tyro cannot read as the
            field's type (the message names the field, the value and the type).

    Example:
        >>> from rlcore.runs import RunConfig
        >>> parse_set(["total_timesteps=1000,2000", "vector_mode=async"], RunConfig)
        {'total_timesteps': [1000, 2000], 'vector_mode': ['async']}
    """
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
        if name in FIELDS_SET_BY_THE_SWEEP:
            example = ", e.g. --seeds 0-4" if name == "seed" else ""
            raise ValueError(
                f"--set {name}: the sweep sets each trial's {name}; "
                f"use {FIELDS_SET_BY_THE_SWEEP[name]}{example}"
            )
        if name in grid:
            raise ValueError(f"--set {name} is given twice; list its values in one option: {name}=A,B")
        texts = split_values(text)
        if "" in texts:
            raise ValueError(f"--set {name}: empty value in {text!r}")
        values = [parse_value(config_type, name, value) for value in texts]
        repeated = [value for i, value in enumerate(values) if value in values[:i]]
        if repeated:
            raise ValueError(f"--set {name}: value(s) {repeated} listed more than once in {text!r}")
        grid[name] = values
    return grid
