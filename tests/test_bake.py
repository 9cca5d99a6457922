"""Bake the defaults and a pairwise-covering set of option combinations; check each project.

For every bake: the exact set of files, nothing left unrendered, the git repository, the
metadata files (pyproject.toml, .cruft.json, LICENSE, notebooks, CI, pre-commit), and the
project's own static gates: ``ruff check``, ``ruff format --check`` and ``mypy`` (strict),
sharing one mypy cache per Python floor so torch's stubs are analysed once.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml
from helpers import (
    AGENTS_OF,
    CACHE,
    ENVS_OF,
    REPO,
    bake,
    choice_options,
    expected_files,
    load_module,
    notebooks_kind,
    pairwise,
    project_files,
    run,
)
from packaging.requirements import Requirement

OPTIONS = choice_options()
pre_gen = load_module(REPO / "hooks" / "pre_gen_project.py", "template_pre_gen_project")
DEFAULTS = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
COMBINATIONS: dict[str, dict[str, Any]] = {"defaults": {}}
COMBINATIONS.update({f"pairwise-{i:02d}": row for i, row in enumerate(pairwise(OPTIONS))})


def default_answers() -> dict[str, Any]:
    """The answers of a bake with no input, derived by hand from cookiecutter.json's defaults."""
    answers = {key: value[0] if isinstance(value, list) else value for key, value in DEFAULTS.items()}
    answers["project_slug"] = "rl-research"
    answers["package_name"] = "rl_research"
    assert answers["project_name"] == "RL Research", "update the derived names above"
    return {key: value for key, value in answers.items() if not key.startswith("_")}


@pytest.fixture(scope="module")
def bakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    """Every combination, baked once: id -> (the answers, the project folder)."""
    baked = {}
    for name, extra in COMBINATIONS.items():
        answers = {**default_answers(), **extra}
        baked[name] = (answers, bake(REPO, tmp_path_factory.mktemp(name), **extra))
    return baked


ids = pytest.mark.parametrize("name", list(COMBINATIONS))


def test_pairwise_set_covers_every_pair() -> None:
    rows = list(COMBINATIONS.values())[1:]
    for a, b in combinations(OPTIONS, 2):
        seen = {(row[a], row[b]) for row in rows}
        assert seen == {(va, vb) for va in OPTIONS[a] for vb in OPTIONS[b]}, (a, b)


