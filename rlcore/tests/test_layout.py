"""rlcore's own house: modules of one concept (about 400 lines at most), private modules used only
inside their package, and imports that only run down the layers of ``../shared/ARCHITECTURE.md``.

Read from the source with ``ast`` (imports inside functions included), so a lazy import that
runs up is caught as well as a module-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rlcore"

# The most lines a module may have, and the modules allowed a little more, with the reason.
MAX_LINES = 400
LONGER: dict[str, str] = {
    "rlcore.wrappers.vector.normalize": "the two vector normalisers, twins of rlcore.wrappers.normalize; "
    "half of it is their docstrings (what enters the statistics in each autoreset mode)",
}
HARD_MAX_LINES = 430

# Layers from the ground up: a module may import its own component and lower layers only.
# A component is the first name under ``rlcore`` (``rlcore.wrappers.vector.meta`` -> ``wrappers``).
LAYERS: dict[str, int] = {
    # the ground floor: no rlcore imports
    "_version": 0,
    "_numeric": 0,
    "deprecation": 0,
    # pure helpers, and components that stand alone
    "_overflow": 1,
    "_returns_core": 1,
    "_autoreset": 1,
    "nn": 1,
    "seeding": 1,
    "schedules": 1,
    "_checkpoint_format": 0,
    "_video": 0,
    "checkpoint": 1,
    "envs": 1,
    "logging": 1,
    "_moments": 2,
    "returns": 2,
    # statistics, and what uses the ground floor's trackers and returns
    "stats": 3,
    "buffers": 3,
    "evaluation": 3,
    "_rundir": 3,
    "wrappers": 4,
    # reading and making runs, then what drives them
    "analysis": 5,
    "distributed": 5,
    "runs": 6,
    "_tiny_agent": 7,
    "sweep": 7,
    "testing": 8,
    "cli": 9,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every rlcore module or name that module ``name`` imports."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, target) for line, target in found if target == "rlcore" or target.startswith("rlcore.")]


def _component(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_component_has_a_layer():
    components = {_component(name) for name in MODULES} - {""}
    assert components <= set(LAYERS), f"give these a layer in LAYERS: {sorted(components - set(LAYERS))}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_hold_one_concept_in_about_400_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    limit = HARD_MAX_LINES if name in LONGER else MAX_LINES
    assert lines <= limit, f"{name} has {lines} lines (at most {limit}): split it along the lines it draws"


def test_the_longer_modules_are_still_longer():
    for name in LONGER:
        lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
        assert lines > MAX_LINES, f"{name} has {lines} lines now: take it out of LONGER"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_private_modules_and_names_are_imported_only_inside_their_package(name):
    wrong = []
    for line, target in _imports(name):
        parts = target.split(".")
        private = next(
            (i for i, part in enumerate(parts) if part.startswith("_") and not part.startswith("__")), None
        )
        if private is None:
            continue
        owner = ".".join(parts[:private])  # the package (or module) the private name belongs to
        if not (name == owner or name.startswith(owner + ".")):
            wrong.append(f"line {line}: {target} is private to {owner}")
    assert not wrong, f"{name} imports another package's private names:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"rlcore"}))
def test_imports_only_run_down(name):
    own = _component(name)
    wrong = []
    for line, target in _imports(name):
        other = _component(target)
        if target == "rlcore" or other == "__version__":
            wrong.append(f"line {line}: imports the rlcore package itself ({target}); import rlcore._version")
        elif other != own and other in LAYERS and LAYERS[other] >= LAYERS[own]:
            wrong.append(
                f"line {line}: {target} (layer {LAYERS[other]}) is not below {own} (layer {LAYERS[own]})"
            )
    assert not wrong, f"{name} imports up:\n" + "\n".join(wrong)
