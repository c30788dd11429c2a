"""taskiq and taskiq-redis are held to the minor versions whose internals the code was
checked against (the message format test is in test_reply_producer.py)."""

from __future__ import annotations

from importlib.metadata import requires, version

import pytest
from packaging.requirements import Requirement


@pytest.mark.parametrize("package", ["taskiq", "taskiq-redis"])
def test_the_dependency_has_an_upper_bound_that_the_installed_version_meets(package: str) -> None:
    declared = {
        requirement.name: requirement
        for requirement in map(Requirement, requires("gemini-clone") or [])
    }
    specifier = declared[package].specifier

    assert any(bound.operator == "<" for bound in specifier), f"{package}: {specifier}"
    assert specifier.contains(version(package)), f"{package} {version(package)}: {specifier}"