@ids
def test_exact_set_of_files(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    assert project.name == answers["project_slug"]
    assert project_files(project) == expected_files(answers)


@ids
def test_nothing_left_unrendered(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    _, project = bakes[name]
    for relative in sorted(project_files(project)):
        text = (project / relative).read_text(encoding="utf-8")
        if relative.startswith(".github/workflows/"):
            # GitHub's own expressions, copied without rendering (_copy_without_render).
            assert "${{" in text
            text = re.sub(r"\$\{\{[^}]*\}\}", "", text)
        for marker in ("{{", "}}", "{%", "%}", "{#", "#}", "cookiecutter."):
            assert marker not in text, f"{marker!r} left in {relative}"


@ids
def test_git_repository_holds_a_first_commit_when_asked(
    bakes: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    answers, project = bakes[name]
    if not answers["init_git"]:
        assert not (project / ".git").exists()
        return
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert run(["git", "rev-list", "--count", "HEAD"], project).stdout.strip() == "1"
    tracked = set(run(["git", "ls-files"], project).stdout.split())
    assert tracked == expected_files(answers)


@ids
def test_pyproject_metadata(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    meta = pyproject["project"]
    assert meta["name"] == answers["project_slug"]
    assert meta["requires-python"] == f">={answers['python_version']}"
    assert meta["description"] == answers["project_short_description"]
    assert meta["authors"] == [{"name": answers["author_name"], "email": answers["author_email"]}]
    if answers["license"] == "none":
        assert "license" not in meta
    else:
        assert meta["license"] == answers["license"]
        assert meta["license-files"] == ["LICENSE"]
    requirements = {req.name: req for req in map(Requirement, meta["dependencies"])}
    # Every project has the train and sweep commands (rlcore.runs reads the flags with tyro) and
    # records videos (--capture-video: rlcore's video extra, and pygame for classic control); the
    # example agents' runs plot their learning curves (rlcore's plot extra).
    video = {"moviepy", "imageio-ffmpeg", "pygame"}
    assert set(requirements) == {"rlcore", "torch", "gymnasium", "numpy", "tyro"} | video
    has_agent = answers["example_agent"] != "none"
    expected_extras = (set() if answers["logger"] == "csv" else {answers["logger"]}) | (
        {"plot"} if has_agent else set()
    )
    assert requirements["rlcore"].extras == expected_extras
    assert (requirements["rlcore"].url is not None) == (answers["rlcore_source"] == "git")
    # Ranges, never pins: torch is installed first, for the user's hardware.
    assert str(requirements["torch"].specifier) == ">=2.4"
    for requirement in requirements.values():
        assert all(spec.operator not in ("==", "===", "~=") for spec in requirement.specifier)
    extras = {
        name: {Requirement(r).name for r in reqs} for name, reqs in meta["optional-dependencies"].items()
    }
    # The notebooks' tests run with the dev extra alone; Jupyter itself is the notebooks extra.
    kind = notebooks_kind(answers["notebooks"])
    notebook_dev = {"jupyter": {"nbclient", "ipykernel"}, "nbdev": {"nbdev"}, "none": set()}[kind]
    if kind == "jupyter" and not has_agent:
        notebook_dev.add("matplotlib")  # the quickstart's learning curve, without rlcore[plot]
    # The PyBullet env's own extra, in dev too: the project's tests step it.
    bullet = {"pybullet"} if answers["custom_env"] == "pybullet" else set()
    # Lightning Fabric: the fabric extra, in dev too where tests/test_distributed.py uses it.
    fabric = {"lightning-fabric"} if has_agent else set()
    # Atari: the atari extra, in dev too where tests/test_atari.py trains the agents on Pong.
    atari = {"ale-py", "opencv-python-headless"}
    assert extras["dev"] == {"pytest", "pre-commit", "ruff", "mypy"} | notebook_dev | bullet | fabric | (
        atari if has_agent else set()
    )
    assert extras["sweep"] == {"ray"}
    assert extras.pop("fabric") == {"lightning-fabric"}
    assert extras.pop("atari") == atari
    if bullet:
        assert extras.pop("pybullet") == bullet
    if kind == "none":
        assert set(extras) == {"dev", "sweep"}
    else:
        assert set(extras) == {"dev", "sweep", "notebooks"}
        assert {"jupyter", "ipykernel"} <= extras["notebooks"]
    # Every requirement is a reserved name: a project named like one would shadow or replace it.
    declared = {re.sub(r"[-_.]+", "-", name).lower() for reqs in extras.values() for name in reqs}
    assert declared <= set(pre_gen.DEPENDENCY_MODULES)
    nbdev_settings = pyproject["tool"].get("nbdev")
    if kind == "nbdev":
        assert nbdev_settings == {
            "lib_path": f"src/{answers['package_name']}/exported",
            "nbs_path": "nbs",
            "put_version_in_init": False,
            "update_pyproject": False,
        }
    else:
        assert nbdev_settings is None
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    assert pyproject["tool"]["mypy"]["strict"] is True
    # PyBullet ships no type hints: strict mypy is told so, for it alone.
    untyped = {"module": ["pybullet", "pybullet_data", "pybullet_utils.*"], "ignore_missing_imports": True}
    assert pyproject["tool"]["mypy"].get("overrides", []) == ([untyped] if bullet else [])
    assert pyproject["tool"]["mypy"]["python_version"] == answers["python_version"]
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + answers["python_version"].replace(".", "")
    assert (project / ".python-version").read_text() == answers["python_version"] + "\n"


@ids
def test_registry_holds_the_chosen_agents_and_the_project_defaults(
    bakes: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    answers, project = bakes[name]
    source = (project / "src" / answers["package_name"] / "agents.py").read_text(encoding="utf-8")
    call = next(
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "AGENTS"
    )
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "Registry"
    assert [ast.unparse(arg) for arg in call.args] == [
        f"{agent}.AGENT" for agent in AGENTS_OF[answers["example_agent"]]
    ]
    (defaults,) = call.keywords
    assert ast.literal_eval(defaults.value) == {
        "logger": answers["logger"],
        "wandb_project": answers["project_slug"],
    }
    for path in sorted((project / "configs").glob("*.toml")):
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        assert config["algo"] in AGENTS_OF[answers["example_agent"]], path.name


# The plumbing is rlcore's: what a project carries besides its agent files, its envs, tests,
# README, configs and packaging stays this small; each agent file holds only its algorithm
# (besides its tuned ENV_DEFAULTS), and each env module one env.
NON_AGENT_LINES = 150
AGENT_FILE_LINES = 380
ENV_FILE_LINES = 300


def tuned_lines(path: Path) -> int:
    """The lines of the agent's ``ENV_DEFAULTS``: tuned values are research, one entry per env."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == "ENV_DEFAULTS":
            assert node.end_lineno is not None
            return node.end_lineno - node.lineno + 1
    raise AssertionError(f"{path.name} has no ENV_DEFAULTS")


@pytest.mark.parametrize(
    ("example_agent", "custom_env"), [("ppo", "numpy"), ("all", "pybullet"), ("none", "none")]
)
def test_the_project_carries_research_not_plumbing(
    tmp_path: Path, example_agent: str, custom_env: str
) -> None:
    project = bake(REPO, tmp_path, example_agent=example_agent, custom_env=custom_env, init_git=False)
    package = project / "src" / "rl_research"
    agents = {package / f"{agent}.py" for agent in AGENTS_OF[example_agent]}
    for path in agents:
        lines = len(path.read_text(encoding="utf-8").splitlines()) - tuned_lines(path)
        assert lines <= AGENT_FILE_LINES, f"{path.name}: {lines} lines besides ENV_DEFAULTS"
    envs = set((package / "envs").glob("*.py"))
    assert {path.stem for path in envs} == (
        {"__init__", *ENVS_OF[custom_env]} if ENVS_OF[custom_env] else set()
    )
    for path in envs:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= ENV_FILE_LINES, f"envs/{path.name}: {lines} lines"
    others = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in package.rglob("*.py")}
    others = {path.name: lines for path, lines in others.items() if path not in agents | envs}
    assert set(others) >= {"__init__.py", "agents.py", "train.py", "sweep.py"}
    assert sum(others.values()) <= NON_AGENT_LINES, others


@ids
def test_cruft_json_records_the_template(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    head = run(["git", "rev-parse", "HEAD"], REPO).stdout.strip()
    assert state["template"] == str(REPO)
    assert state["commit"] == head
    assert state["checkout"] is None
    assert state["directory"] is None
    assert state["skip"] == []
    context = state["context"]["cookiecutter"]
    assert {key: context[key] for key in answers} == answers
    # What the template made of the answer notebooks: a later `cruft update` renders it again.
    assert context["__notebooks_kind"] == notebooks_kind(answers["notebooks"])
    assert context["_template"] == str(REPO)
    assert context["_commit"] == head
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(context)


LICENSE_FIRST_LINES = {
    "MIT": "MIT License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Apache-2.0": "Apache License",
}


@ids
def test_license_text(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    if answers["license"] == "none":
        return
    text = (project / "LICENSE").read_text(encoding="utf-8")
    assert text.strip().splitlines()[0].strip() == LICENSE_FIRST_LINES[answers["license"]]
    assert text.endswith("\n") and not text.endswith("\n\n")
    if answers["license"] == "Apache-2.0":
        assert "END OF TERMS AND CONDITIONS" in text and len(text) > 11_000
    else:
        assert re.search(rf"Copyright \(c\) \d{{4}},? {re.escape(answers['author_name'])}\n", text)


@ids
def test_notebooks_are_nbformat_4_without_outputs(
    bakes: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    answers, project = bakes[name]
    paths = sorted(path.relative_to(project).as_posix() for path in project.rglob("*.ipynb"))
    kind = notebooks_kind(answers["notebooks"])
    assert (
        paths
        == {"jupyter": ["notebooks/quickstart.ipynb"], "nbdev": ["nbs/00_shaping.ipynb"], "none": []}[kind]
    )
    for path in paths:
        notebook = json.loads((project / path).read_text(encoding="utf-8"))
        # The required fields of nbformat 4.5's JSON schema.
        assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
        assert notebook["metadata"]["kernelspec"]["name"] == "python3"
        ids_seen = set()
        for cell in notebook["cells"]:
            assert cell["cell_type"] in ("markdown", "code")
            assert isinstance(cell["metadata"], dict)
            assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cell["id"]) and cell["id"] not in ids_seen
            ids_seen.add(cell["id"])
            assert all(isinstance(line, str) for line in cell["source"])
            if cell["cell_type"] == "code":
                # As the nbstripout hook leaves them.
                assert cell["outputs"] == [] and cell["execution_count"] is None
        code = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
        if kind == "jupyter":
            assert f"from {answers['package_name']}.agents import AGENTS" in code
            assert "%autoreload 2" in code and "capture_video=True" in code
        else:
            assert code.startswith("#| default_exp shaping") and "#| export" in code


@ids
def test_ci_workflow(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    if answers["ci"] == "none":
        return
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["checks"]
    assert job["strategy"]["matrix"]["python"] == ["oldest", "newest"]
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "pre-commit run --all-files" in commands
    assert "python -m pytest" in commands
    setup = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version-file"] == ".python-version"


@ids
def test_pre_commit_config_installs_from_pypi_alone(
    bakes: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    answers, project = bakes[name]
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert {repo["repo"] for repo in config["repos"]} <= {"local", "meta"}
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "check-yaml", "end-of-file-fixer", "trailing-whitespace"} <= set(
        hooks
    )
    assert {"check-merge-conflict", "no-rej-files", "mypy"} <= set(hooks)
    for hook in hooks.values():
        for dependency in hook.get("additional_dependencies", []):
            assert re.fullmatch(r"[a-z0-9-]+==\d+(\.\d+)+", dependency), dependency
    assert hooks["no-rej-files"]["language"] == "fail"
    assert re.search(hooks["no-rej-files"]["files"], "src/pkg/envs.py.rej")
    assert hooks["mypy"]["language"] == "system"
    kind = notebooks_kind(answers["notebooks"])
    notebook_hooks = {"nbstripout", "nbdev-export"} & set(hooks)
    assert (
        notebook_hooks
        == {"jupyter": {"nbstripout"}, "nbdev": {"nbstripout", "nbdev-export"}, "none": set()}[kind]
    )
    for hook in notebook_hooks:
        assert hooks[hook]["language"] == "python"
    if "nbstripout" in hooks:
        assert hooks["nbstripout"]["additional_dependencies"] == ["nbstripout==0.9.1"]
        assert hooks["nbstripout"]["types"] == ["jupyter"]
    if "nbdev-export" in hooks:
        assert hooks["nbdev-export"]["additional_dependencies"][0] == "nbdev==3.3.26"
        assert f"src/{answers['package_name']}/exported" in hooks["nbdev-export"]["entry"]
    ruff_pins = {
        d for h in hooks.values() for d in h.get("additional_dependencies", []) if d.startswith("ruff")
    }
    assert len(ruff_pins) == 1, "ruff check and ruff format must run the same ruff"


@ids
def test_ruff_check_and_format(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    _, project = bakes[name]
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
    run([sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "."], project)


@ids
def test_mypy_strict(bakes: dict[str, tuple[dict[str, Any], Path]], name: str) -> None:
    answers, project = bakes[name]
    # One cache per Python floor: a different python_version invalidates every cached module.
    cache = CACHE / "template-tests" / "mypy" / f"py{answers['python_version']}"
    run([sys.executable, "-m", "mypy", "--cache-dir", cache], project)


@ids
def test_readme_installs_torch_first_then_the_project_then_tests(
    bakes: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    answers, project = bakes[name]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {answers['project_name']}\n")
    # The first block installs and tests; with an example agent, later ones train and sweep.
    block = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)[0]
    commands = [line.partition("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == [
        "python -m pip install --upgrade pip",
        "python -m pip install torch==2.13.0",
        'python -m pip install -e ".[dev]"',
        "python -m pytest",
        "pre-commit install",
    ]
    # The README names the requirement pyproject.toml holds.
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    (rlcore,) = [Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("rlcore")]
    named = [Requirement(text) for text in re.findall(r"`(rlcore(?: @ |[<>=]).*?)`", readme)]
    assert (rlcore.url, rlcore.specifier) in [(r.url, r.specifier) for r in named]


def test_both_readmes_give_the_same_torch_advice(bakes: dict[str, tuple[dict[str, Any], Path]]) -> None:
    def advice(readme: str) -> str:
        start = readme.index("PyTorch comes first")
        return readme[start : readme.index("\n\n", start)]

    root = advice((REPO / "README.md").read_text(encoding="utf-8"))
    assert "--index-url https://download.pytorch.org/whl/cpu" in root
    for _, project in bakes.values():
        assert advice((project / "README.md").read_text(encoding="utf-8")) == root
