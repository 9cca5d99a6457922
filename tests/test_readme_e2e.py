"""The new-project steps as a user runs them: the README blocks, the message after a bake, CI.

Every command here is taken from the text a user reads, so the text and the code cannot drift:

* the root README's "A new project" block runs as written in a fresh venv (from ``python3 -m
  venv``, as on a fresh machine), with the template as a git URL: a local bare repository
  stands in for the hosted one, holding the template and rlcore at the release tag, exactly as
  ``make release`` leaves it. ``cruft create`` reads its answers from the terminal: Enter keeps
  each default. PyTorch comes from this machine's pip cache (the version it has is filled in);
* the other ways in reuse overlay venvs (this venv's packages, no download) and vary only the
  rlcore step: ``cookiecutter`` from a local path with rlcore from the template's repository,
  running the generated README's install block; ``cruft create`` from the URL, running the
  commands printed after the bake; an editable checkout installed last; and the generated CI
  workflow's install step;
* the generated workflow passes the GitHub Actions workflow schema and zizmor's audits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import CACHE, REPO, bake, make_overlay_venv, release_repo, run

import rlcore

pytestmark = pytest.mark.slow

TORCH_LINE = re.compile(r"python -m pip install torch==(\S+)")


def bash_block(markdown: str, heading: str) -> str:
    """The first ```bash block after ``heading`` in ``markdown``."""
    after = markdown[markdown.index(heading) :]
    return re.search(r"```bash\n(.*?)```", after, flags=re.DOTALL).group(1)  # type: ignore[union-attr]


def this_torch(script: str) -> str:
    """``script`` with the PyTorch version this machine has (tests fill it in; the rest stays)."""
    import torch

    version = torch.__version__.split("+")[0]
    return TORCH_LINE.sub(f"python -m pip install torch=={version}", script)


def user_environment(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: this test venv neither active nor on PATH."""
    ours = str(Path(sys.executable).parent)
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if entry != ours]
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, "PATH": os.pathsep.join(path), "PRE_COMMIT_HOME": str(CACHE / "pre-commit"), **extra}


def bash(script: str, cwd: Path, env: dict[str, str], stdin: str = "", timeout: float = 1500) -> str:
    """Run ``script`` with bash, stopping at the first failing command; return its output."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"exit {result.returncode}\n--- script\n{script}\n--- output\n{output[-6000:]}"
    )
    return output


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The template's repository at the release tag (a path), and a bare clone's URL."""
    root = tmp_path_factory.mktemp("hosted")
    repo = release_repo(root / "rl-template")
    bare = root / "rl-template.git"
    run(["git", "clone", "--quiet", "--bare", repo, bare], root)
    return repo, bare.as_uri()


def test_the_root_readme_block_runs_as_written(tmp_path: Path, hosted: tuple[Path, str]) -> None:
    _, url = hosted
    block = bash_block((REPO / "README.md").read_text(encoding="utf-8"), "### A new project")
    assert "<URL or path of this repository>" in block
    script = this_torch(block.replace("<URL or path of this repository>", url))
    # Enter at every prompt keeps the defaults (rlcore from the template's repository).
    output = bash(script, tmp_path, user_environment(), stdin="\n" * 40)
    assert re.search(r"\d+ passed", output), output[-3000:]
    project = tmp_path / "rl-research"
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    python = tmp_path / ".venv" / "bin" / "python"
    where = run([python, "-c", "import rlcore; print(rlcore.__version__, rlcore.__file__)"], project).stdout
    version, location = where.split()
    assert version == rlcore.__version__ and location.startswith(str(tmp_path / ".venv"))
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    # cruft records a file:// template as its path.
    assert state["template"] == url.removeprefix("file://")
    assert state["context"]["cookiecutter"]["rlcore_source"] == "git"

    # In the same fresh venv (torch is there), a project with rlcore_source=index gets rlcore from
    # the wheelhouse `make dist` builds, as the README says: --find-links.
    wheelhouse = tmp_path / "wheelhouse"
    run(["make", "-s", "dist", f"DIST={wheelhouse}", f"PYTHON={sys.executable}"], REPO)
    extra = json.dumps({"project_slug": "rl-index", "rlcore_source": "index", "example_agent": "none"})
    venv_bin = tmp_path / ".venv" / "bin"
    run([venv_bin / "cruft", "create", "--no-input", "--extra-context", extra, url], tmp_path)
    run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "rlcore"], tmp_path)
    install = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--find-links",
        wheelhouse,
        "-e",
        f"{tmp_path / 'rl-index'}[dev]",
    ]
    run(install, tmp_path, env=user_environment())
    where = run([python, "-c", "import rlcore; print(rlcore.__version__, rlcore.__file__)"], tmp_path).stdout
    version, location = where.split()
    assert version == rlcore.__version__ and location.startswith(str(tmp_path / ".venv"))
    record = run([python, "-m", "pip", "show", "--files", "rlcore"], tmp_path).stdout
    assert "direct_url.json" not in record  # from the wheelhouse, not a URL or a checkout
    assert run(["git", "status", "--porcelain"], project).stdout == ""


def overlay(root: Path) -> tuple[Path, dict[str, str]]:
    """An overlay venv without this checkout's rlcore, and a user's environment with it active."""
    python = make_overlay_venv(root / "venv", rlcore_checkout=False)
    # Its bin first; this venv's last, for the tools the overlay sees but has no script of.
    path = [
        str(python.parent),
        *user_environment()["PATH"].split(os.pathsep),
        str(Path(sys.executable).parent),
    ]
    return python, user_environment(PATH=os.pathsep.join(path), VIRTUAL_ENV=str(root / "venv"))


def imported_rlcore(python: Path, cwd: Path) -> tuple[str, str]:
    where = run([python, "-c", "import rlcore; print(rlcore.__version__, rlcore.__file__)"], cwd).stdout
    version, location = where.split()
    return version, location


def test_cookiecutter_from_a_path_and_the_generated_readme(tmp_path: Path, hosted: tuple[Path, str]) -> None:
    repo, _ = hosted
    python, env = overlay(tmp_path)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", "--no-input", repo, "-o", out, "example_agent=none"]
    run(command, tmp_path)
    project = out / "rl-research"
    readme = (project / "README.md").read_text(encoding="utf-8")
    output = bash(this_torch(bash_block(readme, "## Install and test")), project, env)
    assert re.search(r"\d+ passed", output), output[-3000:]
    version, location = imported_rlcore(python, project)
    assert version == rlcore.__version__ and location.startswith(str(tmp_path / "venv"))
    assert (project / ".git" / "hooks" / "pre-commit").is_file()


def test_cruft_and_the_printed_next_steps(tmp_path: Path, hosted: tuple[Path, str]) -> None:
    _, url = hosted
    python, env = overlay(tmp_path)
    extra = json.dumps({"example_agent": "none"})
    printed = run(
        [sys.executable, "-m", "cruft", "create", "--no-input", "--extra-context", extra, url], tmp_path
    ).stdout
    steps = printed[printed.index("Next steps:") :].splitlines()[1:]
    script = "\n".join(line for line in steps if line.startswith("  "))
    assert "pre-commit install" in script
    output = bash(this_torch(script), tmp_path, env)
    assert re.search(r"\d+ passed", output), output[-3000:]
    version, location = imported_rlcore(python, tmp_path / "rl-research")
    assert version == rlcore.__version__ and location.startswith(str(tmp_path / "venv"))


def test_an_editable_checkout_installed_last_is_the_one_imported(
    tmp_path: Path, hosted: tuple[Path, str]
) -> None:
    repo, _ = hosted
    python, _ = overlay(tmp_path)
    project = bake(repo, tmp_path / "out", example_agent="none", init_git=False)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "-e", f"{project}[dev]"], tmp_path)
    assert imported_rlcore(python, project)[1].startswith(str(tmp_path / "venv"))
    run([*pip, "-e", REPO / "rlcore"], tmp_path)
    assert imported_rlcore(python, project)[1].startswith(str(REPO / "rlcore" / "src"))


def workflow(project: Path) -> dict[str, object]:
    return yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))


def test_the_ci_workflow_installs_as_the_readme_does(tmp_path: Path, hosted: tuple[Path, str]) -> None:
    repo, _ = hosted
    python, env = overlay(tmp_path)
    project = bake(repo, tmp_path / "out", example_agent="none", init_git=False)
    (job,) = workflow(project)["jobs"].values()  # type: ignore[attr-defined]
    (step,) = [step for step in job["steps"] if step.get("name") == "Install PyTorch, then the project"]
    script = step["run"]
    # The runner's PyTorch is the CPU build from pytorch.org's index, which this machine cannot
    # reach: the version it has is filled in, the index left out.
    assert "--index-url https://download.pytorch.org/whl/cpu" in script
    script = this_torch(script.replace(" --index-url https://download.pytorch.org/whl/cpu", ""))
    bash(script, project, {**env, "RLCORE_INDEX_URL": ""})
    version, location = imported_rlcore(python, project)
    assert version == rlcore.__version__ and location.startswith(str(tmp_path / "venv"))


@pytest.mark.parametrize("ci_answers", [{}, {"rlcore_source": "index", "example_agent": "all"}])
def test_the_ci_workflow_passes_the_linters(tmp_path: Path, ci_answers: dict[str, str]) -> None:
    project = bake(REPO, tmp_path, init_git=False, **ci_answers)
    path = project / ".github" / "workflows" / "ci.yml"
    bin_dir = Path(sys.executable).parent
    run([bin_dir / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path], tmp_path)
    # GitHub's own actions at their major tags (Dependabot moves them); everything else hash-pinned.
    config = tmp_path / "zizmor.yml"
    config.write_text(
        'rules:\n  unpinned-uses:\n    config:\n      policies:\n        "actions/*": ref-pin\n'
    )
    assert shutil.which("zizmor", path=str(bin_dir)), "zizmor is in requirements-dev.txt"
    run([bin_dir / "zizmor", "--offline", "--config", config, path], tmp_path)
