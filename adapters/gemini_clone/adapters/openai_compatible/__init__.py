"""Any OpenAI-compatible server behind the `LanguageModel` port: Chat Completions, streamed.

Ollama, vLLM, LM Studio, OpenRouter, Groq and OpenAI itself speak it.
"""

from gemini_clone.adapters.openai_compatible._model import OpenAICompatibleLanguageModel

__all__ = ["OpenAICompatibleLanguageModel"]
