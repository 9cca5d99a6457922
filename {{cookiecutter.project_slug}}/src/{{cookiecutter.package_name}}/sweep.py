"""Sweep seeds and hyperparameters of an agent of ``agents.AGENTS`` on Ray (the ``sweep`` extra).

    python -m {{ cookiecutter.package_name }}.sweep AGENT --name lr --seeds 0-4 --set learning_rate=3e-4,1e-3
    python -m {{ cookiecutter.package_name }}.sweep AGENT --address auto --name lr ...   # a running Ray cluster
    python -m {{ cookiecutter.package_name }}.sweep --help

Every option that is not the sweep's own is the agent's, read as ``train`` reads it, and
applies to every trial.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rlcore.sweep import sweep_main

from {{ cookiecutter.package_name }}.agents import AGENTS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep the command line ``argv`` (default: ``sys.argv[1:]``) asks for."""
    return sweep_main(AGENTS, argv, prog="python -m {{ cookiecutter.package_name }}.sweep")


if __name__ == "__main__":
    sys.exit(main())
