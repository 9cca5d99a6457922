"""``python -m rlcore.cli``: the ``rlcore`` command, as the console script runs it."""

from rlcore.cli import main

__all__: list[str] = []

raise SystemExit(main())
