"""Template updates with cruft: what arrives, what survives, what a conflict leaves, which commit.

Each test copies this template into a temporary git repository (tag ``v1``), bakes a project
from it with ``cruft create``, commits the project, changes the template in a later commit, and
runs ``cruft update`` non-interactively (``cruft update -y`` / ``cruft.update(...,
skip_apply_ask=True)``). What they pin down:

* A template change arrives and a user's committed change survives.
* A conflicting change is still reported as a success by cruft (cruft#49, #206). When the
  project's history lacks the pristine render of the file (the user edited it before the first
  commit), ``git apply -3`` cannot merge and cruft falls back to ``git apply --reject``: a
  ``.rej`` file is left, which the generated ``no-rej-files`` pre-commit hook rejects once it is
  staged (as ``git commit`` would stage it). When the history has the pristine render (the
  template's own ``init_git`` first commit), the 3-way merge writes conflict markers instead.
* ``cruft update`` moves to the template's branch tip, not to a release tag, and forgets a tag
  the project was created or updated at (cruft#104, #142): ``cruft update -y --checkout <tag>``
  pins it, and ``cruft check --checkout <tag>`` checks against it. Pass the tag every time.
* A template update never moves the rlcore requirement: the template renders it from the stored
  answers (``rlcore_source``, ``rlcore_version``), so a release that moves the default
  ``rlcore_version`` leaves an existing project's ``pyproject.toml`` byte for byte (a fresh
  project of that release starts on the new rlcore), and a requirement that ``rlcore upgrade``
  moved (recording the new ``rlcore_version``) stays through a template update.
* The template's own ``init_git`` under ``cruft create`` commits a tree that is clean once cruft
  has written ``.cruft.json``.

The projects take rlcore from an index (``rlcore_source=index``): these template repositories
hold no ``rlcore/`` and no release tag for the git source. A template's ``local_extensions``
module, once imported, stays in ``sys.modules`` and serves every later render in the process
(with ``template_root()`` pointing at the folder it was first imported from, a deleted clone of
cruft's): :func:`forget_template_modules` drops it before each in-process render.

pre-commit's hook environments live in the git-ignored ``.cache/pre-commit`` so that only the
first run installs them; ``mypy`` is skipped there (it is a ``language: system`` hook that needs
the project's dependencies installed, and the bake tests run it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cruft
import pytest
from helpers import CACHE, copy_template_repo, cruft_update, run
from packaging.version import Version

import rlcore

pytestmark = pytest.mark.slow

ANSWERS = {
    "project_name": "Demo",
    "notebooks": False,
    "ci": "none",
    "example_agent": "none",
    "rlcore_source": "index",
    "init_git": False,
}
PROJECT_ROOT = "{{cookiecutter.project_slug}}"
CRUFT = Path(sys.executable).with_name("cruft")
PRE_COMMIT_ENV = {"PRE_COMMIT_HOME": str(CACHE / "pre-commit"), "SKIP": "mypy"}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (commits unsigned, with a fixed identity); return its stdout."""
    identity = [
        "-c",
        "user.name=Cruft Tests",
        "-c",
        "user.email=cruft-tests@example.org",
        "-c",
        "commit.gpgsign=false",
    ]
    return run(["git", *identity, *args], repo).stdout


def change_template(template: Path, relative: str, edit: Callable[[str], str], message: str) -> str:
    """Edit one file of the template's project folder, commit it; return the new commit's sha."""
    path = template / PROJECT_ROOT / relative
    before = path.read_text(encoding="utf-8")
    after = edit(before)
    assert after != before, f"the edit of {relative} changed nothing"
    path.write_text(after, encoding="utf-8")
    git(template, "commit", "--quiet", "--all", "-m", message)
    return git(template, "rev-parse", "HEAD").strip()


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A git copy of this template with one commit, tagged ``v1``."""
    repo = copy_template_repo(tmp_path / "template")
    git(repo, "tag", "v1")
    return repo


def forget_template_modules() -> None:
    """Drop the template's ``local_extensions`` module, so that the next render imports its own.

    cookiecutter imports it by name; Python keeps the first one imported in a process, whose
    ``template_root()`` names the (by then deleted) clone it came from.
    """
    sys.modules.pop("local_extensions", None)


def create(
    template: Path,
    output: Path,
    *,
    before_first_commit: Callable[[Path], None] | None = None,
    answers: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Path:
    """``cruft create`` a project and commit everything; return its folder.

    With ``init_git`` among ``answers`` the template's hook makes the first commit, and the tree
    must be clean after cruft wrote ``.cruft.json``; otherwise this ``git init``s and commits.
    """
    answers = {**ANSWERS, **(answers or {})}
    forget_template_modules()
    project = Path(
        cruft.create(str(template), output_dir=output, extra_context=answers, no_input=True, **kwargs)
    )
    if answers["init_git"]:
        assert before_first_commit is None
        assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
        assert git(project, "rev-list", "--count", "HEAD").strip() == "1"
        return project
    if before_first_commit is not None:
        before_first_commit(project)
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Project from template")
    return project


def cruft_state(project: Path) -> dict[str, Any]:
    """The project's `.cruft.json`: template, commit, checkout, answers."""
    return json.loads((project / ".cruft.json").read_text(encoding="utf-8"))


