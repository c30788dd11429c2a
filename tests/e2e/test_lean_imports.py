"""What an API process leaves out of its memory (`entrypoints/lean_imports.py`)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import sqlalchemy.ext.asyncio
from packaging.requirements import Requirement

from gemini_clone.entrypoints.lean_imports import (
    ASYNC_EXTENSION_LAZY_NAMES,
    ASYNC_EXTENSION_NAMES,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
OLDER_MINOR = "2.0.54"
"""A SQLAlchemy whose `ext/asyncio/__init__.py` differs (it has no concurrency shim to
start): the lean loader would break every process on it."""
NEXT_MINOR = "2.2.0"

PROGRAM = """
import json, sys
from gemini_clone.entrypoints.asgi import create_app
from gemini_clone.entrypoints.settings import load_settings

settings = load_settings(
    {"DATABASE_URL": "postgresql://app@db/app", "REDIS_URL": "redis://cache:6379/0",
     "JWT_SECRET": "x" * 48},
    env_file=None,
)
create_app(settings)
api = sorted(name for name in ("rich", "pydantic", "sqlalchemy.orm") if name in sys.modules)
import taskiq
print(json.dumps({"api": api, "with_taskiq": "pydantic" in sys.modules}))
"""


def test_an_api_process_loads_neither_rich_nor_pydantic_nor_the_orm_and_taskiq_gets_pydantic() -> (
    None
):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == {"api": [], "with_taskiq": True}


PUBLIC_NAMES = """
import json, sys, types
if sys.argv[1] == "lean":
    from gemini_clone.entrypoints.lean_imports import leave_out_unused_integrations
    leave_out_unused_integrations()
import sqlalchemy.ext.asyncio as extension
names = sorted(
    name for name, value in vars(extension).items()
    if not name.startswith("_") and not isinstance(value, types.ModuleType)
)
before = "sqlalchemy.orm" in sys.modules
every = {name: f"{getattr(extension, name).__module__}.{name}" for name in names + [
    "AsyncSession", "async_sessionmaker", "async_scoped_session", "close_all_sessions",
    "async_object_session", "async_session", "AsyncAttrs", "AsyncSessionTransaction",
]}
print(json.dumps({"orm_before_sessions": before, "names": every}))
"""


def test_the_lean_async_extension_answers_every_name_of_sqlalchemys_own() -> None:
    """SQLAlchemy's asyncio package is loaded without its ORM sessions until one is asked
    for; every name it exports is still there, and is the same object."""

    def names(mode: str) -> dict[str, object]:
        result = subprocess.run(
            [sys.executable, "-c", PUBLIC_NAMES, mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        loaded: dict[str, object] = json.loads(result.stdout)
        return loaded

    real, lean = names("real"), names("lean")
    assert real["orm_before_sessions"] is True
    assert lean["orm_before_sessions"] is False
    assert lean["names"] == real["names"]


EXTENSION_STARTS_ITS_SHIM = """
from ...util import concurrency

concurrency._concurrency_shim._initialize()
del concurrency
"""


def test_the_lean_async_extension_runs_every_statement_of_the_installed_ones_init() -> None:
    """`_AsyncExtensionLoader` is a copy of the installed SQLAlchemy's
    `ext/asyncio/__init__.py`, minus the session imports it makes lazy: any other
    statement an upgrade adds fails here, not in production."""
    source = Path(sqlalchemy.ext.asyncio.__file__).read_text()
    imported: dict[str, list[str]] = {}
    others: list[str] = []
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.ImportFrom) and statement.level == 1 and statement.module:
            imported.setdefault(statement.module, []).extend(
                alias.name for alias in statement.names
            )
        else:
            others.append(ast.dump(statement))

    assert {
        module: tuple(names)
        for module, names in imported.items()
        if module in ASYNC_EXTENSION_NAMES
    } == ASYNC_EXTENSION_NAMES
    lazy = {
        name: module
        for module, names in imported.items()
        for name in names
        if module not in ASYNC_EXTENSION_NAMES
    }
    assert lazy == ASYNC_EXTENSION_LAZY_NAMES
    assert others == [ast.dump(node) for node in ast.parse(EXTENSION_STARTS_ITS_SHIM).body]


def test_sqlalchemy_is_pinned_to_the_minor_version_lean_imports_was_proven_on() -> None:
    """The installed version is the one the tests above prove; another minor version is
    taken by hand, after they pass on it."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (sqlalchemy_requirement,) = (
        Requirement(text) for text in dependencies if Requirement(text).name == "sqlalchemy"
    )
    allowed = sqlalchemy_requirement.specifier

    assert allowed.contains(metadata.version("sqlalchemy"))
    assert not allowed.contains(OLDER_MINOR)
    assert not allowed.contains(NEXT_MINOR)
