"""``rlcore upgrade``: rewrite, test, keep or restore byte for byte, also when interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _cli_kit import cruft_json, cruft_record, make_project, snapshot

import rlcore
from rlcore.cli import main
from rlcore.cli._errors import ProjectError
from rlcore.cli._journal import JOURNAL_NAME, Journal, atomic_write, recover
from rlcore.cli._requirement import compatible_range
from rlcore.cli.upgrade import Outcome, format_summary

INSTALLED_RANGE = f"rlcore{compatible_range(rlcore.__version__)}"
OLD_RANGE = "rlcore>=0.0.1,<0.1"


def _pyproject_with(project: Path, old: str, new: str) -> bytes:
    """What pyproject.toml must become: the original bytes with the one string replaced."""
    return (project / "pyproject.toml").read_bytes().replace(f'"{old}"'.encode(), f'"{new}"'.encode())


def _table_rows(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    header = max(index for index, line in enumerate(lines) if line.startswith("project  "))
    return {line.split()[0]: line.split(None, 3)[1:] for line in lines[header + 2 :] if line.strip()}


GIT_OLD = "rlcore @ git+ssh://git@example.org/lab/mono.git@v0.0.1#subdirectory=rlcore"
GIT_NEW = f"rlcore @ git+ssh://git@example.org/lab/mono.git@v{rlcore.__version__}#subdirectory=rlcore"


def test_upgrade_keeps_passing_projects_and_restores_failing_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passing = make_project(tmp_path, "passing", requirement=GIT_OLD)
    # The project's .venv interpreter is preferred over this one: a wrapper that leaves a mark.
    used = tmp_path / "venv-python-used"
    venv_python = passing / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\necho "$@" >> {used}\nexec {sys.executable} "$@"\n')
    venv_python.chmod(0o755)
    failing = make_project(
        tmp_path,
        "failing",
        tests={
            # Hypothesis would leave .hypothesis/ behind for a failing test; the run must not.
            "test_failing.py": """
            from hypothesis import given, strategies as st

            @given(st.integers())
            def test_never(x):
                assert x < 10
            """
        },
    )
    warning = make_project(
        tmp_path,
        "warning",
        tests={
            "test_warning.py": """
            from rlcore.deprecation import deprecated

            @deprecated(since="0.0.1", removed_in="9.0.0", name="rlcore.fake_old")
            def fake_old():
                return 1

            def test_uses_a_deprecated_name():
                assert fake_old() == 1
            """
        },
    )
    current = make_project(tmp_path, "current", requirement=INSTALLED_RANGE)
    expected_passing = _pyproject_with(passing, GIT_OLD, GIT_NEW)
    before = {project.name: snapshot(project) for project in (passing, failing, warning, current)}

    status = main(["upgrade", str(passing), str(failing), str(warning), str(current)])
    captured = capsys.readouterr()

    assert status == 1
    assert (passing / "pyproject.toml").read_bytes() == expected_passing
    after_passing = snapshot(passing)
    assert after_passing.pop("pyproject.toml") != before["passing"].pop("pyproject.toml")
    assert after_passing == before["passing"]  # nothing else changed, nothing left behind
    assert "-m pytest -q -p no:cacheprovider" in used.read_text()
    for project in (failing, warning, current):
        assert snapshot(project) == before[project.name], project.name

    rows = _table_rows(captured.out)
    assert f"passing  {GIT_OLD}  {GIT_NEW}  upgraded" in captured.out
    assert rows["failing"][:2] == [OLD_RANGE, INSTALLED_RANGE]
    assert rows["failing"][2].startswith("failed: tests failed (") and "1 failed" in rows["failing"][2]
    assert rows["warning"][2].startswith("failed: tests failed (")
    assert rows["current"] == [INSTALLED_RANGE, INSTALLED_RANGE, "already current"]
    # The reasons are the failing runs' last lines.
    assert "failing failed: tests failed (pytest exit 1):" in captured.out
    assert "RLCoreDeprecationWarning: rlcore.fake_old is deprecated since rlcore 0.0.1" in captured.out
    # Progress: each project's name and the elapsed seconds, streamed while the tests run.
    assert (
        "  failing: running -m pytest -q -p no:cacheprovider -W error::rlcore.deprecation.RLCoreDeprecationWarning"
        in captured.err
    )
    assert "  passing [" in captured.err and "s] 1 passed" in captured.err
    assert "current: running" not in captured.err  # already current: nothing to test


def test_upgrade_refuses_removed_names_even_when_tests_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The tests never import the module that uses the removed name.
    project = make_project(tmp_path, code="def answer():\n    return 42\n")
    (project / "src" / "proj" / "legacy.py").write_text("from rlcore.stats import long_gone\n")
    before = snapshot(project)
    # A journal left by a killed run is replayed first, and the output says so.
    Journal.begin(project, ["pyproject.toml"])
    atomic_write(project / "pyproject.toml", b"half-way")
    assert main(["upgrade", str(project)]) == 1
    captured = capsys.readouterr()
    assert "proj: restored from an interrupted upgrade's journal: pyproject.toml" in captured.err
    out = captured.out
    assert (
        f"uses names removed in rlcore {rlcore.__version__}: src/proj/legacy.py:1 rlcore.stats.long_gone"
        in out
    )
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("arguments", "requirement", "message"),
    [
        (
            ["--to", "0.0.5"],
            "rlcore>=0.1.0,<0.2",
            "the project already requires rlcore 0.1.0, newer than the target 0.0.5",
        ),
        (
            ["--to", "99.0.0"],
            OLD_RANGE,
            f"the test interpreter {sys.executable} has rlcore {rlcore.__version__}, which 'rlcore>=99.0,<100' excludes; install rlcore 99.0.0 there first",
        ),
        (
            ["--python", "/nonexistent/python"],
            OLD_RANGE,
            "cannot run the interpreter '/nonexistent/python' to find its rlcore",
        ),
        (
            [],
            "rlcore @ file:///opt/rlcore",
            "rlcore requirement 'rlcore @ file:///opt/rlcore' is a direct URL with no version to rewrite",
        ),
    ],
)
def test_upgrade_refuses_before_changing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], requirement: str, message: str
) -> None:
    project = make_project(tmp_path, requirement=requirement)
    before = snapshot(project)
    assert main(["upgrade", *arguments, str(project)]) == 1
    out = capsys.readouterr().out
    assert f"proj failed: {message}" in out
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("Journal.begin", "proj failed: cannot start the upgrade: disk full"),
        ("atomic_write", "proj failed: disk full; files restored"),
    ],
)
def test_upgrade_reports_a_file_that_cannot_be_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    message: str,
) -> None:
    project = make_project(tmp_path)
    before = snapshot(project)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(f"rlcore.cli._upgrade_project.{target}", fail)
    assert main(["upgrade", str(project)]) == 1
    assert message in capsys.readouterr().out
    assert snapshot(project) == before


def test_upgrade_rejects_a_bad_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upgrade", "--to", "soon"]) == 2
    assert "rlcore upgrade: --to 'soon' is not a version; expected e.g. 0.2.0" in capsys.readouterr().err


def test_dry_run_shows_the_diff_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    before = snapshot(project)
    assert main(["upgrade", "--dry-run", str(project)]) == 0
    captured = capsys.readouterr()
    assert f'-    "{OLD_RANGE}",\n+    "{INSTALLED_RANGE}",\n' in captured.out
    assert f"--- {project / 'pyproject.toml'} (now)" in captured.out
    assert _table_rows(captured.out)["proj"] == [OLD_RANGE, INSTALLED_RANGE, "dry run"]
    assert "running" not in captured.err
    assert snapshot(project) == before

    Journal.begin(project, ["pyproject.toml"])
    assert main(["upgrade", "--dry-run", str(project)]) == 1
    assert "is left from an interrupted upgrade; run without --dry-run" in capsys.readouterr().out
    assert (project / JOURNAL_NAME).exists()


# --------------------------------------------------------------------------- journal


def test_atomic_write_keeps_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "script.sh"
    target.write_bytes(b"old")
    target.chmod(0o751)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o7777 == 0o751
    assert [path.name for path in tmp_path.iterdir()] == ["script.sh"]


def test_journal_restores_bytes_and_mode(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_bytes(b"[project]\r\nname = '\xff'\n")
    (project / "pyproject.toml").chmod(0o700)
    before = snapshot(project)
    journal = Journal.begin(project, ["pyproject.toml"])
    with pytest.raises(
        ProjectError, match=rf"{JOURNAL_NAME} exists: another upgrade is running or was interrupted"
    ):
        Journal.begin(project, ["pyproject.toml"])
    atomic_write(project / "pyproject.toml", b"changed", 0o644)
    (project / ".pyproject.toml.rlcore-tmp-leftover").write_text("a killed atomic_write")
    assert journal.restore() == ["pyproject.toml"]
    assert snapshot(project) == before
    assert recover(project) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"unreadable upgrade journal .*; inspect the project and delete the journal by hand"),
        (
            json.dumps({"files": [{"path": "../outside", "mode": 420, "content": ""}]}),
            r"names '../outside', a file rlcore upgrade never changes",
        ),
        (json.dumps({"pid": 1}), r"unreadable upgrade journal \('files'\)"),
    ],
)
def test_bad_journal_is_reported_not_replayed(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / JOURNAL_NAME).write_text(content)
    with pytest.raises(ProjectError, match=message):
        recover(tmp_path)
    assert (tmp_path / JOURNAL_NAME).read_text() == content


def test_format_summary() -> None:
    outcomes = [
        Outcome(Path("/p/a"), "rlcore>=0.1.0,<0.2", "rlcore>=0.2.0,<0.3", "upgraded"),
        Outcome(
            Path("/p/bb"),
            "rlcore>=0.1.0,<0.2",
            "rlcore>=0.2.0,<0.3",
            "failed",
            "tests failed (pytest exit 1):\nE  x\n== 1 failed in 0.1s ==",
            "tests failed (1 failed in 0.1s)",
        ),
        Outcome(Path("/p/c"), "", "", "not run"),
        Outcome(Path("/p/d"), "rlcore @ file:///x", "", "failed", "cannot rewrite\nsecond line"),
    ]
    assert format_summary(outcomes).splitlines() == [
        "project  old requirement     new requirement     result",
        "-------  ------------------  ------------------  ------",
        "a        rlcore>=0.1.0,<0.2  rlcore>=0.2.0,<0.3  upgraded",
        "bb       rlcore>=0.1.0,<0.2  rlcore>=0.2.0,<0.3  failed: tests failed (1 failed in 0.1s)",
        "c        -                   -                   not run",
        "d        rlcore @ file:///x  -                   failed: cannot rewrite",
    ]


# --------------------------------------------------------------------------- interruptions

_SLOW_TEST = """
import os
import pathlib
import time


