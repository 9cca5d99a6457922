"""The deprecation helpers and the policy: nothing deprecated outlives its removal version."""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import pytest

import rlcore
from rlcore.deprecation import (
    DEPRECATIONS,
    RLCoreDeprecationWarning,
    _parse,
    deprecated,
    deprecated_alias,
    deprecated_argument,
)


@pytest.fixture(autouse=True)
def _restore_registry():
    before = dict(DEPRECATIONS)
    yield
    DEPRECATIONS.clear()
    DEPRECATIONS.update(before)


def test_warning_is_a_deprecation_warning():
    assert issubclass(RLCoreDeprecationWarning, DeprecationWarning)
    assert rlcore.RLCoreDeprecationWarning is RLCoreDeprecationWarning


def test_deprecated_function_warns_and_registers():
    @deprecated(since="0.1.0", removed_in="0.2.0", replacement="rlcore.new", name="rlcore.old")
    def old(x: int) -> int:
        """Old docs."""
        return x + 1

    with pytest.warns(
        RLCoreDeprecationWarning, match=r"rlcore.old is deprecated since rlcore 0.1.0.*0.2.0.*rlcore.new"
    ):
        assert old(1) == 2
    assert DEPRECATIONS["rlcore.old"].kind == "function"
    assert old.__doc__ == "Old docs."


def test_deprecated_class_warns_on_construction():
    @deprecated(since="0.1.0", removed_in="0.2.0", name="rlcore.Old")
    class Old:
        def __init__(self, value: int) -> None:
            self.value = value

    with pytest.warns(RLCoreDeprecationWarning, match="rlcore.Old"):
        assert Old(3).value == 3
    assert DEPRECATIONS["rlcore.Old"].kind == "class"


def test_deprecated_argument_forwards_and_rejects_both():
    @deprecated_argument("lam_", new="lam", since="0.1.0", removed_in="0.2.0", name="rlcore.f")
    def f(lam: float = 0.95) -> float:
        return lam

    with pytest.warns(RLCoreDeprecationWarning, match=r"rlcore.f\(lam_\)"):
        assert f(lam_=0.5) == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(lam=0.7) == 0.7  # the new spelling does not warn
    with pytest.raises(TypeError, match="either 'lam_'.*or 'lam'"), pytest.warns(RLCoreDeprecationWarning):
        f(lam_=0.5, lam=0.6)


def test_deprecated_alias_module_getattr():
    namespace = {"__name__": "rlcore.fake"}
    namespace["__getattr__"] = deprecated_alias(
        namespace, "old_name", 42, since="0.1.0", removed_in="0.2.0", replacement="rlcore.fake.new_name"
    )
    with pytest.warns(RLCoreDeprecationWarning, match="rlcore.fake.old_name"):
        assert namespace["__getattr__"]("old_name") == 42
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        namespace["__getattr__"]("other")


def test_removed_in_must_follow_since():
    with pytest.raises(ValueError, match="removed_in=0.1.0 must come after since=0.1.0"):
        deprecated(since="0.1.0", removed_in="0.1.0", name="rlcore.bad")(lambda: None)
    with pytest.raises(ValueError, match="expected a version like '0.2.0', got 'soon'"):
        deprecated(since="0.1.0", removed_in="soon", name="rlcore.bad")(lambda: None)


def _import_all_rlcore_modules() -> None:
    for info in pkgutil.walk_packages(rlcore.__path__, prefix="rlcore."):
        if ".cli." in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)


def test_no_deprecated_rlcore_name_outlives_its_removal_version():
    """Policy: a deprecated name must be gone by its `removed_in` release; this fails once it arrives."""
    _import_all_rlcore_modules()
    current = _parse(rlcore.__version__)
    overdue = [
        entry.name
        for entry in DEPRECATIONS.values()
        if entry.name.startswith("rlcore.") and _parse(entry.removed_in) <= current
    ]
    assert not overdue, f"remove these deprecated names before releasing {rlcore.__version__}: {overdue}"
