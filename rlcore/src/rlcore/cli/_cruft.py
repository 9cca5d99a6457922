"""cruft's ``.cruft.json``: keep the template answer ``rlcore_version`` in step with the requirement (private).

A project made from rlcore's template records the answers it was generated with in
``.cruft.json``; :func:`rewrite_cruft_answer` sets the answer ``rlcore_version`` to the release
the project's rlcore requirement now names, so that ``cruft update`` renders the same one.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlcore.cli._errors import ProjectError

if TYPE_CHECKING:
    from packaging.version import Version

__all__ = ["CRUFT_FILE", "rewrite_cruft_answer"]

#: cruft's record of the template and of the answers a project was generated with.
CRUFT_FILE = ".cruft.json"
# `"rlcore_version": "<a JSON string>"`: the places an in-place rewrite may change.
_CRUFT_VALUE = re.compile(r'"rlcore_version"\s*:\s*("(?:[^"\\]|\\.)*")')


def rewrite_cruft_answer(path: Path, data: bytes, version: Version) -> bytes | None:
    """``data`` (the bytes of a project's ``.cruft.json``) with the answer ``rlcore_version`` set to ``version``.

    cruft keeps the answers a project was generated with under ``context.cookiecutter`` and
    renders the template with them again on ``cruft update``; rlcore's template renders the
    rlcore requirement from ``rlcore_version``, so the answer must move with the requirement or
    cruft goes on rendering the old one. Only a record of rlcore's template is changed: one whose
    ``context.cookiecutter`` object has an ``rlcore_source`` key; any other JSON gives ``None``.

    An answer already there is replaced in place, so every other byte stays; a missing one is
    added after ``rlcore_source`` and the record written as cruft writes it
    (``json.dumps(record, ensure_ascii=False, indent=2)`` and a newline). An in-place rewrite is
    parsed again and kept only if it equals the record with that one answer set.

    Args:
        path: the file, for messages.
        data: its bytes.
        version: the rlcore release the project is now written against.

    Returns:
        The new bytes (``data`` itself when the answer is already ``str(version)``), or ``None``.

    Raises:
        ProjectError: ``data`` is not UTF-8 JSON, or holds the answer as something other than a string.
    """
    try:
        text = data.decode("utf-8")
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProjectError(
            f"{path}: not valid JSON ({error}); expected cruft's record of the template's answers"
        ) from None
    context = record.get("context") if isinstance(record, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("cookiecutter"), dict):
        return None
    answers = context["cookiecutter"]
    if "rlcore_source" not in answers:
        return None
    new = str(version)
    old = answers.get("rlcore_version")
    if old == new:
        return data
    if old is not None and not isinstance(old, str):
        raise ProjectError(
            f"{path}: context.cookiecutter.rlcore_version is {old!r}; expected a version string such as '0.2.0'"
        )
    if old is None:
        # After rlcore_source, where the template declares it, rather than at the end.
        updated: dict[str, Any] = {}
        for key, value in answers.items():
            updated[key] = value
            if key == "rlcore_source":
                updated["rlcore_version"] = new
        context["cookiecutter"] = updated
        return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    answers["rlcore_version"] = new
    # The key may appear elsewhere too (cookiecutter's own copy of the template's defaults):
    # the candidate whose re-parse equals the intended record is the answer.
    for match in _CRUFT_VALUE.finditer(text):
        candidate = text[: match.start(1)] + json.dumps(new, ensure_ascii=False) + text[match.end(1) :]
        with contextlib.suppress(json.JSONDecodeError):
            if json.loads(candidate) == record:
                return candidate.encode("utf-8")
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
