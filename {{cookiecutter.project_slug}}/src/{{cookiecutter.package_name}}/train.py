"""Train an agent of ``agents.AGENTS`` from the command line.

    python -m {{ cookiecutter.package_name }}.train AGENT --env-id CartPole-v1 --seed 3
    python -m {{ cookiecutter.package_name }}.train AGENT --config configs/FILE.toml --total-timesteps 50000
    python -m {{ cookiecutter.package_name }}.train --resume RUN_DIR [--total-timesteps 200000]
    python -m {{ cookiecutter.package_name }}.train AGENT --help    # every field, with its meaning

Values, lowest first: the config's defaults, the project's defaults (``agents.py``), the
agent's tuned values for ``--env-id``, the ``--config`` file, the flags. ``--resume`` starts
from the run's saved config instead of the first three.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rlcore.runs import train_main

from {{ cookiecutter.package_name }}.agents import AGENTS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Train as the command line ``argv`` (default: ``sys.argv[1:]``) says; the exit status."""
    return train_main(AGENTS, argv, prog="python -m {{ cookiecutter.package_name }}.train")


if __name__ == "__main__":
    sys.exit(main())
