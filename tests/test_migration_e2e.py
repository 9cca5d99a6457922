"""A project baked before rlcore 0.2 moves to it, then to the new template, then takes a fix.

The story of the root README's "Upgrade a project" section, in its order, for a real project of
the previous template (taken from this repository's git history: :data:`OLD_TEMPLATE`, the
commit before rlcore 0.2 moved the run plumbing out of the generated projects):

1. ``cruft create`` from the old template (its PPO example, its own ``runs.py`` and
   ``sweep.py``, the range ``rlcore>=0.1.0,<0.2``, deprecation warnings as errors in pytest).
2. ``rlcore upgrade`` with this checkout's rlcore (0.2) installed: the range moves to
   ``>=0.2.0,<0.3`` and the old project's own tests pass on rlcore 0.2, which removes and
   deprecates nothing such a project uses.
3. ``cruft update`` to the new template: the plumbing files go, ``agents.py`` and the thin
   entry points come, and the project's tests pass.
4. A patch release (0.2.1, built inside the test) changes what a run writes; ``rlcore upgrade``
   alone brings it to the project: the project's own training command writes the fixed
   ``eval.json``, and no project file but the requirement (and its stored answer
   ``rlcore_version`` in ``.cruft.json``) changed.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import cruft
import pytest
from helpers import REPO, TEMPLATE_FILES, copy_template, make_overlay_venv, run, template_files_at
from packaging.version import Version
from test_upgrade_e2e import install_like_a_wheel, rlcore_cli, tree_hashes

import rlcore

pytestmark = pytest.mark.slow

#: The template before rlcore 0.2 (the last commit of the 0.1 project shape).
OLD_TEMPLATE = "19dc27727331ed4902a0e36e21750b2623df3998"
CURRENT = Version(rlcore.__version__)
PATCH = f"{CURRENT.major}.{CURRENT.minor}.{CURRENT.micro + 1}"
ANSWERS = {
    "project_name": "Lab",
    "example_agent": "ppo",
    # The old template's yes/no question: the new template reads a stored false as notebooks=none.
    "notebooks": False,
    "ci": "none",
    "logger": "csv",
}
#: What the patch release fixes in a run directory: eval.json records the rlcore that wrote it.
FIX_MARKER = '"run_dir": str(run_dir),'
FIXED = '"run_dir": str(run_dir),\n        "written_by": f"rlcore {__version__}",'
# The patched module imports the version for it, as the release would.
IMPORT_MARKER = "from rlcore.evaluation import EvaluationResult, evaluate\n"
VERSION_IMPORT = "from rlcore._version import __version__\n"


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Migration", "-c", "user.email=migration@example.org"]
    return run(["git", *identity, "-c", "commit.gpgsign=false", *args], repo).stdout


def template_repo(path: Path) -> tuple[Path, str, str]:
    """A git repository holding the old template, then this checkout's: (path, old sha, new sha)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", OLD_TEMPLATE, *template_files_at(OLD_TEMPLATE)],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"the old template {OLD_TEMPLATE} is not in this clone's history "
            f"(a shallow clone? `git fetch --unshallow`): {archive.stderr.decode()}"
        )
    path.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(path, filter="data")
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "rlcore 0.1 template")
    old = git(path, "rev-parse", "HEAD").strip()
    for name in TEMPLATE_FILES:
        target = path / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    staging = copy_template(path.parent / "new-template")
    for name in TEMPLATE_FILES:
        shutil.move(staging / name, path / name)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "rlcore 0.2 template")
    return path, old, git(path, "rev-parse", "HEAD").strip()


def build_patch_release(destination: Path) -> Path:
    """This checkout's rlcore as release PATCH, with a fix to what a run directory holds."""
    root = destination / "rlcore"
    shutil.copytree(REPO / "rlcore", root, ignore=shutil.ignore_patterns("__pycache__", "tests", ".*"))
    version_file = root / "src" / "rlcore" / "_version.py"
    text = version_file.read_text(encoding="utf-8")
    assert f'__version__ = "{CURRENT}"' in text
    version_file.write_text(text.replace(f'__version__ = "{CURRENT}"', f'__version__ = "{PATCH}"'))
    run_module = root / "src" / "rlcore" / "runs" / "_evaluations.py"
    code = run_module.read_text(encoding="utf-8")
    assert code.count(FIX_MARKER) == 1, "the patch's anchor in rlcore/runs/_evaluations.py moved"
    assert code.count(IMPORT_MARKER) == 1, "the import the patch follows in rlcore/runs/_evaluations.py moved"
    run_module.write_text(
        code.replace(FIX_MARKER, FIXED).replace(IMPORT_MARKER, IMPORT_MARKER + VERSION_IMPORT)
    )
    changelog = root / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    unreleased = text.index("## [Unreleased]\n")
    released = text.index("\n## [", unreleased + 1) + 1
    section = f"## [{PATCH}] - 2030-01-31\n\n### Fixed\n- `eval.json` records the rlcore that wrote it.\n\n"
    changelog.write_text(text[:released] + section + text[released:])
    return root


