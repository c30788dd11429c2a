"""Optional integrations that libraries load merely because a package is installed, kept
out of our processes, where nothing uses them (about 20 MB of every API process):

- structlog imports `rich` for its own traceback renderer; our lines render tracebacks as
  plain text (`logs.py`), and rich's would show local variables.
- dependency-injector and Litestar import `pydantic` for pydantic settings and models; we
  use msgspec. taskiq does need pydantic (its messages are pydantic models), so pydantic
  is importable again as soon as taskiq is being imported (the worker, the embedded mode).

Each library supports running without these packages, which is exactly what it sees.

- SQLAlchemy's asyncio extension imports its ORM sessions (and with them the whole ORM,
  about 6 MB) in its package's `__init__`; we use its engine and connections only. The
  package is loaded with the same names, the session ones imported on first use
  (`_AsyncExtensionLoader`), so whatever asks for `AsyncSession` still gets it. The loader
  is a copy of that `__init__` as SQLAlchemy 2.1 writes it (2.0's differs): pyproject.toml
  allows 2.1 only, and tests/e2e/test_lean_imports.py compares the copy, statement by
  statement, with the installed one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Final

_LEFT_OUT: Final = frozenset({"rich", "pydantic", "pydantic_settings"})
_NEEDED_BY: Final = {"pydantic": "taskiq", "pydantic_settings": "taskiq"}

ASYNC_EXTENSION: Final = "sqlalchemy.ext.asyncio"
ASYNC_EXTENSION_NAMES: Final = {
    "engine": (
        "async_engine_from_config",
        "AsyncConnection",
        "AsyncEngine",
        "AsyncTransaction",
        "create_async_engine",
        "create_async_pool_from_url",
    ),
    "result": ("AsyncMappingResult", "AsyncResult", "AsyncScalarResult", "AsyncTupleResult"),
}
"""What the extension's `__init__` takes from its engine and result modules."""
ASYNC_EXTENSION_LAZY_NAMES: Final = {
    "async_scoped_session": "scoping",
    "async_object_session": "session",
    "async_session": "session",
    "async_sessionmaker": "session",
    "AsyncAttrs": "session",
    "AsyncSession": "session",
    "AsyncSessionTransaction": "session",
    "close_all_sessions": "session",
}
"""What it takes from its session modules, which import the ORM: on first use here."""


class _LeaveOut(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in _LEFT_OUT and _NEEDED_BY.get(top) not in sys.modules:
            raise ModuleNotFoundError(f"{top} is left out of this process", name=fullname)
        if fullname == ASYNC_EXTENSION:
            return _async_extension_spec(path)
        return None


def _async_extension_spec(path: Sequence[str] | None) -> ModuleSpec | None:
    """The extension's own spec (its files, its submodules), with our loader for its
    `__init__`."""
    real = None
    for finder in sys.meta_path:
        if not isinstance(finder, _LeaveOut) and hasattr(finder, "find_spec"):
            real = finder.find_spec(ASYNC_EXTENSION, path)
            if real is not None:
                break
    if real is None or real.submodule_search_locations is None:
        return None
    spec = importlib.util.spec_from_loader(
        ASYNC_EXTENSION, _AsyncExtensionLoader(), origin=real.origin, is_package=True
    )
    assert spec is not None
    spec.submodule_search_locations = list(real.submodule_search_locations)
    spec.has_location = real.has_location
    return spec


class _AsyncExtensionLoader(importlib.abc.Loader):
    """Runs what SQLAlchemy's `ext/asyncio/__init__.py` runs, except importing the session
    modules, whose names the package answers on first use (PEP 562 `__getattr__`)."""

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        for submodule, names in ASYNC_EXTENSION_NAMES.items():
            loaded = importlib.import_module(f"{ASYNC_EXTENSION}.{submodule}")
            for name in names:
                setattr(module, name, getattr(loaded, name))

        def session_name(name: str) -> Any:
            submodule = ASYNC_EXTENSION_LAZY_NAMES.get(name)
            if submodule is None:
                raise AttributeError(f"module {ASYNC_EXTENSION!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(f"{ASYNC_EXTENSION}.{submodule}"), name)
            setattr(module, name, value)
            return value

        module.__getattr__ = session_name  # type: ignore[method-assign]
        from sqlalchemy.util import concurrency

        concurrency._concurrency_shim._initialize()


def leave_out_unused_integrations() -> None:
    """From now on, imports of the packages above fail as if they were not installed (the
    ones already imported stay). Idempotent."""
    if not any(isinstance(finder, _LeaveOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeaveOut())
