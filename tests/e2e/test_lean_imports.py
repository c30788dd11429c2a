"""What an API process leaves out of its memory (`entrypoints/lean_imports.py`)."""

from __future__ import annotations

import json
import subprocess
import sys

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
