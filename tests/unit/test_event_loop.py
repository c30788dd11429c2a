"""The worker's event loop: uvloop where installed (bench/README.md, "Decisions")."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
import uvloop

from gemini_clone.entrypoints.cli.main import fastest_event_loop


def test_the_worker_runs_on_uvloop_where_it_is_installed() -> None:
    factory = fastest_event_loop()
    assert factory is uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)


def test_without_uvloop_the_worker_runs_on_asyncios_own_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("uvloop is not installed here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert fastest_event_loop() is None