def pre_commit(project: Path) -> subprocess.CompletedProcess[str]:
    """``pre-commit run --all-files`` in the project, its exit status left to the caller."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=project,
        env={**os.environ, **PRE_COMMIT_ENV},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def retitle(title: str) -> Callable[[str], str]:
    """An edit that replaces the README's first line."""
    return lambda text: title + "\n" + text.split("\n", 1)[1]


def conflicting_update(template: Path, output: Path, *, pristine_in_history: bool) -> Path:
    """A project whose README title both the user ("# Mine") and the template ("# Theirs") changed,
    after a ``cruft update`` that cruft reports as a success, conflicts or not (cruft#49, #206).

    With ``pristine_in_history`` the project's first commit holds the README as the template
    rendered it (the template's own ``init_git`` makes it), so ``git apply -3`` can merge;
    without, the user edited it before the first commit and cruft falls back to ``--reject``.
    """

    def edit(project: Path) -> None:
        readme = project / "README.md"
        readme.write_text(retitle("# Mine")(readme.read_text()))

    if pristine_in_history:
        project = create(template, output, answers={"init_git": True})
    else:
        project = create(template, output, before_first_commit=edit)
    if pristine_in_history:
        edit(project)
        git(project, "commit", "--quiet", "--all", "-m", "User title")
    change_template(template, "README.md", retitle("# Theirs"), "v2: README")
    forget_template_modules()
    assert cruft.update(project, skip_apply_ask=True) is True
    return project


