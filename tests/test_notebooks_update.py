"""Projects that stored the former yes/no ``notebooks`` take ``cruft update`` to the three kinds (slow).

The previous template release asked a yes/no question, so its projects store JSON ``true`` or
``false`` in ``.cruft.json``. ``notebooks`` is now a text answer (``jupyter``, ``nbdev``, ``none``;
cookiecutter would refuse ``true`` for a choice list) that the template reads through
``__notebooks_kind``: ``true`` as ``jupyter``, ``false`` as ``none``. Projects of that release,
made with ``cruft create`` as ``test_answers_history.py`` makes them (its ``Transition``), take
``cruft update -y --checkout <new tag>``: it applies cleanly, keeps the stored answer, records the
kind, and leaves every file as a new project with the same answers has it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, bake, cruft_update, project_files
from test_answers_history import Transition, cruft_create, stored_answers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def transition(tmp_path_factory: pytest.TempPathFactory) -> Transition:
    return Transition(tmp_path_factory.mktemp("history"))


@pytest.mark.parametrize(("stored", "kind"), [(True, "jupyter"), (False, "none")], ids=["true", "false"])
def test_a_stored_yes_or_no_takes_the_update_to_its_kind(
    transition: Transition, tmp_path: Path, stored: bool, kind: str
) -> None:
    answers = {"project_name": "Old Notebooks", "rlcore_source": "index", "example_agent": "none"}
    project = cruft_create(transition, tmp_path / "old", {**answers, "notebooks": stored})
    assert stored_answers(project)["notebooks"] is stored
    assert (project / "notebooks" / "quickstart.ipynb").is_file() is stored

    cruft_update(project, transition.new_tag)

    after = stored_answers(project)
    assert after["notebooks"] is stored
    assert after["__notebooks_kind"] == kind
    # Every file as this template bakes it for the same answers (the rlcore range comes from
    # the stored answers alone, so a bake from this checkout writes the same pyproject.toml).
    fresh = bake(
        REPO, tmp_path / "fresh", **{key: value for key, value in after.items() if not key.startswith("_")}
    )
    files = project_files(fresh) - {".cruft.json"}
    assert project_files(project) - {".cruft.json"} == files
    for relative in sorted(files):
        assert (project / relative).read_bytes() == (fresh / relative).read_bytes(), relative
    assert ("tests/test_notebooks.py" in files) is stored
    assert not {"nbs/00_shaping.ipynb", "tests/test_nbdev.py"} & files
