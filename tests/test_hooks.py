"""The hooks: data-driven pruning, git initialisation, the recorded template, and the answer
``notebooks`` (a kind, or a value of the former yes/no question) checked and mapped to its files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from helpers import REPO, bake, copy_template, expected_files, load_module, project_files, run

post_gen = load_module(REPO / "hooks" / "post_gen_project.py", "template_post_gen_project")
pre_gen = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project")
TEMPLATE_TREE = REPO / "{{cookiecutter.project_slug}}"

AGENT_PATHS = {
    "example_agent": {
        "none": ("src/pkg/agents",),
        "ppo": ("src/pkg/agents/dqn.py", "tests/test_dqn.py"),
        "dqn": ("src/pkg/agents/ppo.py", "tests/test_ppo.py"),
    },
    "__notebooks_kind": {"none": ("notebooks",), "nbdev": ("notebooks/quickstart.ipynb",)},
    # A yes/no answer is looked up as "true" / "false".
    "init_git": {"false": (".git",)},
}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"example_agent": "none", "__notebooks_kind": "jupyter", "init_git": True}, ["src/pkg/agents"]),
        (
            {"example_agent": "ppo", "__notebooks_kind": "none", "init_git": False},
            [".git", "notebooks", "src/pkg/agents/dqn.py", "tests/test_dqn.py"],
        ),
        (
            {"example_agent": "dqn", "__notebooks_kind": "nbdev", "init_git": True},
            ["notebooks/quickstart.ipynb", "src/pkg/agents/ppo.py", "tests/test_ppo.py"],
        ),
    ],
)
def test_paths_to_prune_follow_the_mapping(answers: dict[str, object], expected: list[str]) -> None:
    assert post_gen.paths_to_prune(answers, AGENT_PATHS) == expected


def test_prune_removes_files_and_folders_and_skips_missing_ones(tmp_path: Path) -> None:
    for relative in (
        "src/pkg/agents/ppo.py",
        "src/pkg/agents/dqn.py",
        "src/pkg/envs.py",
        "notebooks/a.ipynb",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    post_gen.prune(tmp_path, ["notebooks", "src/pkg/agents/dqn.py", "tests/test_dqn.py"])
    assert project_files(tmp_path) == {"src/pkg/agents/ppo.py", "src/pkg/envs.py"}


def test_every_pruned_path_exists_in_the_template() -> None:
    for key, by_value in post_gen.PRUNED_PATHS.items():
        assert key in json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
        for paths in by_value.values():
            for relative in paths:
                # Spelled like the template's folders, e.g. src/{{cookiecutter.package_name}}/...
                assert (TEMPLATE_TREE / relative).exists(), f"{key}: {relative} is not in the template"


# The answer notebooks, and the kind the template makes of it: a kind (any case, any spaces
# around it), or a value of the former yes/no question as cookiecutter read it, which projects
# made before the three kinds store in .cruft.json (JSON true / false, or the text given).
NOTEBOOK_ANSWERS = [
    ("jupyter", "jupyter"),
    ("nbdev", "nbdev"),
    ("none", "none"),
    (" NBdev ", "nbdev"),
    (True, "jupyter"),
    (False, "none"),
    ("yes", "jupyter"),
    ("y", "jupyter"),
    ("1", "jupyter"),
    ("on", "jupyter"),
    ("no", "none"),
    ("false", "none"),
    ("0", "none"),
    ("off", "none"),
]


@pytest.mark.parametrize(("answer", "kind"), NOTEBOOK_ANSWERS, ids=[repr(a) for a, _ in NOTEBOOK_ANSWERS])
def test_a_notebooks_answer_bakes_the_files_of_its_kind(tmp_path: Path, answer: object, kind: str) -> None:
    project = bake(REPO, tmp_path, notebooks=answer, example_agent="none", init_git=False)
    answers = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    assert answers["notebooks"] == answer
    assert answers["__notebooks_kind"] == kind
    assert project_files(project) == expected_files(answers)
    assert (project / "notebooks").is_dir() == (kind == "jupyter")
    assert (project / "nbs").is_dir() == (kind == "nbdev")


# The env each custom_env answer registers on import (id, entry point, time limit), or none.
CUSTOM_ENVS = {
    "numpy": ("pkg/PointMass-v0", "pkg.envs.point_mass:PointMassEnv", 200),
    "pybullet": ("pkg/CartPoleBullet-v0", "pkg.envs.cartpole_bullet:CartPoleBulletEnv", 500),
    "none": None,
}


@pytest.mark.parametrize("answer", list(CUSTOM_ENVS))
def test_a_custom_env_answer_bakes_its_env_registered_on_import(tmp_path: Path, answer: str) -> None:
    project = bake(
        REPO, tmp_path, custom_env=answer, package_name="pkg", example_agent="none", init_git=False
    )
    answers = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    assert answers["custom_env"] == answer
    assert project_files(project) == expected_files(answers)
    package = (project / "src" / "pkg" / "__init__.py").read_text(encoding="utf-8")
    assert ("from pkg import envs\n" in package) == (answer != "none")
    if CUSTOM_ENVS[answer] is None:
        assert not (project / "src" / "pkg" / "envs").exists()
        return
    # Read without importing it (importing it would register the id in this process).
    registrations = (project / "src" / "pkg" / "envs" / "__init__.py").read_text(encoding="utf-8")
    assert f"    {CUSTOM_ENVS[answer]!r},\n".replace("'", '"') in registrations


@pytest.mark.parametrize("answer", ["maybe", "lab", "jupyterlab", "2", ""])
def test_any_other_notebooks_answer_is_rejected_before_any_file_is_written(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], answer: str
) -> None:
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake(REPO, output, notebooks=answer, init_git=False)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: notebooks")]
    assert errors == [
        f"ERROR: notebooks {answer!r} is not a kind of notebooks: expected 'jupyter' (a quickstart "
        f"notebook that pytest runs), 'nbdev' (notebooks that are a module and its tests) or 'none' "
        f"(the former yes/no answers still work: yes for jupyter, no for none)"
    ]
    assert not output.exists() or list(output.iterdir()) == []


def test_check_notebooks_accepts_the_kinds_alone() -> None:
    for kind in ("jupyter", "nbdev", "none"):
        assert pre_gen.check_notebooks(kind.upper(), kind) is None
    assert pre_gen.NOTEBOOK_KINDS == ("jupyter", "nbdev", "none")
    message = pre_gen.check_notebooks("x" * 60, "x" * 60)
    assert message is not None and message.startswith(f"notebooks {'x' * 40!r}... is not a kind of notebooks")
    assert pre_gen.check_notebooks(None, None) is not None


def test_init_git_sets_a_local_identity_when_none_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(variable, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("hello\n")
    report = post_gen.init_git(project, "Ada Lovelace", "ada@example.org")
    assert report == "initialised a git repository with a first commit (branch main)"
    author = run(["git", "log", "-1", "--format=%an <%ae>"], project).stdout.strip()
    assert author == "Ada Lovelace <ada@example.org>"
    assert run(["git", "config", "--local", "user.name"], project).stdout.strip() == "Ada Lovelace"


def test_init_git_without_git_only_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert (
        post_gen.init_git(tmp_path, "Ada", "ada@example.org")
        == "git was not found on PATH: run `git init` yourself"
    )
    assert not (tmp_path / ".git").exists()


def test_bake_inside_a_repository_makes_no_nested_repository(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run(["git", "init", "--quiet"], tmp_path)
    project = bake(REPO, tmp_path)
    assert not (project / ".git").exists()
    assert (
        f"not running `git init`: the project is already inside the repository {tmp_path}"
        in capfd.readouterr().out
    )


def test_next_steps_are_printed(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bake(REPO, tmp_path, init_git=False, rlcore_source="index")
    out = capfd.readouterr().out
    assert out.startswith("Created rl-research. Next steps:\n  cd rl-research\n")
    assert 'python -m pip install -e ".[dev]"' in out and "--find-links" in out and "--extra-index-url" in out
    assert "python -m pytest" in out
    # No repository yet: pre-commit needs one.
    assert out.rstrip().endswith("git init && pre-commit install")


def test_a_missing_release_tag_is_reported_at_generation(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The template's repository lacks the tag that the git source pins: say so now, not at pip time.
    template = copy_template(tmp_path / "template")
    run(["git", "init", "--quiet"], template)
    # In a process of its own: cookiecutter imports local_extensions once per process, and
    # template_root() is where that module was first found.
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        template,
        "-o",
        tmp_path / "out",
        "init_git=no",
    ]
    out = run(command, tmp_path).stdout
    assert "WARNING: the template's repository" in out and "has no tag v" in out
    assert "rlcore_source=index" in out


@pytest.mark.parametrize(
    ("name", "alone", "expected"),
    [
        ("tmpab_3x9zq", True, True),
        ("tmpab_3x9zq", False, False),
        ("tmp.ab3x9zq0", True, False),
        ("out", True, False),
    ],
)
def test_cruft_renders_are_told_from_new_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, alone: bool, expected: bool
) -> None:
    # cruft update renders into TemporaryDirectory() (tmp + 8 characters), the project alone in it.
    monkeypatch.setattr(post_gen.tempfile, "gettempdir", lambda: str(tmp_path))
    project = tmp_path / name / "rl-research"
    project.mkdir(parents=True)
    if not alone:
        (tmp_path / name / "other").mkdir()
    assert post_gen.is_cruft_render(project) is expected


def test_template_outside_git_records_no_commit(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    project = bake(template, tmp_path / "out", init_git=False, ci="none")
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["template"], state["commit"], state["directory"]) == (str(template), None, None)
    assert project_files(project) == expected_files(state["context"]["cookiecutter"])


def test_the_cruft_record_is_none_when_cruft_cannot_make_it(tmp_path: Path) -> None:
    # (Then the project is committed without it and the hook says to commit it.)
    answers = {"_template": str(tmp_path), "_commit": "0" * 40, "project_name": "x"}
    assert post_gen.cruft_create_state(answers, str(tmp_path / "missing")) is None
