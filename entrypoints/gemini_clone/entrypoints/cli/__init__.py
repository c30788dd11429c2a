"""The `gemini-clone` command (the console script is `entrypoints.command:run`)."""

from gemini_clone.entrypoints.cli.main import main

__all__ = ["main"]
