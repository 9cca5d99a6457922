"""Adversarial cases for ``rlcore check`` / ``rlcore upgrade``: a project is untrusted input.

Each test reproduces an input from the review of issue #10 (a journal that escapes the project
through a symbolic link or plants a git hook, a symlinked ``pyproject.toml``, a requirement
with an environment marker, a test suite that never ends), so the next review starts here.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _cli_kit import cruft_json, cruft_record, make_project, snapshot, tree
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore
from rlcore.cli import main
from rlcore.cli._errors import ProjectError
from rlcore.cli._journal import JOURNAL_NAME, Journal, inside, inspect, recover
from rlcore.cli._requirement import RlcoreRequirement, compatible_range, rewrite_pyproject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib

INSTALLED_RANGE = f"rlcore{compatible_range(rlcore.__version__)}"
OLD_RANGE = "rlcore>=0.0.1,<0.1"


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _write_journal(project: Path, files: list[dict[str, object]]) -> None:
    payload = {
        "format": 1,
        "tool": "rlcore upgrade",
        "pid": _dead_pid(),
        "host": socket.gethostname(),
        "files": files,
    }
    (project / JOURNAL_NAME).write_text(json.dumps(payload), encoding="utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
def malicious(tmp_path: Path) -> tuple[Path, Path]:
    """The review's reproduction: ``out -> outside/`` and a journal that deletes, plants and hooks."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious", encoding="utf-8")
    project = make_project(tmp_path / "clone")
    (project / ".git" / "hooks").mkdir(parents=True)
    (project / "out").symlink_to(outside)
    _write_journal(
        project,
        [
            {"path": "out/victim.txt", "mode": None, "content": None},
            {"path": "out/planted.txt", "mode": 420, "content": _b64(b"planted")},
            {"path": ".git/hooks/pre-commit", "mode": 493, "content": _b64(b"#!/bin/sh\ntouch /tmp/pwned\n")},
        ],
    )
    return project, outside


@pytest.mark.parametrize(
    "command",
    [["check"], ["check", "--json"], ["upgrade"], ["upgrade", "--recover"], ["upgrade", "--dry-run"]],
)
def test_a_planted_journal_never_writes_anywhere(
    malicious: tuple[Path, Path], command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    project, outside = malicious
    project_before, outside_before = tree(project), tree(outside)
    assert main([*command, str(project)]) == 1
    out = capsys.readouterr().out
    assert tree(project) == project_before
    assert tree(outside) == outside_before
    assert not (project / ".git" / "hooks" / "pre-commit").exists()
    if command != ["upgrade", "--dry-run"]:  # the dry run refuses any journal before reading it
        assert "a file rlcore upgrade never changes" in out


def test_check_changes_nothing_even_for_a_valid_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    Journal.begin(project, ["pyproject.toml"])
    (project / "pyproject.toml").write_text("[project]\nname = 'half-way'\n", encoding="utf-8")
    before = tree(project)
    assert main(["check", str(project)]) == 1
    assert "`rlcore upgrade --recover` would restore: pyproject.toml" in capsys.readouterr().out
    assert tree(project) == before


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "pyproject.toml", "mode": 0o4755, "content": _b64(b"x")}, "is not plain permission bits"),
        ({"path": "pyproject.toml", "mode": True, "content": _b64(b"x")}, "is not plain permission bits"),
        ({"path": "pyproject.toml", "mode": 420, "content": "not base64!"}, "unreadable upgrade journal"),
        ({"path": ["pyproject.toml"], "mode": 420, "content": ""}, "is not a string"),
        ({"path": "/etc/passwd", "mode": 420, "content": ""}, "a file rlcore upgrade never changes"),
        (
            {"path": "sub/../pyproject.toml", "mode": 420, "content": ""},
            "a file rlcore upgrade never changes",
        ),
        (
            {"path": ".git/hooks/pre-commit", "mode": 493, "content": ""},
            "a file rlcore upgrade never changes",
        ),
    ],
)
def test_bad_journal_entries_are_refused_whole(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    project = make_project(tmp_path)
    _write_journal(project, [{"path": "pyproject.toml", "mode": 420, "content": _b64(b"ok")}, entry])
    before = tree(project)
    with pytest.raises(ProjectError, match=message):
        recover(project)
    with pytest.raises(ProjectError, match=message):
        inspect(project)
    assert tree(project) == before


def test_a_journal_that_is_a_link_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"files": []}), encoding="utf-8")
    (project / JOURNAL_NAME).symlink_to(elsewhere)
    with pytest.raises(ProjectError, match="not a regular file"):
        recover(project)
    assert elsewhere.exists() and (project / JOURNAL_NAME).is_symlink()


def test_a_journal_restores_nothing_through_a_link_out_of_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "shared-pyproject.toml"
    outside.write_text("[project]\nname = 'someone else'\n", encoding="utf-8")
    project = make_project(tmp_path / "p")
    (project / "pyproject.toml").unlink()
    (project / "pyproject.toml").symlink_to(outside)
    _write_journal(project, [{"path": "pyproject.toml", "mode": 420, "content": _b64(b"overwritten")}])
    with pytest.raises(ProjectError, match="outside the project"):
        recover(project)
    assert outside.read_text() == "[project]\nname = 'someone else'\n"


def test_inside_resolves_links(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "real").mkdir(parents=True)
    (project / "alias").symlink_to(project / "real")
    (project / "away").symlink_to(tmp_path)
    assert inside(project, "alias/f") == (project / "real" / "f").resolve()
    for bad in ("away/f", "../f", "/etc/passwd", ""):
        with pytest.raises(ProjectError):
            inside(project, bad)


