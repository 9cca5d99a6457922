"""Stored answers survive template changes.

A project records the answers it was made with (``.cruft.json``'s ``context.cookiecutter``), and
``cruft update`` renders the new template with them: cookiecutter refuses a stored value that a
choice question of the new template no longer offers ("... provided for choice variable ..."),
and the update fails for every project that chose it. So:

* Fast: for every version of ``cookiecutter.json`` in this repository's history, every value a
  project of that version can have stored for a question the current template still asks (each
  choice of a choice list, both values of a yes/no, the default of a text answer) is accepted by
  the current ``cookiecutter.json``; answers to questions removed since (``rlcore_git_url``) are
  ignored, not refused.
* Slow: projects made with ``cruft create`` from the previous release of the template (the newest
  commit whose ``cookiecutter.json`` still asks ``rlcore_git_url``) take ``cruft update`` to the
  working tree's template: no rejected hunk, no conflict marker, the file set the new template
  gives their answers, and the rlcore requirement of an index-source project byte for byte.
  Through that update the answer ``rlcore_version`` is stored, so a later template release that
  moves its default leaves the requirement alone (tag by tag); a project that skips straight
  from the previous release to such a release has no stored answer and its requirement moves
  (a known gap, ``xfail``).

The history is read with git; a shallow clone lacks it (``git fetch --unshallow``).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.generate import generate_context
from helpers import (
    REPO,
    TEMPLATE_FILES,
    copy_template,
    cruft_update,
    expected_files,
    project_files,
    run,
    template_files_at,
)

CURRENT_JSON = REPO / "cookiecutter.json"
SHALLOW = (
    "this clone is shallow: the template's history (every version of cookiecutter.json) is "
    "needed, so run `git fetch --unshallow` (CI: actions/checkout with fetch-depth: 0)"
)
CRUFT = Path(sys.executable).with_name("cruft")


def git_in_repo(*args: str) -> str:
    """Run git in this repository; return its stdout."""
    return run(["git", *args], REPO).stdout


def is_shallow() -> bool:
    return git_in_repo("rev-parse", "--is-shallow-repository").strip() == "true"


def template_history() -> list[str]:
    """The commits that changed ``cookiecutter.json``, newest first."""
    return git_in_repo("log", "--format=%H", "--", "cookiecutter.json").split()


def json_at(sha: str) -> dict[str, Any]:
    """``cookiecutter.json`` as it was at ``sha``."""
    data: dict[str, Any] = json.loads(git_in_repo("show", f"{sha}:cookiecutter.json"))
    return data


def questions(context: dict[str, Any]) -> dict[str, Any]:
    """The questions of a ``cookiecutter.json`` (cookiecutter's own ``_``-entries aside)."""
    return {key: value for key, value in context.items() if not key.startswith("_")}


def storable_values(question: Any) -> list[Any]:
    """Every value a project can have stored for a question declared as ``question``.

    A choice list: each choice; a yes/no: both (cruft stores JSON booleans); a text answer: its
    default (what ``--no-input`` and the Enter key give; any other text is the user's own).
    """
    if isinstance(question, list):
        return list(question)
    if isinstance(question, bool):
        return [question, not question]
    return [question]


CURRENT_QUESTIONS = questions(json.loads(CURRENT_JSON.read_text(encoding="utf-8")))


def history_cases() -> Iterator[Any]:
    """``(sha, key, old declaration)`` for every question of every past ``cookiecutter.json``."""
    if is_shallow():
        yield pytest.param(None, None, None, id="full-clone-needed")
        return
    for sha in template_history():
        for key, declaration in questions(json_at(sha)).items():
            yield pytest.param(sha, key, declaration, id=f"{sha[:8]}-{key}")


HISTORY_CASES = list(history_cases())
#: The commits that changed cookiecutter.json (``[None]`` in a shallow clone: the tests fail).
HISTORY_SHAS = [None] if is_shallow() else template_history()


def require_history(sha: str | None) -> str:
    if sha is None:
        pytest.fail(SHALLOW)
    return sha


def new_context(extra: dict[str, Any]) -> dict[str, Any]:
    """What cookiecutter makes of the current ``cookiecutter.json`` with ``extra`` as stored answers."""
    context: dict[str, Any] = generate_context(context_file=str(CURRENT_JSON), extra_context=extra)[
        "cookiecutter"
    ]
    return context


def test_the_template_has_a_history() -> None:
    if is_shallow():
        pytest.fail(SHALLOW)
    history = template_history()
    assert history, "no commit changed cookiecutter.json"
    # The first version of the template is in it: the log reaches the commit that added the file.
    first = history[-1]
    added = git_in_repo("log", "--diff-filter=A", "--format=%H", "--", "cookiecutter.json").split()
    assert added[-1] == first


@pytest.mark.parametrize(("sha", "key", "declaration"), HISTORY_CASES)
def test_a_stored_answer_of_every_past_template_is_accepted(
    sha: str | None, key: str, declaration: Any
) -> None:
    sha = require_history(sha)
    if key not in CURRENT_QUESTIONS:
        # A question removed since: cookiecutter drops the stored answer (cruft passes it).
        for value in storable_values(declaration):
            assert key not in new_context({key: value})
        return
    refused = []
    for value in storable_values(declaration):
        try:
            context = new_context({key: value})
        except ValueError as error:
            refused.append(f"{value!r}: {error}")
            continue
        if isinstance(CURRENT_QUESTIONS[key], list):
            # cookiecutter moves the stored choice first: that is the value rendered.
            assert context[key][0] == value
        else:
            assert context[key] == value
    assert not refused, (
        f"the current cookiecutter.json refuses values that projects made at {sha[:8]} can have "
        f"stored for {key!r}, so `cruft update` fails for them: {refused} (keep the old choices, "
        f"or map them in a migration)"
    )


@pytest.mark.parametrize("sha", HISTORY_SHAS, ids=lambda sha: "full-clone-needed" if sha is None else sha[:8])
def test_a_whole_stored_record_of_every_past_template_is_accepted(sha: str | None) -> None:
    """All of a past version's defaults at once, as cruft passes them: the removed ones dropped,
    the new questions at their current defaults."""
    sha = require_history(sha)
    old = questions(json_at(sha))
    stored = {key: storable_values(value)[0] for key, value in old.items()}
    context = new_context(stored)
    assert set(context) >= set(CURRENT_QUESTIONS)
    assert not (set(old) - set(CURRENT_QUESTIONS)) & set(context)
    for key in set(CURRENT_QUESTIONS) - set(old):
        assert context[key] == CURRENT_QUESTIONS[key]


def test_rlcore_git_url_is_a_removed_question_of_the_history() -> None:
    if is_shallow():
        pytest.fail(SHALLOW)
    assert "rlcore_git_url" not in CURRENT_QUESTIONS
    assert any("rlcore_git_url" in json_at(sha) for sha in template_history())


# --- Slow: a project of the previous template release takes `cruft update` to this one. ---

ANSWER_SETS: dict[str, dict[str, Any]] = {
    "index-ppo": {"project_name": "Indexed", "rlcore_source": "index", "example_agent": "ppo"},
    "git-custom-url-all": {
        "project_name": "Cloned",
        "rlcore_source": "git",
        "rlcore_git_url": "https://git.example.org/lab/rl-monorepo.git",
        "example_agent": "all",
        "logger": "tensorboard",
    },
    "index-none-wandb": {
        "project_name": "Bare",
        "rlcore_source": "index",
        "example_agent": "none",
        "logger": "wandb",
        "notebooks": False,
        "ci": "none",
        "license": "none",
        "python_version": "3.13",
    },
    "git-default-url-dqn": {"project_name": "Deep Q", "rlcore_source": "git", "example_agent": "dqn"},
}
IDENTITY = [
    "-c",
    "user.name=History Tests",
    "-c",
    "user.email=history@example.org",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (commits unsigned, with a fixed identity); return its stdout."""
    return run(["git", *IDENTITY, *args], repo).stdout


def previous_release() -> str:
    """The newest commit whose ``cookiecutter.json`` still asks ``rlcore_git_url``.

    That is the template of the rlcore 0.2.0 release, the last one before ``rlcore_version``
    replaced the question (``HEAD`` itself, while the change is not committed).
    """
    if is_shallow():
        pytest.fail(SHALLOW)
    for sha in git_in_repo("rev-list", "HEAD").split():
        shown = subprocess.run(
            ["git", "show", f"{sha}:cookiecutter.json"], cwd=REPO, capture_output=True, text=True, check=False
        )
        if shown.returncode == 0 and "rlcore_git_url" in json.loads(shown.stdout):
            return sha
    pytest.fail("no commit of this repository's history has a cookiecutter.json asking rlcore_git_url")


class Transition:
    """A template repository holding the previous release (tagged), then the working tree's template."""

    def __init__(self, root: Path) -> None:
        self.old_sha = previous_release()
        self.repo = root / "template"
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "archive",
                "--format=tar",
                self.old_sha,
                *template_files_at(self.old_sha),
                "rlcore",
            ],
            capture_output=True,
            check=False,
        )
        assert archive.returncode == 0, archive.stderr.decode()
        self.repo.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(self.repo, filter="data")
        package = self.repo / "rlcore" / "src" / "rlcore"
        # rlcore/_version.py holds the literal since 0.2.1, rlcore/__init__.py before.
        declared = package / "_version.py" if (package / "_version.py").is_file() else package / "__init__.py"
        self.old_version = (
            declared.read_text(encoding="utf-8").split('__version__ = "', 1)[1].split('"', 1)[0]
        )
        self.tag = f"v{self.old_version}"
        git(self.repo, "init", "--quiet", "--initial-branch=main")
        git(self.repo, "add", "--all")
        git(self.repo, "commit", "--quiet", "-m", f"Template of rlcore {self.old_version}")
        # The release tag: the old template's git requirement names it, and so does the new
        # template's for the stored version (the hooks check it holds rlcore/).
        git(self.repo, "tag", "-a", self.tag, "-m", f"rlcore {self.old_version}")
        old_pyproject = (self.repo / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text()
        assert f"@{self.tag}#subdirectory=rlcore" in old_pyproject, "the old template's git pin moved"

        # The working tree's template (and rlcore/ as on disk) as the next commit.
        for name in (*TEMPLATE_FILES, "rlcore"):
            target = self.repo / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        staging = copy_template(root / "staging")
        for name in TEMPLATE_FILES:
            shutil.move(staging / name, self.repo / name)
        shutil.copytree(
            REPO / "rlcore",
            self.repo / "rlcore",
            ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".*_cache", ".hypothesis", "*.egg-info", "dist"
            ),
        )
        git(self.repo, "add", "--all")
        git(self.repo, "commit", "--quiet", "-m", "The working tree's template")
        self.new_tag = f"{self.tag}-new"
        git(self.repo, "tag", self.new_tag)
        self.new_sha = git(self.repo, "rev-parse", "HEAD").strip()

        # A later template release that moves the rlcore fresh projects start on.
        config = self.repo / "cookiecutter.json"
        text = config.read_text(encoding="utf-8")
        current = f'"rlcore_version": "{CURRENT_QUESTIONS["rlcore_version"]}"'
        assert text.count(current) == 1
        major, minor, _ = (int(part) for part in self.old_version.split("."))
        self.bumped_version = f"{major}.{minor + 1}.0"
        config.write_text(
            text.replace(current, f'"rlcore_version": "{self.bumped_version}"'), encoding="utf-8"
        )
        git(
            self.repo,
            "commit",
            "--quiet",
            "--all",
            "-m",
            f"Template: new projects start on {self.bumped_version}",
        )
        self.bumped_tag = f"template-{self.bumped_version}"
        git(self.repo, "tag", self.bumped_tag)


