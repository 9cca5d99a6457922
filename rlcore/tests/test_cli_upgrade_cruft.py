"""``rlcore upgrade`` moves the template's stored answer ``rlcore_version`` (``.cruft.json``) with the requirement.

``cruft update`` renders the template with the answers stored in ``.cruft.json``, so it never
moves the rlcore requirement; ``rlcore upgrade`` does, and must keep the answer in step, under
the same journal as ``pyproject.toml``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from _cli_kit import cruft_json, cruft_record, make_project, snapshot, tree
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

import rlcore
from rlcore.cli import main
from rlcore.cli._cruft import rewrite_cruft_answer
from rlcore.cli._errors import ProjectError
from rlcore.cli._journal import JOURNAL_NAME, Journal, atomic_write, recover
from rlcore.cli._requirement import compatible_range

VERSION = rlcore.__version__
OLD_RANGE = "rlcore>=0.0.1,<0.1"
INSTALLED_RANGE = f"rlcore{compatible_range(VERSION)}"
GIT_OLD = "rlcore @ git+https://example.org/lab/mono.git@v0.0.1#subdirectory=rlcore"
GIT_NEW = f"rlcore @ git+https://example.org/lab/mono.git@v{VERSION}#subdirectory=rlcore"
CRUFT = Path(".cruft.json")


def _rewrite(data: bytes, version: str = "0.2.0") -> bytes | None:
    return rewrite_cruft_answer(CRUFT, data, Version(version))


def _answers(data: bytes) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads(data)["context"]["cookiecutter"]
    return answers


# --------------------------------------------------------------------------- rewrite_cruft_answer


def test_rewrite_cruft_answer_replaces_only_the_answer() -> None:
    record = cruft_record("0.0.1")
    # cookiecutter's copy of the template's defaults holds the key too, and comes first.
    record["context"]["cookiecutter"] = {
        "_cookiecutter": {"rlcore_version": "0.0.1"},
        **record["context"]["cookiecutter"],
    }
    data = json.dumps(record, ensure_ascii=False, indent=4).encode()  # not cruft's indent: kept
    answer = b'"rlcore_version": "0.0.1"'
    at = data.rindex(answer)
    assert _rewrite(data) == data[:at] + b'"rlcore_version": "0.2.0"' + data[at + len(answer) :]


def test_rewrite_cruft_answer_adds_a_missing_answer_after_rlcore_source() -> None:
    data = cruft_json(cruft_record(None))
    after = _rewrite(data)
    assert after == cruft_json(cruft_record("0.2.0"))
    assert after is not None
    added = [line for line in after.decode().splitlines() if line not in data.decode().splitlines()]
    assert added == ['      "rlcore_version": "0.2.0",']


def test_rewrite_cruft_answer_keeps_a_current_answer_and_other_templates() -> None:
    current = cruft_json(cruft_record("0.2.0"))
    assert _rewrite(current) is current
    for other in (
        b"[]",
        b'"text"',
        b'{"context": {}}',
        b'{"context": {"cookiecutter": []}}',
        b'{"context": {"cookiecutter": {"project_name": "x", "rlcore_version": "0.0.1"}}}',
    ):
        assert _rewrite(other) is None, other


def test_rewrite_cruft_answer_falls_back_to_crufts_format() -> None:
    # The key written with an escape cannot be found as text: the record is written again.
    data = cruft_json(cruft_record("0.0.1")).replace(b'"rlcore_version"', b'"rlcore\\u005fversion"')
    assert _rewrite(data) == cruft_json(cruft_record("0.2.0"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"{not json",
            r"\.cruft\.json: not valid JSON \(.*\); expected cruft's record of the template's answers",
        ),
        (b"\xff\xfe{}", r"\.cruft\.json: not valid JSON"),
        (b"\xef\xbb\xbf{}", r"\.cruft\.json: not valid JSON \(Unexpected UTF-8 BOM"),
        (
            cruft_json(cruft_record(3)),  # type: ignore[arg-type]
            r"\.cruft\.json: context.cookiecutter.rlcore_version is 3; expected a version string such as '0.2.0'",
        ),
    ],
)
def test_rewrite_cruft_answer_errors(data: bytes, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        _rewrite(data)


# Pieces that look like the answer inside other strings, and what JSON must escape.
_TEXT = st.lists(
    st.sampled_from([*'ab"\\/ :,{}\n\té€', "\u2028", "\x00", "rlcore_version", '"rlcore_version": "0.0.1"']),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    answers=st.dictionaries(
        _TEXT, _TEXT | st.integers() | st.none() | st.lists(_TEXT, max_size=2), max_size=4
    ),
    old=_TEXT,
    indent=st.sampled_from([None, 1, 2, 4]),
    ensure_ascii=st.booleans(),
)
def test_rewrite_cruft_answer_never_corrupts(
    answers: dict[str, Any], old: str, indent: int | None, ensure_ascii: bool
) -> None:
    answers = {**answers, "rlcore_source": "index", "rlcore_version": old}
    record = {"template": "t", "context": {"cookiecutter": answers, "copy": {"rlcore_version": old}}}
    data = json.dumps(record, ensure_ascii=ensure_ascii, indent=indent).encode()
    after = _rewrite(data, "1.2.3")
    assert after is not None
    expected = json.loads(data)
    expected["context"]["cookiecutter"]["rlcore_version"] = "1.2.3"
    assert json.loads(after) == expected
    if indent is not None and old != "1.2.3":  # in place: one line changed, every other kept
        before_lines, after_lines = data.decode().split("\n"), after.decode().split("\n")
        assert len(before_lines) == len(after_lines)
        assert sum(a != b for a, b in zip(before_lines, after_lines)) == 1


# --------------------------------------------------------------------------- rlcore upgrade


@pytest.mark.parametrize(
    ("old", "new", "source"), [(OLD_RANGE, INSTALLED_RANGE, "index"), (GIT_OLD, GIT_NEW, "git")]
)
def test_upgrade_moves_the_cruft_answer_with_the_requirement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, source: str
) -> None:
    project = make_project(tmp_path, requirement=old)
    cruft = project / ".cruft.json"
    cruft.write_bytes(cruft_json(cruft_record("0.0.1", rlcore_source=source)))
    cruft.chmod(0o600)
    pyproject = (project / "pyproject.toml").read_bytes().replace(f'"{old}"'.encode(), f'"{new}"'.encode())
    assert main(["upgrade", str(project)]) == 0, capsys.readouterr().out
    assert (project / "pyproject.toml").read_bytes() == pyproject
    assert cruft.read_bytes() == cruft_json(cruft_record(VERSION, rlcore_source=source))
    assert cruft.stat().st_mode & 0o777 == 0o600
    assert not (project / JOURNAL_NAME).exists()
    assert (
        f"proj: {old} -> {new} (.cruft.json: rlcore_version {VERSION}); testing with"
        in capsys.readouterr().err
    )


def test_upgrade_adds_a_missing_answer_and_leaves_other_templates_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = make_project(tmp_path, "missing")
    (missing / ".cruft.json").write_bytes(cruft_json(cruft_record(None)))
    other = make_project(tmp_path, "other")
    other_record = b'{"context": {"cookiecutter": {"project_name": "x", "rlcore_version": "0.0.1"}}}'
    (other / ".cruft.json").write_bytes(other_record)
    assert main(["upgrade", str(missing), str(other)]) == 0, capsys.readouterr().out
    assert (missing / ".cruft.json").read_bytes() == cruft_json(cruft_record(VERSION))
    assert (other / ".cruft.json").read_bytes() == other_record
    assert f'"{INSTALLED_RANGE}"' in (other / "pyproject.toml").read_text()


def test_an_already_current_project_gets_a_lagging_answer_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Made before the template stored the answer (none), or moved by hand (an old one): `cruft
    # update` would render the requirement from it. No test run: the requirement stays.
    missing = make_project(tmp_path, "missing", requirement=INSTALLED_RANGE)
    (missing / ".cruft.json").write_bytes(cruft_json(cruft_record(None)))
    lagging = make_project(tmp_path, "lagging", requirement=INSTALLED_RANGE)
    (lagging / ".cruft.json").write_bytes(cruft_json(cruft_record("0.0.1")))
    before = {project.name: snapshot(project) for project in (missing, lagging)}

    assert main(["upgrade", "--dry-run", str(missing), str(lagging)]) == 0
    out = capsys.readouterr().out
    assert f'+      "rlcore_version": "{VERSION}",\n' in out
    assert f'-      "rlcore_version": "0.0.1",\n+      "rlcore_version": "{VERSION}",\n' in out
    assert {project.name: snapshot(project) for project in (missing, lagging)} == before

    assert main(["upgrade", str(missing), str(lagging)]) == 0
    captured = capsys.readouterr()
    for project in (missing, lagging):
        assert (project / ".cruft.json").read_bytes() == cruft_json(cruft_record(VERSION))
        after = snapshot(project)
        assert after.pop(".cruft.json") != before[project.name].pop(".cruft.json")
        assert after == before[project.name]  # pyproject.toml as it was, no journal left
        assert (
            f"{project.name}: requirement already current; .cruft.json: rlcore_version {VERSION}"
            in captured.err
        )
        assert f"{project.name}  {INSTALLED_RANGE}  {INSTALLED_RANGE}  already current" in captured.out
    assert "running" not in captured.err


def test_a_failed_upgrade_restores_both_files_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, tests={"test_fails.py": "def test_fails():\n    assert False\n"})
    # Not cruft's own format: the restore must give back these bytes, not a re-dump.
    (project / ".cruft.json").write_bytes(json.dumps(cruft_record("0.0.1"), indent=4).encode() + b"\r\n")
    (project / ".cruft.json").chmod(0o640)
    before = snapshot(project)
    assert main(["upgrade", str(project)]) == 1
    assert "proj failed: tests failed (pytest exit 1)" in capsys.readouterr().out
    assert snapshot(project) == before


def test_dry_run_prints_both_diffs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path)
    (project / ".cruft.json").write_bytes(cruft_json(cruft_record("0.0.1")))
    before = snapshot(project)
    assert main(["upgrade", "--dry-run", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"--- {project / 'pyproject.toml'} (now)" in out
    assert f'-    "{OLD_RANGE}",\n+    "{INSTALLED_RANGE}",\n' in out
    assert f"--- {project / '.cruft.json'} (now)\n+++ {project / '.cruft.json'} (planned)\n" in out
    assert f'-      "rlcore_version": "0.0.1",\n+      "rlcore_version": "{VERSION}",\n' in out
    assert snapshot(project) == before


def _link_out(project: Path) -> None:
    outside = project.parent / "shared-cruft.json"
    outside.write_bytes(cruft_json(cruft_record("0.0.1")))
    (project / ".cruft.json").symlink_to(outside)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / ".cruft.json").write_text("{not json"), r"/\.cruft\.json: not valid JSON \("),
        (
            lambda p: (p / ".cruft.json").write_bytes(cruft_json(cruft_record([1]))),  # type: ignore[arg-type]
            r"/\.cruft\.json: context.cookiecutter.rlcore_version is \[1\]; expected a version string",
        ),
        (lambda p: (p / ".cruft.json").mkdir(), r"/\.cruft\.json: not a regular file"),
        (lambda p: (p / ".cruft.json").symlink_to(p / "nowhere"), r"/\.cruft\.json: not a regular file"),
        (_link_out, r"'\.cruft\.json' resolves to .*, outside the project"),
        (
            lambda p: (p / ".cruft.json").write_bytes(b" " * (1024 * 1024 + 1)),
            r"/\.cruft\.json: 1048577 bytes; expected cruft's JSON record of at most 1048576",
        ),
    ],
)
def test_a_bad_cruft_json_fails_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    project = make_project(tmp_path)
    make(project)
    before, outside = tree(project), tree(tmp_path)
    for arguments in (["upgrade"], ["upgrade", "--dry-run"]):
        assert main([*arguments, str(project)]) == 1
        out = capsys.readouterr().out
        assert "proj failed: " in out
        failure = out.split("proj failed: ", 1)[1].splitlines()[0]
        assert re.search(message, failure), failure
        assert tree(project) == before and tree(tmp_path) == outside


def test_upgrade_writes_through_a_cruft_json_linked_inside_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    real = project / "meta" / "cruft.json"
    real.parent.mkdir()
    real.write_bytes(cruft_json(cruft_record("0.0.1")))
    (project / ".cruft.json").symlink_to(Path("meta") / "cruft.json")
    assert main(["upgrade", str(project)]) == 0, capsys.readouterr().out
    assert os.readlink(project / ".cruft.json") == str(Path("meta") / "cruft.json")
    assert real.read_bytes() == cruft_json(cruft_record(VERSION))
    assert sorted(path.name for path in real.parent.iterdir()) == ["cruft.json"]


# --------------------------------------------------------------------------- the journal


def test_recover_restores_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path)
    (project / ".cruft.json").write_bytes(cruft_json(cruft_record("0.0.1")))
    before = snapshot(project)
    Journal.begin(project, ["pyproject.toml", ".cruft.json"])  # then a kill, half-way
    atomic_write(project / "pyproject.toml", b"half-way")
    atomic_write(project / ".cruft.json", b"{}")
    assert main(["check", str(project)]) == 1
    assert "`rlcore upgrade --recover` would restore: pyproject.toml, .cruft.json" in capsys.readouterr().out
    assert main(["upgrade", "--recover", str(project)]) == 0
    assert "proj: restored pyproject.toml, .cruft.json" in capsys.readouterr().out
    assert snapshot(project) == before


def test_journal_names_only_the_two_files(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / ".cruft.json").symlink_to("pyproject.toml")
    with pytest.raises(ProjectError, match=r"'\.cruft\.json' and 'pyproject.toml' are the same file"):
        Journal.begin(project, ["pyproject.toml", ".cruft.json"])
    assert not (project / JOURNAL_NAME).exists()
    entries = [
        {"path": ".cruft.json", "mode": 420, "content": ""},
        {"path": ".cruft.json.orig", "mode": 420, "content": ""},
    ]
    (project / JOURNAL_NAME).write_text(json.dumps({"pid": 0, "files": entries}))
    before = tree(project)
    with pytest.raises(
        ProjectError, match=r"names '\.cruft\.json\.orig', a file rlcore upgrade never changes"
    ):
        recover(project)
    assert tree(project) == before
