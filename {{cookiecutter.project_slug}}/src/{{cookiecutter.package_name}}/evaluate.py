"""Evaluate a run's saved policy from the command line (and record it).

    python -m {{ cookiecutter.package_name }}.evaluate RUN_DIR                  # the newest checkpoint
    python -m {{ cookiecutter.package_name }}.evaluate RUN_DIR --checkpoint 50000 --episodes 20 --video
    python -m {{ cookiecutter.package_name }}.evaluate --help

Loads the weights and the observation statistics (frozen) of a finished or interrupted run,
plays deterministic episodes on the run's evaluation seeds (``--seed`` for others), prints the
mean, std and IQM of the returns and writes ``RUN_DIR/evaluate-<step>.json``; ``--video``
records episodes to ``RUN_DIR/videos/``. The agent comes from the run's ``config.json``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rlcore.runs import evaluate_main

from {{ cookiecutter.package_name }}.agents import AGENTS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate as the command line ``argv`` (default: ``sys.argv[1:]``) says; the exit status."""
    return evaluate_main(AGENTS, argv, prog="python -m {{ cookiecutter.package_name }}.evaluate")


if __name__ == "__main__":
    sys.exit(main())