@pytest.fixture(scope="module")
def transition(tmp_path_factory: pytest.TempPathFactory) -> Transition:
    return Transition(tmp_path_factory.mktemp("history"))


def cruft_create(
    transition: Transition, output: Path, answers: dict[str, Any], checkout: str | None = None
) -> Path:
    """``cruft create --no-input`` from the template at ``checkout`` (the previous release by
    default), ``git init`` if its hook did not, and commit; return the project.

    cruft runs in its own process: a template's ``local_extensions`` module, once imported,
    would stay in this one and serve every later render in it.
    """
    output.mkdir()
    run(
        [
            CRUFT,
            "create",
            "--no-input",
            "--checkout",
            checkout or transition.tag,
            "--extra-context",
            json.dumps(answers),
            str(transition.repo),
        ],
        output,
    )
    (project,) = output.iterdir()
    if not (project / ".git").exists():
        git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--allow-empty", "-m", "Project from the template")
    return project


def rlcore_line(project: Path) -> bytes:
    """The rlcore requirement's line of the project's ``pyproject.toml``, as bytes."""
    (line,) = [
        line
        for line in (project / "pyproject.toml").read_bytes().splitlines(keepends=True)
        if line.strip().startswith((b'"rlcore[', b'"rlcore>', b'"rlcore @'))
    ]
    return line


