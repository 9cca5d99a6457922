"""Invalid answers are rejected before any file is written, each with one clear line.

End to end through cookiecutter (the hook's exit status, its stderr, and an empty output folder
afterwards), plus the checks of ``hooks/pre_gen_project.py`` called directly on more cases.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from cookiecutter.exceptions import FailedHookException, UndefinedVariableInTemplate
from helpers import REPO, bake, load_module

pre_gen = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project")

IDENTIFIER = "is not a valid Python identifier: use ASCII letters, digits and underscores"
DISTRIBUTION = r"is not a valid distribution name \(PEP 508\)"
EMAIL = "does not look like an email address: expected name@domain.tld"
GIT_URL = "is not a repository URL pip can clone: expected https://"

INVALID: list[tuple[dict[str, Any], str]] = [
    (
        {"package_name": "3d_agents"},
        rf"package_name '3d_agents' {IDENTIFIER}.*\(e\.g\. 'project_3d_agents'\)",
    ),
    ({"package_name": "my-agents"}, rf"package_name 'my-agents' {IDENTIFIER}.*\(e\.g\. 'my_agents'\)"),
    ({"package_name": "café"}, rf"package_name 'café' {IDENTIFIER}"),
    (
        {"package_name": "class"},
        r"package_name 'class' is a Python keyword: choose another name \(e\.g\. 'class_rl'\)",
    ),
    ({"package_name": "json"}, r"package_name 'json' is a standard-library module, which it would shadow"),
    (
        {"package_name": "tests"},
        r"package_name 'tests' is reserved: it is a folder of the project's layout \(src, test, tests\)",
    ),
    (
        {"package_name": "torch"},
        r"package_name 'torch' is reserved: it is the module 'torch' of the project's dependency 'torch'.*choose another name \(e\.g\. 'torch_rl'\)",
    ),
    (
        {"project_slug": "my project", "package_name": "agents"},
        rf"project_slug 'my project' {DISTRIBUTION}.*\(e\.g\. 'my-project'\)",
    ),
    ({"project_slug": "-agents", "package_name": "agents"}, rf"project_slug '-agents' {DISTRIBUTION}"),
    ({"project_slug": "agents_", "package_name": "agents"}, rf"project_slug 'agents_' {DISTRIBUTION}"),
    (
        {"project_slug": "RLcore", "package_name": "agents"},
        r"project_slug 'RLcore' is the name of a dependency or a project folder",
    ),
    ({"author_email": "ada"}, rf"author_email 'ada' {EMAIL}"),
    ({"author_email": "ada@localhost"}, rf"author_email 'ada@localhost' {EMAIL}"),
    ({"author_email": "ada lovelace@example.org"}, rf"author_email 'ada lovelace@example.org' {EMAIL}"),
    (
        {"project_name": " ", "project_slug": "agents"},
        r"project_name is empty \(' '\): expected some text on one line",
    ),
    ({"author_name": "Ada\nLovelace"}, r"author_name 'Ada\\nLovelace' spans several lines"),
    (
        {"project_short_description": "One.\nTwo."},
        r"project_short_description 'One.\\nTwo.' spans several lines",
    ),
    ({"rlcore_version": "0.2"}, r"rlcore_version '0.2' is not a release number: expected X\.Y\.Z"),
    ({"rlcore_version": "v0.2.0"}, r"rlcore_version 'v0.2.0' is not a release number"),
    ({"rlcore_version": "latest"}, r"rlcore_version 'latest' is not a release number"),
    ({"rlcore_version": "0.2.0rc1"}, r"rlcore_version '0.2.0rc1' is not a release number"),
]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR: ")]


@pytest.mark.parametrize(
    ("answers", "message"), INVALID, ids=[re.sub(r"\W+", "-", str(a))[:60] for a, _ in INVALID]
)
def test_invalid_answer_is_rejected_and_nothing_is_left(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, Any], message: str
) -> None:
    with pytest.raises(FailedHookException, match=r"Hook script failed \(exit status: 1\)"):
        bake(REPO, tmp_path, **answers)
    lines = error_lines(capfd.readouterr().err)
    assert len(lines) == 1, lines
    assert re.match(rf"ERROR: {message}", lines[0]), lines[0]
    assert list(tmp_path.iterdir()) == []


def test_every_problem_gets_its_own_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(REPO, tmp_path, project_slug="bad slug", package_name="json", author_email="nope")
    lines = error_lines(capfd.readouterr().err)
    assert [line.split()[1] for line in lines] == ["project_slug", "package_name", "author_email"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("slug", ["runs/agents", "..", ".", "/tmp/absolute-agents"])
def test_path_like_slug_is_rejected_before_any_folder_exists(tmp_path: Path, slug: str) -> None:
    # Cookiecutter creates the project folder before the pre-generation hook runs and deletes
    # only that folder on failure; local_extensions stops it while it renders the folder name.
    with pytest.raises(UndefinedVariableInTemplate) as raised:
        bake(REPO, tmp_path, project_slug=slug)
    assert raised.value.error.message == (
        f"project_slug {slug!r} is a path, not a name: it names the project folder, so use "
        f"ASCII letters, digits, '.', '-' and '_' (e.g. 'my-project')"
    )
    assert list(tmp_path.iterdir()) == []
    assert not Path("/tmp/absolute-agents").exists()


def test_unknown_choice_is_rejected_by_cookiecutter(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"GPL-3\.0 provided for choice variable license, but the choices are"
    ):
        bake(REPO, tmp_path, license="GPL-3.0")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("gh:your-lab/rl-template", "https://github.com/your-lab/rl-template.git"),
        ("gl:your-lab/rl-template", "https://gitlab.com/your-lab/rl-template.git"),
        ("git@github.com:your-lab/rl-template.git", "ssh://git@github.com/your-lab/rl-template.git"),
        ("git+https://example.org/lab/t.git", "https://example.org/lab/t.git"),
        ("https://example.org/lab/t.git", "https://example.org/lab/t.git"),
        ("file:///srv/t", "file:///srv/t"),
        ("/srv/templates/rl template", "file:///srv/templates/rl%20template"),
        # A relative path is where cookiecutter read the template: its root folder.
        ("../rl-template", "file:///work/root"),
        (".", "file:///work/root"),
    ],
)
def test_the_template_url_pip_installs_rlcore_from(template: str, url: str) -> None:
    assert pre_gen.template_git_url(template, "/work/root") == url
    assert pre_gen.check_git_url(url) is None
    # The templates render it with the same rules, in Jinja (templates/rlcore.jinja).
    for source, version in (("git", "0.2.0"), ("index", "0.2.0"), ("index", "1.4.2"), ("git", "0.12.3")):
        answers = {"rlcore_source": source, "rlcore_version": version, "_template": template}
        assert render_requirement(answers, "[plot]") == pre_gen.rlcore_requirement(
            answers, "[plot]", "/work/root"
        )


def render_requirement(answers: dict[str, str], extras: str) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "templates"))
    environment.globals["template_root"] = lambda: "/work/root"
    source = '{% from "rlcore.jinja" import rlcore_requirement %}{{ rlcore_requirement(answers, extras) }}'
    return environment.from_string(source).render(answers=answers, extras=extras)


@pytest.mark.parametrize("name", ["agents", "rl2", "snake_case_name", "Agents", "a" * 100])
def test_valid_package_names(name: str) -> None:
    assert pre_gen.check_package_name(name) is None


@pytest.mark.parametrize("name", ["x", "my-project", "my.project", "my_project", "A1", "rl-core-experiments"])
def test_valid_project_slugs(name: str) -> None:
    assert pre_gen.check_project_slug(name) is None


@pytest.mark.parametrize("name", ["match", "case", "type"])
def test_soft_keywords_are_valid_package_names(name: str) -> None:
    # `import match` works: soft keywords are keywords only inside their statements.
    assert pre_gen.check_package_name(name) is None


@pytest.mark.parametrize("name", ["sys", "os", "asyncio", "tomllib", "__future__", "antigravity"])
def test_every_standard_library_module_is_refused(name: str) -> None:
    message = pre_gen.check_package_name(name)
    assert message is not None and "standard-library module" in message


@pytest.mark.parametrize("name", ["Torch", "NumPy", "gym-nasium", "r_l_core"])
def test_dependency_names_are_refused_as_slugs_after_normalisation(name: str) -> None:
    normalized = re.sub(r"[-_.]+", "-", name).lower()
    message = pre_gen.check_project_slug(name)
    assert (message is not None) == (normalized in pre_gen.RESERVED_NAMES)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/lab/rlcore.git",
        "ssh://git@github.com/lab/rlcore.git",
        "file:///srv/git/rlcore",
        "git://example.org/rlcore",
        "http://localhost:8080/rlcore.git",
    ],
)
def test_valid_git_urls(url: str) -> None:
    assert pre_gen.check_git_url(url) is None


def test_defaults_are_valid() -> None:
    defaults = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    answers = {key: value[0] if isinstance(value, list) else value for key, value in defaults.items()}
    answers.update(project_slug="rl-research", package_name="rl_research", rlcore_source="git")
    assert pre_gen.validate({**answers, "_template": "gh:your-lab/rl-template"}, str(REPO)) == []
