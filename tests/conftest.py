"""Configuration of the template's tests (run from the repository root: ``pytest -q tests``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: installs a generated project and runs its own gates (deselect with -m 'not slow')",
    )
