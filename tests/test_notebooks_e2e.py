"""Both kinds of notebooks, baked, installed and checked by the project's own gates (slow).

``notebooks=jupyter`` and ``notebooks=nbdev``, each with ``example_agent=none`` (the quickstart
then trains rlcore's tiny agent, in seconds; the PPO quickstart runs in
``test_generated_project.py``), are installed editable with their ``dev`` extra alone into an
overlay venv, as a user does. Then:

* the project's pytest runs the notebooks: the quickstart on a Jupyter kernel of the overlay's
  python (it shows its learning curve and a video), or ``nbdev-test`` and ``nbdev-export``; both
  in copies, so the project's tree stays as committed;
* ``pre-commit run --all-files`` passes (hook environments from PyPI, cached in
  ``.cache/pre-commit``), and the notebooks' hooks catch what they exist for: ``nbstripout``
  strips an output added to the quickstart, and ``nbdev-export`` fails after an exported cell is
  edited without exporting, then passes once its new export is staged.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO, bake, install_dev, make_overlay_venv, run, run_pre_commit

pytestmark = pytest.mark.slow

PACKAGE = "rl_research"
EXPORTED_MODULE = f"src/{PACKAGE}/exported/shaping.py"
# A line of the notebook's exported cell (as JSON writes it), and an edit of it.
EXPORTED_LINE = "    shaped: NDArray[np.float64] = r + discount * after - before\\n"
EDITED_LINE = "    shaped: NDArray[np.float64] = r + discount * after - before + 0.0\\n"


@dataclass(frozen=True)
class Installed:
    kind: str
    project: Path
    python: Path

    def pre_commit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``pre-commit run`` in the project with ``args``, its exit status left to the caller."""
        return run_pre_commit(self.python, self.project, *args)

    def git_status(self) -> str:
        return run(["git", "status", "--porcelain", "--untracked-files=all"], self.project).stdout


@pytest.fixture(scope="module", params=["jupyter", "nbdev"])
def installed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A project with these notebooks (git-initialised by the template), installed with ``.[dev]``."""
    root = tmp_path_factory.mktemp(f"notebooks-{request.param}")
    project = bake(
        REPO, root / "out", notebooks=request.param, example_agent="none", rlcore_source="index", ci="none"
    )
    python = make_overlay_venv(root / "venv", rlcore_checkout=True)
    install_dev(python, project)
    return Installed(request.param, project, python)


def test_the_project_tests_run_the_notebooks(installed: Installed) -> None:
    result = run([installed.python, "-m", "pytest", "-v", "-p", "no:cacheprovider"], installed.project)
    assert " passed" in result.stdout and "failed" not in result.stdout and "SKIPPED" not in result.stdout
    expected = {
        "jupyter": ["tests/test_notebooks.py::test_notebook_runs[quickstart.ipynb] PASSED"],
        "nbdev": [
            "tests/test_nbdev.py::test_the_notebooks_tests_pass PASSED",
            "tests/test_nbdev.py::test_the_exported_package_is_the_export_of_the_notebooks PASSED",
        ],
    }[installed.kind]
    for line in expected:
        assert line in result.stdout
    # The notebooks ran in copies: no run directory, no export, nothing else left in the project.
    assert installed.git_status() == ""


def test_pre_commit_passes_and_the_notebook_hooks_catch_their_faults(installed: Installed) -> None:
    checked = installed.pre_commit("--all-files", "--show-diff-on-failure")
    assert checked.returncode == 0, checked.stdout[-5000:]
    assert installed.git_status() == ""
    if installed.kind == "jupyter":
        assert_nbstripout_strips_an_output(installed)
    else:
        assert_nbdev_export_refuses_a_stale_module(installed)


def assert_nbstripout_strips_an_output(installed: Installed) -> None:
    path = installed.project / "notebooks" / "quickstart.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    (cell,) = [cell for cell in notebook["cells"] if cell["id"] == "train"]
    cell["execution_count"] = 3
    cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["final evaluation 9.0\n"]}]
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    stripped = installed.pre_commit("nbstripout", "--all-files")
    assert stripped.returncode == 1, stripped.stdout
    assert "- files were modified by this hook" in stripped.stdout
    # Stripped back to the committed notebook, byte for byte.
    assert installed.git_status() == ""


def assert_nbdev_export_refuses_a_stale_module(installed: Installed) -> None:
    notebook = installed.project / "nbs" / "00_shaping.ipynb"
    text = notebook.read_text(encoding="utf-8")
    assert text.count(EXPORTED_LINE) == 1
    notebook.write_text(text.replace(EXPORTED_LINE, EDITED_LINE), encoding="utf-8")
    run(["git", "add", "nbs"], installed.project)
    stale = installed.pre_commit("nbdev-export", "--all-files")
    assert stale.returncode == 1, stale.stdout
    assert f"src/{PACKAGE}/exported was not the export of nbs/" in stale.stdout
    # The new export is left in place, formatted as ruff formats it.
    module = (installed.project / EXPORTED_MODULE).read_text(encoding="utf-8")
    assert "    shaped: NDArray[np.float64] = r + discount * after - before + 0.0\n" in module
    # Staged with the notebook, it passes; the project's own check agrees.
    run(["git", "add", EXPORTED_MODULE], installed.project)
    exported = installed.pre_commit("nbdev-export", "--all-files")
    assert exported.returncode == 0, exported.stdout
    run(
        [installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_nbdev.py"],
        installed.project,
    )
    run(["git", "reset", "--quiet", "--hard"], installed.project)