def test_slow():
    pathlib.Path({marker!r}).write_text(str(os.getpid()))
    while pathlib.Path({slow!r}).exists():
        time.sleep(0.1)
"""


def _start_slow_upgrade(
    tmp_path: Path,
) -> tuple[Path, subprocess.Popen[bytes], Path, dict[str, tuple[str, int]]]:
    marker, slow = tmp_path / "pytest-pid", tmp_path / "slow"
    slow.touch()
    project = make_project(
        tmp_path, tests={"test_slow.py": _SLOW_TEST.format(marker=str(marker), slow=str(slow))}
    )
    # A project of rlcore's template: its .cruft.json answer moves with the requirement.
    (project / ".cruft.json").write_bytes(cruft_json(cruft_record("0.0.1")))
    before = snapshot(project)
    log = (tmp_path / "upgrade.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "rlcore.cli", "upgrade", str(project)],
        stdout=log,
        stderr=subprocess.STDOUT,
        # A hard kill leaves the run's scratch folder behind: keep it inside tmp_path.
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp_path)),
    )
    deadline = time.monotonic() + 60
    # The file exists before the pid is written into it: wait for the content.
    while (
        not (marker.exists() and marker.read_text())
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.05)
    assert marker.exists() and marker.read_text(), (tmp_path / "upgrade.log").read_text()
    # Mid-run: the new requirement and answer are on disk and the journal holds the old ones.
    assert (project / JOURNAL_NAME).exists()
    assert INSTALLED_RANGE in (project / "pyproject.toml").read_text()
    assert json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["rlcore_version"] == (
        rlcore.__version__
    )
    return project, process, marker, before


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_the_tests_restores_the_project(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    project, process, marker, before = _start_slow_upgrade(tmp_path)
    pytest_pid = int(marker.read_text())
    process.send_signal(sig)
    assert process.wait(timeout=30) == status
    log = (tmp_path / "upgrade.log").read_text()
    assert "rlcore upgrade: interrupted; files restored, later projects not run" in log
    assert "interrupted" in log.splitlines()[-1]
    assert snapshot(project) == before
    assert _gone(pytest_pid), "the project's test run outlived the upgrade"


def test_hard_kill_stops_the_tests_and_recover_undoes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, process, marker, before = _start_slow_upgrade(tmp_path)
    pytest_pid = int(marker.read_text())
    process.kill()
    process.wait(timeout=30)
    # The tests run in their own session; the watchdog ends them once the upgrade is gone.
    deadline = time.monotonic() + 30
    while not _gone(pytest_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pytest_pid), "the project's test run outlived a SIGKILL of the upgrade"
    assert (project / JOURNAL_NAME).exists()
    half_way = snapshot(project)
    assert half_way != before

    # rlcore check only reports; rlcore upgrade --recover restores.
    assert main(["check", str(project)]) == 1
    assert "`rlcore upgrade --recover` would restore: pyproject.toml, .cruft.json" in capsys.readouterr().out
    assert snapshot(project) == half_way
    assert main(["upgrade", "--recover", str(project)]) == 0
    out = capsys.readouterr().out
    assert "proj: restored pyproject.toml, .cruft.json" in out
    assert _table_rows(out)["proj"] == ["-", "-", "recovered"]
    assert snapshot(project) == before
    assert main(["upgrade", "--recover", str(project)]) == 0
    assert _table_rows(capsys.readouterr().out)["proj"] == ["-", "-", "nothing to recover"]
