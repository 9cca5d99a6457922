"""Vector-environment twins of :mod:`rlcore.wrappers`, for ``gymnasium.vector.VectorEnv``."""

from __future__ import annotations

__all__: list[str] = []
