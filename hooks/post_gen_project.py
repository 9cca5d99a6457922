"""Finish a freshly generated project: prune, record the template, ``git init``, next steps.

Cookiecutter renders this file with Jinja and runs it with the generated project as the working
directory. It must never fail: a failing post-generation hook makes Cookiecutter delete the
whole project, so every optional step (git) only warns.

Two callers, told apart by the ``_commit`` answer that only cruft adds:

* ``cookiecutter`` (CLI or API): prune, write ``.cruft.json`` (so that ``cruft check`` and
  ``cruft update`` work as if the project had been made with ``cruft create``), ``git init``
  with a first commit when asked, and print the next steps.
* cruft (``cruft create``, and the throw-away renders of ``cruft update`` / ``cruft diff`` in a
  temporary folder): prune only. cruft writes ``.cruft.json`` itself after this hook, and a
  ``.git`` folder inside its renders would end up in the update's diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["PRUNED_PATHS", "cruft_state", "init_git", "next_steps", "paths_to_prune", "prune"]

# Rendered by Cookiecutter (see pre_gen_project.py for why a raw string holds it intact).
RENDERED_JSON = r"""{{ {"cookiecutter": cookiecutter, "template_root": template_root()} | jsonify }}"""

# Folders cannot be made conditional by their names, so every optional part of the tree is
# generated and the paths that the answers turn off are removed here. Keys: an answer, then
# its value (yes/no answers as "true"/"false"); values: the paths, relative to the project root,
# to delete for that value. A path inside the package is spelled like the template's folder,
# src/{{cookiecutter.package_name}}/..., which Jinja renders along with this file. A new optional
# part is one more entry: the example agents add theirs under "example_agent" ("all" keeps
# both, "ppo" removes the DQN files, "dqn" the PPO ones, "none" every agent's; the registry,
# train and sweep stay, so that an agent can be added).
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
PRUNED_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "license": {"none": ("LICENSE",)},
    "notebooks": {"false": ("notebooks",)},
    "ci": {"none": (".github",)},
    "example_agent": {
        "none": (*_PPO_FILES, *_DQN_FILES, "configs"),
        "ppo": _DQN_FILES,
        "dqn": _PPO_FILES,
        "all": (),
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
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


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


def next_steps(answers: Mapping[str, Any]) -> str:
    """Return the instructions printed after generation."""
    index_note = (
        "\n  # rlcore is installed from your package index: pass --extra-index-url <index URL> to pip"
        "\n  # (or `pip install -e <rlcore checkout>` first)."
        if answers["rlcore_source"] == "index"
        else ""
    )
    return (
        f"Created {answers['project_slug']}. Next steps:\n"
        f"  cd {answers['project_slug']}\n"
        "  python -m pip install torch --index-url https://download.pytorch.org/whl/cpu"
        "  # or your CUDA build\n"
        f'  python -m pip install -e ".[dev]"{index_note}\n'
        "  pre-commit install\n"
        "  python -m pytest"
    )


def main() -> int:
    rendered = json.loads(RENDERED_JSON)
    answers: dict[str, Any] = rendered["cookiecutter"]
    project = Path.cwd()
    prune(project, paths_to_prune(answers, PRUNED_PATHS))
    if "_commit" in answers:
        return 0
    state = cruft_state(answers, rendered["template_root"])
    (project / ".cruft.json").write_text(
        json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    if answers["init_git"]:
        print(init_git(project, str(answers["author_name"]), str(answers["author_email"])))
    print(next_steps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