# --------------------------------------------------------------------------- symlinked pyproject.toml


def _linked_project(tmp_path: Path, tests: dict[str, str] | None = None) -> tuple[Path, Path]:
    project = make_project(tmp_path, tests=tests)
    real = project / "config" / "pyproject.toml"
    real.parent.mkdir()
    (project / "pyproject.toml").rename(real)
    (project / "pyproject.toml").symlink_to(Path("config") / "pyproject.toml")
    return project, real


def test_upgrade_writes_through_a_symlinked_pyproject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, real = _linked_project(tmp_path)
    assert main(["upgrade", str(project)]) == 0, capsys.readouterr().out
    assert (project / "pyproject.toml").is_symlink()
    assert os.readlink(project / "pyproject.toml") == str(Path("config") / "pyproject.toml")
    assert f'"{INSTALLED_RANGE}"' in real.read_text()
    assert sorted(path.name for path in real.parent.iterdir()) == ["pyproject.toml"]


def test_a_failed_upgrade_restores_a_symlinked_pyproject_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = _linked_project(tmp_path, tests={"test_fails.py": "def test_fails():\n    assert False\n"})
    before = tree(project)
    assert main(["upgrade", str(project)]) == 1
    assert "tests failed" in capsys.readouterr().out
    assert tree(project) == before


def test_upgrade_refuses_a_pyproject_linked_out_of_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "p")
    shared = tmp_path / "pyproject.toml"
    (project / "pyproject.toml").rename(shared)
    (project / "pyproject.toml").symlink_to(shared)
    before, shared_before = tree(project), shared.read_bytes()
    assert main(["upgrade", str(project)]) == 1
    assert "outside the project" in capsys.readouterr().out
    assert tree(project) == before and shared.read_bytes() == shared_before


# --------------------------------------------------------------------------- markers and TOML strings


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (
            "\"rlcore>=0.0.5,<0.1; python_version >= '3.10'\"",
            f"rlcore{compatible_range(rlcore.__version__)}; python_version >= '3.10'",
        ),
        (
            "'rlcore[plot] >= 0.0.5, < 0.1 ;python_version>=\"3.10\"'",
            f'rlcore[plot]{compatible_range(rlcore.__version__)} ;python_version>="3.10"',
        ),
        (
            '"rlcore>=0.0.5,<0.1; python_version >= \\"3.10\\""',
            f'rlcore{compatible_range(rlcore.__version__)}; python_version >= "3.10"',
        ),
    ],
)
def test_upgrade_keeps_an_environment_marker_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, expected: str
) -> None:
    project = make_project(tmp_path, requirement="PLACEHOLDER")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"PLACEHOLDER"', written), encoding="utf-8")
    assert main(["upgrade", str(project)]) == 0, capsys.readouterr().out
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert dependencies == ["numpy>=1.24", expected]


_REQUIREMENT_TEXT = st.text(
    alphabet=st.sampled_from([*"abc =<>;,.'\"\\[]()~!0123456789_-", "é", "\t"]), min_size=1, max_size=30
)


@settings(max_examples=300, deadline=None)
@given(old=_REQUIREMENT_TEXT, new=_REQUIREMENT_TEXT, literal=st.booleans())
def test_rewrite_pyproject_never_corrupts(old: str, new: str, literal: bool) -> None:
    # Any string value, written as TOML would write it, is either rewritten exactly or refused.
    if literal and "'" not in old:
        written = f"'{old}'"
    else:
        written = '"' + old.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
    data = f"[project]\nname = 'x'\ndependencies = [\n  {written}, # keep\n]\n".encode()
    path = Path("pyproject.toml")
    try:
        result = rewrite_pyproject(path, data, old, new)
    except ProjectError:
        return
    document = tomllib.loads(result.decode("utf-8"))
    assert document == {"project": {"name": "x", "dependencies": [new]}}
    assert result.endswith(b", # keep\n]\n")


def test_retarget_keeps_the_marker_text() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    text = "rlcore>=0.0.5,<0.1 ; python_version >= '3.10' and sys_platform != 'win32'"
    requirement = RlcoreRequirement(text, Requirement(text))
    assert requirement.retarget(Version("0.2.1")) == (
        "rlcore>=0.2.1,<0.3 ; python_version >= '3.10' and sys_platform != 'win32'"
    )


# --------------------------------------------------------------------------- tests that never end


_HANGING_TEST = """
import os
import pathlib
import time


def test_hangs():
    pathlib.Path({marker!r}).write_text(str(os.getpid()))
    time.sleep(3600)
"""


def test_upgrade_stops_tests_that_outlive_the_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pid"
    project = make_project(tmp_path, tests={"test_hang.py": _HANGING_TEST.format(marker=str(marker))})
    (project / ".cruft.json").write_bytes(cruft_json(cruft_record("0.0.1")))  # restored too
    before = snapshot(project)
    # Long enough for pytest to reach the test on a loaded machine, so its pid is known.
    assert main(["upgrade", "--timeout", "15", str(project)]) == 1
    out = capsys.readouterr().out
    assert "proj failed: tests did not finish within 15s (--timeout)" in out
    assert snapshot(project) == before
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "-inf"])
def test_upgrade_rejects_a_bad_timeout(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upgrade", f"--timeout={value}"]) == 2
    assert (
        f"rlcore upgrade: --timeout {float(value)!r} must be a number of seconds > 0"
        in capsys.readouterr().err
    )
