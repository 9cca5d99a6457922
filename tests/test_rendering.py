"""Answers with quotes, backslashes and non-ASCII text still render valid TOML, Python, JSON, YAML."""

from __future__ import annotations

import ast
import doctest
import json
from pathlib import Path

import pytest
import tomllib
import yaml
from helpers import REPO, bake, expected_files, load_module, project_files
from hypothesis import given, settings
from hypothesis import strategies as st

local_extensions = load_module(REPO / "local_extensions.py", "template_local_extensions")

HOSTILE = {
    "project_name": 'Zoë\'s "Deep" RL \\ Lab 🚀 <&>',
    "author_name": 'O\'Brien "Bob" \\ Zoë Ångström 😀',
    "author_email": "bob.obrien@example.org",
    "project_short_description": "Say \"hi\" \\n 'quoted' ''' \"\"\" ünïcödé 🤖 \t tab {x} %s",
}


# Each kind of notebooks, and with it one of the project's envs (each bake renders files of its own).
NOTEBOOKS_AND_ENVS = {"jupyter": "numpy", "nbdev": "pybullet"}


@pytest.fixture(scope="module", params=list(NOTEBOOKS_AND_ENVS))
def hostile_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile answers, baked with each kind of notebooks and each env."""
    env = NOTEBOOKS_AND_ENVS[request.param]
    return bake(REPO, tmp_path_factory.mktemp("hostile"), notebooks=request.param, custom_env=env, **HOSTILE)


def test_hostile_answers_keep_derived_names_valid(hostile_project: Path) -> None:
    assert hostile_project.name == "zoe-s-deep-rl-lab"
    assert (hostile_project / "src" / "zoe_s_deep_rl_lab" / "__init__.py").is_file()


def test_pyproject_is_valid_toml_holding_the_exact_answers(hostile_project: Path) -> None:
    meta = tomllib.loads((hostile_project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["description"] == HOSTILE["project_short_description"]
    assert meta["authors"] == [{"name": HOSTILE["author_name"], "email": HOSTILE["author_email"]}]


def test_python_files_compile(hostile_project: Path) -> None:
    answers = json.loads((hostile_project / ".cruft.json").read_text(encoding="utf-8"))["context"][
        "cookiecutter"
    ]
    sources = sorted(relative for relative in project_files(hostile_project) if relative.endswith(".py"))
    assert sources == sorted(relative for relative in expected_files(answers) if relative.endswith(".py"))
    for relative in sources:
        compile((hostile_project / relative).read_text(encoding="utf-8"), relative, "exec")


def test_json_files_parse(hostile_project: Path) -> None:
    notebooks = sorted(hostile_project.rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "quickstart.ipynb":
            assert notebook["cells"][0]["source"][0] == f"# {HOSTILE['project_name']}: quickstart\n"
    state = json.loads((hostile_project / ".cruft.json").read_text(encoding="utf-8"))
    assert {key: state["context"]["cookiecutter"][key] for key in HOSTILE} == HOSTILE


def test_yaml_files_parse(hostile_project: Path) -> None:
    for relative in sorted(project_files(hostile_project)):
        if relative.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load((hostile_project / relative).read_text(encoding="utf-8")), dict)


def test_text_files_show_the_answers_verbatim(hostile_project: Path) -> None:
    readme = (hostile_project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {HOSTILE['project_name']}\n\n{HOSTILE['project_short_description']}\n")
    assert HOSTILE["author_name"] in (hostile_project / "LICENSE").read_text(encoding="utf-8")


# Lone surrogates (category Cs) cannot be encoded as UTF-8, so no answer can hold them.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_quoted_is_the_same_string_in_toml_python_json_and_yaml(text: str) -> None:
    literal = local_extensions.quoted(text)
    assert tomllib.loads(f"value = {literal}")["value"] == text
    assert ast.literal_eval(literal) == text
    assert json.loads(literal) == text
    assert yaml.safe_load(literal) == text


@settings(max_examples=50, deadline=None)
@given(ANY_TEXT)
def test_quoted_is_one_line(text: str) -> None:
    assert local_extensions.quoted(text).splitlines() == [local_extensions.quoted(text)]


def test_quoted_names_a_lone_surrogate() -> None:
    with pytest.raises(ValueError, match=r"quoted: the answer 'a\\udc80' holds the lone surrogate U\+DC80"):
        local_extensions.quoted("a\udc80")


def test_local_extensions_doctests() -> None:
    result = doctest.testmod(local_extensions, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0
