"""Helpers of the tests of ``rlcore.runs``: tiny configs, run logs, state comparison, references.

The references here are written from the documented behaviour, not from ``rlcore.runs``'s
code: :func:`due_steps` (when evaluations and checkpoints fall) and
:func:`attribute_docstrings` (what ``--help`` must show) are computed independently of the
schedulers and the parser they check.
"""

from __future__ import annotations

import ast
import csv
import inspect
import itertools
import math
import textwrap
from pathlib import Path
from typing import Any

import torch

from rlcore.runs import TRAIN_CPU_SECONDS_KEY, TRAIN_SECONDS_KEY, Agent
from rlcore.testing import tiny_agent

__all__ = [
    "AGENT",
    "ENV_ID",
    "assert_same_state",
    "attribute_docstrings",
    "due_steps",
    "read_log",
    "tiny_config",
    "untimed_rows",
    "update_steps",
    "write_text",
]

ENV_ID = "CartPole-v1"
AGENT: Agent = tiny_agent()


def tiny_config(run_dir: Path | None, **changes: Any) -> Any:
    """The tiny agent's config for CartPole-v1 in ``run_dir`` (512 steps, progress off)."""
    env_id = changes.pop("env_id", ENV_ID)
    return AGENT.config_for_env(env_id, run_dir=None if run_dir is None else str(run_dir), **changes)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def read_log(run_dir: Path) -> list[dict[str, str]]:
    """The rows of ``run_dir/progress.csv`` as dicts of strings."""
    with (run_dir / "progress.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def untimed_rows(run_dir: Path) -> list[dict[str, str]]:
    """The run log without its clock columns, which differ from run to run."""
    clock = {"time", TRAIN_SECONDS_KEY, TRAIN_CPU_SECONDS_KEY}
    return [{k: v for k, v in row.items() if k not in clock} for row in read_log(run_dir)]


def assert_same_state(actual: Any, expected: Any, where: str = "checkpoint") -> None:
    """Equal nested state dicts: tensors element for element (and dtype), everything else by ==."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), where
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_state(a, e, f"{where}[{i}]")
    elif isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), where
        assert actual.dtype == expected.dtype, where
        assert torch.equal(actual, expected), where
    else:
        assert actual == expected, where


def update_steps(total_timesteps: int, per_update: int) -> list[int]:
    """The step counts after each update of an on-policy loop that runs until ``total_timesteps``."""
    updates = math.ceil(total_timesteps / per_update)
    return [per_update * (i + 1) for i in range(updates)]


def due_steps(total_timesteps: int, per_update: int, every: int) -> list[int]:
    """The update steps at which a periodic evaluation or checkpoint falls (the end excluded).

    For each multiple ``m`` of ``every``, the first update step at or past ``m``, if it comes
    before the end of training; each step once.
    """
    if every == 0:
        return []
    steps = update_steps(total_timesteps, per_update)
    due = set()
    for multiple in range(every, steps[-1] + 1, every):
        first = next((s for s in steps if s >= multiple), None)
        if first is not None and first < total_timesteps:
            due.add(first)
    return sorted(due)


def attribute_docstrings(config_type: type) -> dict[str, str]:
    """Each field's docstring (the string literal under it) read from the classes' source with ast.

    Fields of subclasses override those of their bases, as the dataclass's fields do.
    """
    found: dict[str, str] = {}
    for cls in reversed(config_type.__mro__):
        if cls is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.ClassDef)
        statements = body.body
        for node, after in itertools.pairwise(statements):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                found[node.target.id] = inspect.cleandoc(after.value.value)
    return found
