"""Train the example agent ({{ cookiecutter.example_agent | upper }}) from the command line.

    python -m {{ cookiecutter.package_name }}.train --env-id CartPole-v1 --seed 3
    python -m {{ cookiecutter.package_name }}.train --help
    python -m {{ cookiecutter.package_name }}.train --resume RUN_DIR [--total-timesteps 200000]

The defaults are the agent's tuned values for the chosen ``--env-id`` (its ``ENV_DEFAULTS``
table, over the config's generic defaults); every other flag overrides them. ``--resume RUN_DIR``
continues a run from its latest checkpoint with the configuration saved in its ``config.json``
(flags still override it, e.g. ``--total-timesteps`` to train for longer).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tyro
from rlcore.logging import CONFIG_FILENAME

from {{ cookiecutter.package_name }} import {{ cookiecutter.example_agent }} as agent
from {{ cookiecutter.package_name }}.runs import EVAL_FILENAME

__all__ = ["main", "parse_args", "saved_config"]

Config = agent.{{ cookiecutter.example_agent | upper }}Config
ALGO = "{{ cookiecutter.example_agent }}"


def saved_config(run_dir: str | Path) -> Any:
    """The config a run was started with, read from its ``config.json``, with ``run_dir`` set.

    Raises:
        FileNotFoundError: if ``run_dir`` has no ``config.json``.
        ValueError: if the run was made by another agent.
    """
    path = Path(run_dir) / CONFIG_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"--resume {run_dir}: no {CONFIG_FILENAME} there; is it a run directory?"
        )
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("algo") != ALGO:
        raise ValueError(
            f"--resume {run_dir}: the run was made by {record.get('algo')!r}, not {ALGO!r}"
        )
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        if field.name in record:
            value = record[field.name]
            # JSON has no tuples; the config's tuple fields come back as lists.
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return Config(**{**values, "run_dir": str(run_dir)})


def parse_args(argv: Sequence[str] | None = None) -> tuple[Any, bool]:
    """The config the command line asks for, and whether it resumes a run."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --env-id picks the defaults that the other flags then override, so it is read first.
    first = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    first.add_argument("--env-id", default=Config.env_id)
    first.add_argument("--resume", default=None)
    known, _ = first.parse_known_args(args)
    if known.resume is not None:
        default = saved_config(known.resume)
        position = args.index("--resume") if "--resume" in args else None
        args = [
            a for i, a in enumerate(args) if position is None or i not in (position, position + 1)
        ]
        args = [a for a in args if not a.startswith("--resume=")]
    else:
        default = agent.config_for_env(known.env_id)
    description = (
        f"Train {ALGO.upper()} ({agent.__name__}). Defaults: the tuned values for --env-id "
        f"({', '.join(agent.ENV_DEFAULTS)}), else the generic ones. --resume RUN_DIR continues a "
        "run from its latest checkpoint with its saved config (other flags override it)."
    )
    config = tyro.cli(
        Config,
        default=default,
        args=args,
        prog="python -m {{ cookiecutter.package_name }}.train",
        description=description,
    )
    return config, known.resume is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, train, print the final evaluation and where the outputs are."""
    config, resume = parse_args(argv)
    summary = agent.train(config, resume=resume)
    print(
        f"{ALGO.upper()} on {config.env_id}, seed {config.seed}: final evaluation over "
        f"{summary['num_episodes']} episodes: {summary['mean_return']:.2f} "
        f"+/- {summary['std_return']:.2f} "
        f"after {summary['step']:,} steps"
    )
    run_dir = Path(summary["run_dir"]).resolve()
    print(f"run directory:  {run_dir}")
    print(f"evaluation:     {run_dir / EVAL_FILENAME}")
    print(f"learning curve: {Path(summary['learning_curve']).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
