"""The error of ``rlcore check`` and ``rlcore upgrade``: a project they cannot work on (private)."""

from __future__ import annotations

__all__ = ["ProjectError"]


class ProjectError(Exception):
    """A project that ``rlcore check`` / ``rlcore upgrade`` cannot work on; the message says why."""