def overlay_with_rlcore(path: Path, source: Path, version: str, project: Path) -> Path:
    """An overlay venv holding rlcore ``version`` from ``source`` and the project, editable."""
    python = make_overlay_venv(path, rlcore_checkout=False)
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    install_like_a_wheel(source, site, version)
    (site / "_project.pth").write_text(f"{project / 'src'}\n")
    probe = "import importlib.metadata as m, rlcore; print(rlcore.__version__, m.version('rlcore'))"
    assert subprocess.check_output([python, "-c", probe], text=True, cwd=path).split() == [version] * 2
    return python


def pytest_in(project: Path, python: Path) -> subprocess.CompletedProcess[str]:
    return run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        project,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        timeout=900,
    )


def test_a_0_1_project_takes_rlcore_0_2_then_the_new_template_then_a_patch(tmp_path: Path) -> None:
    if CURRENT.major != 0 or CURRENT.minor < 2:
        pytest.skip("the story of the 0.1 -> 0.2 migration")
    template, old, new = template_repo(tmp_path / "template")

    # 1. A project of the old template, committed as cruft's users do.
    project = Path(
        cruft.create(str(template), checkout=old, output_dir=tmp_path, extra_context=ANSWERS, no_input=True)
    )
    package = project / "src" / "lab"
    assert (package / "runs.py").is_file() and (package / "sweep.py").is_file()
    pyproject = project / "pyproject.toml"
    assert '"rlcore[plot]>=0.1.0,<0.2"' in pyproject.read_text()
    if not (project / ".git").exists():
        git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--allow-empty", "-m", "Project from the 0.1 template")

    # 2. rlcore 0.2 through `rlcore upgrade`: the old project's own tests pass on it.
    python = overlay_with_rlcore(tmp_path / "env-0.2", REPO / "rlcore", str(CURRENT), project)
    upgraded = rlcore_cli(python, "upgrade", project, "--python", python, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    range_0_2 = f">={CURRENT},<0.{CURRENT.minor + 1}"
    assert f'"rlcore[plot]{range_0_2}"' in pyproject.read_text()
    git(project, "commit", "--quiet", "--all", "-m", "rlcore upgrade")

    # 3. The new template: the plumbing leaves the project, its tests pass.
    assert cruft.update(project, checkout=new, skip_apply_ask=True) is True
    assert not list(project.rglob("*.rej")), "the template update left rejected hunks"
    for gone in ("runs.py", "config.py", "envs.py", "../../configs/default.toml"):
        assert not (package / gone).exists(), f"{gone} is still in the project"
    assert (package / "agents.py").is_file()
    assert not (project / "notebooks").exists() and not (project / "nbs").exists()
    stored = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    assert (stored["notebooks"], stored["__notebooks_kind"]) == (False, "none")
    sweep = (package / "sweep.py").read_text()
    assert "rlcore.sweep" in sweep and len(sweep.splitlines()) < 40
    assert "<<<<<<<" not in pyproject.read_text()
    assert pyproject.read_text().count(range_0_2) == 1
    pytest_in(project, python)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "cruft update: the rlcore 0.2 template")

    # 4. A patch release of rlcore reaches the project through `rlcore upgrade` alone.
    patched = overlay_with_rlcore(
        tmp_path / "env-patch", build_patch_release(tmp_path / "patch"), PATCH, project
    )
    before = tree_hashes(project / "src")
    upgraded = rlcore_cli(patched, "upgrade", project, "--python", patched, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    # The requirement, and the answer the template renders it from (so cruft update keeps it).
    assert git(project, "diff", "--name-only").split() == [".cruft.json", "pyproject.toml"]
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["context"]["cookiecutter"]["rlcore_version"] == PATCH
    assert tree_hashes(project / "src") == before
    run_dir = tmp_path / "run"
    run(
        [
            patched,
            "-m",
            "lab.train",
            "ppo",
            "--env-id",
            "CartPole-v1",
            "--total-timesteps",
            "512",
            "--num-envs",
            "2",
            "--num-steps",
            "64",
            "--batch-size",
            "64",
            "--update-epochs",
            "1",
            "--final-eval-episodes",
            "2",
            "--no-progress",
            "--run-dir",
            run_dir,
        ],
        project,
        timeout=600,
    )
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert evaluation["written_by"] == f"rlcore {PATCH}"
    assert json.loads((run_dir / "config.json").read_text())["rlcore_version"] == PATCH
    assert sys.executable  # this venv's rlcore is untouched by the overlays
    assert rlcore.__version__ == str(CURRENT)
