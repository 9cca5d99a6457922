"""The ``rlcore`` command: ``rlcore plot``, ``rlcore summarize``, ``rlcore check``, ``rlcore upgrade``.

Each subcommand lives in its own module with two functions, ``add_arguments(parser)`` and
``run(args) -> int``; the module is imported only when its subcommand runs, so ``rlcore --help``
stays fast and optional dependencies (matplotlib) are loaded only by the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "plot": ("rlcore.cli.plot", "plot learning curves from run directories as a PNG"),
    "summarize": ("rlcore.cli.summarize", "aggregate final returns across seeds (mean, CI, IQM)"),
    "check": ("rlcore.cli.check", "report projects' rlcore requirement, changelog and deprecated uses"),
    "upgrade": ("rlcore.cli.upgrade", "upgrade projects' rlcore requirement, verified by their tests"),
}


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, help_text)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlcore`` console script; returns the exit status."""
    from rlcore._version import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    available = _available()
    parser = argparse.ArgumentParser(prog="rlcore", description="rlcore command-line tools.")
    parser.add_argument("--version", action="version", version=f"rlcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in available.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in available:
        args = parser.parse_args(argv)  # prints help / version / the error for an unknown command
        parser.print_help()
        return 2
    module = importlib.import_module(available[argv[0]][0])
    cmd_parser = argparse.ArgumentParser(prog=f"rlcore {argv[0]}", description=available[argv[0]][1])
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(module.run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
