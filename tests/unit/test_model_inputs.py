"""Which kinds of file each model reads (`GET /models` `inputs`), and the post's refusal of a
file its model cannot read (422 `unsupported_by_model`)."""

from __future__ import annotations

import pytest

from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.entrypoints.container import make_model_access
from gemini_clone.entrypoints.settings import SettingsError, load_settings, make_model_catalogue

GEMINI = {"GEMINI_API_KEY": "test-key", "GEMINI_MODELS": "gemini-2.5-flash,gemini-2.5-pro"}
OLLAMA = {
    "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
    "OPENAI_MODELS": "llama3.2,llava",
    "OPENAI_VISION_MODELS": "llava",
}


def access(**environ: str) -> ModelAccess:
    settings = load_settings(environ, env_file=None)
    return make_model_access(settings, make_model_catalogue(settings))


def test_each_model_lists_what_it_reads() -> None:
    options = {
        option.id: option.inputs for option in access(**GEMINI, **OLLAMA).options(Tier.BASIC)
    }

    assert options == {
        "gemini-2.5-flash": ("text", "image", "pdf"),
        "gemini-2.5-pro": ("text", "image", "pdf"),
        "llama3.2": ("text",),
        "llava": ("text", "image"),
    }


def test_the_offline_model_takes_every_kind_of_file() -> None:
    assert access().inputs_of("offline") == ("text", "image", "pdf")


def test_a_vision_model_the_server_does_not_offer_is_refused_at_load() -> None:
    with pytest.raises(SettingsError, match=r"OPENAI_VISION_MODELS.*llava2"):
        load_settings({**OLLAMA, "OPENAI_VISION_MODELS": "llava,llava2"}, env_file=None)


def test_a_file_the_model_cannot_read_is_refused_as_unsupported_by_model() -> None:
    models = access(**OLLAMA)

    models.check_inputs("llava", ["image", "text"])
    models.check_inputs("llama3.2", ["text"])
    with pytest.raises(InvalidInput) as refused:
        models.check_inputs("llama3.2", ["text", "image"])

    assert refused.value.code == "unsupported_by_model"
    assert refused.value.errors[0].field == "attachment_ids"
    assert "image" in refused.value.message
    with pytest.raises(InvalidInput, match="pdf"):
        models.check_inputs("llava", ["pdf"])


def test_a_model_listed_without_inputs_reads_text_and_text_always_comes_first() -> None:
    models = ModelAccess({"a": "x", "b": "x"}, default="a", inputs={"b": ["pdf", "image", "text"]})

    assert models.inputs_of("a") == ("text",)
    assert models.inputs_of("b") == ("text", "image", "pdf")
    assert models.inputs_of("unknown") == ("text",)
