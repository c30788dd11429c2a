"""The `gemini-clone` console script, outside the `cli` package so that it runs before
anything imports the libraries the command uses."""

from __future__ import annotations


def run() -> None:
    """Leave out the unused integrations (`lean_imports`), then run the command. Only the
    command's own processes do this, never a process that merely imports the package (a
    test run, a library user)."""
    from gemini_clone.entrypoints.lean_imports import leave_out_unused_integrations

    leave_out_unused_integrations()
    from gemini_clone.entrypoints.cli import main

    main()
