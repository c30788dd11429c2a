"""The `gemini-clone` command."""

from gemini_clone.entrypoints.lean_imports import leave_out_unused_integrations

# Before anything imports the libraries that would load them (see the module).
leave_out_unused_integrations()

from gemini_clone.entrypoints.cli.main import main  # noqa: E402

__all__ = ["main"]
