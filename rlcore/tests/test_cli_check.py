"""``rlcore check`` and its helpers: requirement, CHANGELOG, static scan of deprecated/removed names."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _cli_kit import make_project, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import rlcore
import rlcore.stats
from rlcore.cli import main
from rlcore.cli._changelog import ChangelogSection, find_changelog, parse_changelog, sections_between
from rlcore.cli._deprecated_scan import scan_project
from rlcore.cli._errors import ProjectError
from rlcore.cli._installed import installed_rlcore
from rlcore.cli._journal import JOURNAL_NAME, Journal
from rlcore.cli._requirement import RlcoreRequirement, compatible_range, read_requirement, rewrite_pyproject
from rlcore.deprecation import DEPRECATIONS, deprecated, deprecated_alias, deprecated_argument

RLCORE_ROOT = Path(__file__).resolve().parents[1]


def _requirement(text: str) -> RlcoreRequirement:
    return RlcoreRequirement(text, Requirement(text))


# --------------------------------------------------------------------------- requirement


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 3), st.integers(0, 30), st.integers(0, 30))
def test_compatible_range_follows_the_policy(major: int, minor: int, micro: int) -> None:
    version = Version(f"{major}.{minor}.{micro}")
    expected = f">=0.{minor}.{micro},<0.{minor + 1}" if major == 0 else f">={major}.{minor},<{major + 1}"
    assert compatible_range(version) == expected
    spec = SpecifierSet(expected)
    # Later patches (and, from 1.0, later minors) stay inside; the next breaking release does not.
    assert version in spec and Version(f"{major}.{minor}.{micro + 1}") in spec
    breaking = Version(f"0.{minor + 1}.0") if major == 0 else Version(f"{major + 1}.0.0")
    assert breaking not in spec
    if major > 0:
        assert Version(f"{major}.{minor + 1}.0") in spec


@pytest.mark.parametrize(
    ("text", "kind", "version", "ref"),
    [
        ("rlcore>=0.1.0,<0.2", "range", "0.1.0", None),
        ("rlcore[wandb]>=0.1.3,<0.2; python_version >= '3.10'", "range", "0.1.3", None),
        ("rlcore==0.1.2", "range", "0.1.2", None),
        ("rlcore~=1.2", "range", "1.2", None),
        ("rlcore<0.2", "range", None, None),
        (
            "rlcore @ git+https://example.org/lab/mono.git@v0.1.0#subdirectory=rlcore",
            "git",
            "0.1.0",
            "v0.1.0",
        ),
        (
            "rlcore @ git+ssh://git@example.org/lab/mono.git@v1.2.3#subdirectory=rlcore",
            "git",
            "1.2.3",
            "v1.2.3",
        ),
        ("rlcore @ git+ssh://git@example.org/lab/mono.git#subdirectory=rlcore", "git", None, None),
        ("rlcore @ git+https://example.org/lab/mono.git@main#subdirectory=rlcore", "git", None, "main"),
        ("rlcore @ file:///opt/rlcore", "url", None, None),
    ],
)
def test_requirement_kind_version_and_ref(text: str, kind: str, version: str | None, ref: str | None) -> None:
    requirement = _requirement(text)
    assert requirement.kind == kind
    assert requirement.version == (None if version is None else Version(version))
    assert requirement.git_ref == ref


@pytest.mark.parametrize(
    ("text", "installed", "expected"),
    [
        ("rlcore>=0.1.0,<0.2", "0.1.0", True),
        ("rlcore>=0.1.0,<0.2", "0.1.9", True),
        ("rlcore>=0.1.0,<0.2", "0.2.0", False),
        ("rlcore>=0.2.0rc1,<0.3", "0.2.0rc1", True),
        ("rlcore @ git+https://x.org/m.git@v0.1.0#subdirectory=rlcore", "0.1.0", True),
        ("rlcore @ git+https://x.org/m.git@v0.1.0#subdirectory=rlcore", "0.2.0", False),
        ("rlcore @ git+https://x.org/m.git@main#subdirectory=rlcore", "0.2.0", None),
    ],
)
def test_satisfied_by(text: str, installed: str, expected: bool | None) -> None:
    assert _requirement(text).satisfied_by(Version(installed)) is expected


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("rlcore>=0.1.0,<0.2", "0.2.0", "rlcore>=0.2.0,<0.3"),
        ("RLCore[wandb,plot]>=0.1.0,<0.2", "0.2.1", "RLCore[plot,wandb]>=0.2.1,<0.3"),
        ('rlcore>=0.1,<0.2; python_version >= "3.10"', "1.3.0", 'rlcore>=1.3,<2; python_version >= "3.10"'),
        (
            "rlcore[wandb] @ git+ssh://git@x.org/lab/m.git@v0.1.0#subdirectory=rlcore",
            "0.2.0",
            "rlcore[wandb] @ git+ssh://git@x.org/lab/m.git@v0.2.0#subdirectory=rlcore",
        ),
        (
            "rlcore @ git+https://x.org/lab/m.git#subdirectory=rlcore",
            "0.2.0",
            "rlcore @ git+https://x.org/lab/m.git@v0.2.0#subdirectory=rlcore",
        ),
    ],
)
def test_retarget(text: str, target: str, expected: str) -> None:
    new = _requirement(text).retarget(Version(target))
    assert new == expected
    assert Requirement(new).name == Requirement(text).name


def test_retarget_refuses_a_plain_url() -> None:
    with pytest.raises(
        ProjectError, match=r"'rlcore @ file:///opt/rlcore' is a direct URL.*expected a version range"
    ):
        _requirement("rlcore @ file:///opt/rlcore").retarget(Version("0.2.0"))


def test_read_requirement(tmp_path: Path) -> None:
    project = make_project(tmp_path, requirement="rlcore[plot]>=0.1.0,<0.2")
    requirement = read_requirement(project)
    assert requirement.text == "rlcore[plot]>=0.1.0,<0.2"
    assert requirement.requirement.extras == {"plot"}


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (None, r"no pyproject.toml; expected a generated project's root directory"),
        ("[project\n", r"pyproject.toml: not valid TOML"),
        (
            '[project]\ndependencies = ["numpy"]\n',
            r"no rlcore requirement in \[project\] dependencies \['numpy'\]",
        ),
        ('[project]\ndependencies = "rlcore"\n', r"\[project\] dependencies is 'rlcore'; expected a list"),
        (
            '[project]\ndependencies = ["rlcore>=0.1", "rlcore<0.2"]\n',
            r"2 rlcore requirements .*; expected one",
        ),
        ('[project]\ndependencies = ["rlcore>=>0.1"]\n', r"invalid rlcore requirement 'rlcore>=>0.1'"),
    ],
)
def test_read_requirement_errors(tmp_path: Path, pyproject: str | None, message: str) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    with pytest.raises(ProjectError, match=message):
        read_requirement(tmp_path)


_PYPROJECT = """\
# a comment mentioning rlcore>=0.1.0,<0.2 without quotes stays
[project]
name = "demo"
dependencies = [
    "numpy>=1.24",  # trailing comment
    {quote}rlcore>=0.1.0,<0.2{quote},
]
[project.optional-dependencies]
lock = ["rlcore>=0.1.0,<0.2", "torch"]
"""


@pytest.mark.parametrize("quote", ['"', "'"])
def test_rewrite_pyproject_changes_only_the_string(tmp_path: Path, quote: str) -> None:
    path = tmp_path / "pyproject.toml"
    before = _PYPROJECT.format(quote=quote).encode()
    after = rewrite_pyproject(path, before, "rlcore>=0.1.0,<0.2", "rlcore>=0.2.0,<0.3")
    expected = before.replace(b'"rlcore>=0.1.0,<0.2"', b'"rlcore>=0.2.0,<0.3"').replace(
        b"'rlcore>=0.1.0,<0.2'", b"'rlcore>=0.2.0,<0.3'"
    )
    assert after == expected
    assert b"# a comment mentioning rlcore>=0.1.0,<0.2 without" in after


@settings(max_examples=50, deadline=None)
@given(
    comment=st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=30),
    indent=st.sampled_from(["", " ", "    ", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_rewrite_pyproject_keeps_every_other_byte(comment: str, indent: str, newline: str) -> None:
    lines = [
        "[project]",
        f"# {comment}",
        "dependencies = [",
        f'{indent}"rlcore>=0.1.0,<0.2", # {comment}',
        "]",
        "",
    ]
    before = newline.join(lines).encode("utf-8")
    after = rewrite_pyproject(Path("pyproject.toml"), before, "rlcore>=0.1.0,<0.2", "rlcore>=0.2.0,<0.3")
    start = before.index(b'"rlcore')
    assert after[:start] == before[:start]
    assert after[start:].replace(b'"rlcore>=0.2.0,<0.3"', b'"rlcore>=0.1.0,<0.2"', 1) == before[start:]


def test_rewrite_pyproject_errors(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    escaped = b'[project]\ndependencies = ["rlcore\\u003e=0.1.0,<0.2"]\n'
    with pytest.raises(
        ProjectError, match=r"the requirement 'rlcore>=0.1.0,<0.2' is not written as a plain quoted"
    ):
        rewrite_pyproject(path, escaped, "rlcore>=0.1.0,<0.2", "rlcore>=0.2.0,<0.3")
    plain = b'[project]\ndependencies = ["rlcore>=0.1.0,<0.2"]\n'
    with pytest.raises(ProjectError, match=r"new requirement 'rlcore\\n' contains a control character"):
        rewrite_pyproject(path, plain, "rlcore>=0.1.0,<0.2", "rlcore\n")
    # The same text as a key would be rewritten too: the re-parse catches it.
    as_key = b'[project]\ndependencies = ["rlcore>=0.1.0,<0.2"]\n[x]\n"rlcore>=0.1.0,<0.2" = 1\n'
    with pytest.raises(ProjectError, match=r"would change more than that string; left unchanged"):
        rewrite_pyproject(path, as_key, "rlcore>=0.1.0,<0.2", "rlcore>=0.2.0,<0.3")


# --------------------------------------------------------------------------- changelog

_CHANGELOG = """\
# Changelog

