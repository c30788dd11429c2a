"""The core's settings objects (plans, storage allowances, model access, reply settings)
built from `Settings`, for the container to hand to the use cases."""

from __future__ import annotations

from datetime import timedelta

from gemini_clone.application.messaging.generate_reply import ReplySettings
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.model_catalogue import ModelCatalogue
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.storage import StoragePlans
from gemini_clone.entrypoints.adapter_choices import ConfigurationError
from gemini_clone.entrypoints.model_providers import model_inputs
from gemini_clone.entrypoints.settings import Settings


def make_model_access(settings: Settings, catalogue: ModelCatalogue) -> ModelAccess:
    try:
        return ModelAccess(
            {model.id: model.provider for model in catalogue.models},
            default=catalogue.default,
            pro_only=settings.pro_model_ids,
            inputs=model_inputs(settings, catalogue),
        )
    except ValueError as error:
        raise ConfigurationError(str(error)) from error


def make_plans(settings: Settings) -> Plans:
    return Plans(
        basic_daily_limit=settings.basic_daily_limit, pro_daily_limit=settings.pro_daily_limit
    )


def make_storage_plans(settings: Settings) -> StoragePlans:
    return StoragePlans(
        basic_storage_bytes=settings.basic_storage_bytes,
        pro_storage_bytes=settings.pro_storage_bytes,
    )


def make_reply_settings(settings: Settings) -> ReplySettings:
    return ReplySettings(
        lease=timedelta(seconds=settings.reply_lease_seconds),
        context_token_budget=settings.context_token_budget,
        system_instruction=settings.system_instruction,
    )
