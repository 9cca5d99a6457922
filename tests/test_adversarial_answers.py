"""Hostile answers: rejected before any file is written, or rendered without changing a file's shape.

Regression tests of an adversarial review of the template's answers, each with its original input:

* a git URL holding quotes added a dependency to the generated pyproject.toml, or made it
  unparsable: the URL rlcore is installed from (now the template's own, with ``rlcore_source=git``)
  is rejected when anything in it is outside the URL character set, a local path is written as a
  percent-encoded ``file://`` URL, and every answer in pyproject.toml is escaped
  (``local_extensions.escaped_answers``), so a value that validation lets through still cannot
  change the file's structure;
* package names that break the project (``tyro``, ``pytest``, ``__main__``) were accepted: every
  module of every dependency is reserved, and so is every dependency's distribution name;
* an author name of undecodable bytes, or a 260-character name, failed while files were being
  written and left a partial project: text, control characters and lengths are checked before
  any file exists, through ``cookiecutter`` (API and command line) and ``cruft create``.

Each rejection names the answer and leaves the output folder empty. No pip installs: every bake
takes a fraction of a second.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import cruft
import pytest
import tomllib
import yaml
from cookiecutter.exceptions import FailedHookException, UndefinedVariableInTemplate
from cookiecutter.main import cookiecutter
from helpers import REPO, bake, copy_template_repo, load_module, project_files, release_repo
from packaging.requirements import Requirement

import rlcore

pre_gen = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project")
RLCORE_VERSION = rlcore.__version__

# (answers, the answer the message must name, a regular expression the message must match).
REJECTED: list[tuple[dict[str, Any], str, str]] = [
    # The original inputs of the review.
    ({"package_name": "tyro"}, "package_name", r"is the module 'tyro' of the project's dependency 'tyro'"),
    ({"package_name": "pytest"}, "package_name", r"is the module 'pytest' of the project's dependency"),
    ({"package_name": "__main__"}, "package_name", r"starts with an underscore.*\(e\.g\. 'main'\)"),
    ({"author_name": "\udcff"}, "author_name", r"is not valid text: it holds the lone surrogate U\+DCFF"),
    ({"package_name": "a" * 260}, "package_name", r"is too long \(260 characters\): at most 100"),
    ({"project_slug": "a" * 260}, "project_slug", r"is too long \(260 characters\): at most 100"),
    # The same classes of defect, found around them.
    ({"package_name": "__init__"}, "package_name", "starts with an underscore"),
    ({"package_name": "_private"}, "package_name", "starts with an underscore"),
    (
        {"package_name": "pre_commit"},
        "package_name",
        r"module 'pre_commit' of the project's dependency 'pre-commit'",
    ),
    ({"package_name": "pylab"}, "package_name", r"module 'pylab' of the project's dependency 'matplotlib'"),
    ({"package_name": "Tyro"}, "package_name", r"module 'tyro' of the project's dependency 'tyro'"),
    ({"package_name": "pkg\n"}, "package_name", r"control character U\+000A"),
    ({"project_slug": "tyro", "package_name": "agents"}, "project_slug", "the name of a dependency"),
    ({"project_slug": "Pre_Commit", "package_name": "agents"}, "project_slug", "the name of a dependency"),
    ({"project_slug": "a" * 101, "package_name": "agents"}, "project_slug", r"too long \(101 characters\)"),
    ({"project_slug": "🚀" * 30}, "project_slug", r"too long \(30 characters, 120 bytes in UTF-8\)"),
    ({"project_slug": "rl-research\n"}, "project_slug", r"control character U\+000A"),
    ({"project_slug": "a\x00b"}, "project_slug", r"control character U\+0000"),
    ({"project_slug": "a\udcffb"}, "project_slug", r"lone surrogate U\+DCFF"),
    ({"project_name": "RL \x1b[2J"}, "project_name", r"control character U\+001B"),
    ({"project_name": "RL \udce9"}, "project_name", r"lone surrogate U\+DCE9"),
    ({"project_short_description": "RL\x00"}, "project_short_description", r"control character U\+0000"),
    ({"author_name": "Ada\u202eecalevoL"}, "author_name", r"U\+202E \(RIGHT-TO-LEFT OVERRIDE\)"),
    ({"author_email": "ada@example.org\udcff"}, "author_email", "lone surrogate"),
]


def shown(value: str) -> str:
    """How the messages show a value: its repr, cut after 40 characters."""
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}..."


def rejection(output: Path, capfd: pytest.CaptureFixture[str], make: Any) -> str:
    """Run ``make()``, which must be rejected; return the one message it gave."""
    capfd.readouterr()
    with pytest.raises((FailedHookException, UndefinedVariableInTemplate)) as raised:
        make()
    if isinstance(raised.value, UndefinedVariableInTemplate):
        # Rejected while Cookiecutter rendered the project folder's name, before creating it.
        message = raised.value.error.message
    else:
        lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
        assert len(lines) == 1, lines
        message = lines[0].removeprefix("ERROR: ")
    assert not output.exists() or list(output.iterdir()) == []
    return message


def ids(cases: list[tuple[dict[str, Any], str, str]]) -> list[str]:
    return [ascii(answers)[:50] for answers, _, _ in cases]


@pytest.mark.parametrize(("answers", "key", "message"), REJECTED, ids=ids(REJECTED))
def test_rejected_before_any_file_is_written(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, Any], key: str, message: str
) -> None:
    got = rejection(tmp_path, capfd, lambda: bake(REPO, tmp_path, **answers))
    assert got.startswith(f"{key} {shown(answers[key])} "), got
    assert re.search(message, got), got


# The URL rlcore comes from with rlcore_source=git: the template's own, as cookiecutter or cruft
# was given it. (URL, a regular expression its rejection must match.)
URL_PREFIX = "rlcore_source=git takes rlcore from the template's repository, but its URL"
URL_REJECTED: list[tuple[str, str]] = [
    (
        'https://h/r.git","evil-pkg>=0","x',
        r"""holds '"', which is not a URL character \(RFC 3986\): percent-encode it \(e\.g\. '%22'\)""",
    ),
    ('https://h/a"b', "not a URL character"),
    ("https://h\\r.git", "not a URL character"),
    ("https://h/r\t.git", "not a URL character"),
    ("https://hé.org/r.git", "'%C3%A9'"),
    ("https://h/r`x`.git", "not a URL character"),
    ("https://h/r%zz.git", "percent-escape"),
    ("https://[::1/r.git", "pip can clone"),
    ("https://h:port/r.git", "pip can clone"),
]


@pytest.mark.parametrize(("url", "message"), URL_REJECTED, ids=[ascii(url)[:40] for url, _ in URL_REJECTED])
def test_template_urls_pip_cannot_read_are_rejected(url: str, message: str) -> None:
    problems = pre_gen.validate({"rlcore_source": "git", "rlcore_version": "0.2.0", "_template": url}, "/tmp")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{URL_PREFIX} {url!r} "), problems[0]
    assert re.search(message, problems[0]), problems[0]
    # The index source does not install from it: nothing to reject.
    assert (
        pre_gen.validate({"rlcore_source": "index", "rlcore_version": "0.2.0", "_template": url}, "/tmp")
        == []
    )


def test_a_password_in_the_template_url_is_rejected_without_showing_it() -> None:
    url = "https://ada:ghp_s3cret@github.com/lab/rl-template.git"
    (problem,) = pre_gen.validate(
        {"rlcore_source": "git", "rlcore_version": "0.2.0", "_template": url}, "/tmp"
    )
    assert problem.startswith(
        f"{URL_PREFIX} 'https://ada:***@github.com/lab/rl-template.git' holds a password"
    )
    assert "s3cret" not in problem


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # cruft clones its template: a git repository holding the template's files.
    return copy_template_repo(tmp_path_factory.mktemp("cruft") / "template")


# The review's original inputs (the first six cases), through cruft too.
CRUFT_CASES = REJECTED[:6]


@pytest.mark.parametrize(("answers", "key", "message"), CRUFT_CASES, ids=ids(CRUFT_CASES))
def test_cruft_create_rejects_before_any_file_is_written(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    template_repo: Path,
    answers: dict[str, Any],
    key: str,
    message: str,
) -> None:
    output = tmp_path / "out"
    got = rejection(
        output,
        capfd,
        lambda: cruft.create(str(template_repo), output_dir=output, extra_context=answers, no_input=True),
    )
    assert got.startswith(f"{key} {shown(answers[key])} ") and re.search(message, got), got


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        # What a terminal that is not UTF-8 passes; Python reads it as the lone surrogate U+DCFF.
        (b"author_name=\xff", "author_name '\\udcff' is not valid text"),
        (b"project_slug=" + b"a" * 260, "project_slug 'aaaaaaaaaa"),
    ],
)
def test_command_line_rejects_before_any_file_is_written(
    tmp_path: Path, argument: bytes, expected: str
) -> None:
    output = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(REPO), "-o", str(output)]
    result = subprocess.run(
        [*(part.encode() for part in command), argument], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert expected in result.stdout + result.stderr
    assert not output.exists() or list(output.iterdir()) == []


# Answers that validation accepts and that each could end a TOML, Python or YAML string early.
HOSTILE_NAMES = [
    'O\'Brien "Bob" \\ Zoë',
    'Ada """ Lovelace',
    "Ada ''' Lovelace",
    "Ada \\",
    'Ada \\"',
    "Ada \\u0022 \\n Lovelace",
    'Ada", email = "x@y.z" }, { name = "Eve',
    "Ada\tLovelace",
    "Ада Лавлейс 😀 אדה لوفلايس",
    "{x} %s ${HOME} $(id) `id`",
    "# not a comment",
    "Ada ]] [tool.evil] x = 1",
]


