"""The train command of a project: one entry point for every registered agent.

A project's ``train.py`` is ``sys.exit(train_main(AGENTS, prog="python -m <pkg>.train"))``::

    python -m <pkg>.train ppo --env-id CartPole-v1 --seed 3
    python -m <pkg>.train ppo --config configs/ppo-cartpole.toml --learning-rate 3e-4
    python -m <pkg>.train --resume RUN_DIR [--total-timesteps 200000]
    python -m <pkg>.train ppo --help

Where a value comes from, lowest first:

1. the field's default in the agent's config dataclass;
2. the project's defaults (``Registry(..., defaults=...)``: the logger, the W&B project);
3. the agent's tuned values for the env (``env_defaults[env_id]``), where ``env_id`` is the
   flag's, else the config file's, else the config's default;
4. the config file (``--config FILE``, a TOML table of fields);
5. the flags.

With ``--resume RUN_DIR`` the run's saved ``config.json`` replaces 1-3 (the agent is the one
that made the run); a config file and flags still override it (e.g. ``--total-timesteps`` to
train for longer). The config file a run started from is copied into its directory
(``config.toml``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlcore._rundir import EVAL_FILENAME, read_record
from rlcore.checkpoint import CheckpointError
from rlcore.logging import CONFIG_FILENAME
from rlcore.runs._agents import Agent, Registry
from rlcore.runs._config import RunConfig
from rlcore.runs._config_files import read_config_file, saved_config
from rlcore.runs._envs import check_device, check_env_id
from rlcore.runs._lock import RunLockedError
from rlcore.runs._ranks import launch
from rlcore.runs._record import started_from

__all__ = ["PRECEDENCE", "build_config", "train_main"]

PRECEDENCE = (
    "Values, lowest first: the config's defaults, the project's defaults, the agent's tuned "
    "values for --env-id, the --config file (a TOML table of fields), the flags. With --resume "
    "RUN_DIR the run's saved config.json replaces the first three."
)


def _split_algo(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    if argv and not argv[0].startswith("-"):
        return argv[0], list(argv[1:])
    return None, list(argv)


def _without(args: list[str], flag: str) -> list[str]:
    """``args`` without ``flag VALUE`` and ``flag=VALUE``."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            kept.append(arg)
    return kept


def _saved_algo(run_dir: str) -> str:
    try:
        record = read_record(run_dir)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"--resume {run_dir}: no {CONFIG_FILENAME} there; is it a run directory?"
        ) from None
    except ValueError as error:
        raise ValueError(f"--resume {run_dir}: {error}") from None
    algo = record.get("algo")
    if not isinstance(algo, str):
        raise ValueError(f"--resume {run_dir}: {CONFIG_FILENAME} names no agent (its 'algo' key)")
    return algo


