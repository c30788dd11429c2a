"""Optional integrations that libraries load merely because a package is installed, kept
out of our processes, where nothing uses them (about 13 MB of every API process):

- structlog imports `rich` for its own traceback renderer; our lines render tracebacks as
  plain text (`logs.py`), and rich's would show local variables.
- dependency-injector and Litestar import `pydantic` for pydantic settings and models; we
  use msgspec. taskiq does need pydantic (its messages are pydantic models), so pydantic
  is importable again as soon as taskiq is being imported (the worker, the embedded mode).

Each library supports running without these packages, which is exactly what it sees.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Final

_LEFT_OUT: Final = frozenset({"rich", "pydantic", "pydantic_settings"})
_NEEDED_BY: Final = {"pydantic": "taskiq", "pydantic_settings": "taskiq"}


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
        return None


def leave_out_unused_integrations() -> None:
    """From now on, imports of the packages above fail as if they were not installed (the
    ones already imported stay). Idempotent."""
    if not any(isinstance(finder, _LeaveOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeaveOut())
