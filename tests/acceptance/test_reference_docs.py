"""The reference page (``docs/reference.md``) documents all that the plugin registers.

Its table of options and ini settings is generated from the plugin when the
docs are built (``docs/_ext/asyncgroup_settings.py``). These tests check that
the generator sees what ``pytest --help`` lists, and that every option, ini
setting, marker and hook has a section of its own on the page: adding one
without documenting it fails here.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pytest_asyncgroup import hookspecs

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"
GENERATOR = ROOT / "docs" / "_ext" / "asyncgroup_settings.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asyncgroup_settings", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def _headings() -> set[str]:
    return set(re.findall(r"^#+ `([^`]+)`$", REFERENCE.read_text(), re.M))


def _labels() -> set[str]:
    return set(re.findall(r"^\(([\w-]+)\)=$", REFERENCE.read_text(), re.M))


def _registered_per_help(pytester: pytest.Pytester) -> set[str]:
    """The ``--asyncgroup-*`` options and ``asyncgroup_*`` ini settings in ``--help``."""
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    options = set(re.findall(r"(--asyncgroup-[a-z-]+)", text))
    inis = set(re.findall(r"^\s+(asyncgroup_\w+) \(", text, re.M))
    assert options, text
    assert inis, text
    return options | inis


def test_the_generated_table_lists_every_registration_pytest_knows(suite: pytest.Pytester) -> None:
    generated = {r.name for r in _generator().registered()}
    assert _registered_per_help(suite) <= generated
    assert {"--timeout", "timeout"} <= generated  # added when pytest-timeout is absent


def test_every_option_and_ini_setting_has_a_section_in_the_reference() -> None:
    generator = _generator()
    registrations = generator.registered()
    headings, labels = _headings(), _labels()
    undocumented = [r.name for r in registrations if r.name not in headings]
    assert not undocumented, f"add a '### `NAME`' section to {REFERENCE}: {undocumented}"
    unlabelled = [generator.anchor(r) for r in registrations if generator.anchor(r) not in labels]
    assert not unlabelled, f"the table links to these labels, missing in {REFERENCE}: {unlabelled}"


def test_every_marker_has_a_section_in_the_reference(suite: pytest.Pytester) -> None:
    text = suite.runpytest("--markers").stdout.str()
    ours = re.findall(r"^@pytest\.mark\.(\w+)\b.*pytest-asyncgroup", text, re.M)
    assert {"resource", "serial"} <= set(ours), text
    missing = [name for name in ours if f"@pytest.mark.{name}" not in _headings()]
    assert not missing, f"add a '### `@pytest.mark.NAME`' section to {REFERENCE}: {missing}"


def test_every_hook_has_a_section_in_the_reference() -> None:
    hooks = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)]
    assert hooks
    missing = [name for name in hooks if name not in _headings()]
    assert not missing, f"add a '### `HOOK`' section to {REFERENCE}: {missing}"
