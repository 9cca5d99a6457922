"""What ``config.json`` records about a run: its config and how it was made.

Besides the config's fields (but ``run_dir``), :func:`config_record` writes the algorithm, the
versions of rlcore, torch, gymnasium and Python, the project's git commit (:func:`git_commit`),
which fields are run settings, how every seed derives from ``seed`` (:data:`SEEDING`) and the
config file the config was read from (told by the entry point with :func:`started_from`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from rlcore._version import __version__
from rlcore.runs._config import RunConfig
from rlcore.runs._fields import run_settings

__all__ = ["CONFIG_FILE", "SEEDING", "config_record", "git_commit", "started_from"]

#: How every seed of a run derives from the config's ``seed`` (written to ``config.json``).
SEEDING = (
    "rlcore.seeding.seed_everything(seed) for Python, NumPy and torch (network initialisation, "
    "action sampling); training envs reset with rlcore.seeding.env_seeds(seed, num_envs, 'train'), "
    "and after the checkpoint at step s with env_seeds(episode_seed(seed, s), num_envs, 'train'); "
    "evaluations with env_seeds(seed, num_eval_envs, 'eval'); the buffer's sampling generator "
    "with seed"
)

#: The config file the entry point read the config from; :class:`rlcore.runs.Run` copies it.
CONFIG_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("rlcore_config_file", default=None)


@contextlib.contextmanager
def started_from(config_file: Path | None) -> Iterator[None]:
    """Tell the :class:`rlcore.runs.Run` created inside which config file the config came from."""
    token = CONFIG_FILE.set(config_file)
    try:
        yield
    finally:
        CONFIG_FILE.reset(token)


def git_commit(path: str | Path) -> str | None:
    """The commit checked out in the git repository holding ``path``, or None.

    A ``+dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(path)
    where = where if where.is_dir() else where.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # git is not installed
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def _source_of(config: Any) -> Path:
    """The file that defines the config's class: its git repository is the project's."""
    module = sys.modules.get(type(config).__module__)
    source = getattr(module, "__file__", None)
    return Path(source).resolve() if source else Path.cwd()


def config_record(config: RunConfig, algo: str, config_file: str | Path | None = None) -> dict[str, Any]:
    """What ``config.json`` holds: every field but ``run_dir``, and how the run was made.

    ``run_dir`` is left out because it differs between the seeds of one setting; the fields
    listed under ``run_settings`` (and the versions, the commit) are ignored when ``rlcore
    summarize`` and the sweeps group runs into configurations.
    """
    record = {k: v for k, v in dataclasses.asdict(config).items() if k != "run_dir"}
    record.update(
        algo=algo,
        run_settings=[name for name in run_settings(type(config)) if name != "run_dir"],
        rlcore_version=__version__,
        torch_version=torch.__version__,
        gymnasium_version=gym.__version__,
        python_version=platform.python_version(),
        git_commit=git_commit(_source_of(config)),
        seeding=SEEDING,
        config_file=None if config_file is None else str(config_file),
    )
    return record
