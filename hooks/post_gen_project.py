"""Finish a freshly generated project: prune, record the template, ``git init``, next steps.

Cookiecutter renders this file with Jinja and runs it with the generated project as the working
directory. It must never fail: a failing post-generation hook makes Cookiecutter delete the
whole project, so every optional step (git) only warns.

Three callers, told apart by the ``_commit`` answer that only cruft adds and by where the
project is being written:

* ``cookiecutter`` (CLI or API): prune, write ``.cruft.json`` (so that ``cruft check`` and
  ``cruft update`` work as if the project had been made with ``cruft create``), ``git init``
  with a first commit when asked, and print the next steps.
* ``cruft create``: prune; when ``init_git`` is on, write ``.cruft.json`` exactly as cruft is
  about to (with cruft's own functions, so that the first commit holds it and the tree is clean
  once cruft rewrites it), then ``git init`` and commit; print the next steps.
* the throw-away renders of ``cruft update`` and ``cruft diff``: prune only. cruft renders them
  into a fresh temporary folder (:func:`is_cruft_render`); a ``.git`` folder or a commit there
  would end up in the update's diff, and the user's project is never this hook's working
  directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "PRUNED_PATHS",
    "cruft_create_state",
    "cruft_state",
    "init_git",
    "is_cruft_render",
    "missing_release_tag",
    "next_steps",
    "paths_to_prune",
    "prune",
    "rlcore_requirement",
]

# Rendered by Cookiecutter (see pre_gen_project.py for why a raw string holds it intact).
RENDERED_JSON = r"""{{ {"cookiecutter": cookiecutter, "template_root": template_root()} | jsonify }}"""
# Python's tempfile names a folder "tmp" and 8 characters of this set (TemporaryDirectory()).
_TEMPFILE_NAME = re.compile(r"tmp[a-z0-9_]{8}")

# Folders cannot be made conditional by their names, so every optional part of the tree is
# generated and the paths that the answers turn off are removed here. Keys: an answer (or a
# value cookiecutter.json renders from one, a `__` key), then its value (yes/no answers as
# "true"/"false"); values: the paths, relative to the project root, to delete for that value.
# A path inside the package is spelled like the template's folder,
# src/{{cookiecutter.package_name}}/..., which Jinja renders along with this file. A new optional
# part is one more entry: the example agents add theirs under "example_agent" ("all" keeps
# both, "ppo" removes the DQN files, "dqn" the PPO ones, "none" every agent's; the registry,
# train and sweep stay, so that an agent can be added); the project's own env adds its files
# under "custom_env" ("none" removes the envs package and both envs' tests).
_PPO_FILES = (
    "src/{{cookiecutter.package_name}}/ppo.py",
    "tests/test_ppo.py",
    "configs/ppo-cartpole.toml",
)
_DQN_FILES = (
    "src/{{cookiecutter.package_name}}/dqn.py",
    "tests/test_dqn.py",
    "configs/dqn-cartpole.toml",
)
_POINT_MASS_FILES = ("src/{{cookiecutter.package_name}}/envs/point_mass.py", "tests/test_point_mass.py")
_CARTPOLE_BULLET_FILES = (
    "src/{{cookiecutter.package_name}}/envs/cartpole_bullet.py",
    "tests/test_cartpole_bullet.py",
)
_JUPYTER_FILES = ("notebooks", "tests/test_notebooks.py")
_NBDEV_FILES = ("nbs", "src/{{cookiecutter.package_name}}/exported", "tests/test_nbdev.py")
PRUNED_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "license": {"none": ("LICENSE",)},
    # The kind that cookiecutter.json renders from the answer notebooks: jupyter, nbdev or none
    # (pre_gen_project.NOTEBOOK_KINDS; a stored yes or no of the former question is one of them).
    "__notebooks_kind": {
        "none": (*_JUPYTER_FILES, *_NBDEV_FILES),
        "jupyter": _NBDEV_FILES,
        "nbdev": _JUPYTER_FILES,
    },
    "ci": {"none": (".github",)},
    "example_agent": {
        "none": (*_PPO_FILES, *_DQN_FILES, "configs", "tests/test_distributed.py", "tests/test_atari.py"),
        "ppo": _DQN_FILES,
        "dqn": _PPO_FILES,
        "all": (),
    },
    "custom_env": {
        "none": ("src/{{cookiecutter.package_name}}/envs", *_POINT_MASS_FILES, *_CARTPOLE_BULLET_FILES),
        "numpy": _CARTPOLE_BULLET_FILES,
        "pybullet": _POINT_MASS_FILES,
    },
}

# Context entries that describe one machine's run of cookiecutter, not the project.
_MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")


def paths_to_prune(
    answers: Mapping[str, Any], pruned_paths: Mapping[str, Mapping[str, Sequence[str]]]
) -> list[str]:
    """Return the paths that ``pruned_paths`` removes for these answers, in a stable order."""
    paths: list[str] = []
    for key, by_value in pruned_paths.items():
        value = answers[key]
        paths.extend(by_value.get(value if isinstance(value, str) else json.dumps(value), ()))
    return sorted(set(paths))


def prune(project: Path, paths: Sequence[str]) -> None:
    """Delete ``paths`` (files or folders, relative to ``project``) that exist."""
    for relative in paths:
        path = project / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as error:  # a folder that is gone: this hook must not fail
        return subprocess.CompletedProcess(["git", *args], 1, "", str(error))


def _looks_remote(template: str) -> bool:
    # What cookiecutter clones rather than reads in place: URLs, scp-like git addresses and its
    # abbreviations (gh:, gl:, bb:).
    return "://" in template or template.startswith(("git@", "gh:", "gl:", "bb:"))


def cruft_state(answers: Mapping[str, Any], template_root: str) -> dict[str, Any]:
    """Return the ``.cruft.json`` content for a project baked by ``cookiecutter`` itself.

    The format is cruft's: ``template`` (a path or URL cruft can clone), ``commit`` (the
    template's commit, ``None`` when the template is not a git checkout), ``checkout``,
    ``context`` (``{"cookiecutter": answers}`` with ``_template`` and ``_commit``), ``directory``
    (the template's folder inside its repository, ``None`` at the root) and ``skip``.
    """
    repo_dir = str(answers.get("_repo_dir", ""))
    # The answer is absolute when cookiecutter was given an absolute path or cloned a remote
    # template; template_root() (where the extension module lives) covers a relative path.
    root = Path(repo_dir if os.path.isabs(repo_dir) else template_root)
    commit: str | None = None
    directory: str | None = None
    template = str(root)
    toplevel = _git("rev-parse", "--show-toplevel", cwd=root) if shutil.which("git") else None
    if toplevel is not None and toplevel.returncode == 0:
        top = Path(toplevel.stdout.strip())
        head = _git("rev-parse", "HEAD", cwd=top)
        commit = head.stdout.strip() if head.returncode == 0 else None
        relative = root.resolve().relative_to(top.resolve()).as_posix()
        directory = None if relative == "." else relative
        template = str(top)
        if _looks_remote(str(answers.get("_template", ""))):
            origin = _git("remote", "get-url", "origin", cwd=top)
            template = origin.stdout.strip() if origin.returncode == 0 else str(answers["_template"])
    context = {key: value for key, value in answers.items() if key not in _MACHINE_KEYS}
    context["_template"] = template
    context["_commit"] = commit
    return {
        "template": template,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": directory,
        "skip": [],
    }


def init_git(project: Path, author_name: str, author_email: str) -> str:
    """``git init`` the project and commit every file; return a one-line report of what happened."""
    if shutil.which("git") is None:
        return "git was not found on PATH: run `git init` yourself"
    inside = _git("rev-parse", "--show-toplevel", cwd=project)
    if inside.returncode == 0:
        return f"not running `git init`: the project is already inside the repository {inside.stdout.strip()}"
    steps: list[tuple[str, ...]] = [("init", "--quiet", "--initial-branch=main")]
    if _git("config", "user.name", cwd=project).returncode != 0:
        steps.append(("config", "user.name", author_name))
    if _git("config", "user.email", cwd=project).returncode != 0:
        steps.append(("config", "user.email", author_email))
    steps.append(("add", "--all"))
    # The user's global hooks and signing setup belong to their own commits, not to this one.
    commit = ("commit", "--quiet", "--no-verify", "-m", "Initial commit from template")
    steps.append(("-c", "commit.gpgsign=false", *commit))
    for step in steps:
        result = _git(*step, cwd=project)
        if result.returncode != 0:
            return f"`git {' '.join(step)}` failed ({result.stderr.strip()}): the project is not committed"
    return "initialised a git repository with a first commit (branch main)"


def is_cruft_render(project: Path) -> bool:
    """Whether ``project`` is a throw-away render of ``cruft update`` or ``cruft diff``.

    cruft renders the old and the new template into a folder that ``TemporaryDirectory()`` made
    in the temporary folder (``tmp`` and 8 random characters), holding nothing but the project,
    and diffs them; ``cruft create`` writes into the output folder the user chose.
    """
    parent = project.resolve().parent
    try:
        alone = [entry.name for entry in parent.iterdir()] == [project.name]
    except OSError:
        return False
    return (
        alone
        and _TEMPFILE_NAME.fullmatch(parent.name) is not None
        and parent.parent == Path(tempfile.gettempdir()).resolve()
    )


def cruft_create_state(answers: Mapping[str, Any], template_root: str) -> str | None:
    """Return the ``.cruft.json`` text that ``cruft create`` writes after this hook, or ``None``.

    It is made with cruft's own functions (the interpreter running this hook runs cruft), from
    the same template folder and the answers given, so that the first commit holds the file
    cruft then writes over it byte for byte. ``None`` when cruft cannot be imported or fails.
    A ``cruft create --checkout``, ``--directory`` or ``--skip`` changes the file cruft writes
    (the hook does not see them): the project then shows ``.cruft.json`` as changed.
    """
    try:
        # The template's extensions (local_extensions.py) are imported from its folder.
        if template_root not in sys.path:
            sys.path.insert(0, template_root)
        from cruft._commands.utils.cookiecutter import generate_cookiecutter_context
        from cruft._commands.utils.cruft import json_dumps

        extra = {key: value for key, value in answers.items() if not key.startswith("_")}
        context = generate_cookiecutter_context(
            str(answers["_template"]),
            str(answers["_commit"]),
            Path(template_root),
            extra_context=extra,
            no_input=True,
        )
        state = {
            "template": answers["_template"],
            "commit": answers["_commit"],
            "checkout": None,
            "context": context,
            "directory": None,
        }
        return str(json_dumps(state))
    except Exception:  # any failure: the project is committed without it
        return None


def missing_release_tag(answers: Mapping[str, Any], template_root: str) -> str | None:
    """Why ``pip install`` cannot get rlcore from the template's repository, or ``None``.

    With ``rlcore_source == "git"`` the project requires rlcore at the tag ``v<rlcore_version>``
    of the template's repository, of which ``template_root`` is a checkout (the template itself,
    or the clone Cookiecutter or cruft made of it): the tag must be there, with ``rlcore/``.
    """
    if answers["rlcore_source"] != "git":
        return None
    tag = f"v{answers['rlcore_version']}"
    root = Path(template_root)
    if shutil.which("git") is None:
        return f"git was not found on PATH, and pip needs it to install rlcore from the tag {tag}"
    if _git("rev-parse", "--verify", "--quiet", "refs/tags/" + tag + "^{commit}", cwd=root).returncode != 0:
        return (
            f"the template's repository ({answers['_template']}) has no tag {tag}, which the project "
            f"takes rlcore from: `pip install` fails until it has (`git fetch --tags` in a clone of "
            f"it; a maintainer creates it with `make release`), or make the project with "
            f"rlcore_source=index"
        )
    if _git("cat-file", "-e", f"{tag}:rlcore/pyproject.toml", cwd=root).returncode != 0:
        return (
            f"the tag {tag} of the template's repository has no rlcore/pyproject.toml to install rlcore from"
        )
    return None


def rlcore_requirement(project: Path) -> str:
    """The rlcore requirement the project's pyproject.toml holds (``"rlcore"`` if none is found)."""
    import tomllib

    try:
        dependencies = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "dependencies"
        ]
    except (OSError, ValueError, KeyError):
        return "rlcore"
    return next((str(d) for d in dependencies if re.match(r"rlcore\b(?!-)", str(d))), "rlcore")


