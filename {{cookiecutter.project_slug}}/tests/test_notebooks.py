"""Every notebook in notebooks/ runs from top to bottom, as Jupyter runs it.

Each runs in a copy of its folder (what it writes stays out of the project), offline, on a
kernel of this interpreter: the ``python3`` kernel that ipykernel itself describes, with
``sys.executable``. No kernel folder is searched, so a ``python3`` kernel registered on this
machine for another Python (``jupyter kernelspec list``) is never used, and nothing is
registered.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    """Run the notebook ``path`` in a copy of its folder under ``workdir``; return it, run.

    A cell that raises fails with its traceback (``nbclient.exceptions.CellExecutionError``).
    """
    folder = Path(shutil.copytree(path.parent, workdir / path.parent.name))
    notebook: nbformat.NotebookNode = nbformat.read(  # type: ignore[no-untyped-call]
        folder / path.name, as_version=4
    )
    kernels = KernelSpecManager(kernel_dirs=[])
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=kernels)
    return nbclient.execute(notebook, cwd=str(folder), km=kernel, timeout=600)


def shown(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """What the notebook's cells displayed: each MIME type, with its outputs' data joined."""
    data: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                data[mime] = data.get(mime, "") + str(value)
    return data


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    notebook = execute(path, tmp_path)
    if path.name == "quickstart.ipynb":
        data = shown(notebook)
        assert "image/png" in data, "the quickstart showed no learning curve"
        assert "<video" in data.get("text/html", ""), "the quickstart showed no video"