Intro text with a - dash.

## [Unreleased]

### Added
- Something not released.

## [0.3.0] - 2025-03-01

### Removed
- `rlcore.stats.old_mean`: deprecated since 0.2.0;
  use `rlcore.stats.RunningMeanStd`.
* `rlcore.returns.gae(lam_)`: use `lam`.

## [0.2.0] - 2025-02-01

### Deprecated
- `rlcore.stats.old_mean`.

### Fixed
- A bug.

## [0.1.0]

### Added
- The first release.

[0.2.0]: https://example.org/compare/v0.1.0...v0.2.0
- not an entry (after a link definition)
"""


def test_parse_changelog() -> None:
    assert parse_changelog(_CHANGELOG) == [
        ChangelogSection("Unreleased", None, {"Added": ["Something not released."]}),
        ChangelogSection(
            "0.3.0",
            "2025-03-01",
            {
                "Removed": [
                    "`rlcore.stats.old_mean`: deprecated since 0.2.0; use `rlcore.stats.RunningMeanStd`.",
                    "`rlcore.returns.gae(lam_)`: use `lam`.",
                ]
            },
        ),
        ChangelogSection(
            "0.2.0", "2025-02-01", {"Deprecated": ["`rlcore.stats.old_mean`."], "Fixed": ["A bug."]}
        ),
        ChangelogSection("0.1.0", None, {"Added": ["The first release."]}),
    ]


def test_parse_the_real_changelog() -> None:
    text = (RLCORE_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = parse_changelog(text)
    headings = [line[3:].split("]")[0].lstrip("[") for line in text.splitlines() if line.startswith("## [")]
    assert [section.version for section in sections] == headings
    # A naive count: every top-level bullet of the file is exactly one entry of some section.
    bullets = sum(1 for line in text.splitlines() if line.startswith(("- ", "* ")))
    assert sum(len(entries) for section in sections for entries in section.changes.values()) == bullets


@settings(max_examples=50, deadline=None)
@given(
    versions=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 3)), unique=True, max_size=8
    ),
    low=st.none() | st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 3)),
    high=st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 3)),
)
def test_sections_between(
    versions: list[tuple[int, int, int]], low: tuple[int, int, int] | None, high: tuple[int, int, int]
) -> None:
    sections = [ChangelogSection("Unreleased", None)] + [
        ChangelogSection(".".join(map(str, v)), None) for v in versions
    ]
    chosen = sections_between(
        sections, None if low is None else Version(".".join(map(str, low))), Version(".".join(map(str, high)))
    )
    expected = sorted((v for v in versions if (low is None or v > low) and v <= high), reverse=True)
    assert [section.version for section in chosen] == [".".join(map(str, v)) for v in expected]


def test_find_changelog_layouts(tmp_path: Path) -> None:
    # A wheel: hatch's force-include puts CHANGELOG.md inside the package.
    wheel_package = tmp_path / "site-packages" / "rlcore"
    wheel_package.mkdir(parents=True)
    assert find_changelog(wheel_package) is None
    (wheel_package / "CHANGELOG.md").write_text("# Changelog\n")
    assert find_changelog(wheel_package) == wheel_package / "CHANGELOG.md"
    # A source checkout: rlcore/CHANGELOG.md two levels above src/rlcore/.
    checkout_package = tmp_path / "checkout" / "rlcore" / "src" / "rlcore"
    checkout_package.mkdir(parents=True)
    (tmp_path / "checkout" / "rlcore" / "CHANGELOG.md").write_text("# Changelog\n")
    assert find_changelog(checkout_package) == tmp_path / "checkout" / "rlcore" / "CHANGELOG.md"
    # This checkout's editable install.
    assert find_changelog() == RLCORE_ROOT / "CHANGELOG.md"


# --------------------------------------------------------------------------- scan


@pytest.fixture
def fake_deprecations(monkeypatch: pytest.MonkeyPatch):
    """Deprecated names of each kind, added to the real module rlcore.stats for one test."""
    before = dict(DEPRECATIONS)

    def old_mean(x: float) -> float:
        return x

    def scale(x: float, factor: float = 1.0) -> float:
        return x * factor

    class OldStats:
        pass

    class Box:
        @deprecated_argument(
            "size", new="shape", since="0.1.0", removed_in="0.2.0", name="rlcore.stats.Box.__init__"
        )
        def __init__(self, shape: int = 1) -> None:
            self.shape = shape

    old_mean_dep = deprecated(
        since="0.1.0",
        removed_in="0.2.0",
        replacement="rlcore.stats.RunningMeanStd",
        name="rlcore.stats.old_mean",
    )(old_mean)
    monkeypatch.setattr(rlcore.stats, "old_mean", old_mean_dep, raising=False)
    monkeypatch.setattr(rlcore, "old_mean", old_mean_dep, raising=False)  # a re-export under another name
    scale_dep = deprecated_argument(
        "gain", new="factor", since="0.1.0", removed_in="0.2.0", name="rlcore.stats.scale"
    )(scale)
    monkeypatch.setattr(rlcore.stats, "scale", scale_dep, raising=False)
    monkeypatch.setattr(
        rlcore.stats,
        "OldStats",
        deprecated(since="0.1.0", removed_in="0.2.0", name="rlcore.stats.OldStats")(OldStats),
        raising=False,
    )
    monkeypatch.setattr(rlcore.stats, "Box", Box, raising=False)
    alias = deprecated_alias(
        vars(rlcore.stats),
        "RMS",
        rlcore.stats.RunningMeanStd,
        since="0.1.0",
        removed_in="0.2.0",
        replacement="rlcore.stats.RunningMeanStd",
    )
    monkeypatch.setattr(rlcore.stats, "__getattr__", alias, raising=False)
    yield
    DEPRECATIONS.clear()
    DEPRECATIONS.update(before)


_SCANNED = """\
import rlcore
import rlcore.stats as st
from rlcore.stats import old_mean, RunningMeanStd
from rlcore import old_mean as re_exported
from rlcore.stats import scale
from rlcore.gone import thing
from rlcore.stats import vanished
import numpy as np
from . import rlcore as local_rlcore
import rlcore.nothing_here