def dependencies(project: Path) -> tuple[list[str], dict[str, list[str]]]:
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return meta["dependencies"], meta["optional-dependencies"]


@pytest.fixture(scope="module")
def intended(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, list[str]]]:
    """The dependencies of a bake with plain answers."""
    project = bake(REPO, tmp_path_factory.mktemp("plain"), rlcore_source="index", init_git=False)
    return dependencies(project)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_accepted_answers_keep_the_pyproject_structure(
    tmp_path: Path, intended: tuple[list[str], dict[str, list[str]]], name: str
) -> None:
    answers = {
        "project_slug": "agents",
        "project_name": name,
        "project_short_description": name,
        "author_name": name,
        "rlcore_source": "index",
        "init_git": False,
    }
    project = bake(REPO, tmp_path, **answers)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert (pyproject["project"]["dependencies"], pyproject["project"]["optional-dependencies"]) == intended
    assert pyproject["project"]["description"] == name
    assert pyproject["project"]["authors"] == [{"name": name, "email": "you@example.com"}]
    assert set(pyproject) == {"build-system", "project", "tool"}
    assert set(pyproject["tool"]) == {"hatch", "pytest", "ruff", "mypy"}
    for relative in sorted(project_files(project)):
        if relative.endswith(".py"):
            compile((project / relative).read_text(encoding="utf-8"), relative, "exec")
        elif relative.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load((project / relative).read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/lab/o'brien/rl-template.git",
        "https://example.org/~ada/rl%20template.git",
        "ssh://git@example.org:2222/lab/rl-template.git",
        "https://[::1]:8080/lab/rl-template.git",
        "file:///srv/git/r!$&()*+,;=.git",
    ],
)
def test_accepted_template_urls_are_the_requirement_pip_reads(url: str) -> None:
    answers = {"rlcore_source": "git", "rlcore_version": "0.2.0", "_template": url}
    assert pre_gen.validate(answers, "/tmp") == []
    requirement = Requirement(pre_gen.rlcore_requirement(answers, "[plot]", "/tmp"))
    assert (requirement.name, requirement.extras) == ("rlcore", {"plot"})
    assert requirement.url == f"git+{url}@v0.2.0#subdirectory=rlcore"


