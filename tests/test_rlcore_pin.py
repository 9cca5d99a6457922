"""The rlcore requirement written in the template follows rlcore's version and compatibility rule.

The requirement is a literal in the template's pyproject.toml, not a question (an answer stored
by cruft would never move on a template update), so nothing but this test ties it to rlcore's
version: bump ``rlcore.__version__`` and this test fails until the template follows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from helpers import REPO, bake
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import rlcore

TEMPLATE_PYPROJECT = REPO / "{{cookiecutter.project_slug}}" / "pyproject.toml"


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


def test_range_admits_the_version_and_excludes_the_next_breaking_release() -> None:
    version = Version(rlcore.__version__)
    spec = SpecifierSet(compatible_range(rlcore.__version__))
    assert version in spec
    breaking = f"0.{version.minor + 1}.0" if version.major == 0 else f"{version.major + 1}.0.0"
    assert Version(breaking) not in spec


def test_template_literals_follow_rlcore_version() -> None:
    text = TEMPLATE_PYPROJECT.read_text(encoding="utf-8")
    index = re.findall(r'"rlcore\{\{ rlcore_extra \}\}([^"@]+)",', text)
    git = re.findall(
        r'"rlcore\{\{ rlcore_extra \}\} @ git\+\{\{ cookiecutter\.rlcore_git_url \}\}@v([^#"]+)#', text
    )
    assert index == [compatible_range(rlcore.__version__)]
    assert git == [rlcore.__version__]


@pytest.mark.parametrize(
    ("logger", "agent"), [("csv", "none"), ("wandb", "none"), ("csv", "ppo"), ("wandb", "dqn")]
)
def test_baked_requirements(tmp_path: Path, logger: str, agent: str) -> None:
    options = {"logger": logger, "example_agent": agent, "init_git": False}
    index_project = bake(REPO, tmp_path / "index", **options)
    url = "https://example.org/lab/monorepo.git"
    git_project = bake(REPO, tmp_path / "git", **options, rlcore_source="git", rlcore_git_url=url)
    # The logger's extra, and matplotlib (the plot extra) for an example agent's learning curves.
    wanted = ([] if logger == "csv" else [logger]) + ([] if agent == "none" else ["plot"])
    extras = f"[{','.join(wanted)}]" if wanted else ""

    index_req = rlcore_requirement(index_project)
    assert index_req.specifier == SpecifierSet(compatible_range(rlcore.__version__))
    assert index_req.url is None
    git_req = rlcore_requirement(git_project)
    expected = Requirement(git_requirement(url, rlcore.__version__).replace("rlcore", f"rlcore{extras}", 1))
    assert (git_req.url, git_req.extras) == (expected.url, expected.extras)
    assert index_req.extras == git_req.extras == set(wanted)


def rlcore_requirement(project: Path) -> Requirement:
    dependencies = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    (requirement,) = [Requirement(d) for d in dependencies if Requirement(d).name == "rlcore"]
    return requirement