def _with_file(base: RunConfig, values: dict[str, Any], config_file: Path) -> RunConfig:
    try:
        return dataclasses.replace(base, **values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config file {str(config_file)!r}: {error}") from None


def build_config(
    registry: Registry, argv: Sequence[str], *, prog: str = "train"
) -> tuple[Agent[Any], RunConfig, bool, Path | None]:
    """The agent, the config, whether to resume, and the config file a command line asks for.

    ``argv`` is ``[ALGO] [--resume RUN_DIR] [--config FILE] [--field value ...]`` (see the
    module's docstring for the precedence). ``--help`` after the agent's name prints every
    field with its docstring and exits.

    Raises:
        KeyError: for an agent the registry does not have.
        FileNotFoundError: for a missing config file or run directory.
        ValueError: for a bad config file, a value that breaks a field's check, or an agent that
            does not match the resumed run or the config file.
    """
    algo, rest = _split_algo(argv)
    first = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    first.add_argument("--resume", default=None)
    first.add_argument("--config", type=Path, default=None)
    first.add_argument("--env-id", "--env_id", dest="env_id", default=None)
    known, _ = first.parse_known_args(rest)
    args = _without(_without(rest, "--resume"), "--config")
    if known.resume is not None:
        saved = _saved_algo(known.resume)
        if algo is not None and algo != saved:
            raise ValueError(f"--resume {known.resume}: the run was made by {saved!r}, not {algo!r}")
        algo = saved
    if algo is None:
        raise ValueError(f"name an agent first: {prog} AGENT ... (agents: {', '.join(registry)})")
    agent = registry[algo]
    values = read_config_file(known.config, agent.config_type) if known.config else {}
    file_algo = values.pop("algo", None)
    if file_algo is not None and file_algo != agent.name:
        raise ValueError(f"config file {str(known.config)!r} is for {file_algo!r}, not {agent.name!r}")
    if known.resume is not None:
        base = saved_config(known.resume, agent.config_type)
    else:
        file_env_id = values.get("env_id")
        env_id = (
            known.env_id
            or (file_env_id if isinstance(file_env_id, str) else None)
            or agent.config_type.env_id
        )
        base = registry.config(agent.name, env_id)
    if values:
        base = _with_file(base, values, known.config)
    config = _parse_flags(agent, base, args, prog)
    return agent, config, known.resume is not None, known.config


def _parse_flags(agent: Agent[Any], base: RunConfig, args: list[str], prog: str) -> RunConfig:
    import tyro

    tuned = ", ".join(agent.env_defaults) or "none"
    description = (
        f"Train {agent.name} ({agent.config_type.__module__}). Tuned values for: {tuned}. "
        f"{PRECEDENCE} --config FILE: a TOML file of fields. --resume RUN_DIR: continue a run "
        "from its latest checkpoint."
    )
    config: RunConfig = tyro.cli(
        agent.config_type, default=base, args=args, prog=f"{prog} {agent.name}", description=description
    )
    return config


def _usage(registry: Registry, prog: str) -> str:
    agents = "\n".join(
        f"  {name:<12}{agent.config_type.__doc__.splitlines()[0] if agent.config_type.__doc__ else ''}"
        for name, agent in registry.items()
    )
    return (
        f"usage: {prog} AGENT [--env-id ID] [--config FILE.toml] [--FIELD VALUE ...]\n"
        f"       {prog} --resume RUN_DIR [--config FILE.toml] [--FIELD VALUE ...]\n"
        f"       {prog} AGENT --help   (every field of the agent's config)\n\n"
        f"agents:\n{agents or '  (none registered: add one to the registry)'}\n\n{PRECEDENCE}\n"
    )


def train_main(registry: Registry, argv: Sequence[str] | None = None, *, prog: str = "train") -> int:
    """Train the agent the command line names; print the final evaluation and the paths.

    Returns:
        The exit status: 0 when the run finished (or ``--help`` was printed), 2 for a bad
        command line or config, 1 for a run that was refused (its directory holds a run, another
        process writes it, none of its checkpoints can be used) or whose checkpoint could not be
        written (a full disk); the message on stderr.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage(registry, prog), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    try:
        agent, config, resume, config_file = build_config(registry, args, prog=prog)
        check_env_id(config.env_id)
        check_device(config.device)
    except SystemExit as exit:  # tyro's --help (0) and its errors (2), already printed
        return exit.code if isinstance(exit.code, int) else 2
    except (KeyError, ValueError, TypeError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    try:
        with started_from(config_file):
            summary = launch(agent.train, config, resume=resume)  # on config.devices processes
    except (FileExistsError, RunLockedError, CheckpointError) as error:
        # The run was refused (nothing was changed) or a checkpoint could not be written or read.
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    print(
        f"{agent.name} on {config.env_id}, seed {config.seed}: final evaluation over "
        f"{summary['num_episodes']} episodes: {summary['mean_return']:.2f} "
        f"+/- {summary['std_return']:.2f} after {summary['step']:,} steps"
    )
    run_dir = Path(summary["run_dir"]).resolve()
    print(f"run directory:  {run_dir}")
    print(f"evaluation:     {run_dir / EVAL_FILENAME}")
    if summary.get("learning_curve"):
        print(f"learning curve: {Path(summary['learning_curve']).resolve()}")
    return 0