def test_update_brings_the_template_change_and_keeps_the_user_change(template: Path, tmp_path: Path) -> None:
    project = create(template, tmp_path / "out")
    config = project / "src" / "demo" / "agents.py"
    config.write_text(config.read_text() + "# tuned by the user\n")
    git(project, "commit", "--quiet", "--all", "-m", "User change")
    head = change_template(template, ".gitignore", lambda text: text + "# from template v2\n*.ckpt\n", "v2")

    assert cruft.check(project) is False
    # The documented command, non-interactive.
    done = subprocess.run([CRUFT, "update", "-y"], cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    assert (project / ".gitignore").read_text().endswith("# from template v2\n*.ckpt\n")
    assert config.read_text().endswith("# tuned by the user\n")
    assert cruft_state(project)["commit"] == head
    assert git(project, "diff", "HEAD", "--name-only").split() == [".cruft.json", ".gitignore"]
    assert git(project, "status", "--porcelain", "--untracked-files=all").count("??") == 0
    assert cruft.check(project) is True
    checked = pre_commit(project)
    assert checked.returncode == 0, checked.stdout[-3000:]


def test_conflict_leaves_a_rej_file_that_pre_commit_rejects(template: Path, tmp_path: Path) -> None:
    change_template(template, ".gitignore", lambda text: text + "*.ckpt\n", "v2: gitignore")
    project = conflicting_update(template, tmp_path / "out", pristine_in_history=False)

    rejected = project / "README.md.rej"
    assert rejected.is_file() and "+# Theirs" in rejected.read_text()
    assert (project / "README.md").read_text().startswith("# Mine\n")
    assert (project / ".gitignore").read_text().endswith("*.ckpt\n")  # the rest was applied
    git(project, "add", "--all")  # what `git commit -a` / `git add` before committing does
    checked = pre_commit(project)
    assert checked.returncode == 1
    assert "- hook id: no-rej-files" in checked.stdout and "README.md.rej" in checked.stdout

    rejected.unlink()
    git(project, "add", "--all")
    assert pre_commit(project).returncode == 0, "only the .rej file should have failed"


def test_pre_commit_rejects_an_unstaged_rej_file(template: Path, tmp_path: Path) -> None:
    project = conflicting_update(template, tmp_path / "out", pristine_in_history=False)
    assert (project / "README.md.rej").is_file()
    assert "README.md.rej" not in git(project, "ls-files")  # untracked, as cruft leaves it
    checked = pre_commit(project)
    assert checked.returncode == 1
    assert "- hook id: no-untracked-rej-files" in checked.stdout and "README.md.rej" in checked.stdout


def test_pre_commit_rejects_conflict_markers_of_a_three_way_update(template: Path, tmp_path: Path) -> None:
    project = conflicting_update(template, tmp_path / "out", pristine_in_history=True)
    readme = project / "README.md"
    assert readme.read_text().startswith("<<<<<<< ours\n# Mine\n=======\n# Theirs\n>>>>>>> theirs\n")
    assert not list(project.rglob("*.rej"))
    git(project, "add", "--all")
    checked = pre_commit(project)
    assert checked.returncode == 1
    assert "- hook id: check-merge-conflict" in checked.stdout and "README.md:1" in checked.stdout


def test_update_follows_the_branch_tip_unless_pinned_to_a_tag(template: Path, tmp_path: Path) -> None:
    project = create(template, tmp_path / "out", checkout="v1")
    assert cruft_state(project)["checkout"] == "v1"
    released = change_template(template, ".gitignore", lambda text: text + "# released in v2\n", "v2")
    git(template, "tag", "v2")
    tip = change_template(
        template, ".gitignore", lambda text: text + "# unreleased work\n", "work in progress"
    )

    # Pinned: `--checkout v2` brings the release and nothing after it, and records the tag.
    done = subprocess.run(
        [CRUFT, "update", "-y", "--checkout", "v2"], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (project / ".gitignore").read_text()
    assert "# released in v2" in text and "# unreleased work" not in text
    assert (cruft_state(project)["commit"], cruft_state(project)["checkout"]) == (released, "v2")
    git(project, "commit", "--quiet", "--all", "-m", "Template v2")
    assert cruft.check(project, checkout="v2") is True
    # The trap: a plain check compares with the branch tip, and a plain update goes there,
    # although the project was created and updated at tags.
    assert cruft.check(project) is False
    forget_template_modules()
    assert cruft.update(project, skip_apply_ask=True) is True
    assert "# unreleased work" in (project / ".gitignore").read_text()
    assert (cruft_state(project)["commit"], cruft_state(project)["checkout"]) == (tip, None)


def release_moving_rlcore_version(template: Path, version: str, tag: str) -> str:
    """A template release whose ``cookiecutter.json`` starts new projects on rlcore ``version``."""
    config = template / "cookiecutter.json"
    text = config.read_text(encoding="utf-8")
    current = f'"rlcore_version": "{rlcore.__version__}"'
    assert text.count(current) == 1, "cookiecutter.json's rlcore_version default is not rlcore.__version__"
    config.write_text(text.replace(current, f'"rlcore_version": "{version}"'), encoding="utf-8")
    git(template, "commit", "--quiet", "--all", "-m", f"Template: new projects start on rlcore {version}")
    git(template, "tag", tag)
    return git(template, "rev-parse", "HEAD").strip()


def index_range(version: str) -> str:
    """The range the template writes for rlcore ``version`` while rlcore is 0.x."""
    release = Version(version)
    return f">={release},<0.{release.minor + 1}"


def test_template_release_moving_rlcore_version_leaves_the_requirement(
    template: Path, tmp_path: Path
) -> None:
    current = Version(rlcore.__version__)
    if current.major != 0:
        pytest.skip("the ranges below are written for rlcore 0.x")
    new = f"0.{current.minor + 1}.0"
    project = create(template, tmp_path / "out")
    pyproject = project / "pyproject.toml"
    assert pyproject.read_text().count(f'"rlcore{index_range(str(current))}"') == 1
    before = pyproject.read_bytes()
    released = release_moving_rlcore_version(template, new, "v2")

    # The stored answer, not the new default, renders the requirement: no diff reaches it.
    cruft_update(project, "v2")
    assert pyproject.read_bytes() == before
    state = cruft_state(project)
    assert (state["commit"], state["checkout"]) == (released, "v2")
    assert state["context"]["cookiecutter"]["rlcore_version"] == str(current)
    assert git(project, "diff", "HEAD", "--name-only").split() == [".cruft.json"]

    # A project made from that release starts on the new rlcore.
    fresh = create(template, tmp_path / "fresh", checkout="v2")
    assert f'"rlcore{index_range(new)}"' in (fresh / "pyproject.toml").read_text()
    assert cruft_state(fresh)["context"]["cookiecutter"]["rlcore_version"] == new


def test_a_requirement_moved_by_rlcore_upgrade_stays_through_a_template_update(
    template: Path, tmp_path: Path
) -> None:
    current = Version(rlcore.__version__)
    if current.major != 0:
        pytest.skip("the ranges below are written for rlcore 0.x")
    old, new = index_range(str(current)), index_range(f"0.{current.minor + 1}.0")
    project = create(template, tmp_path / "out")
    pyproject = project / "pyproject.toml"
    # What `rlcore upgrade` does: that one string in pyproject.toml, the answer in .cruft.json.
    pyproject.write_text(pyproject.read_text().replace(f'"rlcore{old}"', f'"rlcore{new}"'))
    state = cruft_state(project)
    state["context"]["cookiecutter"]["rlcore_version"] = f"0.{current.minor + 1}.0"
    (project / ".cruft.json").write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n")
    git(project, "commit", "--quiet", "--all", "-m", "rlcore upgrade")
    upgraded = pyproject.read_bytes()
    # A template release with tooling changes, and one that moves the default rlcore_version.
    change_template(template, ".gitignore", lambda text: text + "# from template v2\n", "v2: gitignore")
    git(template, "tag", "v2")
    release_moving_rlcore_version(template, f"0.{current.minor + 2}.0", "v3")

    for tag in ("v2", "v3"):
        cruft_update(project, tag)
        assert pyproject.read_bytes() == upgraded
        assert "<<<<<<<" not in pyproject.read_text()
        git(project, "commit", "--quiet", "--all", "-m", f"Template {tag}")
    assert (project / ".gitignore").read_text().endswith("# from template v2\n")
    assert cruft_state(project)["context"]["cookiecutter"]["rlcore_version"] == f"0.{current.minor + 1}.0"
