"""The rlcore requirement of a generated project follows rlcore's version and compatibility rule.

The requirement is rendered from stored answers alone (``rlcore_source``, ``rlcore_version``
and the recorded ``_template``), so that a template update, which renders the old and the new
template with the same answers, never moves it (``rlcore upgrade`` does, after the tests pass).
New projects start on the default ``rlcore_version`` of cookiecutter.json, which this test ties
to ``rlcore.__version__``: bump the version and this test fails until the template follows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
from helpers import REPO, bake, load_module, release_repo
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import rlcore

pre_gen = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project")


def compatible_range(version: str) -> str:
    """The range of rlcore releases that keep every public name of ``version``.

    rlcore removes deprecated names in minor releases while it is 0.x, and in major releases
    from 1.0: ``0.Y.Z -> >=0.Y.Z,<0.(Y+1)`` and ``X.Y.Z -> >=X.Y,<X+1`` (X >= 1).
    """
    major, minor, patch = (*Version(version).release, 0, 0)[:3]
    if major == 0:
        return f">=0.{minor}.{patch},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def git_requirement(url: str, version: str) -> str:
    """The requirement of rlcore from a git repository holding it in ``rlcore/``, at its release tag."""
    return f"rlcore @ git+{url}@v{version}#subdirectory=rlcore"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", ">=0.1.0,<0.2"),
        ("0.1.7", ">=0.1.7,<0.2"),
        ("0.12.3", ">=0.12.3,<0.13"),
        ("1.0.0", ">=1.0,<2"),
        ("1.4.2", ">=1.4,<2"),
        ("2.3", ">=2.3,<3"),
    ],
)
def test_compatible_range_rule(version: str, expected: str) -> None:
    assert compatible_range(version) == expected
    if version.count(".") == 2:
        assert pre_gen.compatible_range(version) == expected


def test_range_admits_the_version_and_excludes_the_next_breaking_release() -> None:
    version = Version(rlcore.__version__)
    spec = SpecifierSet(compatible_range(rlcore.__version__))
    assert version in spec
    breaking = f"0.{version.minor + 1}.0" if version.major == 0 else f"{version.major + 1}.0.0"
    assert Version(breaking) not in spec


def test_new_projects_start_on_this_rlcore() -> None:
    defaults = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    assert defaults["rlcore_version"] == rlcore.__version__


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return release_repo(tmp_path_factory.mktemp("release") / "template")


@pytest.mark.parametrize(
    ("logger", "agent"), [("csv", "none"), ("wandb", "none"), ("csv", "ppo"), ("wandb", "dqn")]
)
def test_baked_requirements(tmp_path: Path, released: Path, logger: str, agent: str) -> None:
    options = {"logger": logger, "example_agent": agent, "init_git": False}
    index_project = bake(released, tmp_path / "index", **options, rlcore_source="index")
    git_project = bake(released, tmp_path / "git", **options, rlcore_source="git")
    # The logger's extra, and matplotlib (the plot extra) for an example agent's learning curves.
    wanted = ([] if logger == "csv" else [logger]) + ([] if agent == "none" else ["plot"])

    index_req = rlcore_requirement(index_project)
    assert index_req.specifier == SpecifierSet(compatible_range(rlcore.__version__))
    assert index_req.url is None
    git_req = rlcore_requirement(git_project)
    assert (
        git_req.url
        == "git+" + git_requirement(released.resolve().as_uri(), rlcore.__version__).partition(" @ git+")[2]
    )
    assert index_req.extras == git_req.extras == set(wanted)


@pytest.mark.parametrize("source", ["index", "git"])
def test_the_requirement_is_the_stored_answers(tmp_path: Path, released: Path, source: str) -> None:
    # What cruft update renders for a project made on an older release: its own version.
    project = bake(released, tmp_path, rlcore_source=source, rlcore_version="0.1.5", init_git=False)
    requirement = rlcore_requirement(project)
    if source == "index":
        assert requirement.specifier == SpecifierSet(">=0.1.5,<0.2")
    else:
        assert requirement.url is not None and "@v0.1.5#subdirectory=rlcore" in requirement.url


def rlcore_requirement(project: Path) -> Requirement:
    dependencies = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    (requirement,) = [Requirement(d) for d in dependencies if Requirement(d).name == "rlcore"]
    return requirement