def use():
    a = st.old_mean(1)
    b = rlcore.stats.RMS
    c = scale(2.0, gain=3.0)
    d = st.RunningMeanStd(shape=(2,), bogus=1)
    e = rlcore.stats.missing_fn()
    f = st.RunningMeanStd(shape=()).no_such_attr
    g = st.RunningMeanStd.no_such_class_attribute
    h = np.not_rlcore, local_rlcore.anything
    i = st.OldStats()
    j = st.Box(size=3)
    k = scale(2.0, factor=3.0, **{"gain": 1})
    return a, b, c, d, e, f, g, h, i, j, k
"""


def test_scan_finds_each_kind_of_use(tmp_path: Path, fake_deprecations: None) -> None:
    project = make_project(tmp_path, code=_SCANNED)
    (project / "tests" / "test_broken.py").write_text("def broken(:\n")
    # Environments and run folders are not the project's code.
    for folder in (".venv/lib", "myenv", "runs/exp1"):
        (project / folder).mkdir(parents=True)
        (project / folder / "copied.py").write_text("from rlcore.gone import x\n")
    (project / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")

    result = scan_project(project)
    found = [(use.path, use.line, use.name, use.status) for use in result.uses]
    module = "src/proj/__init__.py"
    assert found == [
        (module, 3, "rlcore.stats.old_mean", "deprecated"),
        (module, 4, "rlcore.stats.old_mean", "deprecated"),
        (module, 6, "rlcore.gone", "removed"),
        (module, 7, "rlcore.stats.vanished", "removed"),
        (module, 10, "rlcore.nothing_here", "removed"),
        (module, 14, "rlcore.stats.old_mean", "deprecated"),
        (module, 15, "rlcore.stats.RMS", "deprecated"),
        (module, 16, "rlcore.stats.scale(gain)", "deprecated"),
        (module, 17, "rlcore.stats.RunningMeanStd(bogus)", "removed"),
        (module, 18, "rlcore.stats.missing_fn", "removed"),
        (module, 22, "rlcore.stats.OldStats", "deprecated"),
        (module, 23, "rlcore.stats.Box.__init__(size)", "deprecated"),
    ]
    by_line = {use.line: use for use in result.uses}
    assert by_line[3].message == (
        "rlcore.stats.old_mean is deprecated since rlcore 0.1.0 and will be removed in 0.2.0; "
        "use rlcore.stats.RunningMeanStd instead."
    )
    assert (by_line[3].removed_in, by_line[3].replacement) == ("0.2.0", "rlcore.stats.RunningMeanStd")
    assert by_line[7].message == f"rlcore.stats has no name 'vanished' in rlcore {rlcore.__version__}"
    assert (
        by_line[17].message
        == f"rlcore.stats.RunningMeanStd() has no argument 'bogus' in rlcore {rlcore.__version__}"
    )
    assert result.unreadable and result.unreadable[0].startswith("tests/test_broken.py: ")


def test_scan_quotes_the_changelog_next_to_a_removed_name(tmp_path: Path) -> None:
    project = make_project(tmp_path, code="from rlcore.stats import old_mean\n")
    use = scan_project(project, parse_changelog(_CHANGELOG)).removed[0]
    assert use.name == "rlcore.stats.old_mean"
    assert (
        "(CHANGELOG [0.3.0] Removed: `rlcore.stats.old_mean`: deprecated since 0.2.0; use `rlcore.stats.RunningMeanStd`."
        in use.message
    )
    assert "[0.2.0] Deprecated: `rlcore.stats.old_mean`." in use.message


def test_scan_does_not_import_the_project(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    project = make_project(
        tmp_path, code=f"open({str(marker)!r}, 'w').close()\nfrom rlcore.stats import gone\n"
    )
    assert [use.name for use in scan_project(project).removed] == ["rlcore.stats.gone"]
    assert not marker.exists()


# --------------------------------------------------------------------------- the command


def _check_json(capsys: pytest.CaptureFixture[str], *projects: Path) -> tuple[int, dict]:
    status = main(["check", "--json", *map(str, projects)])
    return status, json.loads(capsys.readouterr().out)


def test_check_clean_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(
        tmp_path, requirement=f"rlcore{compatible_range(rlcore.__version__)}", code="import rlcore.stats\n"
    )
    status, document = _check_json(capsys, project)
    assert status == 0
    assert document["ok"] is True
    assert document["rlcore"] == {
        **installed_rlcore().as_dict(),
        "changelog": str(RLCORE_ROOT / "CHANGELOG.md"),
    }
    assert document["rlcore"]["version"] == rlcore.__version__
    assert document["rlcore"]["metadata_version"] == importlib.metadata.version("rlcore")
    assert document["rlcore"]["note"] is None  # pip's record is in step with the checkout
    (report,) = document["projects"]
    assert report["satisfied"] is True and report["removed"] == [] and report["deprecated"] == []
    assert report["changelog"] == [] and report["error"] is None and report["interrupted_upgrade"] is None


def test_check_default_is_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, requirement="rlcore<0.0.1")
    monkeypatch.chdir(project)
    status = main(["check"])
    out = capsys.readouterr().out
    assert status == 1
    assert f"== proj ({project})" in out
    assert f"installed:   rlcore {rlcore.__version__}: NOT satisfied" in out
    assert "result: FAIL (requirement not satisfied)" in out


def test_check_reports_changelog_and_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_deprecations: None
) -> None:
    old = make_project(
        tmp_path, "old", requirement="rlcore>=0.0.1", code="from rlcore.stats import old_mean\n"
    )
    removed = make_project(
        tmp_path, "removed", requirement="rlcore>=0.1.0", code="import rlcore.stats as s\ns.gone\n"
    )
    status, document = _check_json(capsys, old, removed)
    assert status == 1 and document["ok"] is False
    first, second = document["projects"]
    assert first["ok"] is True  # deprecated uses warn, they do not fail
    assert [(use["path"], use["line"], use["name"]) for use in first["deprecated"]] == [
        ("src/old/__init__.py", 1, "rlcore.stats.old_mean")
    ]
    expected = sections_between(
        parse_changelog((RLCORE_ROOT / "CHANGELOG.md").read_text()),
        Version("0.0.1"),
        Version(rlcore.__version__),
    )
    assert first["changelog"] == [section.as_dict() for section in expected] and expected
    assert second["ok"] is False
    assert [(use["path"], use["line"], use["name"]) for use in second["removed"]] == [
        ("src/removed/__init__.py", 2, "rlcore.stats.gone")
    ]

    assert main(["check", str(old), str(removed)]) == 1
    out = capsys.readouterr().out
    assert f"  changelog (0.0.1 -> {rlcore.__version__}):" in out
    assert (
        "    src/old/__init__.py:1:0: rlcore.stats.old_mean: rlcore.stats.old_mean is deprecated since" in out
    )
    assert "result: OK with 1 deprecated use(s) to fix before the removal release" in out
    assert "    src/removed/__init__.py:2:0: rlcore.stats.gone: rlcore.stats has no name 'gone'" in out
    assert "result: FAIL (1 use(s) of removed names)" in out


def test_check_unreadable_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, document = _check_json(capsys, tmp_path / "nowhere")
    assert status == 1
    assert (
        "nowhere: no pyproject.toml; expected a generated project's root directory"
        in document["projects"][0]["error"]
    )


def test_check_reports_a_leftover_journal_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, requirement=f"rlcore{compatible_range(rlcore.__version__)}")
    Journal.begin(project, ["pyproject.toml"])
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace("0.0.1", "0.0.2"), encoding="utf-8"
    )
    before = snapshot(project)
    status = main(["check", str(project)])
    out = capsys.readouterr().out
    assert f"an interrupted rlcore upgrade left {JOURNAL_NAME}; nothing was changed." in out
    assert "`rlcore upgrade --recover` would restore: pyproject.toml" in out
    assert "result: FAIL (an upgrade was interrupted)" in out
    assert status == 1  # the requirement is met, but the project is mid-upgrade
    assert snapshot(project) == before
    status, document = _check_json(capsys, project)
    assert status == 1
    assert document["projects"][0]["interrupted_upgrade"] == {
        "would_restore": ["pyproject.toml"],
        "running_pid": None,
    }


def test_check_leaves_a_running_upgrade_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path)
    Journal.begin(project, ["pyproject.toml"])
    journal = json.loads((project / JOURNAL_NAME).read_text())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        journal["pid"] = sleeper.pid
        (project / JOURNAL_NAME).write_text(json.dumps(journal))
        status, document = _check_json(capsys, project)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert status == 1
    assert document["projects"][0]["interrupted_upgrade"]["running_pid"] == sleeper.pid
    assert (project / JOURNAL_NAME).exists()


def test_check_json_is_the_only_stdout(tmp_path: Path) -> None:
    project = make_project(tmp_path, requirement=f"rlcore{compatible_range(rlcore.__version__)}")
    done = subprocess.run(
        [sys.executable, "-m", "rlcore.cli", "check", "--json", str(project)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["projects"][0]["requirement"]
        == f"rlcore{compatible_range(rlcore.__version__)}"
    )
    assert done.stderr == ""