def stored_answers(project: Path) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"][
        "cookiecutter"
    ]
    return answers


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_a_project_of_the_previous_release_takes_the_template_update(
    transition: Transition, tmp_path: Path, name: str
) -> None:
    """``cruft update -y --checkout <new>`` from the previous release to the working tree's template.

    The index requirement is kept byte for byte: the old template wrote ``>=0.2.0,<0.3``
    literally and the new one renders it from ``rlcore_version``, whose new default (absent from
    the stored answers) is that same release. A git requirement keeps its tag ``v0.2.0`` but, on
    this one transition, its URL moves: the old template wrote the ``rlcore_git_url`` answer, which
    the new template no longer asks (cookiecutter drops it), and the new one derives the URL from
    the recorded ``_template``, the repository the project was made from (here a local path, so
    ``git+file://...``). A lab whose projects pointed ``rlcore_git_url`` elsewhere sees that line
    change in the update's diff (and in the README's install note); its projects made from the
    template's hosted URL get that same URL.
    """
    answers = ANSWER_SETS[name]
    project = cruft_create(transition, tmp_path / "out", answers)
    before = stored_answers(project)
    assert before["_commit"] == git(transition.repo, "rev-parse", transition.tag + "^{commit}").strip()
    assert "rlcore_version" not in before
    line_before = rlcore_line(project)

    cruft_update(project, transition.new_tag)

    after = stored_answers(project)
    assert after["_commit"] == transition.new_sha
    assert "rlcore_git_url" not in after
    assert after["rlcore_version"] == transition.old_version  # the new question's default
    defaults = {key: storable_values(value)[0] for key, value in CURRENT_QUESTIONS.items()}
    assert project_files(project) == expected_files({**defaults, **before})

    line_after = rlcore_line(project)
    if answers["rlcore_source"] == "index":
        assert line_after == line_before
    else:
        old_url = answers.get("rlcore_git_url", "https://github.com/your-lab/rlcore.git")
        assert f"git+{old_url}@{transition.tag}#subdirectory=rlcore".encode() in line_before
        url = transition.repo.resolve().as_uri()
        assert line_after == line_before.replace(old_url.encode(), url.encode())
        assert f"@{transition.tag}#subdirectory=rlcore".encode() in line_after


