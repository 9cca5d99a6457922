"""Command-line arguments that ``rlcore check`` and ``rlcore upgrade`` share (private)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_projects_argument"]


def add_projects_argument(parser: argparse.ArgumentParser) -> None:
    """The ``PROJECT ...`` positional argument that ``rlcore check`` and ``rlcore upgrade`` share."""
    parser.add_argument(
        "projects",
        nargs="*",
        type=Path,
        default=[Path(".")],
        metavar="PROJECT",
        help="project root directories (default: the current directory)",
    )