def test_a_template_path_of_any_characters_becomes_a_file_url_pip_reads(tmp_path: Path) -> None:
    # A local template is written as a percent-encoded file:// URL, whatever its folder is called.
    template = release_repo(tmp_path / 'it\'s "our" lab ~ü %20' / "template")
    project = bake(template, tmp_path / "out", rlcore_source="git", init_git=False)
    (rlcore,) = [Requirement(d) for d in dependencies(project)[0] if Requirement(d).name == "rlcore"]
    assert rlcore.url == f"git+{template.resolve().as_uri()}@v{RLCORE_VERSION}#subdirectory=rlcore"
    assert unquote(urlsplit(rlcore.url.removeprefix("git+")).path.rpartition("@")[0]) == str(
        template.resolve()
    )


def test_escaping_holds_where_validation_is_skipped(
    tmp_path: Path, intended: tuple[list[str], dict[str, list[str]]]
) -> None:
    # Without the hooks (so without validation), an injection stays inside its string.
    name = 'Eve" }]\n[tool.evil]\nx = "1'
    project = Path(
        cookiecutter(
            str(REPO),
            no_input=True,
            accept_hooks=False,
            output_dir=str(tmp_path),
            extra_context={"rlcore_source": "index", "author_name": name},
        )
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["dependencies"] == intended[0]
    assert pyproject["project"]["authors"][0]["name"] == name
    assert "evil" not in pyproject["tool"]


def _rlcore_runtime_requirements() -> list[Requirement]:
    rlcore = tomllib.loads((REPO / "rlcore" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [reqs for extra, reqs in rlcore["optional-dependencies"].items() if extra != "dev"]
    return [Requirement(r) for r in rlcore["dependencies"] + [r for reqs in extras for r in reqs]]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_reserved_names_cover_every_requirement_the_template_declares(tmp_path: Path) -> None:
    declared: set[str] = set()
    for logger in ("csv", "tensorboard", "wandb"):
        for agent in ("ppo", "none"):
            # custom_env=pybullet: the only env with requirements (its extra).
            project = bake(
                REPO,
                tmp_path / f"{logger}-{agent}",
                logger=logger,
                example_agent=agent,
                custom_env="pybullet",
                init_git=False,
            )
            pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
            required = pyproject["build-system"]["requires"] + pyproject["project"]["dependencies"]
            required += [r for reqs in pyproject["project"]["optional-dependencies"].values() for r in reqs]
            declared |= {_normalize(Requirement(r).name) for r in required}
    declared |= {_normalize(r.name) for r in _rlcore_runtime_requirements()}
    assert declared - set(pre_gen.DEPENDENCY_MODULES) == set()
    assert set(pre_gen.RESERVED_NAMES) == {*pre_gen.PROJECT_FOLDERS, *pre_gen.DEPENDENCY_MODULES}


def test_reserved_modules_are_every_public_module_of_the_installed_dependencies() -> None:
    installed: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            installed.setdefault(_normalize(distribution), set()).add(module)
    checked = 0
    for distribution, modules in pre_gen.DEPENDENCY_MODULES.items():
        if distribution in installed:
            checked += 1
            public = {m for m in installed[distribution] if m.isidentifier() and not m.startswith("_")}
            assert public <= set(modules), (distribution, public - set(modules))
    assert checked >= 8  # torch, numpy, gymnasium, pytest, ruff, mypy, ... are installed here


@pytest.mark.parametrize(
    "module", sorted({m for modules in pre_gen.DEPENDENCY_MODULES.values() for m in modules})
)
def test_every_dependency_module_is_refused_as_package_name(module: str) -> None:
    message = pre_gen.check_package_name(module)
    assert message is not None and "of the project's dependency" in message


@pytest.mark.parametrize("distribution", sorted(pre_gen.DEPENDENCY_MODULES))
def test_every_dependency_is_refused_as_project_slug(distribution: str) -> None:
    message = pre_gen.check_project_slug(distribution)
    assert message is not None and "is the name of a dependency" in message


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (pre_gen.check_package_name, "agents\n"),
        (pre_gen.check_project_slug, "agents\n"),
        (pre_gen.check_email, "ada@example.org\n"),
    ],
)
def test_format_checks_refuse_a_trailing_newline(check: Any, value: str) -> None:
    # `$` in a pattern matches before a final newline: the checks match the whole value.
    assert check(value) is not None


@pytest.mark.parametrize("value", ["Ada\tLovelace", "Zoë", "אדה", "😀", "Ada\u200dLovelace", "Ada\u200fL"])
def test_printable_text_passes(value: str) -> None:
    assert pre_gen.check_text("author_name", value) is None


@pytest.mark.parametrize("value", ["\x00", "\x08", "\x7f", "\x85", "\x9b", "\u2066", "\u202a", "\udc80"])
def test_unprintable_text_is_refused(value: str) -> None:
    assert pre_gen.check_text("author_name", f"Ada{value}") is not None


def test_names_at_the_length_limit_bake(tmp_path: Path) -> None:
    project = bake(REPO, tmp_path, project_slug="a" * 100, package_name="b" * 100, init_git=False)
    assert (project / "src" / ("b" * 100) / "__init__.py").is_file()