#: The PyTorch install line of the two READMEs and of the next steps.
TORCH_COMMAND = "python -m pip install torch==2.13.0"


def next_steps(answers: Mapping[str, Any], rlcore: str, *, git_ready: bool) -> str:
    """Return the instructions printed after generation: commands to run, one per line.

    ``rlcore`` is the project's rlcore requirement; ``git_ready`` says whether the project is a
    git repository already (``pre-commit install`` needs one).
    """
    if answers["rlcore_source"] == "git":
        source = f"# rlcore from {rlcore.partition(' @ ')[2]}"
    else:
        source = (
            f"# rlcore from PyPI ({rlcore}); from your lab's index or a wheelhouse: add "
            f"--extra-index-url <index URL> or --find-links <folder> (README)"
        )
    lines = [
        f"Created {answers['project_slug']}. Next steps:",
        f"  cd {answers['project_slug']}",
        f"  {TORCH_COMMAND}   # first: the build for your hardware (README)",
        f'  python -m pip install -e ".[dev]"   {source}',
        "  python -m pytest",
        "  pre-commit install" if git_ready else "  git init && pre-commit install",
    ]
    return "\n".join(lines)


def main() -> int:
    rendered = json.loads(RENDERED_JSON)
    answers: dict[str, Any] = rendered["cookiecutter"]
    root = str(rendered["template_root"])
    project = Path.cwd()
    prune(project, paths_to_prune(answers, PRUNED_PATHS))
    uncommitted_record = False
    if "_commit" in answers:
        if is_cruft_render(project):
            return 0
        state = cruft_create_state(answers, root) if answers["init_git"] else None
        if state is not None:
            (project / ".cruft.json").write_text(state, encoding="utf-8")
        uncommitted_record = state is None
    else:
        cookiecutter_state = cruft_state(answers, root)
        (project / ".cruft.json").write_text(
            json.dumps(cookiecutter_state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    git_ready = False
    if answers["init_git"]:
        report = init_git(project, str(answers["author_name"]), str(answers["author_email"]))
        print(report)
        git_ready = (project / ".git").exists() or report.startswith("not running")
        if uncommitted_record and (project / ".git").exists():
            print(
                "NOTE: cruft writes .cruft.json after the first commit; commit it too: "
                "git add .cruft.json && git commit -m 'Record the template'"
            )
    problem = missing_release_tag(answers, root)
    if problem:
        print(f"WARNING: {problem}")
    print(next_steps(answers, rlcore_requirement(project), git_ready=git_ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