@pytest.mark.slow
def test_updated_tag_by_tag_the_project_keeps_its_pin_when_a_release_bumps_rlcore_version(
    transition: Transition, tmp_path: Path
) -> None:
    """Through the first template with ``rlcore_version``, the answer is stored (cruft records
    the new template's context, where it takes the default, the old release); a later release
    that moves the default then leaves the requirement alone, while a fresh project of that
    release starts on the new rlcore."""
    project = cruft_create(transition, tmp_path / "out", ANSWER_SETS["index-ppo"])
    line = rlcore_line(project)
    cruft_update(project, transition.new_tag)
    assert stored_answers(project)["rlcore_version"] == transition.old_version
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Template update")
    cruft_update(project, transition.bumped_tag)
    assert rlcore_line(project) == line
    assert stored_answers(project)["rlcore_version"] == transition.old_version

    fresh = cruft_create(
        transition, tmp_path / "fresh", ANSWER_SETS["index-ppo"], checkout=transition.bumped_tag
    )
    major, minor, patch = transition.bumped_version.split(".")
    assert (
        rlcore_line(fresh)
        == f'    "rlcore[plot]>={major}.{minor}.{patch},<{major}.{int(minor) + 1}",\n'.encode()
    )


class PinMoved(Exception):
    """The template update moved the rlcore requirement."""


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=PinMoved,
    reason=(
        "a project of the 0.2.0 template stores no rlcore_version; a template update straight to a "
        "release whose default rlcore_version moved renders the new default, so the pin moves"
    ),
)
def test_a_project_of_the_previous_release_skipping_to_a_bumped_release_keeps_its_pin(
    transition: Transition, tmp_path: Path
) -> None:
    """The gap of the old projects: their stored answers lack ``rlcore_version``, so the new
    render takes the template's default. Straight from the 0.2.0 template to a release whose
    default is newer (``cruft update`` without ``--checkout`` goes to the branch tip, and so
    skips releases), the requirement moves with no test run: what ``rlcore upgrade`` exists to
    prevent. Going tag by tag through the first template with the question (the test above), or
    ``rlcore upgrade`` (which adds the answer), closes it."""
    project = cruft_create(transition, tmp_path / "out", ANSWER_SETS["index-ppo"])
    line = rlcore_line(project)
    cruft_update(project, transition.bumped_tag)
    if rlcore_line(project) != line:
        raise PinMoved(f"{line!r} became {rlcore_line(project)!r}")
