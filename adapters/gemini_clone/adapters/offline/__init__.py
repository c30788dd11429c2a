"""A deterministic, clearly labelled language model that needs no network: the embedded mode."""

from gemini_clone.adapters.offline._model import OfflineLanguageModel

__all__ = ["OfflineLanguageModel"]
