"""The public surface: every exported name is documented, and `import rlcore` stays light."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import textwrap

import pytest

import rlcore

PUBLIC_MODULES = [
    "rlcore",
    "rlcore.stats",
    "rlcore.deprecation",
    "rlcore.testing",
    "rlcore.wrappers",
    "rlcore.wrappers.vector",
    "rlcore.envs",
    "rlcore.nn",
    "rlcore.returns",
    "rlcore.buffers",
    "rlcore.seeding",
    "rlcore.checkpoint",
    "rlcore.schedules",
    "rlcore.evaluation",
    "rlcore.logging",
    "rlcore.analysis",
    "rlcore.runs",
    "rlcore.sweep",
]
OPTIONAL = [
    "tensorboard",
    "wandb",
    "matplotlib",
    "ray",
    "tqdm",
    "rich",
    "moviepy",
    "imageio_ffmpeg",
    "PIL",
    "pandas",
]


def _modules():
    for name in PUBLIC_MODULES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as error:  # a module not written yet is not part of the surface
            if error.name != name:
                raise


@pytest.mark.parametrize("module", list(_modules()), ids=lambda m: m.__name__)
def test_every_public_name_has_a_docstring(module):
    assert module.__doc__, f"{module.__name__} has no module docstring"
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__"
    missing = []
    for name in names:
        assert hasattr(module, name), f"{module.__name__}.__all__ lists {name!r}, which does not exist"
        obj = getattr(module, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)) and not (
            inspect.getdoc(obj) or ""
        ).strip():
            missing.append(name)
    assert not missing, f"{module.__name__}: names without a docstring: {missing}"


def test_version_is_single_sourced():
    from importlib.metadata import version

    assert rlcore.__version__ == version("rlcore")


def _fresh_python(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_pulls_in_no_optional_dependency():
    result = _fresh_python(
        f"""
        import json, sys
        import gymnasium, numpy, torch
        # What rlcore's own dependencies import (torch.hub imports tqdm where it is installed).
        theirs = set(sys.modules)
        import rlcore, rlcore.wrappers, rlcore.wrappers.vector
        for name in {PUBLIC_MODULES!r}:
            try:
                __import__(name)
            except ModuleNotFoundError:
                pass
        print(json.dumps(sorted(m for m in {OPTIONAL!r} if m in sys.modules and m not in theirs)))
        """
    )
    assert result == [], f"importing rlcore loaded optional dependencies: {result}"
