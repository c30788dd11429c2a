"""The `gemini-clone` command."""

from gemini_clone.entrypoints.cli.main import main

__all__ = ["main"]
