"""``cruft check`` and ``cruft update`` work on projects baked by plain ``cookiecutter`` and by cruft.

The template is copied into a temporary git repository (the checkout itself may hold
uncommitted work), baked, then changed by a new commit that the project must pick up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter
from helpers import bake, copy_template_repo, expected_files, project_files, run

CRUFT = [sys.executable, "-m", "cruft"]


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return copy_template_repo(tmp_path / "template")


def commit_template_change(template: Path) -> None:
    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\n## Contributing\n\nOpen a pull request.\n")
    run(["git", "commit", "--quiet", "--all", "-m", "Add a Contributing section"], template)


def test_cookiecutter_bake_is_tracked_by_cruft(tmp_path: Path, template: Path) -> None:
    project = bake(template, tmp_path / "out", rlcore_source="index")
    assert "SUCCESS" in run([*CRUFT, "check"], project).stdout

    commit_template_change(template)
    stale = subprocess.run([*CRUFT, "check"], cwd=project, capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "FAILURE" in stale.stdout

    run([*CRUFT, "update", "--skip-apply-ask"], project)
    assert (
        (project / "README.md")
        .read_text(encoding="utf-8")
        .endswith("## Contributing\n\nOpen a pull request.\n")
    )
    # The hooks ran again inside cruft's throw-away renders; none of that may reach the project.
    assert project_files(project) == expected_files(
        json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    )
    changed = sorted(line[3:] for line in run(["git", "status", "--porcelain"], project).stdout.splitlines())
    assert changed == [".cruft.json", "README.md"]
    head = run(["git", "rev-parse", "HEAD"], template).stdout.strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head
    assert "SUCCESS" in run([*CRUFT, "check"], project).stdout


def test_cruft_create_prunes_and_commits_when_asked(tmp_path: Path, template: Path) -> None:
    extra = json.dumps({"notebooks": "no", "ci": "none", "license": "none", "rlcore_source": "index"})
    run([*CRUFT, "create", "--no-input", "--extra-context", extra, str(template)], tmp_path)
    project = tmp_path / "rl-research"
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(template)
    assert project_files(project) == expected_files(state["context"]["cookiecutter"])
    # init_git (on by default): one commit with every file, .cruft.json included, and a clean tree
    # once cruft has written .cruft.json over the hook's identical copy.
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    committed = set(run(["git", "ls-files"], project).stdout.split())
    assert committed == project_files(project)
    assert run(["git", "rev-list", "--count", "HEAD"], project).stdout.strip() == "1"
    # pre-commit can install its hook right away.
    run([sys.executable, "-m", "pre_commit", "install"], project)
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    assert "SUCCESS" in run([*CRUFT, "check"], project).stdout


def test_cruft_create_without_init_git_leaves_git_to_the_user(tmp_path: Path, template: Path) -> None:
    extra = json.dumps({"init_git": "no", "rlcore_source": "index"})
    output = run([*CRUFT, "create", "--no-input", "--extra-context", extra, str(template)], tmp_path).stdout
    assert not (tmp_path / "rl-research" / ".git").exists()
    assert output.rstrip().endswith("git init && pre-commit install")


def test_bake_from_a_git_url_records_the_url(tmp_path: Path, template: Path) -> None:
    # Cookiecutter clones a URL into its cookiecutters_dir (here a temporary one, not ~/.cookiecutters).
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")
    url = template.as_uri()
    project = Path(
        cookiecutter(
            url,
            no_input=True,
            output_dir=str(tmp_path / "out"),
            config_file=str(config),
            extra_context={"rlcore_source": "index"},
        )
    )
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == url
    assert state["context"]["cookiecutter"]["_template"] == url
    assert state["commit"] == run(["git", "rev-parse", "HEAD"], template).stdout.strip()
    assert "SUCCESS" in run([*CRUFT, "check"], project).stdout
