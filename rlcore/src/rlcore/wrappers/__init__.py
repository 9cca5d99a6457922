"""Single-environment wrappers for Gymnasium 1.x (vector twins live in :mod:`rlcore.wrappers.vector`)."""

from __future__ import annotations

__all__: list[str] = []
