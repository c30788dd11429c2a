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
api = sorted(name for name in ("rich", "pydantic") if name in sys.modules)
import taskiq
print(json.dumps({"api": api, "with_taskiq": "pydantic" in sys.modules}))
"""


def test_an_api_process_loads_neither_rich_nor_pydantic_and_taskiq_still_gets_pydantic() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == {"api": [], "with_taskiq": True}
